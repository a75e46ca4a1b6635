"""Runner-level config dicts whose keys mmengine passes as arguments while it builds the runner (or later), checked
before launch (part of :func:`automl_mm.engine.preflight.check_config`).

``randomness.sed=1`` (``Runner.set_randomness``), ``log_processor.window_sise=3`` (``LogProcessor``),
``visualizer.nme='x'`` (the visualizer class), ``env_cfg.mp_cfg.*`` (``set_multi_processing``),
``env_cfg.dist_cfg.*`` (``init_dist`` / ``torch.distributed.init_process_group``), ``log_level='INF'`` (Python's
logging), the arguments of the ``default_hooks`` / ``custom_hooks`` hooks and their ``priority``
(:func:`check_priority`) stopped every worker of a multi-copy launch with a ``TypeError`` / ``ValueError`` /
``KeyError`` that named a class or a value, not the config key, after the launching process's checks had passed.
The visualizer is built by ``ManagerMixin.get_instance(name, **kwargs)``, which *drops* every argument, with only
a Python warning, when the process already holds a visualizer of that name (a second runner in one process: the
benchmarks that build several, a test session): ``visualizer.nme`` was then ignored silently. An
``EMAHook`` passes its unnamed arguments on to its ``ema_type`` model (mmengine builds it in ``before_run``), and
``optim_wrapper.clip_grad`` (but ``type``) goes to torch's ``clip_grad_norm_`` / ``clip_grad_value_`` at the first
optimiser step, after a whole forward / backward pass; ``model_wrapper_cfg`` goes to the wrapper (torch's
``DistributedDataParallel``) in every worker of a distributed run.

Each argument is checked against the signature of what receives it (:func:`check_runner_arguments`), following
``**kwargs`` passed on to base classes (:func:`~automl_mm.engine.preflight_training.check_arguments`).
"""
from __future__ import annotations

import difflib
import inspect
import logging
from typing import Any

from automl_mm.utils.wording import a_type

from .preflight_training import _parameters, _resolve, check_arguments
from .preflight_walk import ConfigCheckError

#: What mmengine's ``init_dist`` / its launchers read from ``env_cfg.dist_cfg`` themselves; the rest goes to
#: ``torch.distributed.init_process_group`` (less ``rank`` / ``world_size``, which the launchers pass).
_DIST_OWN = ('backend', 'init_backend', 'port')
#: The default hooks ``Runner.register_default_hooks`` removes for a ``None`` (any other ``None``: an assert).
_RUNNER_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler', 'checkpoint')


#: When what ``_refuse`` refuses would have stopped the run.
_AT_BUILD = 'the runner would stop while it is built, in every worker, naming no config key'


def _refuse(key: str, name: str, known: list[str], reader: str, when: str = _AT_BUILD) -> None:
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f' (did you mean {key}.{close[0]}?)' if close else ''
    raise ConfigCheckError(f'{key}.{name}: {reader} takes no argument {name!r} (it takes {", ".join(known)}); '
                           f'{when}{hint}')


def _check_keys(node: Any, key: str, fn: Any, reader: str, skip: tuple[str, ...] = (), when: str = _AT_BUILD) -> None:
    """Refuse a key of ``node`` that the callable ``fn`` does not name (nothing when it takes ``**kwargs``)."""
    if not isinstance(node, dict):
        return
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n, p in params.items() if n not in ('self', *skip) and p.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    for name in node:
        if name not in known and name != '_scope_':
            _refuse(key, name, known, reader, when)


def _check_built(node: Any, key: str, registry: Any, default: str, scope: str, what: str,
                 drop: tuple[str, ...] = (), given: tuple[str, ...] = ()) -> type | None:
    """A node mmengine builds from ``registry`` (``type`` defaulting to ``default``): its arguments against the
    class's constructor. Returns the class (``None`` for a node that is no dict)."""
    if not isinstance(node, dict):
        return None
    typed = dict(node)
    typed.setdefault('type', default)
    cls = _resolve(registry, typed, key, what, scope)
    check_arguments(cls, {k: v for k, v in typed.items() if k not in ('type', *drop)}, key, given)
    return cls


