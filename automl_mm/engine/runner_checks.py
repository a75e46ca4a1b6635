"""automl_mm's start-of-run checks for runners that another launcher builds from a config: mmdet's or mmengine's
``tools/train.py`` / ``tools/test.py`` with ``custom_imports=dict(imports=['automl_mm'])``, or ``Runner.from_cfg``
in a script of one's own.

automl_mm's ``tools/train.py`` / ``tools/test.py`` check a config before anything is built
(:func:`automl_mm.engine.preflight.check_config`, then the model checks
:func:`~automl_mm.engine.preflight_losses.check_loss_holders` and
:func:`~automl_mm.engine.preflight_masks.check_mask_metrics`). A stock launcher ran none of them: a scored loader
with an OHL augmentation trained and reported numbers on augmented images, a ``save_best`` key that the evaluator
does not report stopped the run with mmengine's ``KeyError`` after the first validation, and so on. Installed by
:func:`automl_mm.engine.patches.install` (so by ``import automl_mm`` and ``custom_imports``, or by
mmengine importing the config's ``default_scope`` while it builds the first runner: see "Which runners" below):

* ``Runner.__init__`` (``FlexibleRunner``'s too; however the runner is built: ``from_cfg``, ``RUNNERS.build`` for a
  ``runner_type``, a subclass's own ``from_cfg`` calling ``cls(...)``, ``Runner(...)`` directly) refuses, before
  building anything, an OHL hook among its ``custom_hooks`` that needs several processes (``num_copies x
  ranks_per_copy``) with ``launcher='none'`` in a process without a process group, naming the commands that start
  them (the runner built one model and ``CopyRunner`` stopped with a world-size error after building it), and
  re-raises a misspelled argument of a model node naming its config key. Until the forty-fourth session both
  lived in the wrapped ``from_cfg`` only: a subclass's own ``from_cfg`` or ``Runner(..., cfg=cfg)`` built the
  model and work dir first and stopped with ``CopyRunner``'s world-size error, whose advice named the tool just
  run.
* ``Runner.train`` (and ``FlexibleRunner.train``) of a runner built from a config (which runners: below) first runs
  ``check_config(cfg)`` and the model checks, ``Runner.test`` ``check_config(cfg, test_only=True)`` and
  ``check_mask_metrics(..., test_only=True)``, as automl_mm's tools do, and ``Runner.val`` the same checks of what
  validating reads (``val_dataloader``, ``val_evaluator``, ``val_cfg``: ``split='val'``; and
  ``default_hooks.checkpoint``'s ``save_best`` / ``out_dir``, which mmengine's ``CheckpointHook`` reads after a
  ``val()`` too; a runner used only to validate, ``Runner.from_cfg(cfg).val()``, ran none): once per runner and entry
  point (once per job in a distributed run: rank 0 checks and every rank raises its error; ``train()``'s checks cover
  ``val()`` and ``test()``, not the other way round), after the runner is built (its model, hooks and work dir) and
  before a dataloader is built or an image read. They read the config as the runner runs it
  (:func:`checked_config`): its ``cfg`` with the arguments it was given in place of their entries, its scope and its
  class, so ``Runner(..., train_cfg=..., optim_wrapper=..., cfg=dict(seed=0))`` has its training checked and an entry
  of its ``cfg`` that it was given otherwise is not refused. Only these static checks run: ``build_check`` would
  build the model, hooks, datasets and evaluators a second time, which the runner builds itself (the model and hooks
  already, the datasets and evaluators when its loops start), with mmengine's own messages.

``Runner.val`` / ``Runner.test`` also register :class:`~automl_mm.nas.SearchedArchitectureHook` and
:class:`~automl_mm.ohl.SearchedValuesHook` (once each), so a NAS search's final checkpoint loaded with ``load_from``
runs the searched architecture, and an OHL search's checkpoint the values its final model trained with, as under
automl_mm's ``tools/test.py`` (they ran the config's path and values).

Which runners: every runner built with a non-empty config (``runner.cfg``: ``from_cfg``'s, a subclass's own
``from_cfg`` that calls ``cls(...)`` without ``super().from_cfg``, ``Runner(..., cfg=cfg)``) unless it was built
inside :func:`checked_by_tool` (the wrapped ``Runner.__init__`` exempts it: automl_mm's tools run the checks
themselves, in the launching process, once, before local workers start, so each check runs once per process there,
not twice). The rule is read from the runner when ``train()`` / ``val()`` / ``test()`` starts (:func:`pending_checks`),
so it also holds for the first runner of a process whose config names automl_mm only by ``default_scope`` (mmdet's
or mmengine's ``tools/train.py`` without ``custom_imports``): mmengine imports automl_mm while it builds that runner,
inside the unwrapped ``from_cfg`` and ``__init__`` (looking up its log processor in automl_mm's registry), so no
wrapper saw it built; until the forty-third session it trained, validated and tested without any check (a PC-NAS
search scoring its candidates on the training split ran to the end) while a second runner of the same process was
refused. That first runner is a plain ``Runner`` (a ``CopyRunner`` is built only once automl_mm is imported), so
the process-count check of :func:`checking_init` does not see it; ``train()``'s ``check_config`` then refuses its OHL
hook without ``runner_type='automl_mm.CopyRunner'``. A runner built without a config (``Runner(model=..., ...)``,
whose ``cfg`` is mmengine's empty ``Config``) is not checked in ``train()`` / ``val()`` / ``test()``; its
``__init__`` still refuses an OHL hook that needs several processes.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import os.path as osp
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

_PENDING = '_automl_mm_pending_checks'  # the runner attribute: the entry points ('train', 'val', 'test') not checked
_ARGUMENTS = '_automl_mm_runner_arguments'  # the runner attribute: its __init__'s arguments as given (checking_init)
_NOT_RECORDED = frozenset({'self', 'cfg', 'default_scope'})  # (the scope: read from the runner, built_scope)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_MODES = frozenset({'train', 'val', 'test'})
_COVERS = {'train': _MODES, 'val': frozenset({'val'}), 'test': frozenset({'test'})}  # what each entry's checks cover
_tool_depth = 0  # > 0 while an automl_mm tool builds a runner from a config it has checked


@contextlib.contextmanager
def checked_by_tool() -> Iterator[None]:
    """Runners built from a config inside this block are not checked again (automl_mm's tools checked it)."""
    global _tool_depth
    _tool_depth += 1
    try:
        yield
    finally:
        _tool_depth -= 1


def automl_mm_tool(name: str) -> str:
    """How to run automl_mm's ``tools/<name>``: its path in this checkout when it exists, else a description."""
    import automl_mm

    path = osp.join(osp.dirname(osp.dirname(osp.abspath(automl_mm.__file__))), 'tools', name)
    return f'python {path}' if osp.isfile(path) else f"python tools/{name} (automl_mm's)"


def check_lone_process(launcher: Any, hooks: Any, scope: str | None) -> None:
    """Refuse an OHL hook among ``hooks`` (``custom_hooks`` configs or built hooks, their types resolved in
    ``scope``) that trains in several processes (``num_copies x ranks_per_copy``) in a process that runs alone:
    ``launcher`` is ``'none'`` (or ``None``, ``FlexibleRunner``'s default, where mmengine's ``infer_launcher`` finds
    no launcher's environment: torchrun's ``WORLD_SIZE``, slurm's, MPI's) and no torch.distributed process group
    exists.

    Raises:
        ConfigCheckError: naming the OHL hook's processes and the commands that start them.
        ValueError: the hook's ``num_copies`` / ``ranks_per_copy`` are not positive integers (naming the entry), or
            several OHL hooks (:func:`~automl_mm.ohl.copy_counts.find_ohl_hook`).
    """
    import torch.distributed as torch_dist

    from automl_mm.ohl.copies import check_copy_counts, find_ohl_hook

    from .preflight_walk import ConfigCheckError

    if launcher is None:  # FlexibleRunner's default: the launcher its environment names, as it infers it
        from mmengine.dist import infer_launcher
        launcher = infer_launcher()
    if launcher != 'none' or (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    found = find_ohl_hook(hooks, scope)
    if found is None:
        return
    index, hook = found
    kind = hook.get('type') if isinstance(hook, dict) else type(hook).__name__
    get = hook.get if isinstance(hook, dict) else lambda key, default=None: getattr(hook, key, default)
    num_copies, ranks_per_copy = get('num_copies'), get('ranks_per_copy', 1)
    try:  # int('two') or a missing num_copies failed without naming the key
        check_copy_counts(num_copies, ranks_per_copy)
    except ValueError as err:
        raise ValueError(f'custom_hooks[{index}] ({kind}): {err}') from None
    world_size = num_copies * ranks_per_copy
    if world_size > 1:
        raise ConfigCheckError(
            f"custom_hooks[{index}] ({kind}) trains in {world_size} processes (num_copies x "
            "ranks_per_copy), but this runner runs alone (launcher='none'): it would build one model and stop. Train "
            f'with automl_mm\'s launcher, `{automl_mm_tool("train.py")} CONFIG` (it starts the {world_size} processes '
            f'itself), or start {world_size} processes yourself (`torchrun --nproc_per_node {world_size}` with this '
            f"tool's `--launcher pytorch`); test a trained model with `{automl_mm_tool('test.py')} CONFIG CHECKPOINT` "
            '(it drops the OHL hook)')


def _run_checks(runner: Any, mode: str) -> None:
    """Run the checks once per job: in a distributed run (a process group of several ranks, which a stock
    ``dist_train.sh`` / ``slurm_train.sh`` launch has by now) rank 0 runs them and broadcasts its outcome, and every
    rank raises rank 0's error. Every rank checking read each COCO annotation file once more per process (a
    ``json.load`` of COCO train2017's 450 MB, times the GPUs of a node) for the same verdict.

    Rank 0's verdict holds for every rank only where they all run the same thing: first every rank compares its
    config, automl_mm source and package versions with the others'
    (:func:`~automl_mm.engine.rank_agreement.check_ranks_run_alike`; ``train`` also the ``(resume, load_from)``
    start), as automl_mm's tools do before building the runner."""
    import torch.distributed as torch_dist

    from .rank_agreement import check_ranks_run_alike

    setattr(runner, _PENDING, pending_checks(runner) - _COVERS[mode])
    if not (torch_dist.is_available() and torch_dist.is_initialized()) or torch_dist.get_world_size() == 1:
        _checks(runner, mode)
        return
    check_ranks_run_alike(runner.cfg, compare_start=mode == 'train')  # every rank raises the same error
    outcome: list[Any] = [None]
    if torch_dist.get_rank() == 0:
        try:
            _checks(runner, mode)
        except Exception as err:  # noqa: BLE001 - every rank raises it below
            try:
                pickle.dumps(err)
                outcome[0] = err
            except Exception:  # noqa: BLE001 - an error that cannot travel travels as its text
                outcome[0] = RuntimeError(f'{type(err).__name__}: {err}')
    torch_dist.broadcast_object_list(outcome, src=0)
    if outcome[0] is not None:
        raise outcome[0]


def _checks(runner: Any, mode: str) -> None:
    import torch.nn as nn

    from .preflight import check_config
    from .preflight_losses import check_loss_holders
    from .preflight_masks import check_mask_metrics
    from .preflight_outputs import _check_checkpoint_hook

    cfg, model = checked_config(runner), getattr(runner, 'model', None)
    only = {} if mode == 'train' else dict(test_only=True, split=mode)  # val() / test(): what evaluating it reads
    check_config(cfg, **only)
    if isinstance(model, nn.Module):  # FlexibleRunner builds its model in train() / val() / test()
        if mode == 'train':
            check_loss_holders(model)
        check_mask_metrics(cfg, model, **only)
    if mode == 'val':  # CheckpointHook.after_val_epoch saves the best checkpoint of a val() too
        _check_checkpoint_hook(cfg)


#: What mmengine's ``Runner.__init__`` keeps of an argument it runs with, for a runner whose arguments were not recorded
#: (:func:`checking_init` was not installed when it was built): the argument's name and the runner's attribute. Read
#: only while it holds a config (a dict, a list, a string, a number), not what the runner has built from it.
_KEPT_ARGUMENTS = {'train_dataloader': '_train_dataloader', 'val_dataloader': '_val_dataloader',
                   'test_dataloader': '_test_dataloader', 'train_cfg': '_train_loop', 'val_cfg': '_val_loop',
                   'test_cfg': '_test_loop', 'optim_wrapper': 'optim_wrapper', 'param_scheduler': 'param_schedulers',
                   'val_evaluator': '_val_evaluator', 'test_evaluator': '_test_evaluator',
                   'auto_scale_lr': 'auto_scale_lr', 'load_from': '_load_from', 'resume': '_resume',
                   'launcher': '_launcher', 'randomness': '_randomness_cfg'}


def _is_config(value: Any) -> bool:
    """Whether ``value`` is a config: ``None``, a string, a number, a class or a function, or dicts / lists / tuples
    of such; not an object (a built ``DataLoader``, loop, ``OptimWrapper``, hook, model; a dataset given inside a
    loader's dict), which the checks do not read (its ``cfg`` entry, if any, is read instead)."""
    if value is None or isinstance(value, (str, int, float, type)) or inspect.isroutine(value):
        return True
    if isinstance(value, dict):
        return all(_is_config(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(_is_config(item) for item in value)
    return False


def _runner_arguments(runner: Any) -> dict[str, Any]:
    """The arguments ``runner`` was built with, by the names of its ``__init__`` (those of mmengine's ``Runner``:
    ``train_cfg``, ``optim_wrapper``, ``launcher``, ...; ``cfg`` and ``default_scope`` left out), as given: recorded by
    :func:`checking_init` before mmengine changed them (it pops a hook's ``priority``, fills a model's
    ``data_preprocessor`` and a visualizer's ``name``); a runner built before the wrappers were installed gives
    those it keeps (:data:`_KEPT_ARGUMENTS`); a stand-in without them, none. Only configs (:func:`_is_config`): an
    argument given built (a ``DataLoader``, a model) is left out, its ``cfg`` entry read as before."""
    given = getattr(runner, _ARGUMENTS, None)
    if given is None:
        given = {name: getattr(runner, attribute) for name, attribute in _KEPT_ARGUMENTS.items()
                 if hasattr(runner, attribute)}
    return {name: value for name, value in given.items() if _is_config(value)}


def checked_config(runner: Any) -> Any:
    """The config the run-time checks read for ``runner``: a copy of ``runner.cfg`` holding what the runner runs.

    * Each argument the runner was given (:func:`_runner_arguments`) in place of its ``cfg`` entry (left out where
      the argument is ``None``: the runner has none; kept where it was given built, a ``DataLoader`` or a model,
      which the checks cannot read). mmengine's ``Runner(...)`` runs its arguments and keeps its
      ``cfg`` argument, which may describe it in part or not at all, only to dump it and read ``model_wrapper_cfg``:
      ``Runner(..., train_cfg=dict(by_epoch=True, max_epochs=0), cfg=dict(seed=0))`` trained nothing, unchecked, and
      ``cfg=dict(launcher='pytorch', model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel'))`` for a runner
      given no launcher (``'none'``: it wraps nothing) was refused for a ``CopyDataParallel`` without an OHL hook.
      ``Runner.from_cfg`` passes the config's own entries, so its runners read as before.
    * ``launcher`` of a ``FlexibleRunner`` set to the one its strategy runs (``runner.strategy.launcher``): given
      none, mmengine infers it from the environment (``infer_launcher``: torchrun's ``WORLD_SIZE``, slurm's, MPI's),
      and a built ``strategy`` ignores the argument. The ``None`` it was given read as no launcher, the cfg's entry
      dropped: under torchrun such a runner was judged as one process (``randomness.seed`` under
      ``diff_rank_seed`` checked for 1 rank, not the launcher's ``WORLD_SIZE``).
    * ``default_scope`` set to the scope the runner builds in (:func:`~automl_mm.engine.preflight_walk.built_scope`)
      where the config says another: ``Runner(..., default_scope='automl_mm', cfg=dict(custom_hooks=[...]))`` was
      checked in mmengine's scope and refused for unprefixed automl_mm types it builds.
    * ``runner_type`` set to the runner's class where the config has none and the runner is a subclass of mmengine's
      ``Runner``: ``CopyRunner.from_cfg(cfg)`` of a config without ``runner_type`` (a ``CopyRunner``) was refused as
      mmengine's ``Runner``.

    Returns:
        ``runner.cfg`` itself where nothing differs, else a copy (``runner.cfg`` is left as it is); the arguments'
        objects (a built model, a dataset) are held, not copied.
    """
    import copy

    from mmengine.runner import Runner

    from .preflight_walk import built_scope, runner_scope

    cfg, scope = runner.cfg, built_scope(runner)
    arguments = _runner_arguments(runner)
    launcher = getattr(getattr(runner, 'strategy', None), 'launcher', None)
    if isinstance(launcher, str):  # FlexibleRunner's: the one its strategy runs (a launcher=None inferred)
        arguments['launcher'] = launcher
    given = {name: value for name, value in arguments.items() if value is not None or name in cfg}
    if runner_scope(cfg) != scope:
        given['default_scope'] = scope
    if 'runner_type' not in cfg and isinstance(runner, Runner) and type(runner) is not Runner:
        given['runner_type'] = type(runner)  # (the class: the checks take one as runner_type)
    if not given:
        return cfg
    cfg = copy.deepcopy(cfg)
    for name, value in given.items():
        if value is None:
            cfg.pop(name)
        else:
            cfg[name] = value
    return cfg


def _apply_searched_architecture_on_load(runner: Any) -> None:
    """Register :class:`~automl_mm.nas.SearchedArchitectureHook` and :class:`~automl_mm.ohl.SearchedValuesHook`
    (each once) on a runner about to validate or test, as automl_mm's ``tools/test.py`` does: a NAS search's final
    checkpoint loaded by a stock launcher (``load_from``) ran the config's path, not the searched one, and an OHL
    search's checkpoint the config's values of its searched attributes, not those its final model trained with."""
    from automl_mm.nas.final_architecture import SearchedArchitectureHook
    from automl_mm.ohl.replay_hooks import SearchedValuesHook

    hooks = getattr(runner, 'hooks', None)
    if hooks is None:
        return
    for hook_class in (SearchedArchitectureHook, SearchedValuesHook):
        if not any(isinstance(h, hook_class) for h in hooks):
            runner.register_hook(hook_class())


def checking_run(run: Callable, mode: str) -> Callable:
    """Wrap ``Runner.train`` (``mode='train'``), ``Runner.val`` (``'val'``) or ``Runner.test`` (``'test'``): a runner
    whose :func:`pending_checks` hold ``mode`` is checked first, once per entry point (``train``'s checks cover all
    three)."""
    if mode not in _MODES:
        raise ValueError(f'mode={mode!r}: one of {sorted(_MODES)}')

    @functools.wraps(run)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if mode in pending_checks(self):
            _run_checks(self, mode)
        if mode != 'train':
            _apply_searched_architecture_on_load(self)
        return run(self, *args, **kwargs)

    wrapper.checks_config = True
    return wrapper


def pending_checks(runner: Any) -> frozenset:
    """The entry points (``'train'``, ``'val'``, ``'test'``) whose checks ``runner`` has not run yet: those its
    construction recorded (``frozenset()`` for a runner built inside :func:`checked_by_tool`, by
    :func:`checking_init`) minus those run since (:func:`_run_checks`); for a runner with no record (its
    ``__init__`` began before the wrappers were installed: the first runner of a process whose config names automl_mm
    only by ``default_scope``), all three if its ``cfg`` is non-empty, none for a runner built without a config
    (mmengine's ``Runner.__init__`` gives it an empty ``Config``)."""
    pending = getattr(runner, _PENDING, None)
    if pending is None:
        return _MODES if getattr(runner, 'cfg', None) else frozenset()
    return frozenset(pending)


def _as_given(value: Any) -> Any:
    """``value`` with each of its dicts (``ConfigDict`` s too) and lists / tuples copied, its other objects (a model, a
    dataset, a built hook) held, not copied: what an argument was when given, kept from the changes mmengine makes
    in place while it builds (``Runner.register_hook`` pops a hook's ``priority``, the model gets the runner's
    ``data_preprocessor``, the visualizer a ``name`` and ``save_dir``). mmengine's ``ConfigDict(...)`` copies only
    plain dicts: the ``ConfigDict`` entries ``Runner.from_cfg`` passes were recorded as the runner then changed
    them."""
    from mmengine.config import ConfigDict

    if type(value) in (dict, OrderedDict) or isinstance(value, ConfigDict):
        return ConfigDict({key: _as_given(item) for key, item in dict.items(value)})  # (dict.items: lazy kept)
    if type(value) in (list, tuple):
        return type(value)(_as_given(item) for item in value)
    return value


# The arguments mmengine's Runner.__init__ builds from a registry, in its order (a type unregistered in two of them
# is named where the build stopped first)
_BUILT_IN_INIT = ('log_processor', 'visualizer', 'model', 'model_wrapper_cfg', 'default_hooks', 'custom_hooks')


def checking_init(init: Callable) -> Callable:
    """Wrap a runner class's ``__init__`` (whatever builds the runner: ``from_cfg``, a subclass's own ``from_cfg``
    calling ``cls(...)``, ``RUNNERS.build``, ``Runner(...)`` directly).

    Outside :func:`checked_by_tool`, before anything is built, refuse an OHL hook that needs several processes in a
    lone process (:func:`check_lone_process` of the ``launcher``, ``custom_hooks`` and ``default_scope``
    arguments, the scope the runner builds its hooks in), and re-raise a misspelled argument of a model node naming
    its config key (:func:`~automl_mm.engine.preflight_model_args.located_argument_error`; Python names the class's
    ``__init__`` only) and an unregistered ``type`` of a node it builds (:data:`_BUILT_IN_INIT`: the log
    processor, visualizer, model, model wrapper, default and custom hooks; a hook's was named by mmengine's registry
    alone, in mmdet's ``tools/train.py`` without the key or the ``automl_mm.`` prefix an mmdet config needs) naming
    its key and the closest registered name or the prefix
    (:func:`~automl_mm.engine.preflight_types.located_type_error`), and a refused value of a model node
    (``CrossEntropyLoss: class_weight must be ...``) naming its key
    (:func:`~automl_mm.engine.preflight_model_args.located_value_error`). Inside it, record that no check is pending
    (automl_mm's tool checked the config); otherwise record nothing, so :func:`pending_checks` decides by the
    runner's config. Inside and outside, record the arguments as given (:func:`_runner_arguments`), which the
    run-time readers (:func:`checked_config`) read: what mmengine keeps of them it changes while it builds."""
    from mmengine.config import ConfigDict

    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        own_tool = _tool_depth > 0
        try:
            call = signature.bind(self, *args, **kwargs).arguments
        except TypeError:  # mmengine's __init__ names what is wrong with the arguments
            call = {}

        def argument(name: str) -> Any:
            parameter = signature.parameters.get(name)
            default = None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default
            return call.get(name, default)

        scope = argument('default_scope')
        scope = scope if isinstance(scope, str) else None
        if not own_tool:
            check_lone_process(argument('launcher'), argument('custom_hooks'), scope)
        if call:  # as given: mmengine changes some while it builds (a hook's priority popped, type='Evaluator' set
            # in a val_evaluator=dict(metrics=...)); a tool's runner too, whose run-time readers read them
            given = ConfigDict({name: _as_given(argument(name)) for name, parameter in signature.parameters.items()
                                if name not in _NOT_RECORDED and parameter.kind not in _VARIADIC})
            setattr(self, _ARGUMENTS, given)
        try:
            init(self, *args, **kwargs)
        except TypeError as err:  # the model, built first: Python names the class's __init__, not the config key
            from automl_mm.engine.preflight_model_args import located_argument_error
            located = located_argument_error(err, argument('model'), scope)
            if located is None:
                raise
            raise located from err
        except KeyError as err:  # a misspelled type: mmengine names the registry, not the config key
            from automl_mm.engine.preflight_types import located_type_error
            located = next((found for found in (located_type_error(err, argument(name), name)
                                                for name in _BUILT_IN_INIT) if found is not None), None)
            if located is None:
                raise
            raise located from err
        except (ValueError, FileNotFoundError) as err:  # a refused value: the class names itself, not the node
            from automl_mm.engine.preflight_model_args import located_value_error
            located = located_value_error(err, argument('model'), scope)
            if located is None:
                raise
            raise located from err
        except AssertionError as err:  # a value a node's class refused with an assert: mmengine names no key
            from automl_mm.engine.preflight_model_args import located_assertion_error
            located = located_assertion_error(err, argument('model'))
            if located is None:
                raise
            raise located from err
        if own_tool:
            setattr(self, _PENDING, frozenset())

    wrapper.checks_config = True
    return wrapper


def install(runner_classes: tuple[type, ...]) -> None:
    """Wrap ``__init__``, ``train``, ``val`` and ``test`` of each of ``runner_classes`` (each once). A runner already
    under construction (mmengine building it imported automl_mm) needs no marking: :func:`pending_checks` reads its
    config when it starts."""
    for runner_class in runner_classes:
        if getattr(runner_class.__dict__['__init__'], 'checks_config', False):
            continue
        runner_class.__init__ = checking_init(runner_class.__dict__['__init__'])
        runner_class.train = checking_run(runner_class.__dict__['train'], 'train')
        runner_class.val = checking_run(runner_class.__dict__['val'], 'val')
        runner_class.test = checking_run(runner_class.__dict__['test'], 'test')


__all__ = ['automl_mm_tool', 'check_lone_process', 'checked_by_tool', 'checked_config', 'checking_init',
           'checking_run', 'install', 'pending_checks']
