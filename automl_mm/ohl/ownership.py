"""Whether an attribute path's value is the writer's to set: refused before training where something else owns it.

An ``AttributeSpace``, ``SetAttributesHook`` or ``TrunkScheduleHook`` writes absolute values at attribute paths
(:mod:`automl_mm.ohl.attributes`). :func:`check_owned_attribute` refuses a path whose value a ``param_scheduler``
steps, that ``paramwise_cfg`` multipliers spread over the parameter groups, or that is read only when something was
built (:mod:`automl_mm.ohl.build_time_targets`): the write would be rescaled, flatten the groups, or change nothing.
"""
from __future__ import annotations

from typing import Any

from mmengine.model import is_model_wrapper
from torch import nn

from .attribute_paths import base_target, path_chains
from .attributes import get_attribute
from .optimizer_base import BASE_KEYS, is_optimizer


def _schedulers(runner: Any) -> list[tuple[str, Any, Any]]:
    """``(config key, scheduler, its config entry or None)`` of each of the runner's parameter schedulers:
    ``param_scheduler[i]`` of a list, ``param_scheduler.<name>[i]`` of the per-optimiser dict an
    ``OptimWrapperDict`` is given (a list in the config is built once per optimiser: its entries keep the list's
    key)."""
    from automl_mm.engine.runner_checks import checked_config

    found = getattr(runner, 'param_schedulers', None) or []
    cfg = getattr(runner, 'cfg', None)
    # the schedulers the runner runs: Runner(param_scheduler=[...], cfg=dict(...)) holds them as an argument
    given = checked_config(runner).get('param_scheduler') if hasattr(cfg, 'get') else None

    def listed(entries: Any) -> list:
        return [entries] if isinstance(entries, dict) and 'type' in entries else \
            list(entries) if isinstance(entries, (list, tuple)) else []

    if isinstance(found, dict):
        named = isinstance(given, dict) and 'type' not in given
        out = []
        for name, group in found.items():
            entries = listed(given.get(name)) if named else listed(given)
            for i, s in enumerate(group if isinstance(group, (list, tuple)) else [group]):
                out.append((f'param_scheduler.{name}[{i}]' if named else f'param_scheduler[{i}]', s,
                            entries[i] if i < len(entries) else None))
        return out
    found = list(found) if isinstance(found, (list, tuple)) else [found]
    entries = listed(given)
    return [(f'param_scheduler[{i}]', s, entries[i] if i < len(entries) else None) for i, s in enumerate(found)]


#: A scheduler's attributes that count steps: mmengine's ``build_iter_from_epoch`` (``convert_to_iter_based``)
#: multiplies each by the epoch length when it builds the scheduler
STEP_KEYS = frozenset({'begin', 'end', 'T_max', 'step_size', 'milestones', 'periods', 'total_steps'})

#: mmengine scheduler class (or a base of it) -> (attributes it turns into others when it is built, what it makes)
DERIVED_SCHEDULER_KEYS = {
    'ConstantParamScheduler': (frozenset({'begin', 'end'}), 'total_iters = end - begin - 1'),
    'LinearParamScheduler': (frozenset({'begin', 'end'}), 'total_iters = end - begin - 1'),
    'PolyParamScheduler': (frozenset({'begin', 'end'}), 'total_iters = end - begin - 1'),
    'CosineRestartParamScheduler': (frozenset({'periods'}), 'cumulative_periods'),
    'OneCycleParamScheduler': (frozenset({'total_steps', 'pct_start', 'anneal_strategy', 'three_phase', 'eta_max',
                                          'div_factor', 'final_div_factor'}),
                               "its phases and each group's initial / max / min values"),
}


