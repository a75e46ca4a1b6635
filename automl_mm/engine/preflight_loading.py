"""The loading check of :func:`~automl_mm.engine.preflight_build.build_check`: what a dataset built lazily will read
when its data list loads, checked without loading it.

The start-up build makes every dataset it builds lazy (``lazy_init=True``, wrapped ones included:
:func:`~automl_mm.engine.preflight_build._build_lazily`), so that the data list (a COCO annotation file, an image
folder's listing) is read once per start, by the runner. A file the loading needs that is missing then stopped the
run only in the runner, after the model and hooks were built, with the loader's message (``[Errno 2] No such file
or directory: 'data/voc/ImageSets/Main/trainval.txt'``, ``image folder not found: ...``) and at best the loader's
key (``train_dataloader.dataset``), not the wrapped dataset's. Here each lazily built dataset under a loader's
dataset (through mmengine's ``ConcatDataset`` / ``RepeatDataset`` / ``ClassBalancedDataset``, mmdet's
``MultiImageMixDataset``, automl_mm's ``NoisyLabelDataset``) is checked, naming its config key
(``train_dataloader.dataset.datasets.1.ann_file``) and the file:

* a dataset that says what its loading reads (``check_sources()``: automl_mm's ``ImageFolderDataset``,
  ``CIFAR10Dataset``, ``FashionMNISTDataset`` and ``DigitsDataset``) is asked;
* its ``ann_file`` (``data_root`` joined, as mmengine's ``BaseDataset`` joins it) exists, and is given where the
  loader reads it (mmengine's own ``load_data_list``, mmdet's ``CocoDataset`` and its subclasses);
* the annotation file of an mmdet ``CocoDataset`` (or subclass) that
  :func:`~automl_mm.engine.preflight.check_config` did not read (``cfg`` not given, or a type it could not resolve)
  is valid JSON with images and categories (:func:`~automl_mm.datasets.coco_split.check_coco_annotation_file`): a
  check read of the JSON, not a second ``load_data_list``. The files ``check_config`` read (every
  :func:`~automl_mm.engine.preflight_walk.coco_dataset_class`, ``LVISV1Dataset`` and ``CityscapesDataset``
  included) are not read again.

Files read through a storage backend (a URI, a ``backend_args`` of a non-local backend or of a subclass of
mmengine's ``LocalBackend``, where the dataset's class reads its ``ann_file`` through them:
:func:`~automl_mm.engine.ann_file_backend.reads_ann_file_through_backend`) are not looked for on the local disk; a
COCO one that ``check_config`` did not read (on remote storage, which ``check_config`` never downloads) is read
through its backend, as mmdet reads it, once per start (:func:`_check_backend_coco_file`), as is a remote
``CocoMetric`` file (:func:`check_remote_metric_files`, the read shared with a dataset's of the same file). The
start-up build runs before the copies of a multi-copy run and before a one-process run's runner; a rank of a
launcher (and ``tools/test.py``, for its test split) runs its data part alone,
:func:`~automl_mm.engine.preflight_build.check_data_sources`, before building its runner. A missing ``ann_file`` is
also checked from the config by :func:`check_data_files`, part of
:func:`~automl_mm.engine.preflight.check_config`, which every run makes.
"""
from __future__ import annotations

import functools
import os
import os.path as osp
from collections.abc import Iterator
from typing import Any

from .preflight_coco import read_identity
from .preflight_walk import ConfigCheckError


def lazy_leaves(dataset: Any, where: str) -> Iterator[tuple[Any, str]]:
    """``(dataset, config key)`` of every dataset under the built ``dataset`` (itself included) that is not a
    wrapper, wrappers looked through: a wrapper's ``datasets`` list (mmengine's ``ConcatDataset``) as
    ``<where>.datasets.<i>`` (the config walkers' keys, which ``--cfg-options`` takes), its ``dataset``
    (``RepeatDataset``, ``ClassBalancedDataset``, mmdet's ``MultiImageMixDataset``, ``NoisyLabelDataset``) as
    ``<where>.dataset``, in the config's order."""
    from mmengine.dataset import BaseDataset

    if not isinstance(dataset, BaseDataset):
        parts = getattr(dataset, 'datasets', None)
        if isinstance(parts, (list, tuple)):
            for i, part in enumerate(parts):
                yield from lazy_leaves(part, f'{where}.datasets.{i}')
            return
        inner = getattr(dataset, 'dataset', None)
        if inner is not None:
            yield from lazy_leaves(inner, f'{where}.dataset')
            return
    yield dataset, where


