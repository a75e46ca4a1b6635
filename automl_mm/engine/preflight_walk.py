"""Walking a config for the preflight checks (:mod:`automl_mm.engine.preflight`): its dataloaders, the datasets
inside them (wrappers included, each with its config key), the transforms of their pipelines (nested ones included,
:func:`pipeline_transforms`), its evaluators' metrics and its COCO files."""
from __future__ import annotations

import os.path as osp
from collections.abc import Iterator
from typing import Any

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader', 'search_dataloader')
_EVALUATORS = ('val_evaluator', 'test_evaluator', 'reward_evaluator', 'search_evaluator')
#: Loaders that are not held out of training (the others: OHL's reward loader, the NAS search loaders).
NOT_HELD_OUT = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: The splits whose evaluation a check can be limited to (``test_only``): ``tools/test.py`` and ``Runner.test`` read
#: ``test_dataloader`` / ``test_evaluator`` / ``test_cfg``, ``Runner.val`` the ``val_*`` ones.
SPLITS = ('val', 'test')


class ConfigCheckError(ValueError):
    """A config setting that cannot work, found before training; the message names the config key."""


def dict_nodes(node: Any, key: str) -> Iterator[tuple[dict, str]]:
    """``(node, config key)`` of every dict below ``node`` (itself included), depth first; list items are keyed
    ``<key>.<i>`` (``model.roi_head.bbox_head.0``)."""
    if isinstance(node, dict):
        yield node, key
        for name, value in node.items():
            yield from dict_nodes(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from dict_nodes(value, f'{key}.{i}')


def typed_nodes(node: Any, key: str) -> Iterator[tuple[dict, str]]:
    """:func:`dict_nodes` whose ``type`` is a name or a class."""
    return ((sub, where) for sub, where in dict_nodes(node, key) if isinstance(sub.get('type'), (str, type)))


def outside_split(key: str, test_only: bool, split: str = 'test') -> bool:
    """Whether a check limited to what evaluating ``split`` reads (``test_only``; ``split`` of :data:`SPLITS`)
    leaves out config key ``key`` (a loader's, an evaluator's or a key under them, e.g.
    ``val_dataloader.dataset.ann_file``): every key but ``{split}_...``; without ``test_only``, none."""
    return test_only and not key.startswith(f'{split}_')


def _datasets(dataset: Any, where: str) -> Iterator[tuple[dict, str]]:
    if not isinstance(dataset, dict):
        return
    yield dataset, where
    if isinstance(dataset.get('dataset'), dict):
        yield from _datasets(dataset['dataset'], f'{where}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _datasets(inner, f'{where}.datasets.{i}')


def pipeline_transforms(pipeline: Any, where: str) -> Iterator[tuple[dict, str]]:
    """Every transform config of ``pipeline`` (a list of transform configs), with its config key, nested ones
    included, each wrapper before what it holds: the transform lists inside wrappers, whatever their argument is
    called (mmcv's ``Compose`` / ``RandomApply`` / ``KeyMapper`` ``transforms``, ``RandomChoice``'s list of lists,
    ``TestTimeAug``'s ``transforms``; mmdet's ``AutoAugment`` ``policies``, ``RandAugment`` ``aug_space``,
    ``MultiBranch``'s branches; automl_mm's ``OHLRandomChoice`` ``transforms``), e.g.
    ``train_dataloader.dataset.pipeline[2].transforms[1][0]``. The one walker of the pipeline checks: a check that
    read the top-level list missed a transform inside any of these."""
    if isinstance(pipeline, dict):
        if 'type' in pipeline:
            yield pipeline, where
        for name, value in pipeline.items():
            if isinstance(value, (list, tuple, dict)):
                yield from pipeline_transforms(value, f'{where}.{name}')
    elif isinstance(pipeline, (list, tuple)):
        for i, value in enumerate(pipeline):
            yield from pipeline_transforms(value, f'{where}[{i}]')


def _built_in(node: dict, scope: str | None) -> str | None:
    """The scope mmengine builds config ``node`` in when the node that builds it is built in ``scope``: its own
    ``_scope_`` (``build_from_cfg`` pops it and switches the default scope to it while the node's class is built,
    and so while that class builds what it holds), else ``scope``. A ``'scope.Type'`` prefix switches nothing."""
    own = node.get('_scope_')
    return own if isinstance(own, str) and own else scope


def scoped_datasets(dataset: Any, where: str, scope: str | None) -> Iterator[tuple[dict, str, str | None]]:
    """``(dataset config, its config key, the scope mmengine builds it in)`` for ``dataset`` and every dataset config
    it wraps (``dataset`` / ``datasets``, each wrapper before what it holds, as :func:`_datasets`): a node's own
    ``_scope_``, else that of the wrapper that builds it, else ``scope`` (the config's ``default_scope``). Resolve
    each with :func:`~automl_mm.registry.config_class` in that scope; give it to
    :func:`scoped_pipeline_transforms` for the dataset's pipeline."""
    if not isinstance(dataset, dict):
        return
    scope = _built_in(dataset, scope)
    yield dataset, where, scope
    if isinstance(dataset.get('dataset'), dict):
        yield from scoped_datasets(dataset['dataset'], f'{where}.dataset', scope)
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from scoped_datasets(inner, f'{where}.datasets.{i}', scope)


def scoped_pipeline_transforms(pipeline: Any, where: str, scope: str | None) -> Iterator[tuple[dict, str, str | None]]:
    """:func:`pipeline_transforms` with the scope mmengine builds each transform in: its own ``_scope_``, else that
    of the wrapper transform that builds it, else ``scope``, the scope its dataset is built in
    (:func:`scoped_datasets`: mmengine's ``BaseDataset`` builds its ``Compose`` pipeline, and mmcv's / mmdet's
    wrappers what they hold, in ``__init__``, while the dataset's ``_scope_`` is the default scope)."""
    if isinstance(pipeline, dict):
        if 'type' in pipeline:
            scope = _built_in(pipeline, scope)
            yield pipeline, where, scope
        for name, value in pipeline.items():
            if isinstance(value, (list, tuple, dict)):
                yield from scoped_pipeline_transforms(value, f'{where}.{name}', scope)
    elif isinstance(pipeline, (list, tuple)):
        for i, value in enumerate(pipeline):
            yield from scoped_pipeline_transforms(value, f'{where}[{i}]', scope)


def scoped_loader_transforms(dataset: Any, where: str, scope: str | None) -> Iterator[tuple[dict, str, str | None]]:
    """``(transform config, its config key, the scope mmengine builds it in)`` of every transform of the pipelines of
    dataset config ``dataset`` (at config key ``where``) and of the datasets it wraps (:func:`scoped_datasets`,
    :func:`scoped_pipeline_transforms`); ``scope``: the config's ``default_scope``."""
    for node, at, built_in in scoped_datasets(dataset, where, scope):
        yield from scoped_pipeline_transforms(node.get('pipeline'), f'{at}.pipeline', built_in)


def scoped_nodes(node: Any, key: str, scope: str | None) -> Iterator[tuple[dict, str, str | None]]:
    """:func:`typed_nodes` (``model.roi_head.bbox_head.0``) with the scope mmengine builds each in: its own
    ``_scope_``, else that of the nearest typed node above it (whose class builds it in ``__init__``, as mmdet's
    detectors build their backbone, heads, losses and assigners), else ``scope`` (the config's ``default_scope``)."""
    if isinstance(node, dict):
        if isinstance(node.get('type'), (str, type)):
            scope = _built_in(node, scope)
            yield node, key, scope
        for name, value in node.items():
            yield from scoped_nodes(value, f'{key}.{name}', scope)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from scoped_nodes(value, f'{key}.{i}', scope)


def _loader_cfgs(cfg: Any) -> Iterator[tuple[dict, str]]:
    for key in _LOADERS:
        if isinstance(cfg.get(key), dict):
            yield cfg[key], key
    train_cfg = cfg.get('train_cfg') or {}
    if isinstance(train_cfg.get('search_dataloader'), dict):
        yield train_cfg['search_dataloader'], 'train_cfg.search_dataloader'
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and isinstance(hook.get('reward_dataloader'), dict):
            yield hook['reward_dataloader'], f'custom_hooks[{i}].reward_dataloader'


def bn_recalibration_loader_cfgs(cfg: Any) -> Iterator[tuple[dict, str]]:
    """``(loader, config key)`` of each ``custom_hooks`` entry's own ``bn_recalibration_dataloader`` (OHL: clean
    training images whose batches re-estimate BN statistics before a reward). Not held out and not in
    :func:`_loader_cfgs` (whose checks are the run's own splits'), but it must read no held-out image."""
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and isinstance(hook.get('bn_recalibration_dataloader'), dict):
            yield hook['bn_recalibration_dataloader'], f'custom_hooks[{i}].bn_recalibration_dataloader'


def bn_recalibration_coco_datasets(cfg: Any) -> Iterator[tuple[dict, str, str]]:
    """:func:`_coco_datasets` of the :func:`bn_recalibration_loader_cfgs` (kept apart: they read training images,
    so the checks of held-out loaders do not apply to them)."""
    for loader, key in bn_recalibration_loader_cfgs(cfg):
        yield from _loader_coco_datasets(loader, f'{key}.dataset', config_scope(cfg))


def _evaluator_cfgs(cfg: Any) -> Iterator[tuple[dict, str]]:
    sources = [(cfg.get(k), k) for k in _EVALUATORS]
    sources.append(((cfg.get('train_cfg') or {}).get('search_evaluator'), 'train_cfg.search_evaluator'))
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict):
            sources.append((hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator'))
    for value, key in sources:
        metrics = value.get('metrics', value) if isinstance(value, dict) and 'metrics' in value else value
        for j, metric in enumerate(metrics if isinstance(metrics, (list, tuple)) else [metrics]):
            if isinstance(metric, dict):
                yield metric, key if not isinstance(metrics, (list, tuple)) else f'{key}[{j}]'


def coco_annotation_files(cfg: Any) -> list[tuple[str, str]]:
    """``(path, config key)`` of every COCO annotation file a config reads (:func:`coco_dataset_class` datasets and
    :func:`coco_metric_class` metrics)."""
    found = [(path, f'{where}.ann_file') for _, where, path in _coco_datasets(cfg)]
    for metric, key in _evaluator_cfgs(cfg):
        if isinstance(metric.get('ann_file'), str) and coco_metric_class(metric, config_scope(cfg)) is not None and \
                not reads_through_backend(metric, metric['ann_file']):
            found.append((metric['ann_file'], f'{key}.ann_file'))
    return found


def cocoeval_metric_files(cfg: Any) -> set[str]:
    """The ``ann_file`` of every metric of a config that scores boxes with pycocotools' ``COCOeval`` against it
    (:func:`cocoeval_metrics`) read from the local disk (:func:`coco_annotation_files`), as real paths."""
    return {osp.realpath(metric['ann_file']) for metric, _ in cocoeval_metrics(cfg)
            if not reads_through_backend(metric, metric['ann_file'])}


def cocoeval_metrics(cfg: Any) -> list[tuple[dict, str]]:
    """``(metric config, its config key)`` of every metric of a config with an ``ann_file`` that pycocotools'
    ``COCOeval`` scores against (mmdet's ``CocoMetric`` and its subclasses but ``LVISMetric``, whose ``LVISEval``
    reads other keys; mmdet's ``CocoMetric`` loads the file through ``get_local_path`` with its ``backend_args``),
    wherever the file is stored: the local disk, a local backend, remote storage."""
    try:
        from mmdet.evaluation import LVISMetric
    except ImportError:
        return []
    scope = config_scope(cfg)
    return [(metric, key) for metric, key in _evaluator_cfgs(cfg)
            if isinstance(metric.get('ann_file'), str) and metric['ann_file'] and
            (cls := coco_metric_class(metric, scope)) is not None and not issubclass(cls, LVISMetric)]


def reads_through_backend(node: Any, path: str) -> bool:
    """Whether a dataset or metric config reads ``path`` through a storage backend rather than the local disk at
    that path: a URI (``s3://...``: mmengine picks the backend by its prefix), a ``backend_args`` of another backend
    than ``'local'`` (mmdet's petrel lines: :func:`remote_backend`), or of a subclass of mmengine's ``LocalBackend``
    (a plugin's local backend may map paths, as petrel's ``path_mapping`` does: the file read need not be at
    ``path``). The checks that read such a path on the local disk (image folders, copies compared by content)
    leave it; its COCO annotation file is read through the backend (:func:`backend_coco_files`)."""
    backend_args = node.get('backend_args') if isinstance(node, dict) else None
    return '://' in path or remote_backend(backend_args) or _local_backend_subclass(backend_args)


def reads_remote_storage(node: Any, path: str) -> bool:
    """Whether a dataset or metric config reads ``path`` from remote storage (a download): a ``backend_args`` of a
    backend that is no ``LocalBackend`` (:func:`remote_backend`: petrel, http, ...), or a URI (``s3://...``,
    ``http://...``) without a ``backend`` (mmengine picks a remote one by its prefix). No check before the run
    reads such a file (the project's stance since the fifty-fifth session: nothing at start reaches remote storage
    beyond what mmdet itself reads); a file of a local backend, a ``LocalBackend`` subclass that maps paths
    included, is read by ``check_config`` (:func:`backend_coco_files`)."""
    backend_args = node.get('backend_args') if isinstance(node, dict) else None
    if remote_backend(backend_args):
        return True
    return '://' in path and not (isinstance(backend_args, dict) and backend_args.get('backend') is not None)


def _local_backend_subclass(backend_args: Any) -> bool:
    """Whether ``backend_args`` chooses a backend of mmengine's registry that is a subclass of its ``LocalBackend``,
    not ``LocalBackend`` itself."""
    if not isinstance(backend_args, dict) or backend_args.get('backend') in (None, 'local', 'disk'):
        return False
    try:
        from mmengine.fileio.backends import LocalBackend
        from mmengine.fileio.backends.registry_utils import backends
    except ImportError:
        return False
    chosen = backends.get(backend_args['backend'])
    return isinstance(chosen, type) and issubclass(chosen, LocalBackend) and chosen is not LocalBackend


def remote_backend(backend_args: Any) -> bool:
    """Whether the backend arguments ``backend_args`` (a dict: ``backend_args`` / ``file_client_args``) choose a file
    backend that is not mmengine's local one: a ``backend`` of mmengine's registry whose class is no
    ``LocalBackend`` (``'petrel'``, ``'http'``, ``'memcached'``, ``'lmdb'``) or one none registers (``'disk'``,
    ``FileClient``'s name of the local one, excepted); ``False`` without ``backend`` (the files' own prefixes choose:
    ``s3://...``)."""
    if not isinstance(backend_args, dict) or backend_args.get('backend') in (None, 'local', 'disk'):
        return False
    try:
        from mmengine.fileio.backends import LocalBackend
        from mmengine.fileio.backends.registry_utils import backends
    except ImportError:  # (an mmengine without the registry: only 'local' is known to be local)
        return True
    chosen = backends.get(backend_args['backend'])
    return not (isinstance(chosen, type) and issubclass(chosen, LocalBackend))


def config_scope(cfg: Any) -> str | None:
    """The registry scope a config's unprefixed types are resolved in by the checks: the one mmengine's ``Runner``
    builds them in (:func:`runner_scope`), so that every check judges the class the run builds. ``None`` (no
    ``default_scope`` at all, or ``default_scope=None``: the runner keeps the current default scope) leaves
    :func:`coco_dataset_class` to try the current default scope, then mmdet's."""
    return runner_scope(cfg)


def runner_scope(cfg: Any) -> str | None:
    """The registry scope mmengine's ``Runner`` builds a config's unprefixed types in: its ``default_scope``;
    ``'mmengine'`` without the key (``Runner.from_cfg`` passes ``cfg.get('default_scope', 'mmengine')``, and the
    runner makes it the current default scope, whose registries are mmengine's roots: an unprefixed automl_mm or mmdet
    type is not found there); ``None`` where the key is ``None`` (the runner then leaves the current default scope as
    it is: :func:`~automl_mm.registry.registered_class` with ``None`` resolves alike)."""
    if not hasattr(cfg, 'get'):
        return None
    return cfg.get('default_scope', 'mmengine') or None


def built_scope(runner: Any) -> str | None:
    """The registry scope a built runner builds in (its hooks, loaders, optimiser wrappers, ...): its own,
    ``runner.default_scope.scope_name``, the ``Runner(default_scope=...)`` argument (``Runner.from_cfg`` passes
    :func:`runner_scope` of its config). Read from the runner's ``cfg`` instead, a runner built directly
    (``Runner(model=..., default_scope='automl_mm', custom_hooks=[...], cfg=dict(custom_hooks=[...]))``, no key in
    ``cfg``) had its types resolved in mmengine's scope, which holds none of automl_mm's.

    Returns:
        The scope's name; ``None`` where the runner has none (``default_scope=None``: the current default scope, as
        :func:`~automl_mm.registry.config_class` resolves with ``None``). An object without ``default_scope`` (a
        runner-like stand-in) gives :func:`runner_scope` of its ``cfg``.
    """
    if not hasattr(runner, 'default_scope'):
        return runner_scope(getattr(runner, 'cfg', None))
    scope = runner.default_scope
    return getattr(scope, 'scope_name', None) or None


def coco_dataset_class(dataset: Any, scope: str | None = None) -> type | None:
    """The class a dataset config builds when it is mmdet's ``CocoDataset`` or a subclass (``LVISV1Dataset``,
    ``Objects365V2Dataset``, ``CityscapesDataset``, ``CocoPanopticDataset``, ...: their ``ann_file`` is a COCO-format
    JSON of ``images`` and ``categories``), else ``None``: another class (``RefCocoDataset``, ``CocoCaptionDataset``,
    ``CocoSegDataset``, whose files are no COCO instance files although their names say COCO), a type no registry
    holds (the build names it) or no mmdet.

    The type is resolved as mmengine builds it (:func:`~automl_mm.registry.registered_class`): in the node's
    ``_scope_``, else ``scope`` (the config's ``default_scope``: :func:`config_scope`); with neither (a loader
    config checked alone, outside a config) in the current default scope, then mmdet's. Selected by the type's name
    (``'coco' in name``) instead, the CocoDataset subclasses of other names missed the COCO checks and the
    ``Coco``-named datasets of other formats were parsed as instance files."""
    try:
        from mmdet.datasets import CocoDataset
    except ImportError:  # mmdet not installed: no COCO dataset is built
        return None
    from automl_mm.registry import DATASETS

    return _subclass(dataset, DATASETS, CocoDataset, scope)


def coco_metric_class(metric: Any, scope: str | None = None) -> type | None:
    """The class a metric config builds when it is mmdet's ``CocoMetric`` or a subclass (``LVISMetric``,
    ``CocoOccludedSeparatedMetric``, ...: its ``ann_file`` is a COCO-format instance file and it scores the images
    by their ids in it), else ``None`` (``COCOCaptionMetric``, ``CocoPanopticMetric``, ``gRefCOCOMetric``: other
    files and rules; a type no registry holds). Resolved as :func:`coco_dataset_class` resolves a dataset."""
    try:
        from mmdet.evaluation import CocoMetric
    except ImportError:  # mmdet not installed: no COCO metric is built
        return None
    from automl_mm.registry import METRICS

    return _subclass(metric, METRICS, CocoMetric, scope)


def _subclass(node: Any, registry: Any, base: type, scope: str | None) -> type | None:
    """The class config ``node`` builds from ``registry`` (:func:`coco_dataset_class` says in which scope) if it is
    ``base`` or a subclass, else ``None``."""
    from automl_mm.registry import config_class

    if not isinstance(node, dict):
        return None
    cls = config_class(registry, node, scope)
    if cls is None and not (node.get('_scope_') or scope) and isinstance(node.get('type'), str):
        cls = config_class(registry, node, 'mmdet')
    return cls if cls is not None and issubclass(cls, base) else None


def _coco_datasets(cfg: Any) -> Iterator[tuple[dict, str, str]]:
    """``(dataset config, its config key, its annotation file)`` of every COCO dataset (:func:`coco_dataset_class`)
    of every dataloader."""
    for loader, key in _loader_cfgs(cfg):
        yield from _loader_coco_datasets(loader, f'{key}.dataset', config_scope(cfg))


def _loader_coco_datasets(loader: Any, where: str = 'dataset',
                          scope: str | None = None) -> Iterator[tuple[dict, str, str]]:
    """``(dataset config, its config key, its annotation file joined with its data_root)`` of every COCO dataset
    (:func:`coco_dataset_class`, each type resolved in the scope mmengine builds it in: its ``_scope_``, else its
    wrapper's, else ``scope``, :func:`scoped_datasets`) of one dataloader config (wrappers looked through) that reads
    it from the local disk (:func:`reads_through_backend`)."""
    for d, key, path, _ in loader_coco_dataset_classes(loader, where, scope):
        yield d, key, path


def loader_coco_dataset_classes(loader: Any, where: str = 'dataset',
                                scope: str | None = None) -> Iterator[tuple[dict, str, str, type]]:
    """:func:`_loader_coco_datasets` with the class each dataset builds (``CocoDataset`` or a subclass), resolved in
    the scope mmengine builds it in. A check that reads the class resolves it no other way: resolved again in its
    own ``_scope_`` or the config's alone, mmdet's ``CocoDataset`` inside ``RepeatDataset(_scope_='mmdet')`` of an
    automl_mm config was no class and the check skipped it."""
    for d, key, path, cls in _every_coco_dataset(loader, where, scope):
        if not reads_through_backend(d, path):
            yield d, key, path, cls


def _every_coco_dataset(loader: Any, where: str, scope: str | None) -> Iterator[tuple[dict, str, str, type]]:
    """``(dataset config, its config key, its annotation file joined with its data_root, its class)`` of every COCO
    dataset of one dataloader config, read from the local disk or through a storage backend."""
    dataset = loader.get('dataset') if isinstance(loader, dict) else None
    for d, key, built_in in scoped_datasets(dataset, where, scope):
        ann_file = d.get('ann_file')
        cls = coco_dataset_class(d, built_in) if isinstance(ann_file, str) and ann_file else None
        if cls is not None:
            root = d.get('data_root') or ''
            path = ann_file if osp.isabs(ann_file) or '://' in ann_file or not root else osp.join(root, ann_file)
            yield d, key, path, cls


def backend_coco_files(cfg: Any) -> Iterator[tuple[str, str, Any, type | None]]:
    """``(path, config key of its ann_file, backend_args, class)`` of every COCO annotation file a config reads
    through a local storage backend (:func:`reads_through_backend`, not :func:`reads_remote_storage`: a
    ``LocalBackend`` subclass, which may map paths): each COCO dataset's of every dataloader, an OHL hook's
    ``bn_recalibration_dataloader``'s included (its class: the dataset's), and each COCO metric's (class ``None``).
    The local-disk checks leave them (:func:`_coco_datasets`, :func:`coco_annotation_files`);
    :func:`~automl_mm.engine.preflight_coco.check_backend_coco_files` reads them through their backend. Files on
    remote storage are not listed: ``check_config`` downloads nothing (the start-up check reads a remote COCO
    dataset's file, :func:`~automl_mm.engine.preflight_loading.check_before_loading`)."""
    scope = config_scope(cfg)
    for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]:
        for d, where, path, cls in _every_coco_dataset(loader, f'{key}.dataset', scope):
            if reads_through_backend(d, path) and not reads_remote_storage(d, path):
                yield path, f'{where}.ann_file', d.get('backend_args'), cls
    for metric, key in _evaluator_cfgs(cfg):
        path = metric.get('ann_file')
        if isinstance(path, str) and path and coco_metric_class(metric, scope) is not None and \
                reads_through_backend(metric, path) and not reads_remote_storage(metric, path):
            yield path, f'{key}.ann_file', metric.get('backend_args'), None


def coco_dataset_classes(cfg: Any, bn_recalibration: bool = False) -> Iterator[tuple[dict, str, str, type]]:
    """:func:`loader_coco_dataset_classes` of every dataloader (:func:`_coco_datasets`), then, with
    ``bn_recalibration``, of the :func:`bn_recalibration_loader_cfgs` (:func:`bn_recalibration_coco_datasets`)."""
    loaders = [*_loader_cfgs(cfg), *(bn_recalibration_loader_cfgs(cfg) if bn_recalibration else ())]
    for loader, key in loaders:
        yield from loader_coco_dataset_classes(loader, f'{key}.dataset', config_scope(cfg))


def loader_coco_files(loader: Any, scope: str | None = None) -> list[str]:
    """The annotation files of the COCO datasets one dataloader config reads, resolved (``osp.realpath``: a file
    reached through a link, or as ``data/`` + ``x/ann.json``, is one file), in order, each once."""
    files: list[str] = []
    for _, _, path in _loader_coco_datasets(loader, scope=scope):
        path = osp.realpath(path)
        if path not in files:
            files.append(path)
    return files


def evaluator_metrics(evaluator: Any) -> list:
    """The metric configs of one evaluator config: a metric, a list of them, or mmengine's
    ``dict(type='Evaluator', metrics=...)``."""
    metrics = evaluator['metrics'] if isinstance(evaluator, dict) and 'metrics' in evaluator else evaluator
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