#: mmengine scheduler class (or a base of it) -> the factor its constructor's first ``step()`` (``last_step == 0``)
#: multiplied each group's value by, and which its later steps divide back out by the held factor: ``LinearLR``'s
#: ``start_factor`` (``_get_value``: ``group * start_factor`` at step 0, then ratios of ``start_factor`` up to
#: ``end_factor``), ``ConstantLR``'s ``factor`` (``group * factor`` at step 0, ``group / factor`` at
#: ``total_iters``). A written one leaves the value at built / written × where it should end, for the rest of the run.
APPLIED_AT_BUILD = {'LinearParamScheduler': 'start_factor', 'ConstantParamScheduler': 'factor'}


def _check_scheduler_attribute(runner: Any, path: str, owner: str) -> None:
    """Refuse writing a scheduler's attribute that is not held in the config's terms.

    * A step count (:data:`STEP_KEYS`) of a scheduler the config gave in epochs with ``convert_to_iter_based=True``:
      mmengine built it in iterations (``T_max=12`` epochs of 4 iterations is ``T_max=48``), so a written 6 meant
      as epochs ended the cosine after 6 iterations and it climbed back up, silently.
    * ``MultiStepLR``'s (any ``MultiStepParamScheduler``'s) ``milestones``, a ``Counter`` of steps built from the
      config's list: a written list was indexed by the step (``gamma ** milestones[step]``), so ``[1, 2]`` decayed
      the lr by gamma² at step 1 and a step past the list's length stopped the run with an IndexError.
    * An attribute the scheduler turns into others when it is built (:data:`DERIVED_SCHEDULER_KEYS`): a
      ``LinearLR`` warm-up's slope is fixed by ``total_iters = end - begin - 1``, so a written ``end`` only moved
      where it stops stepping (``start_factor=0.1, end=5`` written ``end=9`` climbed on to 1.9 × the lr, ``end=3``
      stopped at 0.55 × the lr); ``CosineRestartLR``'s ``periods`` (its ``cumulative_periods``), ``OneCycleLR``'s
      phases; a ``CosineAnnealingLR``'s ``begin`` / ``end`` where it was built without ``T_max`` (it made ``T_max =
      end - begin``: a written shorter span cut the cosine off before its floor, a longer one let it climb back up
      past ``T_max``). One whose config entry gives ``T_max`` reads them only to start and stop stepping, as a
      build with the written value would: that write passes (without the entry, a ``T_max`` equal to ``end -
      begin`` is taken as made of them).
    * ``eta_min`` of a cosine given ``eta_min_ratio`` (its floor is then base × ratio): the write changed nothing.
    * A factor the constructor's first step already applied (:data:`APPLIED_AT_BUILD`): a ``LinearLR`` built with
      ``start_factor=0.1`` and written 0.5 ended its warm-up at 0.2 × the lr and trained there to the end; a
      ``ConstantLR`` built with ``factor=0.5`` and written 0.25 went on at 2 × the lr after it.

    Raises:
        ValueError: naming ``owner``, the path, the scheduler's config key and what to do instead.
    """
    from collections import Counter

    if path.split('.', 1)[0] != 'param_schedulers':
        return
    parts = path.split('.')
    try:
        chains = path_chains(runner, path, end=-1)
    except ValueError:
        return  # the path's own check names the missing part
    for key, scheduler, entry in _schedulers(runner):
        for chain in chains:
            at = next((j for j, (_, node) in enumerate(chain) if node is scheduler), None)
            if at is None or at + 1 >= len(parts):
                continue
            name, cls = parts[at + 1], type(scheduler).__name__
            if name == 'milestones' and isinstance(getattr(scheduler, 'milestones', None), Counter):
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) keeps its milestones as a Counter of steps built '
                    f'from the config\'s list at __init__: a written list is indexed by the step (gamma ** '
                    f'milestones[step]: [1, 2] decays by gamma squared at step 1, a step past its length stops the '
                    f'run). Compare milestone lists as separate runs, or search {key}.gamma')
            if name == 'eta_min' and getattr(scheduler, 'eta_min_ratio', None) is not None:
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) has eta_min_ratio='
                    f'{scheduler.eta_min_ratio!r}, and its floor is then base × eta_min_ratio at every step: the '
                    f'written eta_min would change nothing. Search {key}.eta_min_ratio instead')
            applied = next((APPLIED_AT_BUILD[c.__name__] for c in type(scheduler).__mro__
                            if c.__name__ in APPLIED_AT_BUILD), None)
            if name == applied:
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) multiplied each group\'s {scheduler.param_name} by '
                    f'its built {name} ({getattr(scheduler, name, None)!r}) when it was built (its first step), and '
                    f'its later steps divide the written {name} back out: the value would end at built / written × '
                    f'where it should, for the rest of the run (a LinearLR built with start_factor=0.1 and written '
                    f'0.5 ended its warm-up at 0.2 × the lr), silently. Compare values of {name} as separate runs')
            derived = next((DERIVED_SCHEDULER_KEYS[c.__name__] for c in type(scheduler).__mro__
                            if c.__name__ in DERIVED_SCHEDULER_KEYS), None)
            if derived is not None and name in derived[0]:
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) reads {name!r} when it is built, to make '
                    f'{derived[1]}, and steps by that: a written value would not give the schedule of that '
                    f'{name} (a LinearLR warm-up built with end=5 and written end=9 climbed on to 1.9 × the lr). '
                    f'Compare values of {name} as separate runs')
            if name in STEP_KEYS and isinstance(entry, dict) and entry.get('convert_to_iter_based') and \
                    entry.get('by_epoch', True):
                held = getattr(scheduler, name, None)
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) is given in epochs with convert_to_iter_based=True, '
                    f'so mmengine built it in iterations: its {name} is {held!r} for the config\'s '
                    f'{entry.get(name)!r}, and a written value would count iterations, not epochs. Give {key} '
                    f'in the unit the written values count (by_epoch=False with iterations, or without '
                    f'convert_to_iter_based)')
            if name in ('begin', 'end') and _cosine_length_of_bounds(scheduler, entry):
                raise ValueError(
                    f'{owner} writes {path}, but {key} ({cls}) holds T_max = end - begin ({scheduler.T_max}), '
                    f'which mmengine made of them when it was built where no T_max was given, and anneals over it: a '
                    f'written {name} that shortens the span cuts the cosine off before its floor, one that lengthens '
                    f'it lets the value climb back up past T_max, silently. Compare values of {name} as separate '
                    f'runs (or give {key} its T_max, and write T_max)')