def check_before_loading(dataset: Any, where: str, cfg: Any = None, reads: StartReads | None = None) -> None:
    """Check what each dataset under the built ``dataset`` (config key ``where``, e.g. ``train_dataloader.dataset``)
    that has not loaded its data list yet will read when it does (module docstring); loaded ones raised when built
    (a COCO one loaded from remote storage, as mmdet's ``MultiImageMixDataset`` loads what it wraps, still has its
    file checked, :func:`_check_backend_coco_file`: ``check_config`` did not read it).

    Args:
        dataset: The built dataset (a wrapper or not).
        where: Its config key.
        cfg: The config, for the command that makes a missing generated set
            (:func:`~automl_mm.engine.preflight_data_hint.generator_hint`) and the COCO files
            :func:`~automl_mm.engine.preflight.check_config` reads already; ``None``: neither.
        reads: The start-up check's reads of files through a storage backend (:func:`start_backend_reads` of
            ``cfg``), shared with its other datasets and metrics; ``None``: a start of this dataset alone.

    Raises:
        ConfigCheckError: a file or folder the loading reads is missing or unreadable, naming the wrapped
            dataset's key and the path.
    """
    reads = reads if reads is not None else StartReads(cfg)
    checked = reads.checked
    for leaf, key in lazy_leaves(dataset, where):
        if getattr(leaf, '_fully_initialized', True):
            # (loaded when built: mmdet's MultiImageMixDataset loads what it wraps; a COCO file on remote storage,
            # which check_config did not read, is still checked: its polygons where masks are read)
            if _is_coco(leaf) and isinstance(leaf.ann_file, str) and leaf.ann_file and \
                    read_identity(leaf.ann_file, getattr(leaf, 'backend_args', None)) not in checked:
                from .preflight_walk import reads_through_backend

                if reads_through_backend(dict(backend_args=getattr(leaf, 'backend_args', None)), leaf.ann_file):
                    _check_backend_coco_file(leaf, key, leaf.ann_file, getattr(leaf, 'backend_args', None), reads)
            continue
        check = getattr(leaf, 'check_sources', None)
        if callable(check):
            try:
                check()
            except (OSError, ValueError) as err:
                raise ConfigCheckError(f'{argument_key(err, key)}: {err}') from None
        _check_ann_file(leaf, key, cfg, checked, reads)


def argument_key(err: BaseException, key: str) -> str:
    """The config key of the dataset argument ``err`` refuses (the dataset's ``of_argument`` mark,
    :func:`automl_mm.datasets.splits.of_argument`: ``train_dataloader.dataset.data_root``), else the dataset's
    ``key``."""
    argument = getattr(err, 'config_argument', None)
    return f'{key}.{argument}' if isinstance(argument, str) and argument else key


def _coco_files_checked(cfg: Any) -> set[tuple]:
    """The COCO annotation files ``check_config`` reads, keyed by the local file each resolves to
    (:func:`~automl_mm.engine.preflight_coco.read_identity`: one file reached as a plain path and through a local
    backend is one)."""
    if cfg is None:
        return set()
    from .preflight_walk import backend_coco_files, coco_annotation_files

    return ({read_identity(path) for path, _ in coco_annotation_files(cfg)} |
            {read_identity(path, backend_args) for path, _, backend_args, _ in backend_coco_files(cfg)}) - {None}
    # (None: a file that cannot be stat-ed, not read; kept, it matched every other such file as "checked")


