"""Classification losses (registered in MODELS, used as a head's ``loss``).

Besides softmax cross-entropy, the cheap losses built for noisy labels that a loss search must beat: label
smoothing, generalised cross-entropy (GCE), symmetric cross-entropy (SCE) and Poly-1. Each takes logits ``(N, C)``
and class indices ``(N,)`` and returns the mean loss over the batch (a scalar, in nats where a log is involved).

Each also follows mmdet's ``loss_cls`` convention, so it can be the ``loss_cls`` of an mmdet softmax head
(``loss_cls=dict(type='automl_mm.GeneralizedCrossEntropyLoss')``; background is the last of ``C + 1`` classes):
``forward(logits, target, weight=None, avg_factor=None, reduction_override=None, ignore_index=None)`` with one
weight per row, reduced by mmdet's ``weight_reduce_loss`` (``sum(weight * loss) / avg_factor`` for ``'mean'`` with
an ``avg_factor``), and the keys ``reduction``, ``use_sigmoid`` (``False`` only: these are softmax losses),
``class_weight``, ``ignore_index`` and ``avg_non_ignore``, which mean what they mean in mmdet's
``CrossEntropyLoss`` (``mmdet/models/losses/cross_entropy_loss.py``, ``cross_entropy``):

- ``class_weight``: ``C`` numbers >= 0 (``C + 1`` in an mmdet softmax head), or a file path (``.npy``; ``.json`` /
  ``.yaml`` / ``.pkl`` read by ``mmengine.load``: mmseg's form, mmdet takes a list only). Row ``i``'s loss is
  multiplied by ``class_weight[y_i]``; the mean still divides by ``N`` (or ``avg_factor``), not by the summed
  weights (mmdet's ``F.cross_entropy(..., reduction='none')`` then ``weight_reduce_loss``, unlike torch's
  ``reduction='mean'``). With label smoothing or soft targets ``q``: ``-sum_j class_weight[j] q_j log p_j``
  (torch's, and mmpretrain's ``LabelSmoothLoss``).
- ``ignore_index``: rows whose label equals it give loss 0 and no gradient; they still count in ``'mean'``'s ``N``
  unless ``avg_non_ignore=True`` (then ``avg_factor`` is the number of rows not ignored, where none is given).
  Unlike mmdet, whose ``None`` means torch's -100, ``None`` ignores nothing: a label outside ``[0, C)`` (-100 too)
  is refused, naming ``ignore_index``.

At smoothing 0 and for every such key, ``CrossEntropyLoss`` equals mmdet's (tested against mmdet itself).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from automl_mm.registry import MODELS
from automl_mm.utils.intervals import INF, NON_NEGATIVE, Interval
from automl_mm.utils.wording import a_type

from .loss_keys import (
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


def _check_target_tensor(name: str, target: Any) -> None:
    """Refuse a target that is not a tensor, naming what passes one: mmdet's sigmoid heads ``GFLHead``, ``LDHead``,
    ``TOODHead``, ``RTMDetHead`` (and DETR / DINO heads under ``QualityFocalLoss``) call their ``loss_cls`` with
    QualityFocalLoss's ``(labels, scores)`` pair; it stopped the first iteration with ``AttributeError: 'tuple'
    object has no attribute 'is_floating_point'``.

    Raises:
        ValueError: ``target`` not a tensor.
    """
    if not torch.is_tensor(target):
        pair = (' (the (labels, scores) pair that mmdet\'s GFLHead, LDHead, TOODHead and RTMDetHead pass to their '
                'QualityFocalLoss: these are sigmoid heads that predict with a sigmoid; use mmdet\'s QualityFocalLoss '
                'there, a softmax loss of automl_mm in a head that honours use_sigmoid=False)'
                if isinstance(target, (tuple, list)) and len(target) == 2 else '')
        raise ValueError(f'{name} needs a tensor of class indices (N,) as its target, got {a_type(target)}'
                         f'{pair}')


def _check_inputs(name: str, logits: torch.Tensor, target: torch.Tensor,
                  ignore_index: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Class indices ``(N,)`` (long) for ``logits`` ``(N, C)``, and the mask ``(N,)`` of rows kept: ``None`` where no
    label equals ``ignore_index``; else ignored rows get index 0 (a placeholder: the caller zeroes their loss).

    Raises:
        ValueError: logits not ``(N, C)``, probabilities or non-integer targets, not one target per row, or a
            label outside ``[0, C)`` that is not ``ignore_index``.
    """
    _check_target_tensor(name, target)
    if logits.dim() != 2:
        raise ValueError(f'{name} needs logits of shape (N, C), got {tuple(logits.shape)}')
    if target.is_floating_point() and target.shape == logits.shape:
        raise ValueError(f'{name} needs class indices (N,), got class probabilities of shape {tuple(target.shape)} '
                         '(the gt_score of batch augments such as Mixup / CutMix): only CrossEntropyLoss and '
                         'LabelSmoothingLoss take them')
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f'{name} needs integer class indices, got a {target.dtype} target (a float label such as '
                         '1.7 was truncated to class 1)')
    target = target.reshape(-1).long()
    if target.numel() != logits.shape[0]:
        raise ValueError(f'{name}: {target.numel()} targets for {logits.shape[0]} rows of logits')
    keep = None
    if ignore_index is not None:
        ignored = target == ignore_index
        if ignored.any():
            keep, target = ~ignored, target.masked_fill(ignored, 0)
    bad = (target < 0) | (target >= logits.shape[1])
    if bad.any():
        value = int(target[bad][0])
        hint = (f'; set ignore_index={value} to leave such rows out of the loss (mmdet\'s CrossEntropyLoss drops '
                '-100 by default; here a label is dropped only where ignore_index names it)' if value < 0 else '')
        raise ValueError(f'{name}: class index {value} outside [0, {logits.shape[1]}), ignore_index={ignore_index}'
                         f'{hint}')
    return target, keep


