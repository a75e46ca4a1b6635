"""AM-LFS's search space: a diagonal Gaussian over the loss parameters θ = [a^t, b^t, a^τ, b^τ]."""
from __future__ import annotations

import copy
import math
import os.path as osp
import re
import warnings
from typing import Any

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper

from automl_mm.ohl.attribute_paths import resolve_attribute
from automl_mm.ohl.distributions import DiagGaussian, check_std
from automl_mm.ohl.report import CUSTOM_IMPORTS
from automl_mm.ohl.spaces import AttributeSpace
from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.config_text import config_literal
from automl_mm.utils.io import remove_files, savefig_atomic

from .am_lfs import AMLFSLoss
from .parametrisation import check_parametrisation

#: the settings of the target AMLFSLoss that the learned loss keeps (besides θ, M and the parametrisation), with
#: AMLFSLoss's defaults, which the exported fragment writes too
LOSS_SETTINGS = dict(scale=None, eps=1e-6, loss_weight=1.0, class_weight=None, ignore_index=None, avg_non_ignore=False,
                     reduction='mean', use_sigmoid=False)


def _config_text(node: dict) -> str:
    """``dict(a=dict(b=am_lfs_loss))`` from ``{'a': {'b': '@am_lfs_loss'}}`` (config keys as keyword arguments)."""
    items = ', '.join(f'{k}={_config_text(v) if isinstance(v, dict) else v[1:]}' for k, v in node.items())
    return f'dict({items})'