def _reads_ann_file(dataset: Any) -> bool:
    """Whether loading ``dataset`` reads its ``ann_file``: mmengine's own ``BaseDataset.load_data_list`` (its JSON
    format) and mmdet's ``CocoDataset`` and its subclasses do; a class's own ``load_data_list`` may not (automl_mm's
    datasets, an image-folder dataset)."""
    from mmengine.dataset import BaseDataset

    return type(dataset).load_data_list is BaseDataset.load_data_list or _is_coco(dataset)


def _is_coco(dataset: Any) -> bool:
    try:
        from mmdet.datasets import CocoDataset
    except ImportError:  # mmdet not installed: no COCO dataset to check
        return False
    return isinstance(dataset, CocoDataset)


def _check_ann_file(dataset: Any, key: str, cfg: Any, checked: set[str], reads: StartReads) -> None:
    """The ``ann_file`` of the lazily built ``dataset`` (config key ``key``) exists where its loading reads it."""
    path = getattr(dataset, 'ann_file', None)
    if not isinstance(path, str):
        return
    from .ann_file_backend import never_reads_ann_file, reads_ann_file_through_backend

    if never_reads_ann_file(type(dataset)):  # (mmdet's ADE20KSegDataset / CocoSegDataset: an ann_file given is unused)
        return
    backend_args = getattr(dataset, 'backend_args', None)
    # (a class that reads it from the local disk whatever its backend_args, e.g. mmengine's BaseDataset: looked for)
    if reads_ann_file_through_backend(type(dataset), backend_args, path):
        if path and _is_coco(dataset) and read_identity(path, backend_args) not in checked:  # as mmdet reads it
            _check_backend_coco_file(dataset, key, path, backend_args, reads)
        return  # the rest is the storage backend's to find
    name = type(dataset).__name__
    if not path:
        if _reads_ann_file(dataset):
            raise ConfigCheckError(f'{key}.ann_file is not given, but {name} reads its data list from it: give the '
                                   'annotation file (under data_root)')
        return
    if not osp.exists(path):
        from .preflight_data_hint import missing_file_hint

        hint = missing_file_hint(cfg, path) if cfg is not None else ''
        raise ConfigCheckError(f'{key}.ann_file: the annotation file {path} (data_root + ann_file) of {name} does '
                               f'not exist{_no_folder(path)}{hint}')
    if _is_coco(dataset) and read_identity(path) not in checked:
        from .preflight_coco import read_coco_file

        try:
            read_coco_file(path, {}, lambda coco: None, masks_read=_reads_masks(dataset, key, reads))  # (nothing kept)
        except ValueError as err:
            raise ConfigCheckError(f'{key}.ann_file: {err}') from None


class StartReads:
    """The state of one start-up check (:func:`start_backend_reads`) of the config ``cfg``, passed along its checks
    of lazily built datasets and remote metric files:

    * ``read``: :func:`~automl_mm.engine.preflight_coco.read_coco_file`'s ``parsed`` of the COCO files read through
      a storage backend (each file's :func:`~automl_mm.engine.preflight_coco.backend_summary`), shared by the
      datasets' and the metrics' checks;
    * ``mask_keys``: the ``ann_file`` keys of ``cfg`` whose file masks are read from
      (:func:`~automl_mm.engine.preflight_coco.mask_reading_keys`), walked once per start, not once per dataset;
    * ``masked``: the :func:`~automl_mm.engine.preflight_coco.read_identity` of the files a key of the started split
      reads masks from (:func:`_mask_read_files`);
    * ``checked``: those of the files ``check_config`` reads (:func:`_coco_files_checked`), which the lazily built
      datasets' check does not read again, also listed once per start.

    Module state keyed by the config's identity held them until the sixtieth session, so a second config (or another
    at a freed one's address) in the same process could share the reads of another.
    """

    def __init__(self, cfg: Any = None, test_only: bool = False, split: str = 'test') -> None:
        self.cfg = cfg
        self.test_only, self.split = test_only, split
        self.read: dict[tuple, Any] = {}

    @functools.cached_property
    def mask_keys(self) -> set[str]:
        from .preflight_coco import mask_reading_keys

        return mask_reading_keys(self.cfg) if self.cfg is not None else set()

    @functools.cached_property
    def masked(self) -> set[tuple]:
        return _mask_read_files(self.cfg, self.mask_keys, self.test_only, self.split)

    @functools.cached_property
    def checked(self) -> set[tuple]:
        return _coco_files_checked(self.cfg)


