"""The base ``lr`` / ``weight_decay`` of an optimiser whose groups ``paramwise_cfg`` multiplied.

mmengine's ``DefaultOptimWrapperConstructor`` gives each parameter group ``base × multiplier`` of the config's
``optim_wrapper.optimizer.weight_decay`` (``norm_decay_mult``, ``bias_decay_mult``, ``dwconv_decay_mult``,
``flat_decay_mult``, a ``custom_keys`` entry's ``decay_mult``) and ``lr`` (``bias_lr_mult``, ``dcn_offset_lr_mult``,
``lr_mult``); a ``custom_keys`` entry may also set a group's value outright (``dict(weight_decay=0.)``), and other
constructors (mmdet's ``LearningRateDecayOptimizerConstructor``, ConvNeXt's layer-wise lr decay) have rules of
their own. One value written to ``optim_wrapper.optimizer.param_groups.*.weight_decay`` would overwrite every
multiplier (decaying the norm layers that ``norm_decay_mult=0`` kept undecayed), so that write is refused
(:func:`~automl_mm.ohl.ownership.check_owned_attribute`). The *base form* of the target names the config's key
instead: ``optim_wrapper.optimizer.weight_decay`` (``optim_wrapper.optimizer.lr``), a key of the built optimiser's
``defaults`` in :data:`BASE_KEYS`. Writing ``v`` there sets every group to what the config's constructor makes of
``v``: ``v × m`` for a group it gave ``base × m``, its own value for a group it set outright; reading it gives the
base last written (else the base in effect). Every writer uses it (``AttributeSpace``, ``SetAttributesHook``,
``TrunkScheduleHook``), the history and the exported fragments record ``v``, and the fragment pasted into a config
with the same ``paramwise_cfg`` sets each group to what the constructor makes of ``weight_decay=v``.

**Each group's rule** (:func:`group_rules`) comes from the runner's config where it can be rebuilt
(``runner.cfg.optim_wrapper`` holding this optimiser's ``optimizer`` dict, or ``<name>.optimizer`` of an
``OptimWrapperDict`` built by a ``constructor``): its constructor is run on the model at the bases 1 and 2
(``base × m`` is then ``m`` itself, exactly, and ``2m``; a value equal at both is set outright), so a written
``v`` gives each group bit for bit what ``optim_wrapper.optimizer.<key>=v`` in the config would, whatever the
values the groups hold (a checkpoint of an earlier run, a config whose base changed); a ``constructor`` that keeps
the optimiser's settings elsewhere is refused, naming it. A group that config does not make (one a hook added after
the build), and the optimiser of a runner without such a config (built objects), take the ratio of the group's
value to the optimiser's ``defaults`` when it is first needed (rounded to 12 significant digits, so a multiplier of
0.1 gives exactly ``v * 0.1``). A base of 0 there makes the ratio 0 / 0: refused, naming the config key.

The base is in the config's units: mmengine's ``auto_scale_lr`` scales each group's ``lr`` after the optimiser was
built (not its ``defaults``), so an ``lr`` rule holds that factor too (the group's ``lr`` over the constructor's
at the config's base, read when the rules are first needed: the writers' ``before_run``, before a checkpoint is
loaded) and a written base ``lr`` of ``v`` trains at ``v × multiplier × batch ratio``, as ``lr=v`` in the config
would.

The rules are kept in each group under :data:`RATIO_KEY` and the last written base under :data:`BASE_VALUE_KEY`
(torch keeps a group's extra keys and saves them in the optimiser's ``state_dict``); rules from the config win
over the stored ones (a resumed run scales by its own config's constructor), except for the ``auto_scale_lr``
factor, which a stored rule keeps as read from the built groups: rules first read after a checkpoint's groups were
loaded (a space of your own, which the writers' ``before_run`` does not know) read it from the checkpoint's values.
"""
from __future__ import annotations

import copy
import inspect
import logging
import math
from numbers import Real
from typing import Any

import torch

from .value_ranges import out_of_range

