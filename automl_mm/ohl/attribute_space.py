"""The per-copy OHL space: :class:`AttributeSpace`, one sample per copy per trunk written to an attribute path of
the runner (``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``).

Attribute paths (``set_attribute``) live in :mod:`automl_mm.ohl.attributes`, ``SetAttributesHook`` in
:mod:`automl_mm.ohl.replay_hooks`; the per-item space is in :mod:`automl_mm.ohl.pipeline_space`;
:mod:`automl_mm.ohl.spaces` re-exports both.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.checks import config_repr, repeated_candidates
from automl_mm.utils.config_text import config_literal
from automl_mm.utils.scope import config_type_name
from automl_mm.utils.wording import a_name

from .attribute_paths import resolve_attribute
from .attributes import check_written_value, get_attribute, set_attribute
from .base import PerCopySpace
from .build_time_targets import check_read_at_run_time
from .data_writes import watch_data_writes
from .optimizer_base import base_giving, groups_base_factor
from .ownership import check_owned_attribute
from .range_refusals import OutOfRange, draw_use
from .report import CUSTOM_IMPORTS, transform_types_note
from .switching_hooks import check_switching_hooks
from .transform_types import transform_types
from .value_ranges import (
    check_draws,
    gaussian_on_integer,
    integer_advice,
    shape_mismatch,
    value_shape,
)


def _plain(value: Any) -> Any:
    """A tensor (a sample: an index, or a Gaussian's vector) as plain Python values, a one-element one as its
    number; anything else unchanged. A value of the user's is never unwrapped: a choice ``[(32, 32)]`` (a resize's
    list of one scale) was reported, recorded in ``copy_values`` and exported as ``(32, 32)``, not the list the
    copies trained with. NumPy scalars (choices ``list(np.linspace(0, 1e-3, 3))`` given through the Python API) are
    Python numbers: ``np.float64(0.0005)`` was exported as such, a ``NameError`` when ``final_policy.py`` was
    loaded, and a ``np.float32`` choice stopped the history's JSON."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    return _python_numbers(value)


def _python_numbers(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as Python numbers and lists, inside lists, tuples and dicts too."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)) and any(isinstance(v, (np.generic, np.ndarray, list, tuple, dict))
                                                for v in value):
        converted = [_python_numbers(v) for v in value]
        return converted if isinstance(value, list) else tuple(converted) if type(value) is tuple else \
            type(value)(*converted)
    if isinstance(value, dict) and any(isinstance(v, (np.generic, np.ndarray, list, tuple, dict))
                                       for v in value.values()):
        return {k: _python_numbers(v) for k, v in value.items()}
    return value


def _scheduled_base_note(values: dict[str, Any], factors: dict[str, tuple[str, float | None] | None] | None = None
                         ) -> str:
    """A fragment comment for every optimiser groups' parameter it sets (``...param_groups.*.<key>``): under a
    ``param_scheduler`` of that key (mmdet's schedules scale the lr) the hook is refused at start, and the base
    key with the value is what to set instead: the value over the factor the search config's constructor applied to
    the base in every group (``factors``, :func:`~automl_mm.ohl.optimizer_base.groups_base_factor` read at setup:
    under ``auto_scale_lr`` the base ``lr=v`` trains every group with ``v`` × its factor, not the ``v`` the search
    wrote)."""
    from automl_mm.engine.preflight_option_targets import config_key

    lines = ''
    for path, value in values.items():
        parts = path.split('.')
        if 'param_groups' in parts and parts.index('param_groups') == len(parts) - 3 and parts[-2] == '*':
            base = config_key(path)  # optim_wrapper.optimizer.lr; optim_wrapper.gen.optimizer.lr of a dict
            found = (factors or {}).get(path)
            shown, factor = value, ''
            if found is not None and found[1] is None:
                lines += (f'# Where a param_scheduler schedules {parts[-1]!r}, no base value {base} gives every group '
                          f'{value!r} (the config\'s paramwise_cfg gives the groups different multipliers).\n')
                continue
            if found is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                shown = base_giving(float(value), found[1])
                factor = '' if shown == value else f' (× {found[1]:g} in every group, as the search config built it)'
            lines += (f'# Where a param_scheduler schedules {parts[-1]!r} (mmdet\'s configs schedule the lr), set the '
                      f'base value {base}={shown!r}{factor} instead of this hook.\n')
    return lines