def start_backend_reads(cfg: Any, test_only: bool = False, split: str = 'test') -> StartReads:
    """Begin a start's checks of ``cfg``'s lazily built datasets and remote metric files (with ``test_only``,
    ``{split}``'s alone): the state to pass to :func:`check_before_loading` and :func:`check_remote_metric_files`,
    with which the COCO files read through a backend are read once for the start (:func:`_backend_file_summary`),
    and again by the next start, as the files may have changed since."""
    return StartReads(cfg, test_only, split)


def _mask_read_files(cfg: Any, mask_keys: set[str], test_only: bool, split: str) -> set[tuple]:
    """The :func:`~automl_mm.engine.preflight_coco.read_identity` of each COCO file a key of ``cfg`` in the started
    split reads masks from (``mask_keys``: :func:`~automl_mm.engine.preflight_coco.mask_reading_keys`): a polygon
    pycocotools cannot rasterise in such a file is refused at that key, so a box-only key reading the file first is
    not warned of it as well."""
    if cfg is None:
        return set()
    from .preflight_walk import (
        _evaluator_cfgs,
        _every_coco_dataset,
        _loader_cfgs,
        bn_recalibration_loader_cfgs,
        config_scope,
        outside_split,
    )

    keys = {key for key in mask_keys if not outside_split(key, test_only, split)}
    files = {read_identity(path, d.get('backend_args'))
             for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]
             for d, where, path, _ in _every_coco_dataset(loader, f'{key}.dataset', config_scope(cfg))
             if f'{where}.ann_file' in keys}
    return (files | {read_identity(metric['ann_file'], metric.get('backend_args'))
                     for metric, key in _evaluator_cfgs(cfg) if f'{key}.ann_file' in keys}) - {None}