def _cosine_length_of_bounds(scheduler: Any, entry: Any) -> bool:
    """Whether ``scheduler`` is mmengine's ``CosineAnnealingParamScheduler`` (any of its subclasses) whose ``T_max``
    was made of its ``end - begin``: its constructor's ``T_max or (end - begin)`` where its config ``entry`` gives
    no ``T_max`` (None or 0). Without the entry, a ``T_max`` equal to ``end - begin`` is taken as made of them."""
    if not any(c.__name__ == 'CosineAnnealingParamScheduler' for c in type(scheduler).__mro__):
        return False
    if isinstance(entry, dict):
        return not entry.get('T_max')
    return getattr(scheduler, 'T_max', None) == getattr(scheduler, 'end', 0) - getattr(scheduler, 'begin', 0)


def _target_groups(runner: Any, path: str, parts: list[str], at: int, base: bool) -> set[int] | None:
    """The ids of the parameter groups ``path`` writes into (every group of the optimisers it reaches), ``None``
    where they cannot be told (then every scheduler is taken to step them)."""
    try:
        if base:
            nodes = (base_target(runner, path) or ([], None))[0]
        else:
            nodes = [chain[-1][1] for chain in path_chains(runner, path, end=at)]
    except ValueError:
        return None
    groups = [getattr(node, 'param_groups', None) for node in nodes]
    if not groups or not all(isinstance(g, (list, tuple)) for g in groups):
        return None
    return {id(group) for found in groups for group in found}