def check_priority(value: Any, key: str) -> None:
    """Refuse a hook ``priority`` that mmengine's ``get_priority`` cannot read: it takes an ``int`` in 0-100 (0
    runs first), a ``Priority`` member or a ``Priority`` name in any case (``'ABOVE_NORMAL'``, ``'low'``).
    ``Runner.register_hook`` reads it while the runner is built, in every worker: ``'ABOVE_NORMALL'`` stopped it with
    ``KeyError: 'ABOVE_NORMALL'``, ``200`` with "priority must be between 0 and 100" and ``49.5`` with a
    ``TypeError``, none naming the key. A ``bool`` (an ``int`` to Python, read as 0 / 1) is refused too.

    Raises:
        ConfigCheckError: naming ``key`` (e.g. ``custom_hooks[0].priority``), the value and the valid names.
    """
    from mmengine.runner import Priority, get_priority

    names = [p.name for p in Priority]
    why = None
    if isinstance(value, bool) or not isinstance(value, (int, str, Priority)):
        why = f'is {a_type(value)}'
    else:
        try:
            get_priority(value)
        except (KeyError, ValueError, TypeError) as err:
            why = 'is out of range' if isinstance(value, int) else f'is no Priority name ({type(err).__name__})'
    if why is None:
        return
    close = difflib.get_close_matches(value.upper(), names, n=1) if isinstance(value, str) else []
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ConfigCheckError(
        f'{key}={value!r} {why}: mmengine reads a hook priority as an int from 0 (first) to 100 (last) or one of '
        f'the Priority names {", ".join(f"{n} ({Priority[n].value})" for n in names)}; Runner.register_hook '
        f'would stop the runner while it is built, in every worker, naming no config key{hint}')


def _check_hook(hook: Any, key: str, scope: str) -> None:
    from mmengine.hooks import CheckpointHook, EMAHook

    from automl_mm.registry import HOOKS, MODELS

    if not isinstance(hook, dict) or 'type' not in hook:
        return  # a built hook, None (a default hook switched off); a missing type: build_check names it
    cls = _resolve(HOOKS, hook, key, 'hook', scope)
    if hook.get('priority') is not None:  # (None: register_hook keeps the class's own)
        check_priority(hook['priority'], f'{key}.priority')
    elif isinstance(cls, type) and hasattr(cls, 'priority'):  # the class's own, which register_hook reads then
        check_priority(cls.priority, f'{key} ({cls.__name__}.priority, the class default)')
    if isinstance(cls, type) and issubclass(cls, CheckpointHook):
        return  # its **kwargs go to Runner.save_checkpoint: preflight_read_keys checks them
    args = {k: v for k, v in hook.items() if k not in ('type', 'priority')}  # Runner.register_hook pops priority
    check_arguments(cls, args, key)
    if isinstance(cls, type) and issubclass(cls, EMAHook):
        # EMAHook(ema_type, ..., **kwargs) builds MODELS dict(type=ema_type, **kwargs) in before_run
        named, _, _ = _parameters(cls)
        ema = {k: v for k, v in args.items() if k not in named}
        ema['type'] = args.get('ema_type', inspect.signature(cls).parameters['ema_type'].default)
        _check_built(ema, key, MODELS, ema['type'], scope, 'EMA model', given=('model', ))