def _reads_masks(dataset: Any, key: str, reads: StartReads) -> bool:
    """Whether the built ``dataset`` (config key ``key``) has its masks read: a transform of its pipeline loads
    them (``with_mask``, mmdet's ``LoadAnnotations``), or the started config reads them from its file
    (``reads.mask_keys``, :func:`~automl_mm.engine.preflight_coco.mask_reading_keys`: its split's ``segm``
    metric)."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', None) or []
    return any(getattr(t, 'with_mask', False) is True for t in transforms) or f'{key}.ann_file' in reads.mask_keys


def _backend_file_summary(key: str, path: str, backend_args: Any, reads: StartReads, masks_read: bool) -> Any:
    """:func:`~automl_mm.engine.preflight_coco.backend_summary` of the COCO file ``path`` read through
    ``backend_args`` for ``key`` (an ``ann_file`` key), once per file and ``backend_args`` for a start (``reads``:
    a dataset and a metric reading one file share the read); the polygon refusal where ``masks_read``
    (:func:`~automl_mm.engine.preflight_coco.read_coco_file`).

    Raises:
        ConfigCheckError: naming ``key``, the file and what is wrong.
    """
    from .preflight_coco import backend_summary, read_coco_file

    try:
        return read_coco_file(path, reads.read, backend_summary, backend_args=backend_args,
                              masks_read=masks_read, warn=read_identity(path, backend_args) not in reads.masked)
    except ValueError as err:
        raise ConfigCheckError(f'{key}: {err}') from None


def _check_backend_coco_file(dataset: Any, key: str, path: str, backend_args: Any, reads: StartReads) -> None:
    """The COCO annotation file ``path`` of the lazily built ``dataset`` (config key ``key``), which
    ``check_config`` did not read (remote storage, :func:`~automl_mm.engine.preflight_walk.reads_remote_storage`,
    or ``cfg`` not given), read through its backend as mmdet reads it, and checked as ``check_config`` checks
    local ones: the file and its entries (a polygon pycocotools cannot rasterise where masks are read,
    :func:`_reads_masks`), and its images' ``width`` / ``height`` where the dataset's class reads them. Read once
    per file and ``backend_args`` for a start (``reads``: its val and test loaders share a file, and a ``CocoMetric``
    reading it too, :func:`check_remote_metric_files`): one read more than mmdet's own ``CocoDataset`` build makes
    (``get_local_path``'s temporary copy is not kept for it). A file on remote storage is read by one rank of a
    launcher's several (rank 0: the storage is the same for every rank), not by each (``tools/train.py`` checks
    each rank's own files under a launcher).

    Raises:
        ConfigCheckError: naming ``key``'s ``ann_file``, the file and what is wrong.
    """
    from mmdet.datasets import CocoDataset, CocoPanopticDataset

    from .preflight_coco import _sizeless_message
    from .preflight_walk import reads_remote_storage
    from .tool_errors import _rank_of_several

    if reads_remote_storage(dict(backend_args=backend_args), path) and _rank_of_several() not in (None, 0):
        return  # rank 0 reads it
    sizeless, _ = _backend_file_summary(f'{key}.ann_file', path, backend_args, reads, _reads_masks(dataset, key, reads))
    cls = type(dataset)
    if sizeless is not None and \
            cls.parse_data_info in (CocoDataset.parse_data_info, CocoPanopticDataset.parse_data_info):
        raise ConfigCheckError(_sizeless_message(f'{key}.ann_file', path, cls, sizeless))


def check_remote_metric_files(cfg: Any, test_only: bool = False, split: str = 'test',
                              reads: StartReads | None = None) -> None:
    """The ``ann_file`` of each ``CocoMetric`` of ``cfg`` (its subclasses but ``LVISMetric``,
    :func:`~automl_mm.engine.preflight_walk.cocoeval_metrics`; with ``test_only``, ``{split}_evaluator``'s alone)
    on remote storage (:func:`~automl_mm.engine.preflight_walk.reads_remote_storage`: petrel, http, ``s3://``),
    which ``check_config`` never downloads: read through its ``backend_args`` as mmdet's ``CocoMetric`` reads it
    (``get_local_path``), and refused where ``COCOeval`` fails on an annotation of it
    (:func:`~automl_mm.datasets.coco_split.first_cocoeval_problem`: no ``iscrowd``: ``KeyError`` at the first
    evaluation, an epoch in), as a local one is, or it holds a polygon pycocotools cannot rasterise and the metric
    is a ``segm`` one. Part of the start-up check (:func:`~automl_mm.engine.preflight_build.check_data_sources`,
    :func:`~automl_mm.engine.preflight_build.build_check`), after the datasets': read once per start, by rank 0 of
    a launcher's several, and not again where a dataset's check read the same file with the same ``backend_args``
    (the val and test loaders' file, usually: ``reads``, the start's :func:`start_backend_reads` of ``cfg``;
    ``None``: a start of the metrics alone). Cost: one read more than the metric's own construction makes.

    Raises:
        ConfigCheckError: naming the metric's ``ann_file`` key, the file and what is wrong (the file missing or
            not readable through its backend included).
    """
    from .preflight_coco import cocoeval_message
    from .preflight_walk import cocoeval_metrics, outside_split, reads_remote_storage
    from .tool_errors import _rank_of_several

    remote = [(metric, key) for metric, key in cocoeval_metrics(cfg)
              if reads_remote_storage(metric, metric['ann_file']) and not outside_split(key, test_only, split)]
    if not remote or _rank_of_several() not in (None, 0):
        return  # rank 0 reads them, for every rank
    reads = reads if reads is not None else start_backend_reads(cfg, test_only, split)
    for metric, key in remote:
        path = metric['ann_file']
        _, unscorable = _backend_file_summary(f'{key}.ann_file', path, metric.get('backend_args'), reads,
                                              f'{key}.ann_file' in reads.mask_keys)
        if unscorable is not None:
            raise ConfigCheckError(cocoeval_message(f'{key}.ann_file', path, unscorable))


def check_data_files(cfg: Any, scope: str | None, test_only: bool, split: str = 'test') -> None:
    """The annotation files a loader's datasets read when their data list loads, checked from the config alone (part
    of :func:`~automl_mm.engine.preflight.check_config`, which every run makes, single-process and distributed ones
    included, and every check of a config alone): each dataset under a loader's dataset (an OHL hook's
    ``bn_recalibration_dataloader`` included, which the hook builds at ``before_train``; wrappers looked through)
    whose ``ann_file`` (``data_root`` joined, as mmengine joins it) does not exist. Without it a single-process run
    built its model and hooks and stopped when the runner's train loop built the loader
    (``[Errno 2] No such file or directory: '.../ImageSets/Main/trainval.txt'``), naming at best the loader. COCO
    datasets (:func:`~automl_mm.engine.preflight_walk.coco_dataset_class`) are left to ``check_config``'s
    annotation-file check, a dataset that never reads
    its ``ann_file`` (:func:`~automl_mm.engine.ann_file_backend.never_reads_ann_file`: ``UNREAD_BASE_KEYS``,
    automl_mm's generated / folder / CIFAR sets, to the build's refusal of it; mmdet's ``ADE20KSegDataset`` and
    ``CocoSegDataset``, which list their image folder, not looked for), files read through a storage backend to
    the loader (not one its class reads from the local disk whatever its ``backend_args``:
    :func:`~automl_mm.engine.ann_file_backend.reads_ann_file_through_backend`), and a type no
    registry holds to the build. (An image
    folder's or CIFAR-10's files are checked by the start-up build only: the config check passes configs of data
    not on this machine; the tools check them before building a runner,
    :func:`~automl_mm.engine.preflight_build.check_data_sources`.)

    Raises:
        ConfigCheckError: naming the dataset's key (``train_dataloader.dataset.datasets.1.ann_file``) and the path.
    """
    from mmengine.dataset import BaseDataset

    from .ann_file_backend import never_reads_ann_file, reads_ann_file_through_backend
    from .preflight_classes import _dataset_class
    from .preflight_walk import (
        _loader_cfgs,
        bn_recalibration_loader_cfgs,
        coco_dataset_class,
        config_scope,
        outside_split,
        scoped_datasets,
    )

    for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]:
        if outside_split(key, test_only, split) or not isinstance(loader, dict):
            continue
        # each type in the scope mmengine builds it in: its _scope_, else its wrapper's (node_scope), else the config's
        for node, where, node_scope in scoped_datasets(loader.get('dataset'), f'{key}.dataset', None):
            cls = _dataset_class(node, node_scope or scope)
            if not isinstance(cls, type) or not issubclass(cls, BaseDataset) or never_reads_ann_file(cls):
                continue  # (a dataset that never reads ann_file: automl_mm's refuse it at build, saying so)
            root = node.get('data_root')
            root = os.fspath(root) if isinstance(root, (str, os.PathLike)) else ''  # a Path: mmengine joins it too
            ann = node.get('ann_file')
            if isinstance(ann, str) and ann and coco_dataset_class(node, node_scope or config_scope(cfg)) is None:
                path = _joined(root, ann)
                # (its own backend_args, but a class that reads the file from the local disk: looked for there)
                if not reads_ann_file_through_backend(cls, node.get('backend_args'), path) and not osp.exists(path):
                    raise ConfigCheckError(f'{where}.ann_file={ann!r}: the annotation file {path} (data_root + '
                                           f'ann_file) of {cls.__name__} does not exist{_no_folder(path)}')


def _joined(root: str, path: str) -> str:
    """``path`` joined to ``data_root`` ``root`` as mmengine's ``BaseDataset`` joins them (an absolute path alone)."""
    from mmengine.fileio import join_path
    from mmengine.utils import is_abs

    return join_path(root, path) if root and path and not is_abs(path) else path or root


def _no_folder(path: str) -> str:
    folder = osp.dirname(path)
    return '' if not folder or osp.isdir(folder) else f' (nor does the folder {folder})'