BASE_KEYS = ('lr', 'weight_decay')  # what mmengine's DefaultOptimWrapperConstructor multiplies (paramwise_cfg)
RATIO_KEY = 'automl_mm_base_ratio'  # {key: rule}, in each parameter group (a float: an older run's ratio)
BASE_VALUE_KEY = 'automl_mm_base'  # {key: the base last written}, in each parameter group
_CACHE = '_automl_mm_base_rules'  # on the optimiser: {key: [rule or None per group, by group index]}
_PROBES = (1.0, 2.0)  # the bases the config's constructor is run at: base × m is m, then 2m, exactly


def is_optimizer(node: Any) -> bool:
    return isinstance(node, torch.optim.Optimizer)


def momentum_hint(settings: Any, key: str) -> tuple[str, str] | None:
    """``(the key to target instead, why)`` where ``key`` is the other family's name for momentum: ``momentum`` in
    the settings (a parameter group, or an optimiser's ``defaults``) of an Adam-type optimiser (Adam, AdamW, NAdam,
    ...: torch keeps its momentum as beta1, ``betas[0]``), or ``betas`` in an SGD-type one's (SGD, RMSprop: no
    betas, a ``momentum``); else ``None``. The message of a missing key said only ``key 'momentum' not found``."""
    if not isinstance(settings, dict) or key in settings:
        return None
    if key == 'momentum' and 'betas' in settings:
        return 'betas.0', "this optimiser's momentum is beta1, betas.0 (Adam-type: it has betas, no momentum)"
    if key == 'betas' and 'momentum' in settings:
        return 'momentum', ("this optimiser has no betas (SGD-type: its momentum is the group's momentum; Adam's is "
                            'betas.0)')
    return None


def check_base_key(optimizer: Any, key: str, path: str) -> None:
    """Refuse a base-form path whose key mmengine does not multiply (``optim_wrapper.optimizer.momentum``).

    Raises:
        ValueError: naming the path and the group path to target instead.
    """
    if key in BASE_KEYS:
        return
    prefix = path.rsplit('.', 1)[0]
    held = f'{type(optimizer).__name__} has no attribute {key!r}'
    hint = momentum_hint(getattr(optimizer, 'defaults', {}), key)
    if hint is not None:
        raise ValueError(f'attribute path {path!r}: {held}; {hint[1]}: target {prefix}.param_groups.*.{hint[0]}')
    if key in getattr(optimizer, 'defaults', {}):
        raise ValueError(f'attribute path {path!r}: {held}; an optimiser\'s base value can be targeted for '
                         f'{" and ".join(BASE_KEYS)} (what paramwise_cfg multiplies per group). Target '
                         f'{prefix}.param_groups.*.{key} instead')
    raise ValueError(f'attribute path {path!r}: {held}')


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _config_of(runner: Any, optimizer: Any, key: str, path: str) -> tuple[Any, tuple[str, ...]] | None:
    """``(the runner's optim_wrapper config, where this optimiser's config is in it)``, or ``None`` where no config
    built it (no config, built objects). The config is the one the runner runs
    (:func:`~automl_mm.engine.runner_checks.checked_config`: its ``optim_wrapper`` argument, else its ``cfg``'s).

    Raises:
        ValueError: a ``constructor`` of the config built it from a layout other than ``optimizer`` /
            ``<name>.optimizer`` (what it makes of a base cannot be read), naming the path and the constructor.
    """
    from automl_mm.engine.runner_checks import checked_config

    cfg = getattr(runner, 'cfg', None)
    # the wrapper the runner runs: Runner(optim_wrapper=dict(...), cfg=dict(...)) holds it as an argument
    cfg = checked_config(runner) if hasattr(cfg, 'get') else None
    wrapper_cfg = cfg.get('optim_wrapper') if hasattr(cfg, 'get') else None  # an mmengine Config or a dict
    wrapper = getattr(runner, 'optim_wrapper', None)
    if not isinstance(wrapper_cfg, dict) or wrapper is None:
        return None
    constructor = wrapper_cfg.get('constructor')
    if getattr(wrapper, 'optimizer', None) is optimizer:
        where: tuple[str, ...] = ('optimizer',)
        if constructor is None and not isinstance(wrapper_cfg.get('optimizer'), dict):
            return None  # an optimiser object in the config
    else:
        names = [name for name, one in getattr(wrapper, 'optim_wrappers', {}).items()
                 if getattr(one, 'optimizer', None) is optimizer]
        if len(names) != 1 or constructor is None:
            return None  # not the runner's, or a dict of built wrappers
        where = (names[0], 'optimizer')
    node = wrapper_cfg
    for part in where:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        at = 'optim_wrapper.' + '.'.join(where)
        raise ValueError(f'attribute path {path!r}: optim_wrapper.constructor={constructor!r} built this optimiser, '
                         f'but the config has no {at} dict holding its {key}, so what the constructor makes of a '
                         f'base cannot be read. Target the groups\' own paths '
                         f'({path.rsplit(".", 1)[0]}.param_groups.<i>.{key})')
    return wrapper_cfg, where