def _steps(scheduler: Any, groups: set[int] | None) -> bool:
    """Whether ``scheduler`` steps one of ``groups`` (mmengine's schedulers step ``scheduler.optimizer``'s groups:
    an ``OptimWrapperDict``'s schedulers each step one optimiser's)."""
    stepped = getattr(getattr(scheduler, 'optimizer', None), 'param_groups', None)
    if groups is None or not isinstance(stepped, (list, tuple)):
        return True
    return any(id(group) in groups for group in stepped)


_UNSET = object()


def _base_advice(runner: Any, parts: list[str], at: int, base: bool, name: str | None, element: list[str],
                 owner: str, fixed_value: Any) -> str:
    """The base key and value a fixed write of every group's parameter becomes under a scheduler, or ''. The base
    value is the written one over the factor the config's constructor applies to the base in every group
    (:func:`~automl_mm.ohl.optimizer_base.groups_base_factor`: under ``auto_scale_lr`` the written value itself
    trained with it times the factor)."""
    from .optimizer_base import base_giving, groups_base_factor

    if fixed_value is _UNSET or name is None or element or not (base or parts[at + 1] == '*'):
        return ''
    from automl_mm.engine.preflight_option_targets import config_key

    path = '.'.join(parts) if base else '.'.join(parts[:at] + [name])
    key = config_key(path) or path  # the config's key: optim_wrapper.gen.optimizer.lr of an OptimWrapperDict
    value = fixed_value
    found = None if base else groups_base_factor(runner, '.'.join(parts))
    if found is not None and found[1] is None:
        return (f'; no base value {key} gives every group {fixed_value!r} (the config\'s paramwise_cfg gives the '
                'groups different multipliers of it)')
    if found is not None and isinstance(fixed_value, (int, float)) and not isinstance(fixed_value, bool):
        value = base_giving(float(fixed_value), found[1])
    factor = '' if value == fixed_value else \
        f' (× {found[1]:g} in every group, as the config builds it: {fixed_value!r})'
    return (f'; to train from this fixed value under the schedule, drop {owner}\'s entry for {".".join(parts)} and '
            f'set the base value instead, {key}={value!r}{factor} (the scheduler then scales it)')


