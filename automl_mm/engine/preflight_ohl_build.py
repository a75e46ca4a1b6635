"""The OHL checks of :func:`~automl_mm.engine.preflight.build_check`: what ``OHLHook.before_train`` and its
spaces' ``setup`` check of the model, optimiser and training, val and test pipelines, what the replay hooks
(``SetAttributesHook``, ``TrunkScheduleHook``) resolve of those pipelines (:func:`check_replay_paths`), and what
``after_load_checkpoint`` checks of a resume, made on what ``build_check`` built in the launching process, before any
worker starts (the static checks are in :mod:`automl_mm.engine.preflight_ohl`).
"""
from __future__ import annotations

import copy
import os.path as osp
from types import SimpleNamespace
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError

from .hook_order import _WITHOUT_STATE, runner_hook_order
from .preflight_ohl_hooks import _hook_entry, _refuse
from .preflight_ohl_schedule import _loop, _positive_int
from .preflight_walk import config_scope


def check_ohl_model(cfg: Any, hooks: list, model: Any, optimisation: tuple[Any, Any] | None = None,
                    train_dataset: Any = None, eval_datasets: dict[str, Any] | None = None,
                    reads: Any = None, ordered: _Lazy | None = None) -> None:
    """What ``OHLHook.before_train`` checks of the model and the resolved spaces, on the model, hooks and
    optimisation (``(optim_wrapper, param_schedulers)``) :func:`~automl_mm.engine.preflight.build_check` built:
    SyncBN layers across copies (:func:`~automl_mm.ohl.checks.check_sync_bn`), SyncBN re-estimated by one rank of
    a copy (:func:`~automl_mm.ohl.checks.check_bn_recalibration`) and the clean images' dataset it reads, the
    spaces' exports forming one ``final_policy.py`` (``OHLReport.check_spaces``; for hooks whose spaces
    resolved), every space target in
    the optimiser wrapper (``optim_wrapper.optimizer.param_groups.*.lr``) existing, not owned by a
    ``param_scheduler`` (:func:`~automl_mm.ohl.ownership.check_owned_attribute`) and with draws the optimiser
    accepts (``AttributeSpace.check_choices``: a negative lr; a choice or a Gaussian's image under its transform
    outside the key's range, :mod:`automl_mm.ohl.setting_ranges`: SGD's momentum in [0, 1)), and every target through
    the training dataset's pipeline (``train_dataloader.dataset.pipeline.transforms.1.prob``) existing in
    ``train_dataset`` with draws inside its range (a probability), and every target in the parameter schedulers
    (``param_schedulers.0.eta_min``) and the train loop (``train_loop.val_interval``) existing, and every target
    through a val / test pipeline (``val_dataloader.dataset.pipeline.transforms.2.scale``) in ``eval_datasets``
    (``{'val': dataset, 'test': dataset}``, built as the training set, lazily) likewise (the spaces' ``setup``
    checked them only in every worker; :func:`_check_targets` lists what is left to it). ``reads``: the start-up
    check's :func:`~automl_mm.engine.preflight_loading.start_backend_reads`, shared with the clean images' dataset
    check (``None``: a start of its own). ``ordered``: the start's :func:`deferred_hook_order` of ``hooks``
    (``None``: computed here, where a path needs it).

    Raises:
        ConfigCheckError: prefixed with the hook's key.
    """
    from automl_mm.ohl.checks import check_bn_recalibration, check_sync_bn
    from automl_mm.ohl.copies import find_ohl_hook
    from automl_mm.ohl.plugin_returns import check_plugin_returns
    from automl_mm.ohl.report import OHLReport

    found = find_ohl_hook(hooks)
    entry = _hook_entry(cfg)
    if found is None or entry is None:
        return
    hook = found[1]
    key, hook_cfg = entry
    try:
        check_sync_bn(model, hook.num_copies, hook.ranks_per_copy)
        if hook.scorer.bn_recalibration_batches:
            check_bn_recalibration(model, hook.ranks_per_copy, hook.config_key)
            _build_clean_dataset(cfg, hook, reads)
        if getattr(hook, '_resolved', False):
            check_plugin_returns(hook.spaces, hook.controllers, hook.num_copies, hook.config_key)  # TypeError, keyed
            OHLReport.check_spaces(hook.spaces)
        _check_targets(hook, model, optimisation, train_dataset, cfg, eval_datasets, key, hooks, ordered)
    except ValueError as err:
        raise _refuse(key, hook_cfg, err) from None