def _target_log_prob(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``log p_y``, ``(N,)``, from a log-softmax (stable for confidently wrong samples), for class indices
    ``target`` ``(N,)`` already checked (:func:`_check_inputs`)."""
    return F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)


class CheckedFloat:
    """A loss hyper-parameter checked on *every* write: the constructor's, and OHL's ``AttributeSpace`` or
    ``SetAttributesHook``, which set it by attribute path (a Gaussian sample out of range used to train silently
    with another loss: ``label_smoothing = -0.1`` is unbounded below).

    Stored as a Python float (a 0-d tensor sample is converted); ``None`` only where ``allow_none``.

    Args:
        ok: Whether a float value is valid (NaN fails every comparison, so is refused by range checks).
        rule: What a valid value is, for the error: ``'<name> must be <rule>, got <value>'``.
        allow_none: Accept ``None`` (e.g. ``AMLFSLoss.scale``).
        interval: The valid values as an :class:`~automl_mm.utils.intervals.Interval` (what ``ok`` accepts among
            the finite numbers), so an OHL space is compared with it before the first trunk
            (:func:`~automl_mm.ohl.value_ranges.check_draws`); ``None``: not compared there.

    Raises:
        ValueError: on a write of a bool, a non-number or a value ``ok`` refuses (nothing is changed).
    """

    def __init__(self, ok: Callable[[float], bool], rule: str, allow_none: bool = False,
                 interval: Interval | None = None) -> None:
        self.ok, self.rule, self.allow_none, self.interval = ok, rule, allow_none, interval
        self.name = self.slot = ''

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, f'_checked_{name}'

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.slot]

    def __set__(self, obj: Any, value: Any) -> None:
        if value is None and self.allow_none:
            obj.__dict__[self.slot] = None
            return
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError, RuntimeError):
            number = math.nan
        if not self.ok(number):
            raise ValueError(f'{type(obj).__name__}: {self.name} must be {self.rule}, got {value!r}')
        obj.__dict__[self.slot] = number


class _CheckedAlias(CheckedFloat):
    """Another name of a :class:`CheckedFloat` of the same class: reads and writes go to ``target`` (checked there),
    and its ``interval`` is the target's, so an OHL space on the alias is compared with the range before the first
    trunk too (as a plain property it had none: a Gaussian on ``LabelSmoothingLoss.smoothing`` passed that check
    and was refused only at the trunk that drew a negative value)."""

    def __init__(self, target: str, doc: str) -> None:
        super().__init__(lambda v: True, '')
        self.target, self.__doc__ = target, doc

    def __set_name__(self, owner: type, name: str) -> None:
        target = getattr(owner, self.target)
        self.name, self.ok, self.rule, self.interval = name, target.ok, target.rule, target.interval

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.target)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.target, value)


def _finite_at_least(low: float) -> Callable[[float], bool]:
    return lambda v: math.isfinite(v) and v >= low


class _ClassificationLoss(nn.Module):
    """Shared keys and reduction of the losses below; subclasses compute ``_per_row(logits, target) -> (N,)`` for
    checked class indices (``CrossEntropyLoss`` overrides ``_rows``, which applies ``class_weight``)."""

    loss_weight = CheckedFloat(_finite_at_least(0.0), 'a finite number >= 0', interval=NON_NEGATIVE)
    class_weight = ClassWeightAttribute()
    ignore_index = IgnoreIndexAttribute()
    avg_non_ignore = AvgNonIgnoreAttribute()
    reduction = ReductionAttribute()
    #: whether ``(N, C)`` float class probabilities are taken as the target (CrossEntropyLoss, LabelSmoothingLoss)
    takes_probabilities = False

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean', use_sigmoid: bool = False,
                 class_weight: Any = None, ignore_index: int | None = None, avg_non_ignore: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        _check_reduction(name, reduction)
        check_use_sigmoid(name, use_sigmoid)
        self.use_sigmoid = False  # read by mmdet's dense heads
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        warn_ignored_in_mean(name, self.ignore_index, self.avg_non_ignore, reduction)

    def _per_row(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _rows(self, logits: torch.Tensor, target: torch.Tensor, class_weight: torch.Tensor | None) -> torch.Tensor:
        """``(N,)`` loss of each row times ``class_weight[y]`` (``(C,)`` or ``None``)."""
        loss = self._per_row(logits, target)
        return loss if class_weight is None else loss * class_weight[target]

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int | None = None) -> torch.Tensor:
        """The loss of ``logits`` ``(N, C)`` against class indices ``(N,)``, times ``loss_weight``.

        Args:
            logits: ``(N, C)`` scores.
            target: ``(N,)`` class indices in ``[0, C)`` or ``ignore_index``.
            weight: ``(N,)`` weight of each row (mmdet's ``label_weights``).
            avg_factor: Divisor of the weighted sum for ``'mean'`` (mmdet's number of sampled rois or anchors).
            reduction_override: ``'none'``, ``'mean'`` or ``'sum'`` instead of ``reduction``.
            ignore_index: Instead of the loss's ``ignore_index`` for this call (mmdet's ``forward`` key);
                ``None``: the loss's.

        Returns:
            A scalar, or ``(N,)`` for ``'none'`` (0 at ignored rows); float32 for float16 / bfloat16 logits, which
            are evaluated in float32 (the gradient reaches them in their dtype).

        Raises:
            ValueError: a target that is not a tensor (the ``(labels, scores)`` pair of mmdet's QualityFocalLoss
                heads), index targets that are not integers, not one per row or outside ``[0, C)`` and not
                ``ignore_index``; a weight not one per row; a ``class_weight`` not of ``C`` values; an unknown
                ``reduction_override``; an ``ignore_index`` that is not an int.
        """
        name = type(self).__name__
        _check_reduction(name, reduction_override, 'reduction_override')
        ignore_index = self.ignore_index if ignore_index is None else check_ignore_index(name, ignore_index)
        # half logits are evaluated in float32, as AMLFSLoss does: in float16 a batch's sum passed 65504 (inf)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32)) if logits.is_floating_point() else logits
        if logits.dim() != 2:
            raise ValueError(f'{name} needs logits of shape (N, C), got {tuple(logits.shape)}')
        class_weight = class_weight_tensor(name, self.class_weight, logits)
        keep = None
        _check_target_tensor(name, target)
        if not (self.takes_probabilities and target.is_floating_point() and target.shape == logits.shape):
            target, keep = _check_inputs(name, logits, target, ignore_index)
        loss = self._rows(logits, target, class_weight)
        return self.loss_weight * ignore_and_reduce(name, loss, keep, weight, reduction_override or self.reduction,
                                                    avg_factor, self.avg_non_ignore)


@MODELS.register_module()
class CrossEntropyLoss(_ClassificationLoss):
    """Softmax cross-entropy on logits, with optional label smoothing and a loss weight.

    ``target`` is ``(N,)`` class indices or, unlike the other losses here, float class probabilities ``(N, C)``
    (the shape of the logits), which ``F.cross_entropy`` takes as they are.

    Args:
        label_smoothing: ``eps`` in ``[0, 1)`` (``F.cross_entropy``'s).
        loss_weight: Multiplier of the loss.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (mmdet's key; see the module docstring).
        use_sigmoid: ``False`` only (mmdet's key; a softmax loss).
        class_weight: ``C`` weights >= 0 (list, tensor or file path), one per class, or ``None`` (mmdet's key;
            see the module docstring).
        ignore_index: The label whose rows give loss 0, or ``None`` (mmdet's key; see the module docstring).
        avg_non_ignore: With ``'mean'`` and no ``avg_factor``, average over the rows not ignored (mmdet's key).

    Raises:
        ValueError: ``label_smoothing`` outside [0, 1), ``loss_weight`` not a finite number >= 0, an unknown
            ``reduction``, ``use_sigmoid=True``, a bad
            ``class_weight``, ``ignore_index`` or ``avg_non_ignore`` (all but the last checked on every write too).

    Examples:
        >>> loss = CrossEntropyLoss()
        >>> round(loss(torch.zeros(1, 4), torch.tensor([2])).item(), 4)  # log(4)
        1.3863
    """

    label_smoothing = CheckedFloat(lambda v: 0.0 <= v < 1.0, 'in [0, 1)', interval=Interval(0.0, 1.0, high_open=True))

    takes_probabilities = True

    def __init__(self, label_smoothing: float = 0.0, loss_weight: float = 1.0, reduction: str = 'mean',
                 use_sigmoid: bool = False, class_weight: Any = None, ignore_index: int | None = None,
                 avg_non_ignore: bool = False) -> None:
        super().__init__(loss_weight=loss_weight, reduction=reduction, use_sigmoid=use_sigmoid,
                         class_weight=class_weight, ignore_index=ignore_index, avg_non_ignore=avg_non_ignore)
        self.label_smoothing = label_smoothing

    def _rows(self, logits: torch.Tensor, target: torch.Tensor, class_weight: torch.Tensor | None) -> torch.Tensor:
        # checked class indices (N,), or class probabilities (N, C), which go as they are; mmdet's call (its
        # ignore_index is applied by the caller, which zeroes those rows)
        return F.cross_entropy(logits, target, weight=class_weight, label_smoothing=self.label_smoothing,
                               reduction='none')


@MODELS.register_module()
class LabelSmoothingLoss(CrossEntropyLoss):
    """Cross-entropy against the smoothed target ``(1 - eps) onehot(y) + eps / C``.

    ``L = -(1 - eps) log p_y - (eps / C) sum_j log p_j``. Source: Szegedy et al., "Rethinking the Inception
    Architecture for Computer Vision", CVPR 2016, §7 (label-smoothing regularisation); the same formula as
    ``torch.nn.functional.cross_entropy(label_smoothing=eps)``, which computes it.

    Args:
        smoothing: ``eps`` in ``[0, 1)``; 0.1 as in the paper. In an mmdet head the background is one of the
            ``C + 1`` classes the smoothing spreads over.
        loss_weight: Multiplier of the loss.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (mmdet's key; see the module docstring).
        use_sigmoid: ``False`` only (mmdet's key; a softmax loss).
        class_weight: ``C`` weights >= 0 (list, tensor or file path), one per class, or ``None`` (mmdet's key;
            see the module docstring).
        ignore_index: The label whose rows give loss 0, or ``None`` (mmdet's key; see the module docstring).
        avg_non_ignore: With ``'mean'`` and no ``avg_factor``, average over the rows not ignored (mmdet's key).

    Raises:
        ValueError: ``smoothing`` outside [0, 1), ``loss_weight`` not a finite number >= 0, an unknown ``reduction``,
            ``use_sigmoid=True``, a bad
            ``class_weight``, ``ignore_index`` or ``avg_non_ignore`` (all but the last checked on every write too).

    Examples:
        >>> loss = LabelSmoothingLoss(smoothing=0.1)
        >>> round(loss(torch.log(torch.tensor([[1.0, 2.0, 1.0]])), torch.tensor([1])).item(), 4)
        0.7394
    """

    def __init__(self, smoothing: float = 0.1, loss_weight: float = 1.0, reduction: str = 'mean',
                 use_sigmoid: bool = False, class_weight: Any = None, ignore_index: int | None = None,
                 avg_non_ignore: bool = False) -> None:
        super().__init__(label_smoothing=smoothing, loss_weight=loss_weight, reduction=reduction,
                         use_sigmoid=use_sigmoid, class_weight=class_weight, ignore_index=ignore_index,
                         avg_non_ignore=avg_non_ignore)

    smoothing = _CheckedAlias('label_smoothing', doc=(
        '``eps``: the ``label_smoothing`` the loss computes with (one value under both names, so an OHL space or '
        '``SetAttributesHook`` that sets either changes the loss; a separate copy was set without effect).'))


@MODELS.register_module()
class GeneralizedCrossEntropyLoss(_ClassificationLoss):
    """Generalised cross-entropy ``L_q = (1 - p_y^q) / q`` (mean over the batch).

    ``q -> 0`` gives cross-entropy, ``q = 1`` the mean absolute error ``1 - p_y`` (up to a factor 2); in between
    the loss is bounded by ``1 / q``, so a mislabelled sample's pull is capped. Source: Zhang and Sabuncu,
    "Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels", NeurIPS 2018,
    Sec. 3.2 (the L_q loss); ``q = 0.7`` is the paper's setting (its truncated variant is not implemented).

    Args:
        q: Exponent in ``(0, 1]``.
        loss_weight: Multiplier of the loss.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (mmdet's key; see the module docstring).
        use_sigmoid: ``False`` only (mmdet's key; a softmax loss).
        class_weight: ``C`` weights >= 0 (list, tensor or file path), one per class, or ``None`` (mmdet's key;
            see the module docstring).
        ignore_index: The label whose rows give loss 0, or ``None`` (mmdet's key; see the module docstring).
        avg_non_ignore: With ``'mean'`` and no ``avg_factor``, average over the rows not ignored (mmdet's key).

    Raises:
        ValueError: ``q`` outside (0, 1], ``loss_weight`` not a finite number >= 0, an unknown ``reduction``,
            ``use_sigmoid=True``, a bad
            ``class_weight``, ``ignore_index`` or ``avg_non_ignore`` (all but the last checked on every write too).

    Examples:
        >>> loss = GeneralizedCrossEntropyLoss(q=0.7)
        >>> round(loss(torch.zeros(1, 4), torch.tensor([0])).item(), 4)  # (1 - 0.25 ** 0.7) / 0.7
        0.8872
    """

    q = CheckedFloat(lambda v: 0.0 < v <= 1.0, 'in (0, 1]', interval=Interval(0.0, 1.0, low_open=True))

    def __init__(self, q: float = 0.7, loss_weight: float = 1.0, reduction: str = 'mean',
                 use_sigmoid: bool = False, class_weight: Any = None, ignore_index: int | None = None,
                 avg_non_ignore: bool = False) -> None:
        super().__init__(loss_weight=loss_weight, reduction=reduction, use_sigmoid=use_sigmoid,
                         class_weight=class_weight, ignore_index=ignore_index, avg_non_ignore=avg_non_ignore)
        self.q = q

    def _per_row(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # p_y^q = exp(q log p_y): no 0^q at underflow, finite gradients everywhere
        return -torch.expm1(self.q * _target_log_prob(logits, target)) / self.q


@MODELS.register_module()
class SymmetricCrossEntropyLoss(_ClassificationLoss):
    """Symmetric cross-entropy ``alpha CE + beta RCE`` with the reverse cross-entropy ``RCE = -A (1 - p_y)``.

    ``RCE = -sum_k p_k log q_k`` with ``q`` the one-hot label and ``log 0`` replaced by ``A < 0``, which is
    ``-A (1 - p_y)``. Source: Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels",
    ICCV 2019, the SL loss (its reverse cross-entropy with ``log 0 = A``); ``alpha = 0.1, beta = 1, A = -4`` are
    the paper's CIFAR-10 settings.

    Args:
        alpha: Weight of cross-entropy (>= 0).
        beta: Weight of the reverse cross-entropy (>= 0).
        log_zero: ``A``, the value taken for ``log 0`` (< 0).
        loss_weight: Multiplier of the loss.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (mmdet's key; see the module docstring).
        use_sigmoid: ``False`` only (mmdet's key; a softmax loss).
        class_weight: ``C`` weights >= 0 (list, tensor or file path), one per class, or ``None`` (mmdet's key;
            see the module docstring).
        ignore_index: The label whose rows give loss 0, or ``None`` (mmdet's key; see the module docstring).
        avg_non_ignore: With ``'mean'`` and no ``avg_factor``, average over the rows not ignored (mmdet's key).

    Raises:
        ValueError: ``alpha`` or ``beta`` not a finite number >= 0, ``log_zero`` not a finite number < 0,
            ``loss_weight`` not a finite number >= 0, an unknown ``reduction``, ``use_sigmoid=True``, a bad
            ``class_weight``, ``ignore_index`` or ``avg_non_ignore`` (all but the last checked on every write too).

    Examples:
        >>> loss = SymmetricCrossEntropyLoss()
        >>> round(loss(torch.zeros(1, 4), torch.tensor([0])).item(), 4)  # 0.1 log 4 + 4 * 0.75
        3.1386
    """

    alpha = CheckedFloat(_finite_at_least(0.0), 'a finite number >= 0', interval=NON_NEGATIVE)
    beta = CheckedFloat(_finite_at_least(0.0), 'a finite number >= 0', interval=NON_NEGATIVE)
    log_zero = CheckedFloat(lambda v: math.isfinite(v) and v < 0, 'a finite negative number (A, the value of log 0)',
                          interval=Interval(-INF, 0.0, high_open=True))

    def __init__(self, alpha: float = 0.1, beta: float = 1.0, log_zero: float = -4.0, loss_weight: float = 1.0,
                 reduction: str = 'mean', use_sigmoid: bool = False, class_weight: Any = None,
                 ignore_index: int | None = None, avg_non_ignore: bool = False) -> None:
        super().__init__(loss_weight=loss_weight, reduction=reduction, use_sigmoid=use_sigmoid,
                         class_weight=class_weight, ignore_index=ignore_index, avg_non_ignore=avg_non_ignore)
        self.alpha, self.beta, self.log_zero = alpha, beta, log_zero

    def _per_row(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = _target_log_prob(logits, target)
        rce = -self.log_zero * -torch.expm1(log_p)  # -A (1 - p_y)
        return self.alpha * -log_p + self.beta * rce


@MODELS.register_module()
class Poly1CrossEntropyLoss(_ClassificationLoss):
    """Poly-1 loss ``CE + epsilon (1 - p_y)``: cross-entropy with the first polynomial coefficient shifted.

    Source: Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
    ICLR 2022, the Poly-1 formulation. The default ``epsilon = 1`` is this project's choice, not a value taken from
    the paper, which tunes ε per task and dataset; ``epsilon = -1`` removes the first term of cross-entropy's
    Taylor series (``sum_j (1 - p_y)^j / j``). ``epsilon >= -1`` keeps the loss non-negative (``-log p >= 1 - p``).

    Args:
        epsilon: Coefficient of ``(1 - p_y)``, ``>= -1``.
        loss_weight: Multiplier of the loss.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (mmdet's key; see the module docstring).
        use_sigmoid: ``False`` only (mmdet's key; a softmax loss).
        class_weight: ``C`` weights >= 0 (list, tensor or file path), one per class, or ``None`` (mmdet's key;
            see the module docstring).
        ignore_index: The label whose rows give loss 0, or ``None`` (mmdet's key; see the module docstring).
        avg_non_ignore: With ``'mean'`` and no ``avg_factor``, average over the rows not ignored (mmdet's key).

    Raises:
        ValueError: ``epsilon`` not a finite number >= -1, ``loss_weight`` not a finite number >= 0, an unknown
            ``reduction``, ``use_sigmoid=True``, a bad
            ``class_weight``, ``ignore_index`` or ``avg_non_ignore`` (all but the last checked on every write too).

    Examples:
        >>> loss = Poly1CrossEntropyLoss(epsilon=1.0)
        >>> round(loss(torch.zeros(1, 4), torch.tensor([0])).item(), 4)  # log 4 + 0.75
        2.1363
    """

    epsilon = CheckedFloat(_finite_at_least(-1.0), 'a finite number >= -1', interval=Interval(-1.0, INF))

    def __init__(self, epsilon: float = 1.0, loss_weight: float = 1.0, reduction: str = 'mean',
                 use_sigmoid: bool = False, class_weight: Any = None, ignore_index: int | None = None,
                 avg_non_ignore: bool = False) -> None:
        super().__init__(loss_weight=loss_weight, reduction=reduction, use_sigmoid=use_sigmoid,
                         class_weight=class_weight, ignore_index=ignore_index, avg_non_ignore=avg_non_ignore)
        self.epsilon = epsilon

    def _per_row(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = _target_log_prob(logits, target)
        return -log_p - self.epsilon * torch.expm1(log_p)