@SEARCH_SPACES.register_module()
class AttributeSpace(PerCopySpace):
    """One sample per copy per trunk, written to an attribute path of the runner.

    Paths start at a runner attribute; ``model`` is the unwrapped model; ``*`` fans out over a list or tuple;
    integers index lists and tuples (writing a tuple's element replaces the tuple). Examples:
    ``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``,
    ``optim_wrapper.optimizer.param_groups.*.betas.0`` (Adam's beta1), and the base
    ``optim_wrapper.optimizer.weight_decay`` (``.lr``): each parameter group gets what the config's constructor makes
    of the base (base × its ``paramwise_cfg`` multiplier, a ``custom_keys`` value set outright kept), and the history
    and fragments record the base (:mod:`automl_mm.ohl.optimizer_base`). A path through
    ``train_dataloader``
    (``train_dataloader.dataset.pipeline.transforms.1.prob``) is written before the trunk's first batch is
    loaded, and dataloader workers restart to load with it (:mod:`automl_mm.ohl.attributes`).

    Args:
        distribution: A categorical (then ``choices`` gives the value of each index) or a Gaussian distribution.
            ``dict(type='Categorical')`` without ``num_choices`` takes one choice per entry of ``choices``.
        target: The attribute path (or several paths, all set to the same value).
        choices: Values of a categorical's indices, one per choice of the distribution.
        transform: ``None``, ``'exp'`` or ``'pow10'``, applied to a Gaussian sample (search on a log scale). The
            controller's statistic, log-density and entropy bonus are the sample's before the transform (θ drew
            it), the history's ``copy_values`` and exports the value written. Its image (any real number; any
            positive one) must lie inside the target's range, checked at setup
            (:func:`~automl_mm.ohl.value_ranges.check_draws`): ``'exp'`` on a momentum is refused.
        name: Name in logs and outputs.

    Raises:
        ValueError: ``target`` that is not a path or a non-empty list of paths; ``choices`` that is not a list
            of at least 2 values, or with a distribution that is not categorical or has another number of choices
            (an index without a value, or a value that is never searched); a categorical without ``choices``; an
            unknown ``transform``, or ``transform`` with ``choices``. In :meth:`resolve` (a ``model`` target) and
            :meth:`setup`: a Gaussian, or a choice that is no integer, on an integer setting (a transform's
            ``num_ops``: :meth:`check_dimension`); a choice that an optimiser target's constructor refuses (a
            negative lr), naming the choice; a target in the training
            pipeline that a hook of the run replaces or skips during training (mmdet's ``PipelineSwitchHook``,
            ``YOLOXModeSwitchHook``: :func:`~automl_mm.ohl.switching_hooks.check_switching_hooks`).

    Examples:
        >>> space = AttributeSpace(dict(type='Categorical', num_choices=3), target='model.head.dropout.p',
        ...                        choices=[0.0, 0.1, 0.3])
        >>> space.value_of(2)
        0.3
    """

    _TRANSFORMS = {None: lambda x: x, 'exp': math.exp, 'pow10': lambda x: 10.0**x}

    def __init__(self, distribution: dict | Any, target: str | Sequence[str], choices: Sequence | None = None,
                 transform: str | None = None, name: str | None = None) -> None:
        where = f'AttributeSpace({name or type(self).__name__!r}, target={target!r})'
        if choices is not None:
            if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or len(choices) < 2:
                raise ValueError(f'{where}: choices must be a list of at least 2 values, got {choices!r}')
            choices = list(choices)
            if config_type_name(distribution) == 'Categorical' and distribution.get('num_choices') is None:
                distribution = dict(distribution, num_choices=len(choices))  # one choice per value
        super().__init__(distribution, name=name)
        self.targets = [target] if isinstance(target, str) else list(target) if isinstance(target, Sequence) else []
        if not self.targets or not all(isinstance(path, str) and path for path in self.targets):
            # target=5 failed in list() naming no key; ['model.x', 5] only when the path was walked
            raise ValueError(f'{where}: target must be an attribute path or a non-empty list of them, got {target!r}')
        if transform not in self._TRANSFORMS:
            raise ValueError(f"transform must be None, 'exp' or 'pow10', got {transform!r}")
        if choices is not None:
            if not hasattr(self.distribution, 'probs'):
                raise ValueError(f'{where}: choices index a categorical distribution, got '
                                 f'{type(self.distribution).__name__}; leave choices out (or use a Categorical)')
            if len(self.distribution.probs()) != len(choices):
                key = 'factor_sizes' if hasattr(self.distribution, 'factor_sizes') else 'num_choices'
                fix = (f'leave distribution.{key} out to take one per value' if isinstance(distribution, dict)
                       else f'build the distribution with {len(choices)} choices')
                raise ValueError(f'{where}: distribution has {len(self.distribution.probs())} choices but choices '
                                 f'holds {len(choices)} values {choices}: {fix}')
            if transform is not None:
                raise ValueError(f'{where}: transform={transform!r} applies to Gaussian samples; with choices give '
                                 'the values themselves')
        elif hasattr(self.distribution, 'probs'):
            # a categorical's sample is an index: without choices the index itself was written as the value
            raise ValueError(f'{where}: a categorical distribution needs choices (the value of each index)')
        self.choices = choices
        self.transform = transform
        self._base_factors: dict[str, tuple[str, float | None] | None] = {}  # setup: groups_base_factor per path
        self.current: Any = None
        if choices is not None and hasattr(self.distribution, 'set_choice_names'):
            # summaries, logs and plots show the value a choice sets (0.3), not its index (3); config labels win
            self.distribution.set_choice_names(list(choices), overwrite=False)

    def repeated_choices(self) -> list[tuple[Any, list[int]]]:
        """The values ``choices`` lists more than once, each with its indices (``[0.1, 0.1, 0.2]``:
        ``[(0.1, [0, 1])]``; ``1`` and ``1.0`` are one value: :func:`~automl_mm.utils.checks.repeated_candidates`).
        ``OHLHook`` refuses them under a controller that learns (:func:`~automl_mm.ohl.base.check_repeated_choices`)."""
        return repeated_candidates(self.choices or [])

    def signature(self) -> str | None:
        """The class, the targets, the choices (in order; a dict's keys sorted, :func:`config_repr`) and the value
        transform."""
        return repr((type(self).__name__, self.targets, config_repr(self.choices), self.transform))

    def value_of(self, sample: Any) -> Any:
        sample = _plain(sample)
        if self.choices is not None:
            if not isinstance(sample, int) or not 0 <= sample < len(self.choices):
                raise ValueError(f'space {self.name!r}: sample {sample!r} does not index choices {self.choices}')
            return self.choices[sample]
        fn = self._TRANSFORMS[self.transform]
        return [fn(float(v)) for v in sample] if isinstance(sample, list) else fn(float(sample))

    def planned_values(self, generator: Any) -> dict[str, Any] | None:
        """``{target path: value}`` that :meth:`begin_trunk` with ``generator`` (a fresh one, as the hook derives
        it: the same draw) will write, drawn aside: nothing written, recorded or kept. ``OHLHook`` holds them against
        the constructor relations before any space writes a trunk's values. ``None`` for a subclass that draws or
        applies otherwise: the hook then holds the whole trunk after the writes (planned values held beside what such a
        space's object held before its write refused pairs the writes kept)."""
        if type(self).begin_trunk is not PerCopySpace.begin_trunk or type(self).apply is not AttributeSpace.apply:
            return None
        batch = self.distribution.sample(generator=generator, n=1)
        first = {k: v[0] for k, v in batch.items()} if isinstance(batch, dict) else batch[0]
        value = self.value_of(first)
        return {path: value for path in self.targets or []}

    def apply(self, sample: Any, runner: Any = None) -> None:
        self.current = self.value_of(sample)
        for path in self.targets:
            set_attribute(runner, path, self.current)

    def resolve(self, runner: Any) -> None:
        """Check that every target through the model exists: ``OHLHook`` resolves its spaces in the launching
        process's config check (:func:`~automl_mm.engine.preflight.build_check`), where the model is built, so a
        path such as ``model.backbone.layers.*.momentum`` over a module without it is refused once, before the
        copies start (it used to stop every copy's worker in ``setup``). Paths through other runner attributes
        are checked in :meth:`setup`, where the runner has them.

        Raises:
            ValueError: a ``model.`` target that does not resolve, naming the space, the path and the missing part;
                one that is read only when the model was built (a head's ``train_cfg.assigner``), naming the
                path to target instead (:mod:`automl_mm.ohl.build_time_targets`); a space that can draw outside the
                attribute's range (:func:`~automl_mm.ohl.value_ranges.check_draws`: a Gaussian on a loss's
                ``label_smoothing``), naming the range.
        """
        for path in self.targets:
            if path.split('.', 1)[0] == 'model':
                # AM-LFS's _theta: torch takes no list or number there; first, as _theta.0 does not resolve
                self.check_tensor_slot(runner, path)
                try:
                    get_attribute(runner, path)
                except ValueError as err:
                    raise ValueError(f'OHL space {self.name!r}: {err}') from None
                # a model config read only when the model was built (a head's train_cfg.assigner): refused here too,
                # before the copies start
                check_read_at_run_time(runner, path, f'OHL space {self.name!r}')
                self.check_projected(runner, path)  # a piecewise AMLFSLoss's theta: recorded raw, run projected
                self.check_dimension(runner, path)  # a 2-d Gaussian on a float loss_weight
                check_draws(self, runner, path)  # a draw outside the attribute's range (label_smoothing = -0.1)

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        for path in self.targets:
            self.check_tensor_slot(runner, path)  # before check_owned_attribute's: this one names the space to use
            get_attribute(runner, path)  # fail early with the path in the message
            check_owned_attribute(runner, path, f'OHL space {self.name!r}')
            self.check_choices(runner, path)
            # the factor from the config's base to every group (auto_scale_lr), for the fragment's base-value note
            self.__dict__.setdefault('_base_factors', {})[path] = groups_base_factor(runner, path)
        # a PipelineSwitchHook replacing the pipeline mid-trunk: the rest of the trunk trained with its value
        check_switching_hooks(runner, self.targets, f'OHL space {self.name!r}')
        watch_data_writes(runner, self.targets, f'OHL space {self.name!r}')
        # the class of each pipeline transform a target indexes (transforms.<i>), for the fragment: its
        # SetAttributesHook refuses a retrain pipeline with another transform at that index
        self._transform_types = transform_types(runner, self.targets)

    def check_choices(self, runner: Any, path: str) -> None:
        """Check every value the space can draw at ``path`` without writing it, so the run stops before the first
        trunk instead of when a copy draws it; ``setup`` and ``tools/train.py``'s check before the copies start call
        it: each of ``choices`` (:func:`~automl_mm.ohl.attributes.check_written_value`: a choice an optimiser's
        constructor refuses, such as a negative lr), and every choice, or a Gaussian's whole image under its
        ``transform``, against the range of what ``path`` writes (:func:`~automl_mm.ohl.value_ranges.check_draws`:
        SGD's momentum in [0, 1), which ``transform='exp'`` leaves).

        Raises:
            ValueError: naming the space, the path, the choice (or the transform), and the optimiser's message or
                the range and its source, and then what a copy that drew it would do with it (train with it,
                predict with it, run its hook with it: :func:`~automl_mm.ohl.range_refusals.draw_use`).
        """
        self.check_tensor_slot(runner, path)
        for value in self.choices or ():
            try:
                check_written_value(runner, path, value)
            except OutOfRange as err:  # outside its setting's range: what a copy would do with it, as check_draws
                raise ValueError(f'OHL space {self.name!r}: choice {value!r}: {err}; a copy that drew it would '
                                 f'{draw_use(runner, path)}') from None
            except ValueError as err:
                raise ValueError(f'OHL space {self.name!r}: choice {value!r}: {err}') from None
        self.check_projected(runner, path)
        self.check_dimension(runner, path)
        check_draws(self, runner, path)

    def check_tensor_slot(self, runner: Any, path: str) -> None:
        """Refuse a target that is a module's registered buffer or parameter (a tensor slot), or an element of one
        (:func:`~automl_mm.ohl.tensor_slots.tensor_slot`), before the first trunk: a space writes a number or a list
        (:meth:`value_of`), which torch refuses there at the first write (``TypeError: cannot assign 'list' as
        buffer '_theta'``), after every start check had passed; an element path (``_theta.0``) does not resolve at
        all. The one buffer of automl_mm, an ``AMLFSLoss``'s ``_theta`` (the name its ``state_dict`` shows), is
        searched through its ``theta`` property with :class:`~automl_mm.losses.space.LossFunctionSpace`, which
        checks and projects what is written; another module's tensors (a BN layer's ``running_mean``, a layer's
        ``weight``) are its state, not a setting: search a setting the module reads instead. ``tools/train.py``'s
        config check (:meth:`resolve`) and :meth:`setup` (and :meth:`check_choices`) call it; the replay hooks'
        check is :func:`~automl_mm.ohl.tensor_slots.check_tensor_slot`.

        Raises:
            ValueError: naming the space, the path, the buffer or parameter, its module's class and the target to
                use.
        """
        from automl_mm.losses.am_lfs import AMLFSLoss

        from .tensor_slots import tensor_slot, tensor_slot_problem

        slot = tensor_slot(runner, path)
        if slot is None:
            return
        found = f'OHL space {self.name!r}: {tensor_slot_problem(path, slot)}'
        if isinstance(slot.module, AMLFSLoss) and slot.name == '_theta':
            theta = slot.path.rsplit('.', 1)[0] + '.theta'
            raise ValueError(f'{found}; search the loss with LossFunctionSpace(target={theta!r}, '
                             f'parametrisation={slot.module.parametrisation!r}), which writes theta through the '
                             'loss\'s checks and projection and exports the learned loss')
        raise ValueError(f'{found}; a module\'s {slot.kind} is its state, not a setting: search a setting the module '
                         'reads instead (e.g. a BN layer\'s momentum, a loss\'s loss_weight)')

    def check_projected(self, runner: Any, path: str) -> None:
        """Refuse a target that projects what is written, where the history, the log and ``final_policy.py`` would
        record (and REINFORCE credit) another value than the one the run trains with: the ``theta`` of an
        ``AMLFSLoss`` in the ``'piecewise'`` parametrisation clamps negative slopes to 0, so a Gaussian's sample
        (any real numbers) or a choice with a negative slope ran projected while the raw value was recorded.
        :class:`~automl_mm.losses.space.LossFunctionSpace` records the projected θ and is the space to use (it
        overrides this check); a choice the loss keeps as it is, and the ``'monotone'`` parametrisation (nothing
        projected), pass.

        Raises:
            ValueError: naming the space, the path and ``LossFunctionSpace``, or the choice and what the loss would
                run with.
        """
        from automl_mm.losses.am_lfs import AMLFSLoss

        for owner, name in resolve_attribute(runner, path):
            if not isinstance(owner, AMLFSLoss) or name != 'theta' or owner.parametrisation != 'piecewise':
                continue
            if self.choices is None:
                raise ValueError(
                    f'OHL space {self.name!r}: attribute path {path!r} is the theta of an AMLFSLoss '
                    f"(parametrisation='piecewise'), which projects what is written (negative slopes are clamped to "
                    '0): the loss would run with another theta than the sample the history and final_policy.py record '
                    'and REINFORCE credits. Search it with '
                    f"LossFunctionSpace(target={path!r}, parametrisation='piecewise'), which records theta as the "
                    'loss runs with it and exports the learned loss')
            probe = AMLFSLoss(num_intervals=owner.num_intervals, parametrisation=owner.parametrisation)
            for value in self.choices:
                try:
                    probe.theta = value
                except ValueError:
                    continue  # the loss's own message, from check_written_value
                ran = probe.theta.tolist()
                if ran != torch.as_tensor(value, dtype=torch.float64).flatten().tolist():
                    raise ValueError(
                        f'OHL space {self.name!r}: choice {value!r}: attribute path {path!r}: the AMLFSLoss would '
                        f"run with {ran} (parametrisation='piecewise' clamps negative slopes to 0), while the "
                        'history and final_policy.py record the choice. Give the choice as the loss keeps it, or '
                        f"search theta with LossFunctionSpace(target={path!r}, parametrisation='piecewise')")

    def check_dimension(self, runner: Any, path: str) -> None:
        """Refuse a Gaussian (no ``choices``) on an integer setting (an int, a bool, a tuple of ints:
        :func:`~automl_mm.ohl.integer_settings.gaussian_on_integer`; its samples are never integers: 2.7 written over a
        transform's ``num_ops`` stopped it in ``range(2.7)`` while 2.7 was recorded and credited), or whose dimension
        does not match what ``path`` holds, before the first trunk: a ``d``-dimensional sample is written as a list
        of ``d`` numbers and a 1-dimensional one as one number (:meth:`value_of`), so a 2-d Gaussian on mmdet's
        float ``loss_weight`` stopped each copy at its first forward (``list * Tensor``), on a group's ``lr`` at its
        first step (the base ``lr`` refused it at the first trunk), and a 1-d one on Adam's ``betas`` wrote one
        number over the pair. What is compared:
        :func:`~automl_mm.ohl.value_ranges.shape_mismatch` (a number, or a list / tuple / 1-D tensor of numbers;
        anything else is not checked). Choices are checked one by one in :meth:`check_choices`.

        Raises:
            ValueError: naming the space, its dimension, the path and what it holds (type and value).
        """
        if self.choices is not None or not hasattr(self.distribution, 'mode'):
            return
        value = self.value_of(self.distribution.mode())
        dim = getattr(self.distribution, 'dim', None)
        held = gaussian_on_integer(runner, path)
        if held is not None:  # 2.7 written over a transform's num_ops, recorded and credited as 2.7
            under = f' under transform={self.transform!r}' if self.transform is not None else ''
            raise ValueError(f'OHL space {self.name!r}: attribute path {path!r} {held}, but '
                             f'{a_name(str(dim))}-dimensional {type(self.distribution).__name__}{under} writes '
                             'samples that are not integers '
                             f'(its mode: {value!r}): the attribute would get a float where it holds an integer (a '
                             'count, a size, an index or a flag). Search it with a Categorical over integer choices '
                             f"(dict(type='Categorical'), choices=[1, 2, 3]); {integer_advice(runner, path)}")
        for current in get_attribute(runner, path):
            found = shape_mismatch(current, value, path)
            if found is None:
                continue
            fix = ('' if isinstance(current, Mapping) else  # the keys are named in found
                   f'; search it with a Gaussian with mean of {value_shape(current)} values, or target one element '
                   f'per space ({path}.0)' if value_shape(current) else '; search it with a 1-dimensional Gaussian '
                   '(mean=[m])')
            raise ValueError(f'OHL space {self.name!r}: {a_name(str(dim))}-dimensional '
                             f'{type(self.distribution).__name__} writes '
                             f'{"one number" if dim == 1 else f"a list of {dim} numbers"} to attribute path '
                             f'{path!r}, but {found}{fix}')

    def reported(self, value: Any) -> Any:
        """A value as the history and exports report it (plain Python); subclasses whose target transforms what
        it is given (e.g. a projection) report what the target uses."""
        return _plain(value)

    def scheduled_values(self) -> dict[str, Any]:
        value = self.reported(self.value_of(self.distribution.mode()))
        return {path: value for path in self.targets}

    def applied_values(self) -> dict[str, Any] | None:
        if self.current is None:
            return None
        value = self.reported(self.current)
        return {path: value for path in self.targets}

    def export_fragment(self) -> str:
        values = config_literal(self.scheduled_values())
        types = getattr(self, '_transform_types', None) or {}  # recorded in setup
        types_arg = f', transform_types={config_literal(types)}' if types else ''
        tie = ''
        if self.choices is not None and hasattr(self.distribution, 'probs'):
            probs = self.distribution.probs().detach()
            tied = torch.nonzero(torch.isclose(probs, probs.max(), rtol=0.0, atol=1e-9)).flatten().tolist()
            if len(tied) > 1:  # e.g. θ never moved: rewards that tied, or every copy drew the same choice
                # the value written is the mode's (argmax: the first of exact ties, else the most probable by less
                # than 1e-9), not necessarily the first tied choice: the note said "the first" over another value
                written = self.reported(self.value_of(self.distribution.mode()))
                tie = (f'# θ has no single mode: choices {[self.choices[i] for i in tied]} tie at p = '
                       f'{float(probs.max()):.4g}, so nothing was learned between them; {written!r} is '
                       'written.\n')
        # the value at the distribution's mode (a Gaussian's mean): through a monotone transform such as exp,
        # the median of the values, not their most likely one
        # scope-prefixed and with custom_imports, so the fragment also loads in a stock mmdet config
        # (default_scope='mmdet'); an unprefixed 'SetAttributesHook' was not in mmdet's registry
        return (f'# OHL space {self.name!r}: the value at the mode of the learned distribution (the median value '
                'under a transform such as exp), fixed.\n'
                f'{tie}'
                f'# Paste into any config (mmdet\'s too; merge custom_imports with any it already has, and list the\n'
                f'# hooks of its base\'s custom_hooks in custom_hooks too: the list replaces the base\'s).\n'
                f'{_scheduled_base_note(self.scheduled_values(), getattr(self, "_base_factors", None))}'
                f'{transform_types_note(types)}'
                f'{CUSTOM_IMPORTS}'
                f'custom_hooks = [dict(type=\'automl_mm.SetAttributesHook\', values={values}{types_arg})]\n')
