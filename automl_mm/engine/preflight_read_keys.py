"""Config dicts that mmengine reads key by key (``dict.get``): a misspelled key there was ignored without a word.

``--cfg-options auto_scale_lr.enabled=True`` trained at the unscaled lr, ``env_cfg.cudnn_benchmrk=True`` without
cuDNN's benchmark, ``optim_wrapper.paramwise_cfg.norm_decay_mul=0`` with weight decay on the norm layers,
``optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mul=0.1`` with the backbone at the full lr; a
``default_hooks.checkpoint`` argument that ``CheckpointHook`` does not name (``intervl=2``) went to
``Runner.save_checkpoint`` and stopped the run at its first save, after a whole epoch. Each is refused by
:func:`check_read_keys`, naming the key, the keys read there and a close one. So is an ``optim_wrapper.optimizer``
whose ``type`` mmengine's optimizer constructor reads in the default scope, where only its ``_scope_`` holds it.
"""
from __future__ import annotations

import difflib
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, config_scope

#: Keys ``Runner.setup_env`` reads from ``env_cfg`` (mmengine 0.10).
ENV_CFG_KEYS = frozenset(('cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'))
#: Keys ``Runner.scale_lr`` reads from ``auto_scale_lr``.
AUTO_SCALE_LR_KEYS = frozenset(('enable', 'base_batch_size'))
#: Keys ``DefaultOptimWrapperConstructor`` reads from ``paramwise_cfg``.
PARAMWISE_CFG_KEYS = frozenset(('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                                'dwconv_decay_mult', 'flat_decay_mult', 'bypass_duplicate', 'dcn_offset_lr_mult'))


def base_batch_size_problem(scale: Any) -> str | None:
    """Why ``auto_scale_lr`` (the config's value) cannot scale an lr, or ``None``: mmengine needs
    ``base_batch_size``, a positive number."""
    base = scale.get('base_batch_size') if isinstance(scale, dict) else None
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 0:
        return 'the config has no auto_scale_lr' if scale is None else f'auto_scale_lr is {dict(scale)!r}'
    return None


def _refuse_unread(node: Any, key: str, known: frozenset, reader: str) -> None:
    if not isinstance(node, dict):
        return
    for name in node:
        if name not in known and name != '_scope_':  # mmengine's mark of a node from another package's config
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f' (did you mean {key}.{close[0]}?)' if close else ''
            raise ConfigCheckError(f'{key}.{name}: {reader} reads only {", ".join(sorted(known))} there, so it '
                                   f'would be ignored{hint}')


def _paramwise_cfgs(wrapper: Any, key: str):
    """``(paramwise_cfg, its key, the wrapper's optimizer)`` of an ``optim_wrapper`` built by mmengine's default
    constructor (each wrapper of an ``OptimWrapperDict`` too); another constructor reads its own keys."""
    if not isinstance(wrapper, dict) or wrapper.get('constructor', 'DefaultOptimWrapperConstructor') not in (
            'DefaultOptimWrapperConstructor', 'mmengine.DefaultOptimWrapperConstructor'):
        return
    if 'paramwise_cfg' in wrapper:
        yield wrapper['paramwise_cfg'], f'{key}.paramwise_cfg', wrapper.get('optimizer')
    for name, inner in wrapper.items():
        if isinstance(inner, dict) and 'optimizer' in inner:  # an OptimWrapperDict's wrappers
            yield from _paramwise_cfgs(inner, f'{key}.{name}')


def _optimizer_arguments(optimizer: Any, scope: str | None) -> frozenset | None:
    """The arguments ``optimizer``'s class takes besides ``params`` (the options of its param groups), ``None``
    where the class cannot be resolved here or takes ``**kwargs``. The class is the one mmengine's optimizer
    constructor builds (:func:`~automl_mm.registry.config_class`: the node's ``_scope_``, else ``scope``, the
    config's ``default_scope``)."""
    import inspect

    from mmengine.registry import OPTIMIZERS

    from automl_mm.registry import config_class

    cls = config_class(OPTIMIZERS, optimizer, scope)
    try:
        parameters = inspect.signature(cls.__init__).parameters if cls is not None else None
    except (KeyError, TypeError, ValueError):
        return None
    if parameters is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return frozenset(parameters) - {'self', 'params'}


def _check_custom_keys(paramwise: Any, key: str, optimizer: Any, scope: str | None) -> None:
    """An entry of ``paramwise_cfg.custom_keys`` (``{'backbone': dict(lr_mult=0.1)}``): mmengine reads ``lr_mult``
    and ``decay_mult`` and copies every other key into the matched parameters' group, where only the optimizer's
    own options (its ``__init__`` arguments: ``lr``, ``momentum``, ...) are read; ``lr_mul=0.1`` trained the
    backbone at the full lr, without a word."""
    custom = paramwise.get('custom_keys') if isinstance(paramwise, dict) else None
    known = _optimizer_arguments(optimizer, scope) if isinstance(custom, dict) else None
    if known is None:
        return
    for name, entry in custom.items():
        reader = (f"mmengine's DefaultOptimWrapperConstructor (lr_mult, decay_mult) and the param group of "
                  f"{optimizer.get('type')!s}")
        _refuse_unread(entry, f'{key}.custom_keys.{name}', known | {'lr_mult', 'decay_mult'}, reader)


def _check_optimizer_type_scope(wrapper: Any, scope: str | None) -> None:
    """Refuse ``optim_wrapper.optimizer`` given as ``type='Name', _scope_=<scope>`` where only that scope holds
    ``Name`` and the constructor is mmengine's ``DefaultOptimWrapperConstructor`` or inherits its ``__call__``
    (mmdet's ``LearningRateDecayOptimizerConstructor``): that ``__call__`` looks ``optimizer.type`` up in the default
    scope (``scope``, the config's ``default_scope``), ignoring ``_scope_``, before it builds the optimizer, and
    stopped the run with "TypeError: None is not a callable object", naming no key. ``'<scope>.Name'`` resolves
    there and builds.

    Raises:
        ConfigCheckError: naming ``optim_wrapper.optimizer.type``, its ``_scope_`` and the spelling that builds.
    """
    from mmengine.optim import DefaultOptimWrapperConstructor
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

    from automl_mm.registry import config_class

    optimizer = wrapper.get('optimizer') if isinstance(wrapper, dict) else None
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get('type'), str) or \
            not isinstance(optimizer.get('_scope_'), str) or not optimizer['_scope_']:
        return
    # (build_optim_wrapper builds the constructor in the default scope: its node has no _scope_)
    constructor = config_class(OPTIM_WRAPPER_CONSTRUCTORS,
                               dict(type=wrapper.get('constructor', 'DefaultOptimWrapperConstructor')), scope)
    if constructor is None or constructor.__call__ is not DefaultOptimWrapperConstructor.__call__:
        return  # another constructor builds the optimizer its own way
    kind, own = optimizer['type'], optimizer['_scope_']
    if config_class(OPTIMIZERS, dict(type=kind), scope) is None and config_class(OPTIMIZERS, optimizer, scope):
        raise ConfigCheckError(
            f"optim_wrapper.optimizer.type={kind!r}: mmengine's optimizer constructor looks the type up in the "
            f"default scope ({scope!r}), ignoring optim_wrapper.optimizer._scope_={own!r}, where nothing holds "
            f"{kind!r} (the run stops with \"TypeError: None is not a callable object\"). Write "
            f"type='{own}.{kind}' (mmengine resolves the prefix)")


def check_read_keys(cfg: Any, test_only: bool = False) -> None:
    """Refuse a key that mmengine reads by name and would ignore (see the module docstring).

    Args:
        cfg: The config.
        test_only: Check only what testing reads (``env_cfg``).

    Raises:
        ConfigCheckError: naming the key, the keys read there and a close one; ``auto_scale_lr.enable`` true without
            a positive ``base_batch_size`` (mmengine's assert, in every worker, after the model was built), or with
            a hook that writes the groups' ``lr`` itself (:func:`~.preflight_option_targets.check_scaled_lr_writes`).
    """
    from .preflight_option_targets import check_scaled_lr_writes

    _refuse_unread(cfg.get('env_cfg'), 'env_cfg', ENV_CFG_KEYS, "mmengine's Runner.setup_env")
    if test_only:
        return
    scale = cfg.get('auto_scale_lr')
    _refuse_unread(scale, 'auto_scale_lr', AUTO_SCALE_LR_KEYS, "mmengine's Runner.scale_lr")
    if isinstance(scale, dict) and scale.get('enable') and (problem := base_batch_size_problem(scale)):
        raise ConfigCheckError(f'auto_scale_lr.enable=True needs auto_scale_lr.base_batch_size, the total batch the '
                               f'configured lr is for (a positive number); {problem}')
    check_scaled_lr_writes(cfg)
    for paramwise, key, optimizer in _paramwise_cfgs(cfg.get('optim_wrapper'), 'optim_wrapper'):
        _refuse_unread(paramwise, key, PARAMWISE_CFG_KEYS, "mmengine's DefaultOptimWrapperConstructor")
        _check_custom_keys(paramwise, key, optimizer, config_scope(cfg))
    _check_optimizer_type_scope(cfg.get('optim_wrapper'), config_scope(cfg))
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if config_type_name(checkpoint) == 'CheckpointHook':
        import inspect

        from mmengine.hooks import CheckpointHook

        named = set(inspect.signature(CheckpointHook.__init__).parameters) - {'self', 'kwargs'}
        # the rest goes to Runner.save_checkpoint, which CheckpointHook already passes all of its arguments;
        # Runner.register_hook takes `priority` out of the dict before building the hook (it was refused here)
        _refuse_unread({k: v for k, v in checkpoint.items() if k not in ('type', 'priority')},
                       'default_hooks.checkpoint',
                       frozenset(named), "mmengine's CheckpointHook")