def _probe(runner: Any, wrapper_cfg: Any, where: tuple[str, ...], key: str, base: float) -> dict[int, Any]:
    """``{id(parameter): its group's key}`` of the optimiser the config's constructor builds at ``key=base``."""
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from automl_mm.engine.preflight_walk import built_scope

    cfg = copy.deepcopy(wrapper_cfg)
    node = cfg
    for part in where:
        node = node[part]
    node[key] = base
    logger = MMLogger.get_current_instance()
    level = logger.level
    scope = built_scope(runner)  # the runner built the optimiser in its own scope
    logger.setLevel(logging.ERROR)  # the runner's build logged every group's options once already
    try:
        if scope is None:
            built = build_optim_wrapper(runner.model, cfg)
        else:
            with DefaultScope.overwrite_default_scope(scope):
                built = build_optim_wrapper(runner.model, cfg)
    finally:
        logger.setLevel(level)
    for part in where[:-1]:
        built = built[part]
    return {id(p): group.get(key, built.optimizer.defaults.get(key))
            for group in built.optimizer.param_groups for p in group['params']}


def _config_rules(runner: Any, optimizer: Any, key: str, path: str) -> list[dict | None] | None:
    """Each group's rule from the config's constructor (module docstring), ``None`` for a group it does not make;
    ``None`` where the config cannot rebuild the optimiser.

    Raises:
        ValueError: a group the constructor gives neither ``base × m`` nor one value at both bases, or whose
            parameters it puts in groups of different rules, naming the path and the group; as :func:`_config_of`.
    """
    found = _config_of(runner, optimizer, key, path)
    if found is None:
        return None
    wrapper_cfg, where = found
    config_key = '.'.join(('optim_wrapper',) + where + (key,))
    ones, twos = (_probe(runner, wrapper_cfg, where, key, base) for base in _PROBES)
    original = wrapper_cfg
    for part in where:
        original = original[part]
    scaled = None
    if key == 'lr':  # auto_scale_lr's factor: the built groups over the constructor's at the config's base
        base = original.get(key)
        scaled = _probe(runner, wrapper_cfg, where, key, base) if _number(base) and base else None
    rules: list[dict | None] = []
    for i, group in enumerate(optimizer.param_groups):
        found_rules = set()
        for p in group['params']:
            one, two = ones.get(id(p)), twos.get(id(p))
            if one is None or two is None:
                found_rules.add(None)
            elif two == 2 * one:
                found_rules.add(('mult', one))
            elif one == two:
                found_rules.add(('fixed', one))
            else:
                raise ValueError(f'attribute path {path!r}: the config\'s optimiser constructor gives parameter group '
                                 f'{i} {key}={one!r} at {config_key}=1 and {two!r} at 2, neither base × a multiplier '
                                 f'nor one value: the base cannot set it. Target the groups\' own paths '
                                 f'({path.rsplit(".", 1)[0]}.param_groups.{i}.{key})')
        if len(found_rules) != 1:
            raise ValueError(f'attribute path {path!r}: parameter group {i} holds parameters the config\'s '
                             f'constructor gives different {key} rules ({sorted(map(str, found_rules))}); the base '
                             f'cannot set the group')
        rule = found_rules.pop()
        if rule is None:
            rules.append(None)
            continue
        stored = (group.get(RATIO_KEY) or {}).get(key)
        # a rule kept in the group (an establish before a checkpoint was loaded, saved with it) holds the factor
        # read from the built groups; read now from values a checkpoint or a write replaced, it was their ratio to
        # the config's: a custom space's first base write of 0.05 after a resume trained at 0.15
        scale = stored['scale'] if isinstance(stored, dict) and _number(stored.get('scale')) else \
            _scale(group, key, scaled)
        rules.append({rule[0]: rule[1], 'scale': scale})
    return rules