def check_owned_attribute(runner: Any, path: str, owner: str, fixed_value: Any = _UNSET) -> None:
    """Refuse writing absolute values where something else owns them, before training.

    * A parameter of the optimiser's groups (the key after ``param_groups.<i|*>``, or any element of it such as
      ``betas.1``) that a ``param_scheduler`` schedules (its ``param_name``): mmengine's schedulers step the current
      value in chained form (a ``LinearLR`` warm-up had run its first step already), so a written value was
      multiplied by the rest of the schedule (a warm-up with ``start_factor=0.001`` turned a searched lr of 0.1 into
      100) and every trunk start wiped the decay so far (a replayed run resumed on other learning rates). Only the
      schedulers that step the path's optimiser count (an ``OptimWrapperDict``'s ``param_scheduler.gen`` leaves the
      discriminator's lr free); the refusal names the scheduler's config key (``param_scheduler.gen[0]``).
    * Beta1 (``betas.0`` or the whole ``betas``) under a momentum scheduler of an Adam-type optimiser
      (``use_betas``): it sets betas to (momentum, betas[1]) at every step, overwriting beta1; betas[1] is kept.
    * A ``*`` over the groups whose values differ (``paramwise_cfg`` multipliers, e.g. ``norm_decay_mult=0``): one
      value would overwrite them all. The base form (``optim_wrapper.optimizer.weight_decay``) keeps them; it is
      refused, as the groups' key, where a scheduler schedules that key.

    * A value read only when something was built (a head's ``train_cfg.assigner`` / ``.sampler``, an optimiser's
      ``defaults``, ``runner.cfg``): writing it would change nothing
      (:func:`~automl_mm.ohl.build_time_targets.check_read_at_run_time`).
    * A module's registered buffer or parameter, or an element of one (``model.norm.running_mean``, AM-LFS's
      ``_theta.0``): the module's state, where torch takes no number or list
      (:func:`~automl_mm.ohl.tensor_slots.check_tensor_slot`).

    Args:
        fixed_value: The one value ``owner`` writes (``SetAttributesHook``: an exported ``final_policy.py`` pasted
            into a stock config, whose ``param_scheduler`` schedules the lr). Where it writes every group's
            parameter (``param_groups.*.<key>``, or the base key), the scheduler refusal gives the base key and value
            to set instead (``optim_wrapper.optimizer.lr=0.03``: the schedule then runs from it); it said only to
            drop the scheduler.

    Raises:
        ValueError: naming ``owner``, the path and the scheduler, the groups' values or the path to target instead.
    """
    from .build_time_targets import check_read_at_run_time
    from .tensor_slots import check_tensor_slot

    check_tensor_slot(runner, path, owner)  # first: an element of one does not resolve, and is named as such
    check_read_at_run_time(runner, path, owner)
    _check_scheduler_attribute(runner, path, owner)
    parts = path.split('.')
    base = base_target(runner, path) is not None
    if 'param_groups' not in parts and not base:
        return
    values = get_attribute(runner, path)  # a bad path: its own message first
    at = len(parts) - 3 if base else parts.index('param_groups')  # base: the key is the group's parameter
    # the group's parameter is the key after param_groups.<i|*> (betas of ...param_groups.0.betas.0); a path that
    # stops before it writes every parameter of the groups
    name = parts[-1] if base else parts[at + 2] if len(parts) > at + 2 else None
    element = [] if base else parts[at + 3:]
    # only the schedulers of the optimiser the path writes: a scheduler of an OptimWrapperDict's generator lr
    # refused a space on its discriminator's lr
    groups = _target_groups(runner, path, parts, at, base)
    for key, scheduler, _ in _schedulers(runner):
        if not _steps(scheduler, groups):
            continue
        scheduled = getattr(scheduler, 'param_name', None)
        if scheduled is not None and name in (None, scheduled):
            raise ValueError(
                f'{owner} writes {path} but {key} ({type(scheduler).__name__}) schedules '
                f'{scheduled!r}: the scheduler steps the value it finds, so the written one would be rescaled by the '
                f'rest of the schedule (a warm-up multiplies it by 1 / start_factor) and each write would undo the '
                f'decay so far. Search or replay {scheduled!r} under a constant schedule (no scheduler for '
                f'{scheduled!r}){_base_advice(runner, parts, at, base, name, element, owner, fixed_value)}')
        # a momentum scheduler of an Adam-type optimiser (use_betas) sets betas to (momentum, betas[1]) at each step
        if getattr(scheduler, 'use_betas', False) and name in (None, 'betas') and \
                (not element or _first_element(runner, '.'.join(parts[:at + 3]), element[0])):
            raise ValueError(
                f"{owner} writes {path} but {key} ({type(scheduler).__name__}) schedules 'betas' "
                f'(its momentum is betas[0]): the scheduler sets betas[0] at every step, so the written value would '
                f'be overwritten. Search or replay beta1 without a momentum scheduler (betas[1] may be written)')
    if not base and len(parts) > at + 2 and parts[at + 1] != '*':
        _check_one_parameter_group(runner, path, parts, at, owner)
    if not base and '*' in parts and len({repr(v) for v in values}) > 1:  # base: one value per optimiser
        one = '.'.join('0' if p == '*' else p for p in parts[at:])
        shown: Any = values
        if len(values) > 8:  # mmengine makes one group per parameter under paramwise_cfg: 90 for a Faster R-CNN
            counts: dict[str, int] = {}
            for v in values:
                counts[repr(v)] = counts.get(repr(v), 0) + 1
            shown = f'({len(values)} groups: ' + ', '.join(f'{v} in {n}' for v, n in counts.items()) + ')'
        key = parts[at + 2] if len(parts) == at + 3 else None
        instead = (f'Search the base instead: target {".".join(parts[:at] + [key])} (the config\'s key; each group '
                   f'gets base × its own multiplier, as mmengine\'s constructor set it)' if key in BASE_KEYS else
                   f'Give each group its own path ({one}, ...) or drop the multipliers')
        raise ValueError(f'{owner} writes {path} but the groups hold different values {shown} (paramwise_cfg '
                         f'multipliers): one value would overwrite them all. {instead}')