@SEARCH_SPACES.register_module()
class LossFunctionSpace(AttributeSpace):
    """One θ per copy per trunk, written to an ``AMLFSLoss``; μ learned by the controller, σ fixed.

    μ₀ is the identity θ (softmax cross-entropy) of the chosen parametrisation, M = 6 by default (METHODS.md §3).

    * ``'monotone'`` (default, ours): a Gaussian over the ``2 M + 2`` unconstrained values of
      :mod:`automl_mm.losses.parametrisation`; every sample is a continuous, increasing ``t`` and ``tau`` with
      ``tau`` in ``(0, 1]``. Default σ = 0.05, chosen by measurement: the best mean
      reward-split accuracy over σ ∈ {0.025, 0.05, 0.1, 0.2, 0.4} on reduced Fashion-MNIST with 40 % symmetric
      label noise (the README's AM-LFS evidence).
    * ``'piecewise'`` (the public reimplementation): a Gaussian over ``[a_t, b_t, a_tau, b_tau]``, σ² = 0.2;
      invalid samples are projected by ``AMLFSLoss`` (non-negative slopes; τ floored at eps·p, capped at 1).

    Args:
        target: Attribute path of the loss module's ``theta``.
        num_intervals: M, intervals of each piecewise-linear function; default (``None``): the target loss's
            ``num_intervals``, read when training starts. An explicit M other than the loss's is refused then.
        std: Fixed standard deviation of every θ component, one number or one per component; ``None``: 0.05
            (``'monotone'``) or √0.2 (``'piecewise'``).
        learn_std: Learn σ as well (the paper keeps it fixed).
        name: Name in logs and outputs.
        parametrisation: ``'monotone'`` or ``'piecewise'``; must equal the target loss's (checked at setup).

    Raises:
        ValueError: an unknown ``parametrisation``; ``std`` not a finite number > 0 or a list of them; ``learn_std``
            not a bool, or a learned σ starting below ``DiagGaussian``'s ``min_std`` (1e-4); an explicit
            ``num_intervals`` that is not a positive integer or has another number of values than ``std``. What
            needs the model is checked when training starts: the loss's M and head in :meth:`resolve`, its
            parametrisation in :meth:`setup`.

    Examples:
        >>> LossFunctionSpace(num_intervals=2).distribution.mode().tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        >>> LossFunctionSpace(num_intervals=2, parametrisation='piecewise').distribution.mode().tolist()
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, target: str = 'model.head.loss_module.theta', num_intervals: int | None = None,
                 std: float | list[float] | None = None, learn_std: bool = False, name: str = 'loss',
                 parametrisation: str = 'monotone') -> None:
        self.parametrisation = check_parametrisation(parametrisation)
        self.num_intervals = num_intervals
        self._std = (0.05 if parametrisation == 'monotone' else math.sqrt(0.2)) if std is None else std
        # checked here, not when the space meets the model: a multi-copy run's config check builds the hook only,
        # so the error used to come from inside a worker
        try:
            check_std(self._std if isinstance(self._std, (list, tuple)) else [self._std], std)
        except ValueError:
            raise ValueError(f'LossFunctionSpace: std must be a positive finite number or a list of them, got '
                             f'{std!r}') from None
        if not isinstance(learn_std, bool):
            # 'no' (truthy) was taken as given and refused only when the loss's M was read, at training start
            raise ValueError(f'LossFunctionSpace: learn_std must be True or False, got {learn_std!r}')
        if learn_std:
            # the floor of a learned σ (DiagGaussian's min_std), checked now for the same reason as std
            DiagGaussian(mean=[0.0], std=min(self._std) if isinstance(self._std, (list, tuple)) else self._std,
                         learn_std=True)
        self._learn_std = learn_std
        self._loss_kwargs: dict = {}  # the target loss's LOSS_SETTINGS (resolve)
        self.name = name  # named by _distribution's errors before the base class sets it
        super().__init__(None if num_intervals is None else self._distribution(num_intervals), target=target,
                         name=name)

    def _distribution(self, num_intervals: int) -> dict:
        """μ₀: the identity θ of ``num_intervals`` intervals in this parametrisation."""
        start = AMLFSLoss(num_intervals=num_intervals, parametrisation=self.parametrisation).theta
        if isinstance(self._std, (list, tuple)) and len(self._std) != len(start):
            # DiagGaussian's own error ('std must have len(mean)=6 values') named neither the space nor M
            raise ValueError(f"LossFunctionSpace '{self.name}': std has {len(self._std)} values, but theta of "
                             f"num_intervals={num_intervals} in the '{self.parametrisation}' parametrisation has "
                             f'{len(start)} components; give one number for all or {len(start)} values')
        return dict(type='DiagGaussian', mean=start.tolist(), std=self._std, learn_std=self._learn_std)

    def signature(self) -> str | None:
        """The class, the targets, the parametrisation and M (what each θ component is)."""
        return repr((type(self).__name__, self.targets, self.parametrisation, self.num_intervals))

    def resolve(self, runner: Any) -> None:
        """Take M from the target loss(es) when it was not given; refuse an explicit one that disagrees.

        Raises:
            ValueError: the losses at the target disagree on M, or the space's explicit ``num_intervals`` is not
                theirs (naming both); a loss held by a module of the model known not to pass it the weight and
                feature norms (``passes_norms = False``, e.g. ``LinearClsHead``, or any mmdet head), which would
                stop the first iteration.
        """
        super().resolve(runner)  # the targets exist
        losses = self._losses(runner)
        # here, not in setup: OHLHook resolves its spaces in the launching process's config check too
        self._check_holders(runner, self.targets, losses)
        counts = sorted({loss.num_intervals for loss in losses})
        if len(counts) > 1:
            raise ValueError(f'the AMLFSLoss modules at {self.targets} have different num_intervals {counts}')
        # the learned loss (learned_loss, reported values, the exported fragment) is the one trained: with the
        # target's scale, eps and loss_weight (the fragment used to drop them: scale=16 became scale=None), and
        # its class_weight, ignore_index and avg_non_ignore (dropped too: the retrain weighted every class 1)
        settings = {tuple(tuple(v) if isinstance(v, list) else v for v in self._settings_of(loss).values())
                    for loss in losses}
        if len(settings) > 1:
            raise ValueError(f'the AMLFSLoss modules at {self.targets} differ in ({", ".join(LOSS_SETTINGS)}): '
                             f'{sorted(settings, key=repr)}; one space learns one loss')
        if losses:
            self._loss_kwargs = self._settings_of(losses[0])
        if self.num_intervals is None:
            if not counts:
                raise ValueError(f'LossFunctionSpace: no AMLFSLoss at {self.targets} to take num_intervals from; '
                                 'give num_intervals or point target at the loss\'s theta')
            self.num_intervals = counts[0]
            self.set_distribution(self._distribution(self.num_intervals))
        elif counts and counts[0] != self.num_intervals:
            raise ValueError(f'LossFunctionSpace has num_intervals={self.num_intervals} but the loss at '
                             f'{self.targets} has {counts[0]}: leave the space\'s num_intervals out to take the '
                             'loss\'s')

    def check_projected(self, runner: Any, path: str) -> None:
        """Nothing to refuse: this space records θ as the loss runs with it (:meth:`reported`, the projection)."""

    def check_dimension(self, runner: Any, path: str) -> None:
        """Left to :meth:`resolve` and :meth:`setup`, which compare θ's length with the loss's by its terms
        (``num_intervals``, the parametrisation)."""

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        """Bind to the loss(es) at the target.

        Raises:
            ValueError: as :meth:`resolve`; a loss of the other parametrisation.
        """
        self.resolve(runner)
        super().setup(runner, layout, seed)
        for loss in self._losses(runner):
            if loss.parametrisation != self.parametrisation:
                raise ValueError(f"LossFunctionSpace has parametrisation='{self.parametrisation}' but the loss at "
                                 f"{self.targets} has parametrisation='{loss.parametrisation}'; set the same "
                                 "parametrisation key in both")

    @staticmethod
    def _check_holders(runner: Any, targets: list[str], losses: list) -> None:
        """Refuse a loss held by a module known not to pass it the norms (see :meth:`resolve`)."""
        model = getattr(runner, 'model', None)
        model = model.module if is_model_wrapper(model) else model
        if isinstance(model, nn.Module):
            for name, module, _child_name, child in norm_needing_losses_in_wrong_holders(model):
                if any(child is loss for loss in losses):
                    where = f'model.{name}' if name else 'model'
                    raise ValueError(
                        f'LossFunctionSpace target {targets}: the AMLFSLoss there is held by '
                        f'{type(module).__name__} ({where}), which does not pass it ||W_j|| and ||x|| '
                        '(mmdet\'s bbox and dense heads do not); use CosineLinearClsHead, or a head of yours '
                        'that calls the loss with weight_norm and feat_norm and sets passes_norms = True')

    def dimension_names(self) -> list[str] | None:
        """What each coordinate of θ is, in its order (``automl_mm/losses/parametrisation.py``): ``'monotone'``
        ``[s_t[0..M-1], c_t, s_tau[0..M-1], r_tau]`` (log-slopes of t, t(1) - 1, softmax logits of τ's rises,
        τ(0)'s parameter), ``'piecewise'`` ``[a_t[k], b_t[k], a_tau[k], b_tau[k]]`` (slopes and intercepts);
        None before M is known. The report's ``distribution_<space>.png`` labels its curves with them."""
        m = self.num_intervals
        if m is None:
            return None
        if self.parametrisation == 'monotone':
            return [f's_t[{k}]' for k in range(m)] + ['c_t'] + [f's_tau[{k}]' for k in range(m)] + ['r_tau']
        return [f'{part}[{k}]' for part in ('a_t', 'b_t', 'a_tau', 'b_tau') for k in range(m)]

    def _losses(self, runner: Any) -> list:
        return [v for v in _owner_values(runner, self.targets) if isinstance(v, AMLFSLoss)]

    def learned_loss(self) -> AMLFSLoss:
        """An ``AMLFSLoss`` holding the current mean θ (after projection)."""
        return self._loss(self.distribution.mode().tolist())

    @staticmethod
    def _settings_of(loss: AMLFSLoss) -> dict:
        """The target loss's settings other than θ, M and the parametrisation (``LOSS_SETTINGS``), copied: the
        loss's own ``class_weight`` list, kept, followed the in-place writes of a space on one of its weights
        (``...loss_module.class_weight.1``), so the learned loss and the fragment took that space's last sample."""
        return {key: copy.deepcopy(getattr(loss, key)) for key in LOSS_SETTINGS}

    def _loss(self, theta: Any) -> AMLFSLoss:
        with warnings.catch_warnings():  # the avg_non_ignore advice, given once when the target was built
            warnings.simplefilter('ignore', UserWarning)
            return AMLFSLoss(num_intervals=self.num_intervals, theta=theta, parametrisation=self.parametrisation,
                             **self._loss_kwargs)

    def reported(self, value: Any) -> list[float]:
        # θ as the loss ran with it (the piecewise layout's invalid samples are projected); the raw Gaussian sample
        # stays the statistic REINFORCE uses
        return self._loss(value).theta.tolist()

    def export_fragment(self) -> str:
        """The learned loss (mean θ, projected) as config text: ``am_lfs_loss`` and, for each target of the form
        ``model.<module>...<loss attribute>.theta``, the config key that builds that loss (``loss_module``, the
        attribute mmpretrain-style heads build from ``loss``, is set through ``loss``; another attribute, e.g.
        ``loss_cls``, through its own name). A target that does not map to config keys (list indices, ``*``) gets
        a comment naming it instead: the fragment used to set ``model.head.loss`` whatever the target was. The loss
        config holds every setting of the trained loss (``scale``, ``eps``, ``loss_weight``, ``class_weight``,
        ``ignore_index``, ``avg_non_ignore``, ``reduction``, ``use_sigmoid``, defaults too): pasted over another
        loss, a key it left out was that loss's (mmpretrain's ``CrossEntropyLoss(use_sigmoid=True)`` made the learned
        loss refuse to build)."""
        theta = [float(v) for v in self.learned_loss().theta.tolist()]  # repr: read back bit for bit
        # scope-prefixed, with custom_imports: the fragment loads in a config of any default scope (an mmdet
        # detector's loss_cls, an mmpretrain classifier's), as every OHL fragment does
        cfg = dict(type='automl_mm.AMLFSLoss', num_intervals=self.num_intervals, parametrisation=self.parametrisation,
                   theta=theta)
        # every setting, defaults too: merged over a config's own loss (mmpretrain's CrossEntropyLoss(loss_weight=0.5))
        # a setting left out was the base's (the retrain ran loss_weight=0.5 where the search trained with 1.0)
        cfg.update(LOSS_SETTINGS, **self._loss_kwargs)
        model: dict = {}
        keys, unmapped = [], []
        for target in self.targets:
            parts = target.split('.')
            if (len(parts) < 4 or parts[0] != 'model' or parts[-1] != 'theta'
                    or not all(p.isidentifier() for p in parts[1:-1])):
                unmapped.append(target)
                continue
            node = model
            for part in parts[1:-2]:
                node = node.setdefault(part, {})
            key = 'loss' if parts[-2] == 'loss_module' else parts[-2]
            node[key] = '@am_lfs_loss'
            keys.append('.'.join([*parts[:-2], key]))
        # the comment names the config keys the fragment sets (model.head.loss), not the searched attribute
        # (model.head.loss_module.theta), which no config key is
        where = ', '.join(keys + [f'the loss at {t}' for t in unmapped])
        text = (f'# OHL space {self.name!r} (AM-LFS): the learned loss (mean theta), fixed. Retrain from scratch\n'
                f'# with it as {where}, without the OHLHook and its CopySampler\n'
                f"# (train_dataloader.sampler=dict(type='DefaultSampler', shuffle=True)). AMLFSLoss needs the\n"
                f'# weight and feature norms its head passes (CosineLinearClsHead, as in the search).\n'
                f'{CUSTOM_IMPORTS}am_lfs_loss = {config_literal(cfg, width=110, compact=True)}\n')
        for target in unmapped:
            text += f'# set am_lfs_loss as the loss at {target} in your config (no config key maps to it)\n'
        if model:
            text += f'model = {_config_text(model)}\n'
        return text

    #: The figure :meth:`plot_trunk` draws after trunk ``t``: ``loss_trunk<t>.png``, ``t`` with at least 3 digits.
    FIGURE = re.compile(r'loss_trunk(\d{3,})\.png')

    def remove_figures_from(self, out_dir: str, trunk: int) -> list[str]:
        """Remove from ``out_dir`` the figures of :meth:`plot_trunk` of trunks ``trunk`` and later (plain files named
        exactly ``loss_trunk<t>.png``; nothing else is touched): ``OHLReport`` calls it at a run's first trunk end
        with that trunk (0, or the trunk a resumed run starts at), since those figures were drawn by another run
        (an earlier, longer search in the same work_dir: its ``loss_trunk029.png`` read as this run's final loss)
        or by the trunks a resumed run trains again. Returns the removed file names, sorted."""
        def from_trunk(entry: str) -> bool:
            match = self.FIGURE.fullmatch(entry)
            return bool(match) and int(match.group(1)) >= trunk

        return remove_files(out_dir, from_trunk)

    def plot_trunk(self, out_dir: str, trunk: int) -> None:
        """``loss_trunk<t>.png``: the learned t(x) and τ(x) against the identity."""
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        loss = self.learned_loss()
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
        for ax, (fn, lo, hi, label) in zip(axes, ((loss.t_function, -1.0, 1.0, 't(x), x = cos θ_y'),
                                                   (loss.tau_function, 0.0, 1.0, 'τ(p), p = softmax prob.'))):
            x = torch.linspace(lo, hi, 401, dtype=torch.float64)
            ax.plot(x, x, 'k--', label='identity (cross-entropy)')
            ax.plot(x, fn(x).detach(), label='learned (mean θ)')
            ax.set(title=label, xlabel='x')
            ax.legend(fontsize='small')
        fig.suptitle(f'AM-LFS after trunk {trunk}')
        fig.tight_layout()
        savefig_atomic(fig, osp.join(out_dir, f'loss_trunk{trunk:03d}.png'), dpi=90)
        plt.close(fig)


def norm_needing_losses_in_wrong_holders(model: nn.Module) -> list[tuple[str, nn.Module, str, nn.Module]]:
    """``(holder name, holder, child name, loss)`` for every loss that needs the weight and feature norms
    (``uses_norms``, e.g. ``AMLFSLoss``) held by a module known not to pass them, which stops the first training
    iteration: a holder with ``passes_norms = False`` (``LinearClsHead``) or any mmdet module (no mmdet head passes
    them: its bbox and dense heads call ``loss_cls(cls_score, labels, label_weights, avg_factor=...)``). A head of
    the user's own without the attribute is given the benefit of the doubt."""
    found = []
    for name, module in model.named_modules():
        passes = getattr(module, 'passes_norms', None)
        if passes or (passes is None and not type(module).__module__.startswith('mmdet.')):
            continue
        found += [(name, module, child_name, child) for child_name, child in module.named_children()
                  if getattr(child, 'uses_norms', False)]
    return found


def _owner_values(runner: Any, paths: list[str]) -> list:
    """The objects that own the attributes at ``paths`` (e.g. the loss module of ``...loss_module.theta``)."""
    return [node for path in paths for node, _ in resolve_attribute(runner, path)]