def _scale(group: dict, key: str, scaled: dict[int, Any] | None) -> float:
    """auto_scale_lr's factor on this group's ``lr``: its value over the constructor's (12 digits, where that
    reproduces the value), 1 for ``weight_decay``, for a value of 0 and without a probe at the config's base."""
    if scaled is None:
        return 1.0
    made = scaled.get(id(group['params'][0])) if group['params'] else None
    value = group.get(key)
    if not _number(made) or not _number(value) or not made or not value or made == value:
        return 1.0
    ratio = value / made
    rounded = float(f'{ratio:.12g}')
    return rounded if made * rounded == value else ratio


def _stored_rule(group: dict, key: str) -> dict | None:
    stored = (group.get(RATIO_KEY) or {}).get(key)
    if isinstance(stored, dict):
        return stored
    if _number(stored):  # an earlier version's ratio (auto_scale_lr's factor included)
        return {'mult': float(stored), 'scale': 1.0}
    return None


def group_rules(optimizer: Any, key: str, path: str, runner: Any = None) -> list[dict]:
    """Each group's rule for ``key``: ``{'mult': m, 'scale': f}`` (``v`` sets ``v × m × f``) or
    ``{'fixed': x, 'scale': f}`` (``x × f`` whatever ``v``). From the runner's config (computed once per optimiser,
    module docstring), else the group's stored rule, else its value over ``optimizer.defaults[key]``.

    Raises:
        ValueError: as :func:`_config_rules`; a base of 0 (or none) in the built optimiser while a ratio is still to
            be read, naming the config key; a group without ``key``.
    """
    from_config: list = []
    if runner is not None:  # read once per optimiser and key; a group added later has none (its stored rule / ratio)
        cache = optimizer.__dict__.setdefault(_CACHE, {})
        params = [tuple(id(p) for p in group['params']) for group in optimizer.param_groups]
        if key not in cache or cache[key][0] != params[:len(cache[key][0])]:
            cache[key] = (params, _config_rules(runner, optimizer, key, path))
        from_config = cache[key][1] or []
    prefix = path.rsplit('.', 1)[0]
    rules = []
    for i, group in enumerate(optimizer.param_groups):
        rule = from_config[i] if i < len(from_config) else None
        rule = rule or _stored_rule(group, key)
        if rule is not None:
            rules.append(rule)
            continue
        base = optimizer.defaults.get(key)
        if not _number(base):
            raise ValueError(f'attribute path {path!r}: {type(optimizer).__name__} was built without a numeric '
                             f'{key!r} ({base!r}), so no group has a base × multiplier value to scale')
        if base == 0:
            raise ValueError(f'attribute path {path!r}: the optimiser was built with {key}=0 ({prefix}.{key} in the '
                             f'config), so each group\'s paramwise_cfg multiplier (its {key} / the base) is 0 / 0, '
                             f'undefined. Set a non-zero {prefix}.{key} in the config (the written base replaces '
                             f'it), or target {prefix}.param_groups.*.{key} when the groups hold one value')
        if key not in group:
            raise ValueError(f'attribute path {path!r}: parameter group {i} has no {key!r}')
        rules.append({'mult': float(f'{group[key] / base:.12g}'), 'scale': 1.0})
    return rules