def _paramwise_cfg(runner: Any) -> bool:
    """Whether the runner's config builds its optimiser wrapper(s) with a ``paramwise_cfg`` (mmengine's
    ``DefaultOptimWrapperConstructor`` then makes one parameter group per parameter): its ``optim_wrapper`` as it
    runs it (:func:`~automl_mm.engine.runner_checks.checked_config`: the argument, else its ``cfg``'s)."""
    from automl_mm.engine.runner_checks import checked_config

    cfg = getattr(runner, 'cfg', None)
    # the wrapper the runner runs: Runner(optim_wrapper=dict(...), cfg=dict(...)) holds it as an argument
    wrapper_cfg = checked_config(runner).get('optim_wrapper') if hasattr(cfg, 'get') else None
    if not isinstance(wrapper_cfg, dict):
        return False
    return bool(wrapper_cfg.get('paramwise_cfg')) or any(
        isinstance(one, dict) and bool(one.get('paramwise_cfg')) for one in wrapper_cfg.values())


def _check_one_parameter_group(runner: Any, path: str, parts: list[str], at: int, owner: str) -> None:
    """Refuse a group index (``param_groups.0.lr``) into an optimiser whose groups mmengine's constructor made one
    per parameter (a ``paramwise_cfg`` in the config): the write reaches one parameter and every other one keeps
    the config's value. From a single-group habit: with ``paramwise_cfg=dict(norm_decay_mult=0.)`` a searched
    ``param_groups.0.lr`` trained the first convolution's weight at it and the rest of the network at the config's
    lr, while the history recorded it as the run's lr.

    Raises:
        ValueError: naming ``owner``, the path, the group's parameter and the paths to target instead.
    """
    if not _paramwise_cfg(runner):
        return
    for chain in path_chains(runner, path, end=at):
        optimizer = chain[-1][1]
        groups = getattr(optimizer, 'param_groups', None) if is_optimizer(optimizer) else None
        if not groups or len(groups) < 2 or any(len(group['params']) != 1 for group in groups):
            continue
        index = int(parts[at + 1])
        param = groups[index]['params'][0]
        model = getattr(runner, 'model', None)
        model = model.module if is_model_wrapper(model) else model
        names = [n for n, p in model.named_parameters() if p is param] if isinstance(model, nn.Module) else []
        key = parts[at + 2]
        every = '.'.join(parts[:at + 1] + ['*'] + parts[at + 2:])
        instead = (f'the base {".".join(parts[:at] + [key])} (every group, its paramwise_cfg multiplier kept) or '
                   if key in BASE_KEYS and len(parts) == at + 3 else '')
        raise ValueError(f'{owner} writes {path}, the {key} of group {index} of {len(groups)}, which holds one '
                         f'parameter ({names[0] if names else "unnamed"}): under paramwise_cfg mmengine\'s '
                         f'constructor makes one group per parameter, so every other parameter would keep the '
                         f'config\'s value. Target {instead}{every}; give some parameters their own value with '
                         'paramwise_cfg.custom_keys')


def _first_element(runner: Any, path: str, part: str) -> bool:
    """Whether ``part`` indexes the first element of the sequences at ``path`` (``0``, or ``-2`` of a pair)."""
    return part.lstrip('-').isdigit() and any(
        isinstance(v, (list, tuple)) and v and int(part) % len(v) == 0 for v in get_attribute(runner, path))