def _check_clip_grad(cfg: Any) -> None:
    import torch

    for wrapper, key in _optim_wrappers(cfg.get('optim_wrapper'), 'optim_wrapper'):
        clip = wrapper.get('clip_grad')
        if not isinstance(clip, dict):
            continue
        kind = clip.get('type', 'norm')
        fn = {'norm': torch.nn.utils.clip_grad_norm_, 'value': torch.nn.utils.clip_grad_value_}.get(kind)
        if fn is None:
            raise ConfigCheckError(f"{key}.clip_grad.type={kind!r}: mmengine's OptimWrapper clips by 'norm' or "
                                   "'value'")
        _check_keys({k: v for k, v in clip.items() if k != 'type'}, f'{key}.clip_grad', fn,
                    f'torch.nn.utils.{fn.__name__}', skip=('parameters', ),
                    when='mmengine calls it with these at the first optimiser step, after a whole forward and '
                         'backward pass, in every worker')


def _optim_wrappers(wrapper: Any, key: str):
    if not isinstance(wrapper, dict):
        return
    yield wrapper, key
    for name, inner in wrapper.items():
        if isinstance(inner, dict) and 'optimizer' in inner:  # an OptimWrapperDict's wrappers
            yield inner, f'{key}.{name}'


def check_default_hook_typed(hooks: dict, name: str) -> None:
    """Refuse ``default_hooks.<name>`` given as a dict without ``type`` (a misspelled name,
    ``default_hooks.chekpoint.interval=1``: mmengine stopped the runner's build with "must contain the key 'type'",
    naming no key).

    Raises:
        ConfigCheckError: naming the key and the hooks the config defines.
    """
    hook = hooks[name]
    if isinstance(hook, dict) and 'type' not in hook:
        typed = [k for k, v in hooks.items() if isinstance(v, dict) and 'type' in v]
        raise ConfigCheckError(f'default_hooks.{name} = {dict(hook)!r} has no type: not one of the hooks the '
                               f'config defines ({", ".join(typed)}); a misspelled name?')


def _check_rank_seeds(cfg: Any, seed: int) -> None:
    """Under ``randomness.diff_rank_seed=True`` mmengine's ``set_random_seed`` seeds rank ``r`` with ``seed + r``:
    refuse a ``seed`` whose last rank's seed is past numpy's largest, ``2**32 - 1`` (those ranks alone failed in
    ``np.random.seed`` with numpy's message while the others went on). The world size is the launcher's
    (``LAUNCHER_WORLD_SIZE``: the same in every process, so every rank refuses alike); 1 without one.

    Raises:
        ConfigCheckError: naming ``randomness.seed``, the world size and the largest seed allowed,
            ``2**32 - world_size``.
    """
    import os

    from automl_mm.utils.seeding import SEED_LIMIT

    from .preflight_ohl_copies import LAUNCHER_WORLD_SIZE

    name = LAUNCHER_WORLD_SIZE.get(cfg.get('launcher', 'none'))
    try:
        world_size = max(int(os.environ[name]), 1) if name else 1
    except (KeyError, ValueError):
        world_size = 1
    if seed + world_size > SEED_LIMIT:
        raise ConfigCheckError(
            f'randomness.seed={seed} with randomness.diff_rank_seed=True on {world_size} ranks ({name}={world_size}): '
            f"mmengine seeds rank r with randomness.seed + r, and numpy's np.random.seed takes at most 2**32 - 1, "
            f'so ranks {SEED_LIMIT - seed} .. {world_size - 1} would fail there; the largest seed allowed is '
            f'2**32 - {world_size} = {SEED_LIMIT - world_size}')