def _value(rule: dict, base: float) -> float:
    value = base * rule['mult'] if 'mult' in rule else rule['fixed']
    return value * rule['scale'] if rule['scale'] != 1 else value  # mmengine's scale_lr: (base × m) × f


def groups_base_factor(runner: Any, groups_path: str) -> tuple[str, float | None] | None:
    """For ``<optimizer>.param_groups.*.<key>`` (``key`` in :data:`BASE_KEYS`): the config's base key and the factor
    the constructor applies to the base in every group (``paramwise_cfg`` multiplier × ``auto_scale_lr`` factor:
    mmengine's ``scale_lr`` doubled every group's lr for twice the base batch, so the base ``lr=v`` trained with
    ``2 v`` where a write of ``v`` to every group had ``v``), ``None`` as the factor where the groups' factors differ
    (or one is set outright by ``custom_keys``, or is 0): no base value then gives every group one value.

    Returns:
        ``(base key, factor)``, e.g. ``('optim_wrapper.optimizer.lr', 2.0)``; ``None`` for another path, or where the
        groups' rules cannot be read.
    """
    parts = groups_path.split('.')
    if len(parts) < 4 or parts[-3:-1] != ['param_groups', '*'] or parts[-1] not in BASE_KEYS:
        return None
    from .attributes import get_attribute

    key, prefix = parts[-1], '.'.join(parts[:-3])
    initial = f'initial_{key}'  # a param_scheduler's start value: the constructor's, before its first step
    factors: set = set()
    try:
        optimizers = [node for node in get_attribute(runner, prefix) if is_optimizer(node)]
        for optimizer in optimizers:
            stepped = [(group, group[key]) for group in optimizer.param_groups if _number(group.get(initial))]
            try:
                for group, _ in stepped:
                    group[key] = group[initial]
                factors |= {(rule['mult'] * rule['scale']) if 'mult' in rule else None
                            for rule in group_rules(optimizer, key, f'{prefix}.{key}', runner)}
            finally:
                for group, value in stepped:
                    group[key] = value
    except (ValueError, AttributeError, TypeError, KeyError):
        return None
    if not optimizers:
        return None
    factor = next(iter(factors)) if len(factors) == 1 else None
    return f'{prefix}.{key}', (factor or None)


def base_giving(value: float, factor: float) -> float:
    """The base whose product with ``factor`` is ``value``: the shortest decimal that gives it back where one of
    12 digits does (0.1 / 2 is 0.05; 0.3 / 3 is 0.09999999999999999, and 0.1 × 3 is 0.30000000000000004)."""
    if factor == 1:
        return value
    base = value / factor
    rounded = float(f'{base:.12g}')
    return rounded if rounded * factor == value else base


def establish(optimizer: Any, key: str, path: str, runner: Any = None) -> None:
    """Read and keep each group's rule now (the writers' ``before_run``: before a checkpoint replaces the groups'
    values, so that ``auto_scale_lr``'s factor is read from the built optimiser).

    Raises:
        ValueError: as :func:`group_rules`.
    """
    for group, rule in zip(optimizer.param_groups, group_rules(optimizer, key, path, runner)):
        _keep(group, RATIO_KEY, key, rule)


def read_base(optimizer: Any, key: str, path: str, runner: Any = None) -> float:
    """The base last written; else the base in effect (a group's value over its multiplier, one of 1 first), else
    the optimiser's ``defaults[key]``.

    Raises:
        ValueError: as :func:`group_rules`.
    """
    rules = group_rules(optimizer, key, path, runner)  # readable: a write cannot fail half-way
    for group in optimizer.param_groups:
        written = (group.get(BASE_VALUE_KEY) or {}).get(key)
        if _number(written):
            return written
    scaled = [(group, rule) for group, rule in zip(optimizer.param_groups, rules) if rule.get('mult')]
    for group, rule in sorted(scaled, key=lambda pair: (pair[1]['mult'] * pair[1]['scale'] != 1)):
        return group[key] / rule['scale'] / rule['mult']
    return optimizer.defaults[key]


