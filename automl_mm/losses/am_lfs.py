"""AM-LFS's searchable loss (ICCV 2019, arXiv 1905.07375); the bias-free head that feeds it norms is
:class:`automl_mm.models.heads.CosineLinearClsHead`.

With logits ``f_j = ||W_j|| ||x|| cos(theta_j)`` the unified loss is::

    L = -log tau( e^{||W_y|| ||x|| t(cos theta_y)} / (e^{||W_y|| ||x|| t(cos theta_y)} + sum_{j != y} e^{f_j}) )

``t`` (on ``[-1, 1]``, margin losses) and ``tau`` (on ``[0, 1]``, focal-style re-weighting) are piecewise linear with
``M`` equal-width intervals, evaluated from the slope and intercept of each interval,
``[a_t (M), b_t (M), a_tau (M), b_tau (M)]``. The searched vector θ is either those numbers (``'piecewise'``, the
paper's layout) or ``2 M + 2`` unconstrained numbers mapped to monotone ``t`` and ``tau`` (``'monotone'``, the
default; see :mod:`automl_mm.losses.parametrisation`). In the piecewise layout, slopes 1 and intercepts 0
(:func:`identity_theta`) give softmax cross-entropy; :func:`cosface_theta`, :func:`arcface_theta`,
:func:`sphereface_theta` and :func:`focal_theta` give settings that (approximately) recover the classical losses.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from automl_mm.models.loss_keys import (
    AvgNonIgnoreAttribute,
    ClassWeightAttribute,
    IgnoreIndexAttribute,
    ReductionAttribute,
    _check_reduction,
    check_ignore_index,
    check_use_sigmoid,
    class_weight_tensor,
    ignore_and_reduce,
    warn_ignored_in_mean,
)
from automl_mm.models.losses import CheckedFloat, _check_inputs
from automl_mm.registry import MODELS
from automl_mm.utils.intervals import INF, NON_NEGATIVE, Interval

from .parametrisation import check_parametrisation, monotone_identity_theta, monotone_pieces, theta_length

T_RANGE = (-1.0, 1.0)  # domain of t: cosines
TAU_RANGE = (0.0, 1.0)  # domain of tau: probabilities


def piecewise_linear(x: torch.Tensor, slopes: torch.Tensor, intercepts: torch.Tensor, lo: float,
                     hi: float) -> torch.Tensor:
    """Evaluate ``y = a_k x + b_k`` with ``k`` the index of ``x``'s interval among ``M`` equal ones of ``[lo, hi]``.

    ``k = clamp(floor((x - lo) / (hi - lo) * M), 0, M - 1)``, so points outside ``[lo, hi]`` use the end pieces
    and ``x = hi`` belongs to the last one. Differentiable in ``x`` (the derivative is the piece's slope).

    Args:
        x: Points, any shape.
        slopes: ``(M,)`` slope of each interval.
        intercepts: ``(M,)`` intercept of each interval.
        lo: Left end of the domain.
        hi: Right end of the domain.

    Returns:
        Tensor shaped like ``x`` in ``x``'s dtype.
    """
    if not hi > lo:
        raise ValueError(f'piecewise_linear needs hi > lo, got lo={lo}, hi={hi}')
    slopes = torch.as_tensor(slopes).to(dtype=x.dtype, device=x.device).reshape(-1)
    intercepts = torch.as_tensor(intercepts).to(dtype=x.dtype, device=x.device).reshape(-1)
    if slopes.numel() == 0 or slopes.shape != intercepts.shape:
        raise ValueError(f'slopes and intercepts must be non-empty and of equal length, got {tuple(slopes.shape)} '
                         f'and {tuple(intercepts.shape)}')
    num = slopes.numel()
    with torch.no_grad():
        # NaN (a diverged copy) would become index -2**63: interval 0 instead, so NaN comes out as in F.cross_entropy
        k = torch.nan_to_num(torch.floor((x - lo) / (hi - lo) * num), nan=0.0).clamp(0, num - 1).long()
    return slopes[k] * x + intercepts[k]


def fit_piecewise_linear(fn: Callable[[torch.Tensor], torch.Tensor], num_intervals: int, lo: float,
                         hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Slopes and intercepts of the secants of ``fn`` through the end points of each of ``M`` equal intervals.

    The result interpolates ``fn`` at the ``M + 1`` interval ends (exact for linear ``fn``); for a monotone ``fn``
    every slope has its sign.

    Args:
        fn: Maps a float64 tensor of points to a tensor of values.
        num_intervals: ``M``.
        lo: Left end of the domain.
        hi: Right end of the domain.

    Returns:
        ``(slopes, intercepts)``, two float64 tensors of length ``M``.
    """
    num = _check_num_intervals(num_intervals)
    if not hi > lo:
        raise ValueError(f'fit_piecewise_linear needs hi > lo, got lo={lo}, hi={hi}')
    edges = torch.linspace(lo, hi, num + 1, dtype=torch.float64)
    values = torch.as_tensor(fn(edges), dtype=torch.float64)
    slopes = (values[1:] - values[:-1]) / ((hi - lo) / num)
    intercepts = values[:-1] - slopes * edges[:-1]
    return slopes, intercepts


def _check_num_intervals(num_intervals: int) -> int:
    # int() of 'x' or NaN raised its own error, naming no key; a whole float (6.0) is taken as that int
    if (isinstance(num_intervals, bool) or not isinstance(num_intervals, numbers.Real)
            or not (isinstance(num_intervals, numbers.Integral) or math.isfinite(num_intervals))
            or int(num_intervals) != num_intervals or num_intervals < 1):
        raise ValueError(f'num_intervals must be a positive integer, got {num_intervals!r}')
    return int(num_intervals)


def _join(t_fit: tuple[torch.Tensor, torch.Tensor] | None, tau_fit: tuple[torch.Tensor, torch.Tensor] | None,
          num: int) -> torch.Tensor:
    ident = (torch.ones(num, dtype=torch.float64), torch.zeros(num, dtype=torch.float64))
    return torch.cat([*(t_fit or ident), *(tau_fit or ident)])


def identity_theta(num_intervals: int = 6) -> torch.Tensor:
    """θ of plain softmax cross-entropy (identity ``t`` and ``tau``): float64, length ``4 M``.

    Examples:
        >>> identity_theta(2).tolist()
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    """
    return _join(None, None, _check_num_intervals(num_intervals))


def cosface_theta(margin: float = 0.35, num_intervals: int = 6) -> torch.Tensor:
    """θ of CosFace, ``t(x) = x - margin`` (exact), with identity ``tau``."""
    num = _check_num_intervals(num_intervals)
    return _join((torch.ones(num, dtype=torch.float64), torch.full((num,), -float(margin), dtype=torch.float64)),
                 None, num)


def arcface_theta(margin: float = 0.5, num_intervals: int = 6) -> torch.Tensor:
    """θ approximating ArcFace, ``t(x) = cos(min(acos(x) + margin, pi))``, by secants, with identity ``tau``.

    The angle is capped at ``pi`` so ``t`` stays monotone (plain ``cos(acos x + m)`` turns up again for
    ``x < -cos m``, where a projected θ would differ from its secants). The secant error is largest next to
    ``x = 1`` (``acos`` has an infinite slope there): about 0.10 for ``M = 6`` and ``margin = 0.5``, 0.05 for
    ``M = 24``.
    """
    num = _check_num_intervals(num_intervals)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return torch.cos(torch.clamp(torch.acos(x.clamp(-1.0, 1.0)) + margin, max=math.pi))

    return _join(fit_piecewise_linear(fn, num, *T_RANGE), None, num)


def sphereface_theta(margin: int = 4, num_intervals: int = 6) -> torch.Tensor:
    """θ approximating SphereFace's monotone ``psi(a) = (-1)^k cos(m a) - 2k`` (``a = acos x`` in
    ``[k pi / m, (k + 1) pi / m]``) by secants, with identity ``tau``.

    ``psi`` falls to ``1 - 2m`` with oscillating curvature, so few intervals approximate it coarsely (max error
    about 0.7 for ``M = 6``, 0.06 for ``M = 24``).
    """
    num = _check_num_intervals(num_intervals)
    if isinstance(margin, bool) or int(margin) != margin or margin < 1:
        raise ValueError(f'margin must be a positive integer for SphereFace, got {margin!r}')

    def fn(x: torch.Tensor) -> torch.Tensor:
        angle = torch.acos(x.clamp(-1.0, 1.0))
        k = torch.floor(angle * margin / math.pi).clamp(max=margin - 1)
        return (-1.0)**k * torch.cos(margin * angle) - 2.0 * k

    return _join(fit_piecewise_linear(fn, num, *T_RANGE), None, num)


def focal_theta(gamma: float = 2.0, num_intervals: int = 6) -> torch.Tensor:
    """θ approximating focal re-weighting, ``tau(p) = p^((1 - p)^gamma)``, by secants, with identity ``t``.

    Then ``-log tau(p) = (1 - p)^gamma (-log p)``: the focal loss. Secant error (max over ``[0, 1]``) for
    ``M = 6``: about 0.01 (``gamma = 1``), 0.021 (``gamma = 2``), 0.05 (``gamma = 5``).
    """
    num = _check_num_intervals(num_intervals)
    if not gamma >= 0:
        raise ValueError(f'gamma must be >= 0, got {gamma!r}')

    def fn(p: torch.Tensor) -> torch.Tensor:
        return p**((1.0 - p)**gamma)

    return _join(None, fit_piecewise_linear(fn, num, *TAU_RANGE), num)


@MODELS.register_module()
class AMLFSLoss(nn.Module):
    """AM-LFS's unified loss with piecewise-linear ``t`` (margin) and ``tau`` (re-weighting).

    The target term of the denominator uses ``t`` too (the loss is the softmax of the modified logits), as in the
    formula of METHODS.md §3; one of the talk's two slides writes it with the plain ``cos``, which we do not follow.

    **Parametrisations** (:mod:`automl_mm.losses.parametrisation`). ``'monotone'`` (default): θ has ``2 M + 2``
    unconstrained values and *every* θ gives continuous, strictly increasing ``t`` and ``tau``, ``tau`` within
    ``(0, 1]``; θ = 0 is cross-entropy. ``'piecewise'``: θ = ``[a_t, b_t, a_tau, b_tau]`` (``4 M``), the paper's and
    the public reimplementation's layout, with the projection described next; the ``*_theta`` helpers of this
    module (:func:`identity_theta`, :func:`cosface_theta`, ...) are in this layout.

    ``forward(logits, target, weight_norm, feat_norm)`` takes bias-free logits ``W x`` and the norms of the class
    weights and features (as :class:`CosineLinearClsHead` passes them), forms ``cos = logits / (||W_j|| ||x||)``
    and replaces the target logit by ``||W_y|| ||x|| t(cos_y)`` (or, with a fixed ``scale`` s, every logit by
    ``s cos_j`` and the target by ``s t(cos_y)``). With ``p_y`` the softmax probability of the target under the
    modified logits, the loss is ``loss_weight * mean(-log tau(p_y))`` (the mean: ``reduction``'s default).

    **Bad θ policy.** Any finite θ gives a valid loss (a search distribution may sample anything). With
    ``'piecewise'``, setting ``theta`` clamps the slopes of ``t`` and ``tau`` to ``>= 0`` (each piece
    non-decreasing; intercepts are kept, so jumps between pieces remain, as in the paper's parametrisation), and
    at evaluation ``tau(p)`` is clamped to ``[eps * p, 1]`` (a ``tau >= 1`` gives zero gradient).
    So each sample's ``-log tau(p_y)`` lies in ``[0, -log p_y - log eps]``: finite, with finite gradients, and
    where the floor bites (``tau <= eps * p``, e.g. below a negative intercept) the sample still gets
    cross-entropy's gradient instead of none. The floor is relative to ``p`` (not a constant ``eps``) so that
    identity θ gives exactly ``F.cross_entropy`` for every sample, however confidently wrong: a constant floor
    would cap the loss of hard (e.g. mislabelled) samples and make the "identity" run a robust loss. Non-finite
    θ or a θ of the wrong length raises ``ValueError``.

    The floor and the cap are kept with ``'monotone'``, where they only absorb rounding (and a softmax weight that
    underflows for an extreme θ).

    θ is kept (projected) in a float64 buffer, so it is saved in checkpoints and a resume continues it; it stays
    float64 in a model converted to float16 / bfloat16 (:meth:`_apply`). It is a learned hyper-parameter
    (``learned_state``), not a weight: a training run started with ``load_from`` keeps the config's ``theta``
    (cross-entropy where unset) and warns, naming ``model.<...>.loss.theta``, when the checkpoint's differs
    (:class:`automl_mm.engine.learned_state.LearnedStateHook`; it used to train with the checkpoint's θ, a search's
    last sample, silently where the config set no ``theta``).

    Args:
        num_intervals: ``M``, intervals of each piecewise-linear function (6 in the public reimplementation).
        theta: Initial θ in the parametrisation's layout (``2 M + 2`` or ``4 M`` values); defaults to the
            identity (cross-entropy).
        scale: ``None``: logits keep their norms (the formula above). A number: normalised logits ``scale * cos``
            (CosFace/ArcFace style).
        eps: Relative floor of ``tau``: ``tau(p) >= eps * p``.
        loss_weight: Multiplier of the loss.
        parametrisation: ``'monotone'`` or ``'piecewise'`` (see above). A θ of the other layout's length is
            refused with an error naming this key.
        class_weight: ``C`` weights >= 0 (list, tensor or file path) multiplying each row's loss by its label's,
            or ``None`` (mmdet's key; :mod:`automl_mm.models.losses`).
        ignore_index: The label whose rows give loss 0, or ``None``: none (mmdet's key).
        avg_non_ignore: Without ``avg_factor``, average over the rows not ignored (mmdet's key).
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (``(N,)`` out), unless ``forward``'s ``reduction_override``
            (mmdet's key).
        use_sigmoid: ``False`` only (mmdet's key, which its configs spell out; this is a softmax loss).

    Raises:
        ValueError: ``num_intervals`` not a positive integer, an unknown ``parametrisation``, a ``theta`` of the
            wrong length or not finite, ``scale`` neither ``None`` nor a finite number > 0, ``eps`` outside
            (0, 1), ``loss_weight`` not a finite number >= 0, a bad ``class_weight`` / ``ignore_index`` /
            ``avg_non_ignore``, an unknown ``reduction``, ``use_sigmoid`` true (``scale``, ``eps``, ``loss_weight``,
            ``theta``, ``class_weight``, ``ignore_index``, ``avg_non_ignore`` and ``reduction`` are checked on every
            write).

    Examples:
        >>> loss = AMLFSLoss(parametrisation='piecewise')
        >>> logits, target = torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([1])
        >>> w_norm, x_norm = torch.tensor([1.0, 2.0, 1.0]), torch.tensor([2.5])
        >>> bool(torch.isclose(loss(logits, target, w_norm, x_norm), F.cross_entropy(logits, target)))
        True
        >>> loss.theta = cosface_theta(0.35)
        >>> loss(logits, target, w_norm, x_norm) > F.cross_entropy(logits, target)
        tensor(True)
    """

    uses_norms = True
    #: buffers that are learned hyper-parameters, by the constructor argument that sets them: load_from keeps the
    #: config's (automl_mm.engine.learned_state)
    learned_state = {'_theta': 'theta'}
    # checked on every write (OHL spaces and SetAttributesHook set attributes by path)
    scale = CheckedFloat(lambda v: math.isfinite(v) and v > 0, 'None or a positive finite number', allow_none=True,
                         interval=Interval(0.0, INF, low_open=True))
    eps = CheckedFloat(lambda v: 0.0 < v < 1.0, 'in (0, 1)', interval=Interval(0.0, 1.0, low_open=True, high_open=True))
    loss_weight = CheckedFloat(lambda v: math.isfinite(v) and v >= 0, 'a finite number >= 0', interval=NON_NEGATIVE)
    class_weight = ClassWeightAttribute()
    ignore_index = IgnoreIndexAttribute()
    avg_non_ignore = AvgNonIgnoreAttribute()
    reduction = ReductionAttribute()

    def __init__(self, num_intervals: int = 6, theta: Sequence[float] | torch.Tensor | None = None,
                 scale: float | None = None, eps: float = 1e-6, loss_weight: float = 1.0,
                 parametrisation: str = 'monotone', class_weight: Sequence[float] | str | None = None,
                 ignore_index: int | None = None, avg_non_ignore: bool = False, reduction: str = 'mean',
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        check_use_sigmoid('AMLFSLoss', use_sigmoid)
        # read from the built loss by mmdet's DETR-family heads and DIIHead (an AttributeError there before the
        # holder check could name the key)
        self.use_sigmoid = False
        self.reduction = reduction  # checked (ReductionAttribute)
        # '<Class>: <key> ...': the build check names the config node from it (preflight_model_args)
        try:
            self.num_intervals = _check_num_intervals(num_intervals)
            self.parametrisation = check_parametrisation(parametrisation)
        except ValueError as err:
            raise ValueError(f'AMLFSLoss: {err}') from None
        self.scale, self.eps, self.loss_weight = scale, eps, loss_weight
        self.class_weight, self.ignore_index = class_weight, ignore_index
        self.avg_non_ignore = avg_non_ignore
        warn_ignored_in_mean('AMLFSLoss', self.ignore_index, self.avg_non_ignore, reduction)
        self.register_buffer('_theta', self.cross_entropy_theta())
        if theta is not None:
            self.theta = theta

    def _apply(self, fn: Callable, recurse: bool = True) -> AMLFSLoss:
        """``nn.Module._apply`` (``.to``, ``.cuda``, ``.half``, ``.bfloat16``, ``.float``), moving θ to the new device
        but keeping it float64: a model converted to a half dtype (a half-precision head, a bfloat16 strategy)
        rounded θ with it, so the loss ran with another θ than the sample the controller credited and the history
        recorded (``-0.35`` became ``-0.3496`` in bfloat16)."""
        theta = self._theta
        result = super()._apply(fn, recurse)
        moved = self._buffers.get('_theta')
        if isinstance(moved, torch.Tensor) and moved.dtype != torch.float64:
            self._buffers['_theta'] = theta.to(device=moved.device)
        return result

    def cross_entropy_theta(self) -> torch.Tensor:
        """θ of softmax cross-entropy in this loss's parametrisation (float64)."""
        if self.parametrisation == 'monotone':
            return monotone_identity_theta(self.num_intervals)
        return identity_theta(self.num_intervals)

    @property
    def theta(self) -> torch.Tensor:
        """The (projected) θ in the parametrisation's layout, float64; assigning validates and projects."""
        return self._theta

    @property
    def pieces(self) -> torch.Tensor:
        """Slopes and intercepts ``[a_t, b_t, a_tau, b_tau]`` of the current θ (float64, length ``4 M``)."""
        if self.parametrisation == 'monotone':
            return monotone_pieces(self._theta, self.num_intervals)
        return self._theta

    @theta.setter
    def theta(self, value: Sequence[float] | torch.Tensor | np.ndarray) -> None:
        try:
            value = torch.as_tensor(np.asarray(value.detach().cpu() if torch.is_tensor(value) else value,
                                               dtype=np.float64))
        except (TypeError, ValueError) as err:
            length = theta_length(self.parametrisation, self.num_intervals)
            raise ValueError(f'AMLFSLoss: theta must be a sequence of {length} numbers, got {value!r}') from err
        num, length = self.num_intervals, theta_length(self.parametrisation, self.num_intervals)
        if value.dim() != 1 or value.numel() != length:
            layout = ('[s_t (M), c_t, s_tau (M), r_tau]' if self.parametrisation == 'monotone' else
                      '[a_t, b_t, a_tau, b_tau]')
            other = 'piecewise' if self.parametrisation == 'monotone' else 'monotone'
            hint = (f"; {value.numel()} values is the layout of parametrisation='{other}', set that key to use it"
                    if value.dim() == 1 and value.numel() == theta_length(other, num) else '')
            raise ValueError(f"AMLFSLoss: theta of parametrisation='{self.parametrisation}' must have {length} values "
                             f'{layout} for num_intervals={num}, got shape {tuple(value.shape)}{hint}')
        if not torch.isfinite(value).all():
            raise ValueError(f'AMLFSLoss: theta must be finite, got {value.tolist()}')
        value = value.clone()
        if self.parametrisation == 'piecewise':
            value[:num].clamp_(min=0.0)  # slopes of t
            value[2 * num:3 * num].clamp_(min=0.0)  # slopes of tau
        with torch.no_grad():
            self._theta.copy_(value)

    def _parts(self, like: torch.Tensor) -> list[torch.Tensor]:
        pieces = self.pieces.to(dtype=like.dtype, device=like.device)
        return list(pieces.split(self.num_intervals))

    def t_function(self, x: torch.Tensor) -> torch.Tensor:
        """``t`` of the current θ at cosines ``x`` (float tensor)."""
        a_t, b_t, _, _ = self._parts(x)
        return piecewise_linear(x, a_t, b_t, *T_RANGE)

    def tau_function(self, p: torch.Tensor) -> torch.Tensor:
        """``tau`` of the current θ at probabilities ``p``, clamped to ``[eps * p, 1]`` as in the loss."""
        _, _, a_tau, b_tau = self._parts(p)
        return torch.minimum(torch.maximum(piecewise_linear(p, a_tau, b_tau, *TAU_RANGE), self.eps * p),
                             torch.ones_like(p))

    def _log_tau(self, log_p: torch.Tensor) -> torch.Tensor:
        """``log tau(p)`` from ``log p``, evaluated in float64 (``p`` may underflow in float32)."""
        log_p64 = log_p.double()
        _, _, a_tau, b_tau = self._parts(log_p64)
        p = log_p64.exp()
        with torch.no_grad():
            k = torch.nan_to_num(torch.floor(p * self.num_intervals), nan=0.0).clamp(0, self.num_intervals - 1).long()
        a, b = a_tau[k], b_tau[k]
        tiny = torch.finfo(torch.float64).tiny
        # A pure slope (identity, scaled identity) is taken in log space: exact, also where exp(log p) underflows.
        linear = a * p + b
        # where tau(p) <= 0 the floor eps * p decides; -inf (not log(tiny) = -708) keeps it deciding where
        # log p < log(tiny) - log(eps), i.e. for confidently wrong samples
        log_linear = torch.where(linear > 0, torch.log(linear.clamp(min=tiny)),
                                 torch.full_like(linear, -math.inf))
        log_tau = torch.where((b == 0) & (a > 0), torch.log(a.clamp(min=tiny)) + log_p64, log_linear)
        log_tau = torch.maximum(log_tau, math.log(self.eps) + log_p64).clamp(max=0.0)
        return log_tau.to(log_p.dtype)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight_norm: torch.Tensor | None = None,
                feat_norm: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int | None = None) -> torch.Tensor:
        """The loss reduced by ``reduction`` (the batch mean by default; mmdet's weighting and ``avg_factor`` where
        given), times ``loss_weight``.

        Row ``i``'s ``-log tau(p_y)`` is multiplied by ``class_weight[y_i]``; a row labelled ``ignore_index`` gives
        0, and counts in the mean's ``N`` unless ``avg_non_ignore`` (mmdet's ``CrossEntropyLoss``, which identity θ
        equals for every such key; :mod:`automl_mm.models.losses`).

        Args:
            logits: ``(N, C)`` bias-free logits ``W x``.
            target: ``(N,)`` class indices in ``[0, C)`` or ``ignore_index``.
            weight_norm: ``(C,)`` norms of the class weights ``||W_j||``.
            feat_norm: ``(N,)`` norms of the features ``||x||``.
            weight: ``(N,)`` weight of each row (mmdet's ``label_weights``), by keyword.
            avg_factor: Divisor of the weighted sum instead of ``N`` (mmdet's), by keyword.
            reduction_override: ``'none'`` (``(N,)`` out), ``'mean'`` or ``'sum'`` instead of ``reduction``, by
                keyword.
            ignore_index: Instead of the loss's ``ignore_index`` for this call (mmdet's key), by keyword.

        Raises:
            ValueError: norms not given (e.g. called by an mmdet bbox or dense head, which passes
                ``(cls_score, labels, label_weights, avg_factor=..., reduction_override=...)``), inputs of the
                wrong shape, a target that is not a tensor (QualityFocalLoss's ``(labels, scores)`` pair), a label
                outside ``[0, C)`` and not ``ignore_index``, a ``class_weight`` not of ``C`` values.
        """
        if weight_norm is None or feat_norm is None:
            called_by = (' (it was called with mmdet\'s loss_cls arguments: mmdet\'s bbox and dense heads pass '
                         'label_weights, avg_factor and reduction_override, not the norms)'
                         if avg_factor is not None or reduction_override is not None else '')
            raise ValueError('AMLFSLoss needs weight_norm and feat_norm (||W_j|| and ||x||) to recover cos(theta) '
                             f'from the logits{called_by}; use it in a head that passes them, e.g. '
                             'CosineLinearClsHead')
        _check_reduction('AMLFSLoss', reduction_override, 'reduction_override')
        ignore_index = self.ignore_index if ignore_index is None else check_ignore_index('AMLFSLoss', ignore_index)
        if logits.dim() != 2:
            raise ValueError(f'logits must be (N, C), got shape {tuple(logits.shape)}')
        num, classes = logits.shape
        # fewer targets than rows were paired with wrong rows; ignored rows get the placeholder class 0
        target, keep = _check_inputs('AMLFSLoss', logits, target, ignore_index)
        if tuple(weight_norm.shape) != (classes,) or tuple(feat_norm.shape) != (num,):
            raise ValueError(f'weight_norm must be ({classes},) and feat_norm ({num},) for logits of shape '
                             f'{tuple(logits.shape)}, got {tuple(weight_norm.shape)} and {tuple(feat_norm.shape)}')
        dtype = torch.promote_types(logits.dtype, torch.float32)  # half logits are evaluated in float32
        logits = logits.to(dtype)
        norms = feat_norm.to(dtype)[:, None] * weight_norm.to(dtype)[None, :]
        # 1e-12 (not finfo.tiny): its square must not underflow, or a zero feature gets a NaN gradient.
        cos = (logits / norms.clamp(min=1e-12)).clamp(-1.0, 1.0)
        if self.scale is None:
            scaled, size = logits, norms.gather(1, target[:, None])
        else:
            scaled, size = self.scale * cos, torch.full((num, 1), self.scale, dtype=dtype, device=logits.device)
        cos_y = cos.gather(1, target[:, None])
        # Added as a difference so identity t leaves the target logit bit-identical (then this is exactly CE).
        margin = size * (self.t_function(cos_y) - cos_y)
        modified = scaled.scatter_add(1, target[:, None], margin)
        log_p = F.log_softmax(modified, dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -self._log_tau(log_p)
        class_weight = class_weight_tensor('AMLFSLoss', self.class_weight, logits)
        if class_weight is not None:
            loss = loss * class_weight[target]
        loss = ignore_and_reduce('AMLFSLoss', loss, keep, weight, reduction_override or self.reduction, avg_factor,
                                 self.avg_non_ignore)
        return loss * self.loss_weight

    def extra_repr(self) -> str:
        return (f'num_intervals={self.num_intervals}, parametrisation={self.parametrisation!r}, scale={self.scale}, '
                f'eps={self.eps}')