def check_runner_arguments(cfg: Any, scope: str, test_only: bool = False) -> None:
    """Refuse a key of a runner-level dict that what mmengine builds from it does not take (module docstring).

    Args:
        cfg: The config (after ``--cfg-options``).
        scope: Its ``default_scope``.
        test_only: Skip what only training reads (``optim_wrapper.clip_grad``); ``tools/test.py`` builds a runner
            too, so the rest applies.

    Raises:
        ConfigCheckError: naming the key, the arguments taken there and a close one.
    """
    import torch.distributed
    from mmengine.runner import Runner
    from mmengine.utils.dl_utils import set_multi_processing

    from automl_mm.registry import LOG_PROCESSORS, MODEL_WRAPPERS, VISBACKENDS, VISUALIZERS

    randomness = cfg.get('randomness')
    _check_keys(randomness, 'randomness', Runner.set_randomness, "mmengine's Runner.set_randomness")
    if isinstance(randomness, dict) and 'seed' not in randomness:
        raise ConfigCheckError(f'randomness={dict(randomness)!r} has no seed: mmengine\'s Runner.set_randomness '
                               'needs one (None: a seed drawn anew)')
    if isinstance(randomness, dict) and randomness.get('seed') is not None:
        from automl_mm.utils.seeding import as_seed

        try:  # mmengine's np.random.seed refused it with numpy's message, naming no key
            seed = as_seed(randomness['seed'], 'randomness.seed')
        except ValueError as err:
            raise ConfigCheckError(str(err)) from None
        if randomness.get('diff_rank_seed'):
            _check_rank_seeds(cfg, seed)
    _check_built(cfg.get('log_processor'), 'log_processor', LOG_PROCESSORS, 'LogProcessor', scope, 'log processor')
    visualizer = cfg.get('visualizer')
    _check_built(visualizer, 'visualizer', VISUALIZERS, 'Visualizer', scope, 'visualizer')
    backends = visualizer.get('vis_backends') if isinstance(visualizer, dict) else None
    for i, backend in enumerate([backends] if isinstance(backends, dict) else backends or []):
        if isinstance(backend, dict):  # the visualizer pops name and sets save_dir
            _check_built(backend, f'visualizer.vis_backends[{i}]', VISBACKENDS, backend.get('type'), scope,
                         'visualization backend', drop=('name', ), given=('save_dir', ))
    level = cfg.get('log_level', 'INFO')
    if not (isinstance(level, int) and not isinstance(level, bool)) and level not in logging.getLevelNamesMapping():
        names = [n for n in logging.getLevelNamesMapping() if n not in ('WARN', 'FATAL')]
        raise ConfigCheckError(f'log_level={level!r} is not a logging level (one of {", ".join(names)}, or a '
                               "number); mmengine's logger would stop the runner's build")
    env = cfg.get('env_cfg')
    if isinstance(env, dict):
        _check_keys(env.get('mp_cfg'), 'env_cfg.mp_cfg', set_multi_processing,
                    "mmengine's set_multi_processing", skip=('distributed', ))
        dist = env.get('dist_cfg')
        if isinstance(dist, dict):
            group = [n for n in inspect.signature(torch.distributed.init_process_group).parameters
                     if n not in ('backend', 'rank', 'world_size') and not n.startswith('_')]
            for name in dist:
                if name not in _DIST_OWN and name not in group and name != '_scope_':
                    _refuse('env_cfg.dist_cfg', name, [*_DIST_OWN, *group],
                            "mmengine's init_dist (and torch.distributed.init_process_group)")
    hooks = cfg.get('default_hooks') or {}
    for name, hook in hooks.items():
        check_default_hook_typed(hooks, name)
        if hook is None and name not in _RUNNER_DEFAULT_HOOKS:
            raise ConfigCheckError(f'default_hooks.{name}=None: mmengine removes only its own default hooks '
                                   f'({", ".join(_RUNNER_DEFAULT_HOOKS)}) by None; drop the key instead')
        _check_hook(hook, f'default_hooks.{name}', scope)
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        _check_hook(hook, f'custom_hooks[{i}]', scope)
    wrapper = cfg.get('model_wrapper_cfg')
    if isinstance(wrapper, dict):  # built (in a distributed run only) after the model, in every worker
        _check_built(wrapper, 'model_wrapper_cfg', MODEL_WRAPPERS, 'MMDistributedDataParallel', scope,
                     'model wrapper', given=('module', ))
    if not test_only:
        _check_clip_grad(cfg)