def _constructor_kwargs(optimizer: Any, group: dict) -> dict | None:
    """The keyword arguments that build ``type(optimizer)`` with ``group``'s settings (its ``defaults`` keys the
    constructor takes; torch's ``AdamW`` keeps ``decoupled_weight_decay`` in ``defaults`` but takes no such
    argument); ``None`` where the signature cannot be read."""
    try:
        parameters = inspect.signature(type(optimizer).__init__).parameters
    except (TypeError, ValueError):
        return None
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    return {k: group[k] for k in getattr(optimizer, 'defaults', {}) if k in group and (takes_any or k in parameters)}


def _refusal(optimizer: Any, group: dict) -> str | None:
    """The ``ValueError`` message of ``type(optimizer)``'s constructor for ``group``'s settings, else ``None`` (it
    builds, or it fails otherwise: a constructor that needs more than ``defaults`` is not checked)."""
    kwargs = _constructor_kwargs(optimizer, group)
    if kwargs is None:
        return None
    params = group.get('params')
    like = params[0] if isinstance(params, (list, tuple)) and params else None  # the device and dtype it trains on
    dummy = torch.zeros(1, requires_grad=True) if like is None else \
        torch.zeros(1, dtype=like.dtype, device=like.device, requires_grad=True)
    try:
        type(optimizer)([dummy], **kwargs)
    except ValueError as err:
        return str(err)
    except Exception:  # noqa: BLE001  (other arguments than defaults: nothing to compare)
        return None
    return None


def check_group_values(optimizer: Any, writes: list[tuple[dict, dict]], path: str, value: Any) -> None:
    """Refuse writing values into parameter groups that the optimiser's constructor refuses.

    torch checks an optimiser's hyper-parameters only when it is built (``SGD(lr=-0.1)``: 'Invalid learning rate');
    a value written into ``param_groups`` later is used as it is: a Gaussian-sampled lr of -0.1 ascended the loss,
    Adam's beta1 of 1.5 or a negative momentum or weight decay trained on without a word. Each group is rebuilt
    with ``type(optimizer)`` at its new settings (the ``defaults`` keys its constructor takes, on a one-element
    parameter), so the optimiser's own rules apply, whatever its type; a group whose current settings the
    constructor refuses already is left alone (not this write's doing), as is one it cannot rebuild.

    Args:
        writes: ``(group, the group as the write leaves it)`` per group written.

    Raises:
        ValueError: ``value`` that is NaN or infinite (torch's ``lr < 0.0`` lets NaN through); naming the path, the
            value, the optimiser and its constructor's message; a value the constructor accepts but the update
            rule cannot use (SGD's ``momentum`` of 1 or more, ``dampening`` above 1, RMSprop's ``alpha`` above 1:
            :data:`~automl_mm.ohl.setting_ranges.OPTIMIZER_RANGES`), naming the key, the range and its source.
    """
    if _number(value) and not math.isfinite(value):  # torch's range checks (lr < 0.0) let NaN through
        raise ValueError(f'attribute path {path!r}: {value!r} is not a finite number; {type(optimizer).__name__} '
                         f'would train with it')
    seen: set[str] = set()
    for old, new in writes:
        kwargs = _constructor_kwargs(optimizer, new)
        if kwargs is None or repr(kwargs) in seen:
            continue
        seen.add(repr(kwargs))
        problem = _refusal(optimizer, new)
        if problem is not None and _refusal(optimizer, old) is None:
            raise ValueError(f'attribute path {path!r}: {type(optimizer).__name__} refuses the value {value!r} '
                             f'({problem}); torch checks it only when the optimiser is built, so the parameter group '
                             f'would have trained with it. Search values the optimiser accepts (a positive lr or '
                             f'weight decay: a Gaussian on a log scale, transform=\'exp\' or \'pow10\')')
        # what torch's constructor lets through but the update rule cannot use: SGD(momentum=1.5) builds and
        # diverges, dampening=2 ascends the loss (automl_mm.ohl.setting_ranges)
        problem = out_of_range(optimizer, old, new)
        if problem is not None:
            raise ValueError(f'attribute path {path!r}: {type(optimizer).__name__} would train with {problem}, '
                             f'which torch does not check; search values inside the range (a Categorical with '
                             f'choices)')