def _build_clean_dataset(cfg: Any, hook: Any, reads: Any = None) -> None:
    """Build lazily (:func:`~automl_mm.engine.preflight_build._build_lazily`, what it wraps included) the dataset of
    the clean training images ``bn_recalibration_batches`` reads (``bn_recalibration_dataloader``, or
    ``train_dataloader`` with the ``test_pipeline``), which the hook builds only in ``before_train``, in every
    worker; not one whose class hides whether it takes ``lazy_init`` (warned of:
    :func:`~automl_mm.engine.preflight_build.unknown_lazy_init`)."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.reward import clean_train_loader_cfg
    from automl_mm.registry import DATASETS, registered_class

    from .preflight_build import _build_lazily, _warn_not_built, unknown_lazy_init
    from .preflight_loading import check_before_loading

    loader, key = clean_train_loader_cfg(cfg, hook.scorer._bn_loader_cfg, hook.config_key)
    dataset = copy.deepcopy(loader.get('dataset')) if isinstance(loader, dict) else None
    if not isinstance(dataset, dict):
        return
    scope = config_scope(cfg)
    kind = dataset.get('type')
    cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, dataset.get('_scope_') or scope)
    if cls is None:
        from .preflight_types import type_hint
        scope = dataset.get('_scope_') or scope
        raise ValueError(f'{key}: dataset.type={kind!r} is not a registered dataset in scope {scope!r}'
                         f'{type_hint(DATASETS.name, kind, scope)}')
    if not_lazy := unknown_lazy_init(dataset, dataset.get('_scope_') or scope):  # it might read its data list
        if not key.startswith('train_dataloader'):  # (the training set was warned of as train_dataloader.dataset)
            _warn_not_built(f'{key}.dataset', not_lazy)
        return
    _build_lazily(dataset, dataset.get('_scope_') or scope)  # the arguments, not the data (wrapped ones too)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            built = DATASETS.build(dataset)
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f'{key}: building its dataset failed: {type(err).__name__}: {err}') from None
    if not key.startswith('train_dataloader'):  # (the training set was checked as train_dataloader.dataset)
        check_before_loading(built, f'{key}.dataset', cfg, reads)  # what its lazy build defers to the hook's workers


def _check_targets(hook: Any, model: Any, optimisation: tuple[Any, Any] | None, train_dataset: Any,
                   cfg: Any = None, eval_datasets: dict[str, Any] | None = None, key: str = 'OHLHook',
                   custom_hooks: list | None = None, ordered: _Lazy | None = None) -> None:
    """Each space's targets resolve where this check built their object, as ``AttributeSpace.setup`` checks them in
    every worker: under ``optim_wrapper`` (and not owned by a scheduler) and ``param_schedulers`` (both built by
    ``check_optimisation``), ``train_loop`` (built from ``train_cfg``, :func:`_train_loop`), the training
    pipeline (``train_dataloader.dataset.pipeline...``, ``train_loop.dataloader.dataset.pipeline...``) and the val /
    test pipelines (``val_dataloader.dataset.pipeline...``, ``test_loop.dataloader.dataset.pipeline...``: the
    datasets of ``eval_datasets``, ``{'val': dataset, 'test': dataset}``, which the runner's ``val_loop`` /
    ``test_loop`` hold in the workers; a wrong one was refused there only, after start-up), a hook's attribute by its
    index in the runner's hooks (``hooks.7.ema_model.momentum``: the index resolved in the order the runner will hold
    them, :func:`runner_hook_order`, with ``custom_hooks``, the hooks built from the config's, taken from ``ordered``,
    the start's :func:`deferred_hook_order`, where given, and the range of its draws checked:
    :func:`_check_hook_path`); and every path's first
    part an attribute of the runner class (:func:`_check_root`: ``param_scheduler.0.eta_min``, the config key, for
    the runner's ``param_schedulers``).

    Left to the workers (their objects are not built here): the other attributes of the dataloaders and their
    datasets (``train_dataloader.batch_size``, ``val_loop.dataloader.dataset.<field>``: building a loader or a
    dataset's data would read the data), the pipeline of a split whose dataset was not built, ``model`` paths
    (resolved by ``OHLHook.resolve_spaces`` and the spaces' own checks), and every other runner attribute
    (``val_loop.evaluator``, ``message_hub``, ...), as is a loop whose class this check cannot build with its
    stand-in runner (:func:`_train_loop`).

    Raises:
        ValueError: ``<key>.spaces[<j>]: OHL space '<name>': attribute path '<path>': ...``, the space at its config
            key (``custom_hooks[0].spaces[1]``; ``key`` is the hook's), as a ``model.`` target that does not
            resolve is named (it was ``custom_hooks[0] (OHLHook): OHL space 'x': ...``, not which of its spaces).
    """
    from automl_mm.ohl.attributes import get_attribute
    from automl_mm.ohl.build_time_targets import check_read_at_run_time
    from automl_mm.ohl.ownership import check_owned_attribute

    wrapper, schedulers = optimisation if optimisation is not None else (None, [])
    loop = _Lazy(lambda: _train_loop(cfg, train_dataset))
    if ordered is None:
        ordered = _Lazy(lambda: runner_hook_order(cfg, custom_hooks) if custom_hooks is not None else None)
    runner_attributes = _Lazy(lambda: _runner_attributes(cfg))
    held = _split_holders(train_dataset, eval_datasets)
    for index, space in enumerate(hook.spaces):
        for path in getattr(space, 'targets', None) or []:
            if not isinstance(path, str):
                continue
            parts = path.split('.')
            root = parts[0]
            pipeline = _built_pipeline_path(path, train_dataset, eval_datasets)
            runner = SimpleNamespace(model=model, optim_wrapper=wrapper, param_schedulers=schedulers, cfg=cfg, **held)
            try:
                _check_root(root, path, runner_attributes.get())
                if root == 'cfg':  # the config everything was built from: read by nothing during training
                    check_read_at_run_time(runner, path, f'OHL space {space.name!r}')
                if root == 'optim_wrapper' and wrapper is not None:
                    get_attribute(runner, path)
                    check_owned_attribute(runner, path, f'OHL space {space.name!r}')
                    if callable(getattr(space, 'check_choices', None)):  # a choice the optimiser refuses
                        space.check_choices(runner, path)
                elif root == 'param_schedulers' and optimisation is not None:
                    get_attribute(runner, path)
                    check_owned_attribute(runner, path, f'OHL space {space.name!r}')  # a converted T_max
                    if callable(getattr(space, 'check_choices', None)):  # a negative eta_min or gamma
                        space.check_choices(runner, path)
                elif pipeline:
                    # the pipeline only: the datasets were built without their data (lazy_init), the loaders not
                    get_attribute(runner, path)
                    if callable(getattr(space, 'check_choices', None)):  # a draw outside a transform's prob range
                        space.check_choices(runner, path)
                elif root == 'hooks' and ordered.get() is not None:
                    _check_hook_path(ordered.get(), path, space, model)
                elif root == 'train_loop' and (len(parts) < 2 or parts[1] != 'dataloader') and loop.get() is not None:
                    get_attribute(SimpleNamespace(train_loop=loop.get()), path)
            except ValueError as err:
                where, message = f'{key}.spaces[{index}]', str(err)
                if message.startswith(where):
                    raise
                if not message.startswith('OHL space'):  # check_owned_attribute names the space itself
                    message = f'OHL space {space.name!r}: {message}'
                raise ValueError(f'{where}: {message}') from None


def _split_datasets(train_dataset: Any, eval_datasets: dict[str, Any] | None) -> dict[str, Any]:
    """``{split: built dataset}``: ``'train'`` always (``None`` where not built), ``'val'`` / ``'test'`` where built."""
    return {split: dataset for split, dataset in {**(eval_datasets or {}), 'train': train_dataset}.items()
            if dataset is not None or split == 'train'}


def _split_holders(train_dataset: Any, eval_datasets: dict[str, Any] | None) -> dict[str, Any]:
    """The stand-in runner's attributes that hold each split's built dataset where a worker's runner holds it:
    ``<split>_dataloader.dataset`` and ``<split>_loop.dataloader.dataset`` (mmengine's ``val_dataloader`` /
    ``test_dataloader`` are its ``val_loop`` / ``test_loop``'s, built on first access)."""
    held = {}
    for split, dataset in _split_datasets(train_dataset, eval_datasets).items():
        held[f'{split}_dataloader'] = SimpleNamespace(dataset=dataset)
        held[f'{split}_loop'] = SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))
    return held


def _built_pipeline_path(path: str, train_dataset: Any, eval_datasets: dict[str, Any] | None) -> bool:
    """Whether ``path`` goes through the pipeline of a split whose dataset the check built
    (``val_dataloader.dataset.pipeline.transforms.2.scale``, ``train_loop.dataloader.dataset.pipeline...``)."""
    return 'pipeline' in path.split('.') and any(
        dataset is not None and (path.startswith(f'{split}_dataloader.dataset.')
                                 or path.startswith(f'{split}_loop.dataloader.dataset.'))
        for split, dataset in _split_datasets(train_dataset, eval_datasets).items())


def check_replay_paths(cfg: Any, hooks: list, train_dataset: Any, eval_datasets: dict[str, Any] | None = None,
                       model: Any = None, ordered: _Lazy | None = None) -> None:
    """Each pipeline path a replay hook of ``custom_hooks`` writes (``SetAttributesHook`` before training,
    ``TrunkScheduleHook`` at each trunk start, their subclasses: the exported fragments' ``values``) resolves in the
    dataset :func:`~automl_mm.engine.preflight.build_check` built for its split (``train`` / ``val`` / ``test``,
    ``hooks`` the hooks it built from ``custom_hooks``, in order), as the hook resolves it on the runner in every
    worker (:func:`~automl_mm.ohl.attributes.get_attribute`, the walk its writes take); a wrong one was refused
    there only, after start-up (``val_dataloader.dataset.pipeline.0.meta_keys``: the config's spelling, which
    indexes nothing on the built dataset's ``Compose``). No path through the built ``model`` names a module's
    buffer or parameter, or an element of one (:func:`~automl_mm.ohl.tensor_slots.check_tensor_slot`: a BN layer's
    ``running_mean``, AM-LFS's ``_theta``; the first write stopped the run with torch's ``TypeError``). A path through
    a hook by its index (``hooks.7.ema_model.momentum``) is resolved in the order the runner will hold the hooks and
    each of its values held to the target's range (:func:`_check_hook_path`; the order from ``ordered``, the start's
    :func:`deferred_hook_order` of ``hooks``, where given). Other paths are left to the workers.

    Raises:
        ConfigCheckError: ``custom_hooks[<i>] (<type>): attribute path '<path>': ...``, the workers' message.
    """
    from automl_mm.ohl.attributes import get_attribute
    from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
    from automl_mm.ohl.tensor_slots import check_tensor_slot

    runner = SimpleNamespace(**_split_holders(train_dataset, eval_datasets), model=model)
    entries = list(cfg.get('custom_hooks') or [])
    if ordered is None:
        ordered = deferred_hook_order(cfg, hooks)
    for i, hook in enumerate(hooks):
        if not isinstance(hook, (SetAttributesHook, TrunkScheduleHook)) or i >= len(entries):
            continue
        for path in hook.values:
            try:
                if isinstance(path, str) and _built_pipeline_path(path, train_dataset, eval_datasets):
                    get_attribute(runner, path)
                elif isinstance(path, str) and path.split('.', 1)[0] == 'hooks':
                    # by its index in the runner's order, each value (each trunk's) held to the target's range
                    values = hook.values[path] if isinstance(hook, TrunkScheduleHook) else [hook.values[path]]
                    _check_hook_path(ordered.get(), path, None, model, values)
                elif isinstance(path, str) and model is not None and path.split('.', 1)[0] == 'model':
                    check_tensor_slot(runner, path)
            except ValueError as err:
                raise _refuse(f'custom_hooks[{i}]', entries[i], err) from None


def _runner_attributes(cfg: Any) -> tuple[str, set[str]] | None:
    """``(class name, attribute names)`` of the runner class the config builds (``runner_type``, else mmengine's
    ``Runner``): its class attributes and properties, and every ``self.<name> =`` in the source of a class of its
    MRO (an over-estimate: any attribute set in any method). ``None`` where the class or a source is not found."""
    import inspect
    import re

    from mmengine.runner import Runner

    from automl_mm.registry import RUNNERS, registered_class

    kind = cfg.get('runner_type') if cfg is not None else None
    if kind is None:
        cls = Runner  # tools/train.py: Runner.from_cfg
    else:  # as the tools build it, RUNNERS.build(cfg) (mmengine's build_runner_from_cfg): in the config's own _scope_,
        # else the current default scope, none in the tools (automl_mm's RUNNERS); not default_scope (the scope of
        # what the runner builds), which this check runs in
        scope = cfg.get('_scope_') or 'automl_mm'
        cls = kind if isinstance(kind, type) else registered_class(RUNNERS, kind, scope)
    if not isinstance(cls, type):
        return None
    names = set(dir(cls))
    for klass in cls.__mro__:
        if klass is object:
            continue
        try:
            names |= set(re.findall(r'\bself\.(\w+)\s*(?::[^=\n]+)?=(?!=)', inspect.getsource(klass)))
        except (OSError, TypeError):
            return None  # a class without source: its attributes are not known here
    return cls.__name__, names


def _check_root(root: str, path: str, known: tuple[str, set[str]] | None) -> None:
    """Refuse a path whose first part is no attribute of the runner (``AttributeSpace.setup`` refused it in every
    worker: "the runner has no attribute ...")."""
    import difflib

    if known is None or not root or root in known[1]:
        return
    public = sorted(n for n in known[1] if not n.startswith('_'))
    close = difflib.get_close_matches(root, public, n=1, cutoff=0.6)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ValueError(f'attribute path {path!r}: the runner ({known[0]}) has no attribute {root!r}{hint}; a path '
                     'starts at a runner attribute such as model, optim_wrapper, param_schedulers, train_loop or '
                     'train_dataloader')


class _Lazy:
    """A value computed at its first :meth:`get` (the loop is built only for a config with a ``train_loop`` path)."""

    def __init__(self, make: Any) -> None:
        self._make, self._done, self._value = make, False, None

    def get(self) -> Any:
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value


class _StandInLoader:
    """The train loop's dataloader: the dataset ``build_check`` built, one batch long (a loop reads its length)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Any:
        return iter(())


def _train_loop(cfg: Any, train_dataset: Any) -> Any:
    """The train loop built from ``train_cfg`` as ``Runner.build_train_loop`` builds it, on a stand-in runner and
    dataloader (:class:`_StandInLoader`): the attributes its constructor sets, for resolving ``train_loop.*``
    paths. ``None`` where it cannot be built so (no ``train_cfg``; a loop class whose constructor reads more of the
    runner, or a ``train_cfg`` it refuses, which the runner reports): those paths are left to the workers."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

    from automl_mm.registry import LOOPS

    node = cfg.get('train_cfg') if cfg is not None else None
    if not isinstance(node, dict):
        return None
    node = copy.deepcopy(dict(node))
    runner = SimpleNamespace(_randomness_cfg={}, seed=0, visualizer=SimpleNamespace(dataset_meta=None))
    args = dict(runner=runner, dataloader=_StandInLoader(train_dataset))
    try:
        with DefaultScope.overwrite_default_scope(config_scope(cfg)):
            if 'type' in node:
                return LOOPS.build(node, default_args=args)
            cls = EpochBasedTrainLoop if node.pop('by_epoch', True) else IterBasedTrainLoop
            return cls(**node, **args)
    except Exception:  # noqa: BLE001  (left to the workers' runner, which builds the real loop and names its error)
        return None


class _QuietLogger:
    """The stand-in's logger: the workers log the resume's warnings themselves."""

    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = warning


def check_ohl_resume(cfg: Any, hooks: list, model: Any, train_dataset: Any) -> None:
    """Refuse, before the copies start, a resume (``resume=True`` with a local ``load_from``) that the OHL hook
    would refuse in every worker once the checkpoint is loaded (:func:`~automl_mm.ohl.resume.load_search_state`:
    another ``num_copies``, ``ranks_per_copy``, trunk length, seed, space, controller or reward setting, a partial
    last trunk followed by more training): the checkpoint's OHL state is read here (its tensors mapped, not read)
    and checked against the hook :func:`~automl_mm.engine.preflight.build_check` built and resolved.

    Raises:
        ConfigCheckError: naming ``load_from`` and, as the worker does, the setting and the hook's config entry.
    """
    from mmengine.runner import IterBasedTrainLoop

    from automl_mm.engine.checkpoint import safe_torch_load
    from automl_mm.engine.run_info import naming_hook_in_config
    from automl_mm.ohl.copies import find_ohl_hook
    from automl_mm.ohl.resume import load_search_state

    path = cfg.get('load_from')
    found = find_ohl_hook(hooks)
    if not cfg.get('resume') or not isinstance(path, str) or '://' in path or not osp.isfile(path) or found is None:
        return
    hook = found[1]
    if not getattr(hook, '_resolved', False):
        return  # its spaces read what this check does not build: left to the workers
    try:
        checkpoint = safe_torch_load(path, map_location='cpu', mmap=True)
    except RuntimeError:  # torch maps zip checkpoints only; a legacy one is read whole
        checkpoint = safe_torch_load(path, map_location='cpu')
    meta = checkpoint.get('meta') or {}
    found_loop = _loop(cfg, config_scope(cfg))
    max_iters = 0  # unknown: the check of a partial last trunk is left to the workers
    if found_loop is not None:
        loop, max_epochs, loop_iters = found_loop
        if isinstance(loop, IterBasedTrainLoop):
            max_iters = loop_iters
        elif _positive_int(max_epochs) and meta.get('epoch') and int(meta.get('iter') or 0) % int(meta['epoch']) == 0:
            max_iters = max_epochs * (int(meta['iter']) // int(meta['epoch']))  # the checkpoint's epoch length
    runner = SimpleNamespace(cfg=cfg, _resume=True, logger=_QuietLogger(), model=model, hooks=hooks,
                             train_dataloader=SimpleNamespace(dataset=train_dataset), max_iters=max_iters or 0)
    try:
        with naming_hook_in_config(runner, hook):
            load_search_state(hook, runner, dict(checkpoint))
    except ValueError as err:
        raise ConfigCheckError(f'resuming {path!r}: {err}') from None


def check_config_relations(cfg: Any, hooks: list, model: Any, optimisation: tuple[Any, Any] | None,
                           train_dataset: Any, eval_datasets: dict[str, Any] | None = None,
                           ordered: _Lazy | None = None, options: dict | None = None) -> None:
    """Refuse, before any worker starts, what the hooks of ``custom_hooks`` would write that breaks a relation a
    class holds between two settings (:mod:`automl_mm.ohl.constructor_relations`: ``min_mag <= max_mag``,
    ``begin < end``), with the functions and messages of the workers' checks, on a stand-in runner holding what
    :func:`~automl_mm.engine.preflight.build_check` built (the model, the optimiser wrapper and parameter schedulers,
    each split's dataset): a ``SetAttributesHook``'s values and each trunk's values of a ``TrunkScheduleHook``
    (``check_written_relations``, as their ``before_train``), and every combination of an ``OHLHook``'s spaces'
    choices (``check_choice_relations``, as ``OHLHook.before_train``; its spaces resolved by ``build_check``).
    Each ran only in every worker, after start-up. The stand-in's ``hooks`` are the hooks in the order the runner will
    hold them (:func:`runner_hook_order`, from ``ordered``, the start's :func:`deferred_hook_order` of ``hooks``,
    where given; computed on the first read), which a ``hooks.<i>`` path indexes. A path through an object not built
    here (a dataloader's own attributes) is left to the workers.
    A relation with the run's length (an ``EMAHook``'s ``begin_epoch <= max_epochs``) reads ``train_cfg``'s
    ``max_epochs`` / ``max_iters`` where it gives them; the config's own values are held to those relations too
    (:func:`check_own_lengths`: refused or warned of, in one warning with the spans ``options``, the tool's
    ``--cfg-options``, leave behind).

    Raises:
        ConfigCheckError: ``custom_hooks[<i>] (<type>): <the workers' message>``; as :func:`check_own_lengths`.
    """
    from automl_mm.ohl.constructor_relations import (
        check_choice_relations,
        check_written_relations,
        written_settings,
    )
    from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook

    wrapper, schedulers = optimisation if optimisation is not None else (None, [])
    entries = list(cfg.get('custom_hooks') or [])
    if ordered is None:
        ordered = deferred_hook_order(cfg, hooks[:len(entries)])
    # where a hooks.<i> path indexes them: the hooks as the runner will hold them, not in the config's order
    # the run's length as train_cfg gives it (an epoch-based loop's max_iters is left to the workers' runner)
    found_loop = _loop(cfg, config_scope(cfg))
    max_epochs, max_iters = found_loop[1:] if found_loop is not None else (None, None)
    runner = _OrderedHooksRunner(ordered, model=model, optim_wrapper=wrapper, param_schedulers=schedulers, cfg=cfg,
                                 max_epochs=max_epochs, max_iters=max_iters,
                                 **_split_holders(train_dataset, eval_datasets))
    writes: list[str] = []  # the paths the run's hooks write: the config's own values there are not trained with
    for i, hook in enumerate(hooks[:len(entries)]):
        if isinstance(hook, (SetAttributesHook, TrunkScheduleHook)):
            writes += list(hook.values)
        elif getattr(hook, '_resolved', False) and getattr(hook, 'spaces', None):
            writes += [path for space in hook.spaces for path in getattr(space, 'targets', None) or []]
        try:
            if isinstance(hook, SetAttributesHook):
                check_written_relations(runner, hook.values, 'SetAttributesHook')
            elif isinstance(hook, TrunkScheduleHook):
                for trunk in range(max(len(v) for v in hook.values.values())):
                    step = {path: values[min(trunk, len(values) - 1)] for path, values in hook.values.items()}
                    check_written_relations(runner, step, f'TrunkScheduleHook: trunk {trunk}')
            elif getattr(hook, '_resolved', False) and getattr(hook, 'spaces', None):
                check_choice_relations(runner, hook.spaces)
        except ValueError as err:
            raise _refuse(f'custom_hooks[{i}]', entries[i], err) from None
    written = written_settings(runner, writes)
    if found_loop is not None:  # (the stand-in runner has no train loop: its paths read as written)
        written[id(found_loop[0])] = {path.split('.')[1] for path in writes
                                      if path.startswith('train_loop.') and path.count('.') >= 1}
    # what a SetAttributesHook writes in before_train before a later hook of the runner's order runs its own (the
    # order computed only where one is there)
    setters = [hook for hook in hooks[:len(entries)] if isinstance(hook, SetAttributesHook)]
    at = {id(hook): i for i, hook in enumerate(runner.hooks)} if setters else {}
    first: dict[int, set[str]] = {}
    for hook in setters:
        for owner, attributes in written_settings(runner, list(hook.values)).items():
            if at.get(owner, -1) > at.get(id(hook), len(at)):
                first.setdefault(owner, set()).update(attributes)
    check_own_lengths(cfg, hooks[:len(entries)], schedulers, found_loop, options, written, first)


def check_own_lengths(cfg: Any, hooks: list, schedulers: Any, found_loop: tuple | None,
                      options: dict | None = None, written: dict[int, set[str]] | None = None,
                      written_before_train: dict[int, set[str]] | None = None) -> list[str]:
    """Hold the config's own values against the run's length, with the relations of
    :mod:`automl_mm.ohl.constructor_relations` that have one (``Relation.run``), on what the start-up check built:
    the hooks of ``custom_hooks``, the parameter schedulers (``schedulers``, as ``check_optimisation`` returns them)
    and the train loop's stand-in (``found_loop``, ``_loop``'s ``(loop, max_epochs, max_iters)``). One that the class
    refuses once training starts (``Relation.start_refused``: an ``EMAHook``'s ``begin_epoch`` past ``max_epochs``,
    which mmengine asserted only in ``before_train``) is refused; the others, which the run silently never reaches (a
    scheduler's ``begin``, a ``PipelineSwitchHook``'s ``switch_epoch``, ``train_cfg.val_begin``, an ``interval``
    longer than the run), are warned of in one warning naming each key (a short smoke run over a config whose
    scheduler starts late may mean it), with the ``param_scheduler`` spans a length ``options`` (the tool's
    ``--cfg-options``) sets leaves behind (:func:`~automl_mm.engine.preflight_schedule_span.warn_schedule_span`:
    one warning per run). Lengths are ``train_cfg``'s ``max_epochs`` / ``max_iters`` (an epoch-based run's
    iterations are not known here: those relations are not held). ``written``: ``{id(owner): attributes}`` a hook
    of the run writes (a ``SetAttributesHook`` writes an ``EMAHook``'s ``begin_epoch`` before its ``before_train``
    asserts it): their relations are held on the written values, not the config's; a relation the class refuses
    at start only for ``written_before_train`` (``{id(owner): attributes}`` a ``SetAttributesHook`` earlier in the
    runner's order writes in ``before_train``: an ``EMAHook``'s ``begin_epoch``, asserted there; a
    ``TrunkScheduleHook`` or OHL space writes after it).

    Returns:
        The messages warned of (empty: nothing warned).

    Raises:
        ConfigCheckError: ``<key>.<setting>=<value> and train_cfg.<length>=<n> break <relation> (<class>, <key>):
            <consequence>; <who refuses it at start>``.
    """
    from automl_mm.ohl.constructor_relations import own_length_problems

    from .preflight_schedule_span import warn_schedule_span
    from .preflight_training import _scheduler_nodes

    if found_loop is None:
        return warn_schedule_span(cfg, options or {})
    loop, max_epochs, max_iters = found_loop
    lengths = {'max_epochs': max_epochs, 'max_iters': max_iters}
    owners: list[tuple[str, Any, dict]] = [(f'custom_hooks[{i}].', hook, {}) for i, hook in enumerate(hooks)]
    nodes = cfg.get('param_scheduler')
    for name, built in (schedulers.items() if isinstance(schedulers, dict) else [(None, schedulers or [])]):
        chosen = nodes[name] if name is not None and isinstance(nodes, dict) and name in nodes else nodes
        where = f'param_scheduler.{name}' if chosen is not nodes else 'param_scheduler'
        # (built over an epoch of 1 iteration: a converted scheduler's begin is still in epochs, as its config says)
        owners += [(f'{key}.', scheduler, {'by_epoch': bool(node.get('by_epoch', True))})
                   for (node, key), scheduler in zip(_scheduler_nodes(chosen, where), built)]
    owners.append(('train_cfg.', loop, {}))
    warned = []
    for prefix, owner, held in owners:
        for relation, message in own_length_problems(
                owner, prefix, lengths, held, (written or {}).get(id(owner), ()),
                {'before_train': (written_before_train or {}).get(id(owner), ())}):
            if relation.start_refused:
                raise ConfigCheckError(f'{message}; {relation.start_refused}')
            warned.append(message)
    return warn_schedule_span(cfg, options or {}, warned)


def deferred_hook_order(cfg: Any, hooks: list) -> _Lazy:
    """:func:`runner_hook_order` of ``hooks`` (those :func:`~automl_mm.engine.preflight.build_check` built from
    ``custom_hooks``), computed at the first ``get()`` and kept: one start computes it once, for the OHL hooks'
    targets (:func:`check_ohl_model`), the replay hooks' paths (:func:`check_replay_paths`) and the relations
    (:func:`check_config_relations`), and not at all where no check reads it."""
    return _Lazy(lambda: runner_hook_order(cfg, hooks))


class _OrderedHooksRunner(SimpleNamespace):
    """A stand-in runner whose ``hooks`` are those of a :func:`deferred_hook_order`, in the runner's order, computed
    on the first read of ``hooks`` (the other attributes as given)."""

    def __init__(self, ordered: _Lazy, **attributes: Any) -> None:
        super().__init__(**attributes)
        self._ordered = ordered

    @property
    def hooks(self) -> list:
        return [hook for _, hook in self._ordered.get()]


def _check_hook_path(ordered: list[tuple[str, Any]], path: str, space: Any, model: Any,
                     values: list | None = None) -> None:
    """Resolve ``hooks.<index>...`` on the hooks in the runner's order (:func:`runner_hook_order`) and check the
    space's draws against the target's range (``AttributeSpace.check_choices``), as ``AttributeSpace.setup`` does in
    every worker, or a replay hook's ``values`` (one per trunk), as its ``before_train`` does
    (``check_written_value``, ``check_value``); an ``EMAHook``'s ``ema_model``, which it builds in ``before_run``, is
    built here on ``model``, once per hook (the hook built from ``custom_hooks``; dropped with it when the check ends).
    Cost: mmengine's averaged model deep-copies the model, not built again: 0.08 s and 47 MB of peak memory for the
    12.3M-parameter Faster R-CNN R-18 of ``configs/baselines``, only for a path through ``ema_model``.

    Raises:
        ValueError: an index past the list, or a path the hook at the index does not have, naming that hook, its
            config key and the runner's order; a hook named by its class (``hooks.EMAHook.ema_model.momentum``)
            with the index path to write; a draw outside the target's range.
    """
    from mmengine.hooks import EMAHook

    from automl_mm.ohl.attributes import get_attribute

    parts = path.split('.')
    if len(parts) < 2 or parts[1] == '*':
        return  # hooks.*...: left to the workers
    if not parts[1].isdigit():  # hooks.EMAHook...: get_attribute's refusal with the index to write (where the runner
        # will hold it), which every worker gave after start-up
        get_attribute(SimpleNamespace(hooks=[hook for _, hook in ordered]), path)
        return  # a form it reads (none known): left to the workers
    order = ', '.join(f'{i} {type(hook).__name__} ({key})' for i, (key, hook) in enumerate(ordered))
    where = ("the runner holds its hooks in priority order (mmengine's Runner.register_hook: default_hooks, then "
             f'custom_hooks, then those automl_mm registers after the runner is built): {order}')
    index = int(parts[1])
    if index >= len(ordered):
        raise ValueError(f'attribute path {path!r}: the runner will hold {len(ordered)} hooks, so no index {index}; '
                         f'{where}')
    key, hook = ordered[index]
    if hook in _WITHOUT_STATE and len(parts) > 2:
        return  # a path into what a stand-in lacks (a search loop's, through its state hook): left to the workers
    if isinstance(hook, EMAHook) and parts[2:3] == ['ema_model'] and getattr(hook, 'ema_model', None) is None \
            and model is not None:
        hook.before_run(SimpleNamespace(model=model))  # its average model, as the runner's before_run builds it
    runner = SimpleNamespace(hooks=[hook for _, hook in ordered], model=model)
    try:
        get_attribute(runner, path)
    except ValueError as err:
        raise ValueError(f'{err} (hooks.{index} is {type(hook).__name__}, {key}; {where})') from None
    if callable(getattr(space, 'check_choices', None)):
        space.check_choices(runner, path)
    if values is not None:
        from automl_mm.ohl.attributes import check_written_value
        from automl_mm.ohl.value_ranges import check_value

        for trunk, value in enumerate(values):
            try:
                check_written_value(runner, path, value)
                check_value(runner, path, value)
            except ValueError as err:
                raise ValueError(f'trunk {trunk}: {err}' if len(values) > 1 else str(err)) from None