def check_base_value(optimizer: Any, key: str, value: Any, path: str, runner: Any = None) -> list[dict]:
    """Check that writing the base ``value`` leaves every group settings the optimiser accepts; returns the groups'
    rules (:func:`group_rules`). Writes nothing.

    Raises:
        ValueError: ``value`` that is not a real number; as :func:`group_rules` and :func:`check_group_values`.
    """
    if not _number(value):
        raise ValueError(f'attribute path {path!r}: the base {key} must be a number, got {value!r}')
    rules = group_rules(optimizer, key, path, runner)
    check_group_values(optimizer, [(group, {**group, key: _value(rule, float(value))})
                                   for group, rule in zip(optimizer.param_groups, rules)], path, value)
    return rules


def _keep(group: dict, name: str, key: str, value: Any) -> None:
    """``group[name][key] = value`` with ``group[name]`` and a dict ``value`` plain dicts: a group built from a
    config is mmengine's ``ConfigDict``, whose ``__setitem__`` turned the kept dict into a ``ConfigDict`` that the
    optimiser's ``state_dict`` saved, and automl_mm's checkpoint loader refuses that class (not a plain container):
    a checkpoint whose groups no broadcast had replaced (a retrain's ``TrunkScheduleHook`` / ``SetAttributesHook``
    in one process, a search's trunk without a broadcast under ``broadcast_interval`` > 1) could not be resumed or
    tested."""
    kept = {k: dict(v) if isinstance(v, dict) else v for k, v in dict(group.get(name) or {}).items()}
    kept[key] = dict(value) if isinstance(value, dict) else value
    dict.__setitem__(group, name, kept)


def write_base(optimizer: Any, key: str, value: Any, path: str, runner: Any = None) -> None:
    """Set each group's ``key`` by its rule (:func:`group_rules`) and keep the rule and ``value`` in the group.

    Raises:
        ValueError: as :func:`check_base_value`, before anything is written.
    """
    rules = check_base_value(optimizer, key, value, path, runner)
    for group, rule in zip(optimizer.param_groups, rules):
        group[key] = _value(rule, float(value))
        _keep(group, RATIO_KEY, key, rule)
        _keep(group, BASE_VALUE_KEY, key, float(value))


def wrappers_of(runner: Any, optimizer: Any) -> list[Any]:
    """The runner's optimiser wrappers (``optim_wrapper``, or each of an ``OptimWrapperDict``) around ``optimizer``."""
    root = getattr(runner, 'optim_wrapper', None)
    found = getattr(root, 'optim_wrappers', None)
    candidates = list(found.values()) if isinstance(found, dict) else [root]
    return [w for w in candidates if getattr(w, 'optimizer', None) is optimizer]


def write_wrapper_base(runner: Any, optimizer: Any, key: str, value: Any) -> None:
    """Set ``key`` of the ``base_param_settings`` of the wrappers around ``optimizer`` to the written base.

    mmengine's ``OptimWrapper`` keeps, for an optimiser of several groups, a group of its own with the config's
    base values (``base_param_settings``): its ``param_groups`` (what the parameter schedulers step and a resumed
    or broadcast wrapper carries) end with it, and ``get_lr()`` reports its ``lr`` as ``base_lr`` (logged as
    ``train/base_lr``). A written base used to leave it at the config's value, so a replayed or searched base lr was
    logged as the config's for the whole run."""
    for wrapper in wrappers_of(runner, optimizer):
        settings = getattr(wrapper, 'base_param_settings', None)
        if isinstance(settings, dict) and key in settings:
            settings[key] = float(value)
