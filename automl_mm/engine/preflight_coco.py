"""The COCO image checks of :func:`automl_mm.engine.preflight.check_config`: a COCO dataset's image files are
the ones its annotation file describes, and no two datasets of a config describe one image file differently.

automl_mm's generated sets (:mod:`automl_mm.datasets.synthetic_coco`, :mod:`automl_mm.datasets.fmnist_det`) name
the images of every split ``000001.png``, ``000002.png``, ... with the ids 1, 2, ... and one canvas size: a
held-out loader whose ``data_prefix.img`` names another split's folder found every file, and mmdet scored its
annotations against other images, a silently wrong mAP (no check of the file names, ids or sizes can see it; the
objects can, :func:`check_shared_folders`).
"""
from __future__ import annotations

import functools
import os
import os.path as osp
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np

from automl_mm.utils.file_identity import file_identity as _file_identity

from .preflight_walk import (
    ConfigCheckError,
    _coco_datasets,
    backend_coco_files,
    coco_dataset_classes,
    outside_split,
)

#: The images of each annotation file whose size is compared with the file's (positions in its ``images``).
SIZE_SAMPLE = (0, 1, 2, -1)


def image_folder(dataset: dict) -> str | None:
    """The folder a COCO dataset config reads its images from: ``data_prefix.img`` joined to ``data_root`` as
    mmengine's ``BaseDataset`` joins them (an absolute prefix alone), ``None`` when the images are not local files
    (``backend_args``, a URL) or the values are ones the dataset refuses when built."""
    from mmengine.fileio import join_path
    from mmengine.utils import is_abs

    prefix, root = (dataset.get('data_prefix') or {}).get('img'), dataset.get('data_root')
    root = os.fspath(root) if isinstance(root, os.PathLike) else root  # a pathlib.Path: mmengine joins it too
    if dataset.get('backend_args') is not None or not isinstance(prefix, str) or \
            not isinstance(root, (str, type(None))) or '://' in (root or '') + prefix:
        return None
    return join_path(root, prefix) if root and not is_abs(prefix) else prefix


def file_identity(path: str) -> tuple | None:
    """``(real path, device, inode, size, mtime, ctime)`` of a local file: its real path (``check_config`` reads it
    first, as the file's) and :func:`automl_mm.utils.file_identity.file_identity` (a file replaced by another of the
    same size and mtime is another); ``None`` where it cannot be ``stat``-ed."""
    try:
        return (osp.realpath(path), *_file_identity(path))
    except OSError:
        return None


def read_identity(path: str, backend_args: Any = None) -> tuple | None:
    """The key under which the checks keep one read of the annotation file ``path`` read with ``backend_args``: the
    local file it resolves to (:func:`file_identity`: real path, device, inode, size, mtime, ctime), whether reached as
    a plain path or through a local storage backend (mmengine's ``LocalBackend`` or a subclass, which may map paths: the
    file its ``get_local_path`` gives), so that one file read both ways is one read; ``('backend', path,
    repr(backend_args))`` for a file on remote storage (petrel, http, ``s3://``:
    :func:`~automl_mm.engine.preflight_walk.reads_remote_storage`) or one its local backend cannot give; ``None`` for a
    plain path that cannot be ``stat``-ed."""
    from automl_mm.datasets.coco_split import reads_through_backend

    from .preflight_walk import reads_remote_storage

    if not reads_through_backend(path, backend_args):
        return file_identity(path)
    if not reads_remote_storage(dict(backend_args=backend_args), path):
        from mmengine.fileio import get_local_path

        try:
            with get_local_path(path, backend_args=backend_args) as local:
                identity = file_identity(os.fspath(local))
        except Exception:  # noqa: BLE001  (the backend cannot be built or give the file: the read names why)
            identity = None
        if identity is not None:
            return identity
    return 'backend', path, repr(backend_args)


def read_coco_file(path: str, parsed: dict[tuple, Any], summarise: Any, backend_args: Any = None,
                   masks_read: bool = True, warn: bool = True) -> Any:
    """``summarise(coco)`` of the annotation file at ``path``, parsed and checked
    (:func:`~automl_mm.datasets.coco_split.check_coco_annotation_file`) once per ``parsed`` (one
    ``check_config``: ``{file_identity: (summary, polygon problem)}``): a file that several keys read (a loader's
    dataset and its ``CocoMetric``, the val and test loaders), under any spelling or link, is parsed once, and only
    what ``summarise`` keeps of it stays in memory (an LVIS v1 train file is 1.1 GB of JSON). A file read through a
    storage backend (``backend_args``, a URI) is read through it, once per local file it resolves to (a local
    backend's, :func:`read_identity`) or per path and ``backend_args`` (remote storage).

    A ``segmentation`` polygon pycocotools cannot rasterise
    (:func:`~automl_mm.datasets.coco_split.first_polygon_problem`) is refused where the reading key reads masks
    (``masks_read``: mmdet's ``LoadAnnotations(with_mask=True)``, a ``segm`` metric; :func:`mask_reading_keys`),
    else warned of once per parse (unless not ``warn``: another key reading the file reads masks, and is refused):
    a box-only run never rasterises it.

    Raises:
        ValueError: the file is missing, cannot be read through its backend, or is not a COCO annotation file, or
            (``masks_read``) holds a polygon pycocotools cannot rasterise (naming ``path``).
    """
    from automl_mm.datasets.coco_split import check_coco_annotation_file, first_polygon_problem

    identity = read_identity(path, backend_args)  # (one file reached as a path and through a local backend: one)
    if identity is not None and identity in parsed:
        summary, polygon = parsed[identity]
    else:
        coco = check_coco_annotation_file(path, backend_args=backend_args, polygons=False)
        summary, polygon = summarise(coco), first_polygon_problem(coco)
        del coco
        if polygon is not None and not masks_read and warn:
            warnings.warn(f'COCO annotation file {path!r}: annotation id {polygon[1]!r} (annotations[{polygon[0]}])'
                          f'{polygon[2]}. Read for its boxes alone here (no LoadAnnotations(with_mask=True), no '
                          "'segm' metric), so it is not rasterised; a config reading its masks is refused",
                          stacklevel=2)
        if identity is not None:
            parsed[identity] = summary, polygon
    if polygon is not None and masks_read:
        raise ValueError(f'COCO annotation file {path!r}: annotation id {polygon[1]!r} (annotations[{polygon[0]}])'
                         f'{polygon[2]}')
    return summary


def cocoeval_message(key: str, path: str, problem: tuple[int, Any, str]) -> str:
    """The refusal of a ``CocoMetric``'s file (config key ``key``) holding the annotation ``problem``
    (:func:`~automl_mm.datasets.coco_split.first_cocoeval_problem`'s) that ``COCOeval`` fails on."""
    index, ann_id, what = problem
    return (f'{key}: COCO annotation file {path!r}: annotation id {ann_id!r} (annotations[{index}]) {what}: '
            "COCOeval, which the CocoMetric runs on the file, fails on it at the first evaluation (mmdet's "
            'CocoDataset reads the file without it). Fix the annotation, or leave ann_file out of the metric '
            "(it then scores against the dataset's own annotations)")


def mask_reading_keys(cfg: Any) -> set[str]:
    """The ``ann_file`` config keys (``val_dataloader.dataset.ann_file``, ``val_evaluator.ann_file``) whose file a
    config reads masks from, so that pycocotools rasterises its ``segmentation`` polygons: a COCO dataset whose
    ``pipeline``, or the ``pipeline`` of a wrapper around it (mmdet's ``MultiImageMixDataset``: its transforms
    take the wrapped dataset's results, ``instances`` included), holds a transform with ``with_mask=True``
    (mmdet's ``LoadAnnotations``, ``poly2mask`` or not: bitmaps are made at loading, polygons when cropped to the
    mask head), every COCO dataset of a loader whose evaluator has a ``'segm'`` metric without an ``ann_file`` of
    its own (mmdet's ``CocoMetric`` / ``LVISMetric`` then score against the dataset's ``instances``;
    ``val_dataloader`` with ``val_evaluator``; a search's, an OHL hook's reward loader likewise), and a ``'segm'``
    metric's own ``ann_file`` (``COCOeval`` with ``iouType='segm'``, ``LVISEval`` likewise, rasterises the ground
    truth: then the loader's datasets are not read for masks by it). An OHL hook's
    ``bn_recalibration_dataloader``'s datasets count by their pipelines alone."""
    from .preflight_walk import (
        _evaluator_cfgs,
        _every_coco_dataset,
        _loader_cfgs,
        bn_recalibration_loader_cfgs,
        config_scope,
        pipeline_transforms,
        scoped_datasets,
    )

    segm_loaders, keys = set(), set()
    for metric, key in _evaluator_cfgs(cfg):
        kinds = metric.get('metric', 'bbox')
        if 'segm' in ([kinds] if isinstance(kinds, str) else list(kinds or ())):
            if isinstance(metric.get('ann_file'), str) and metric['ann_file']:
                keys.add(f'{key}.ann_file')
            else:
                segm_loaders.add(key.rsplit('[', 1)[0] if key.endswith(']') else key)
    segm_loaders = {key[:-len('_evaluator')] + '_dataloader' for key in segm_loaders if key.endswith('_evaluator')}
    for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]:
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        masked = {where for d, where, _ in scoped_datasets(dataset, f'{key}.dataset', config_scope(cfg))
                  if any(t.get('with_mask') for t, _ in pipeline_transforms(d.get('pipeline'), where))}
        for _, where, _, _ in _every_coco_dataset(loader, f'{key}.dataset', config_scope(cfg)):
            if key in segm_loaders or any(where == w or where.startswith(f'{w}.') for w in masked):
                keys.add(f'{where}.ann_file')
    return keys


def first_sizeless(images: list) -> tuple[Any, ...] | None:
    """``(image id, key)`` of the first entry of a COCO file's ``images`` without ``height`` or ``width`` (the key
    mmdet's ``CocoDataset.parse_data_info`` reads first), or ``(image id, key, value)`` where it gives one that is
    not a finite number (``'640'``, ``None``, ``true``: mmdet compares it with numbers, in ``parse_data_info``'s
    box clipping and ``filter_data``'s ``min_size``, and failed with a bare ``TypeError`` or misread ``true`` as
    1), ``None`` where every entry gives both as numbers."""
    from automl_mm.datasets.coco_split import _is_number

    for image in images:
        if isinstance(image, dict):
            for key in ('height', 'width'):
                if key not in image:
                    return image.get('id'), key
                if not _is_number(image[key]):
                    return image.get('id'), key, image[key]
    return None


def _size(image: dict) -> tuple[int, int] | None:
    """``(width, height)`` an ``images`` entry gives, ``None`` unless it gives both as positive integers."""
    size = image.get('width'), image.get('height')
    return size if all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size) else None


class CocoSummary:
    """What the checks keep of one loaded annotation file: its first image's ``file_name``, every image's
    ``file_name`` (``names``), the entries of
    :data:`SIZE_SAMPLE`, how many of its non-crowd annotations give their ``segmentation`` as an RLE dict
    (``rle_masks``; COCO writes polygons for them), and (``whole``: a file whose image folder another file reads
    too) every image by ``file_name`` and every box by image id, as arrays (the file itself is not kept)."""

    def __init__(self, coco: dict, whole: bool) -> None:
        images = [image if isinstance(image, dict) else {} for image in coco['images']]
        self.first = images[0].get('file_name') if images else None
        #: ``(image id, key)`` of the first image without ``height`` or ``width`` (the key mmdet's
        #: ``CocoDataset.parse_data_info`` reads first), ``None`` where every image gives both
        #: (:func:`check_image_sizes_given`)
        self.sizeless = first_sizeless(images)
        #: every image's ``file_name`` (normalised), in file order: the held-out check compares the images of a
        #: held-out file with the training file's of the same names by content (:func:`copied_images`)
        self.names = [osp.normpath(image['file_name']) for image in images if isinstance(image.get('file_name'), str)]
        self.rle_masks = sum(1 for a in coco.get('annotations') or [] if isinstance(a, dict)
                             and isinstance(a.get('segmentation'), dict) and not a.get('iscrowd'))
        self.sample = [images[i] for i in sorted({i % len(images) for i in SIZE_SAMPLE})] if images else []
        sample_ids = {image.get('id') for image in self.sample if isinstance(image.get('id'), (int, str))}
        #: image id -> its shorter side (``None`` where the entry does not give both sizes), and category name ->
        #: the ids of the images with an annotation of it: the images mmdet's ``filter_cfg`` keeps
        #: (:func:`check_images_kept`)
        self.sides = {image['id']: min(_size(image)) if _size(image) else None for image in images
                      if isinstance(image.get('id'), (int, str))}
        names = {c['id']: c.get('name') for c in coco.get('categories') or [] if isinstance(c, dict) and 'id' in c}
        self.category_images: dict[Any, set] = {}
        for ann in coco.get('annotations') or []:
            if isinstance(ann, dict) and ann.get('category_id') in names:
                self.category_images.setdefault(names[ann['category_id']], set()).add(ann.get('image_id'))
        #: image id -> the [x, y, w, h] boxes of the sampled images (the EXIF orientation check reads them)
        self.sample_boxes: dict[Any, list] = {}
        for ann in coco.get('annotations') or []:
            if isinstance(ann, dict) and isinstance(ann.get('image_id'), (int, str)) and \
                    ann['image_id'] in sample_ids and isinstance(ann.get('bbox'), list) and len(ann['bbox']) == 4 \
                    and all(isinstance(v, (int, float)) for v in ann['bbox']):
                self.sample_boxes.setdefault(ann['image_id'], []).append(ann['bbox'])
        self.images: dict[str, dict] | None = None
        if not whole:
            return
        self.images = {}
        for image in images:
            if isinstance(image.get('file_name'), str):
                self.images.setdefault(osp.normpath(image['file_name']), image)
        anns = [a for a in coco.get('annotations') or [] if isinstance(a, dict)
                and isinstance(a.get('image_id'), (int, str)) and isinstance(a.get('bbox'), list)
                and len(a['bbox']) == 4 and all(isinstance(v, (int, float)) for v in a['bbox'])]
        self._index: dict[Any, int] = {}  # image id -> its number here
        ids = np.array([self._index.setdefault(a['image_id'], len(self._index)) for a in anns], dtype=np.int64)
        order = np.argsort(ids, kind='stable')
        self._ids = ids[order]
        self._boxes = np.array([a['bbox'] for a in anns], dtype=np.float64).reshape(-1, 4)[order]

    def boxes(self, image_id: Any) -> np.ndarray:
        """The ``[x, y, w, h]`` boxes of the image ``image_id``, one row each."""
        key = self._index.get(image_id) if isinstance(image_id, (int, str)) else None
        if key is None:
            return self._boxes[:0]
        return self._boxes[np.searchsorted(self._ids, key, 'left'):np.searchsorted(self._ids, key, 'right')]


def image_size(path: str) -> tuple[tuple[int, int], bool] | None:
    """``((width, height), turned)`` of an image file from its header (Pillow; the pixels are not decoded),
    ``turned`` when its EXIF orientation swaps width and height (5 to 8); ``None`` when Pillow cannot read it."""
    from PIL import ExifTags, Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as img:
                # the base class's getexif reads what the header gave (PNG's own decodes the image for a late eXIf)
                orientation = Image.Image.getexif(img).get(ExifTags.Base.Orientation)
                return img.size, orientation in (5, 6, 7, 8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _check_coco_images(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """Each COCO dataset's images (``files``: the annotation files :func:`check_config` loaded) against its
    ``data_prefix.img`` folder, where the images are local files (:func:`image_folder`):

    * the file's first image exists. mmdet's ``CocoDataset`` reads the annotation file when built and the images
      only when iterated: a val loader whose prefix named no folder trained every epoch, then failed in the first
      validation with a ``FileNotFoundError`` naming the image, not the key (a held-out loader: at the first reward
      / search score);
    * the images of :data:`SIZE_SAMPLE` that exist have the ``width`` / ``height`` the file gives them (either way
      round for an image whose EXIF orientation turns it: mmcv's default ``'color'`` flag turns it,
      ``'color_ignore_orientation'`` does not, and annotation tools record either); entries without both are not
      compared. Another split's images of other sizes were read silently, their boxes scored against these."""
    for dataset, where, path in _coco_datasets(cfg):
        summary = files.get(path)
        folder = image_folder(dataset)
        if outside_split(where, test_only, split) or summary is None or folder is None or \
                not isinstance(summary.first, str):
            continue
        prefix = dataset['data_prefix']['img']
        image = osp.join(folder, summary.first)
        if not osp.isfile(image):
            missing = '' if osp.isdir(folder or '.') else f' (nor does the folder {folder})'
            raise ConfigCheckError(f'{where}.data_prefix.img={prefix!r}: {image}, the first image of {path}, does '
                                   f'not exist{missing}')
        for entry in summary.sample:
            given, name = _size(entry), entry.get('file_name')
            image = osp.join(folder, name) if isinstance(name, str) else None
            found = image_size(image) if given is not None and image is not None and osp.isfile(image) else None
            if found is None or given == found[0] or (found[1] and given == found[0][::-1]):
                continue
            raise ConfigCheckError(
                f'{where}.data_prefix.img={prefix!r}: {image} is {found[0][0]}x{found[0][1]} (width x height) but '
                f'{path} gives it {given[0]}x{given[1]}: the folder holds other images of the same names (another '
                "split's folder?), and their boxes would be scored against these annotations")


def check_image_sizes_given(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """Each COCO dataset's annotation file (``files``: those :func:`check_config` loaded; an OHL hook's
    ``bn_recalibration_dataloader``'s included) gives every image its ``height`` and ``width``, where the dataset's
    class reads them: mmdet's ``CocoDataset.parse_data_info`` (``CocoPanopticDataset``'s too) copies both of every
    image when the dataset is built, and a file without them stopped the runner's build of the loader with a bare
    ``KeyError: 'height'``, naming neither the key, the file nor the image. A file that only a ``CocoMetric`` reads
    needs neither (pycocotools reads none), and a subclass with a ``parse_data_info`` of its own is left to it.

    Raises:
        ConfigCheckError: naming the dataset's ``ann_file`` key, the file, the image id and the missing key.
    """
    from mmdet.datasets import CocoDataset, CocoPanopticDataset

    readers = (CocoDataset.parse_data_info, CocoPanopticDataset.parse_data_info)
    for _, where, path, cls in coco_dataset_classes(cfg, bn_recalibration=True):
        summary = files.get(path)
        if outside_split(where, test_only, split) or summary is None or summary.sizeless is None or \
                getattr(cls, 'parse_data_info', None) not in readers:
            continue
        raise ConfigCheckError(_sizeless_message(f'{where}.ann_file', path, cls, summary.sizeless))


def _sizeless_message(key: str, path: str, cls: type, sizeless: tuple[Any, ...]) -> str:
    """The refusal of :func:`check_image_sizes_given` of the image ``sizeless`` (:func:`first_sizeless`'s)."""
    if len(sizeless) == 3:
        image_id, name, value = sizeless
        return (f'{key}: image id {image_id!r} of {path} has {name} {value!r}, not a number: mmdet\'s '
                f'{cls.__name__} compares every image\'s height and width with numbers when it is built (a bare '
                'TypeError), and reads true as 1. Give every entry of the file\'s images its width and height in '
                'pixels, as JSON numbers')
    image_id, missing = sizeless
    return (f'{key}: image id {image_id!r} of {path} has no {missing!r}: mmdet\'s {cls.__name__} reads every '
            f'image\'s height and width when it is built (it stopped the loader\'s build with a bare KeyError: '
            f'{missing!r}). Give every entry of the file\'s images its width and height in pixels (a file read by a '
            'CocoMetric alone needs neither)')


def check_backend_coco_files(cfg: Any, parsed: dict[tuple, Any], test_only: bool, split: str = 'test') -> None:
    """The COCO annotation files a config reads through a local storage backend
    (:func:`~automl_mm.engine.preflight_walk.backend_coco_files`: a dataset's or a ``CocoMetric``'s
    ``backend_args`` naming a ``LocalBackend`` subclass, which may map paths), read through it as mmdet reads them
    (``mmengine.fileio.get_local_path``; ``parsed``: :func:`read_coco_file`'s, one read per file and
    ``backend_args`` in a ``check_config``) and checked as local files are: the file itself and each entry
    (:func:`~automl_mm.datasets.coco_split.check_coco_annotation_file`), and a dataset's images' ``width`` /
    ``height`` (:func:`check_image_sizes_given`). Until the fifty-eighth session such files were not read: a file
    without image sizes stopped the runner's build of the loader with a bare ``KeyError``, and bad annotations were
    dropped without a word. The checks of image folders and of copies by content stay local-disk ones. Files on
    remote storage (petrel, http, ``s3://``) are not read here: ``check_config`` downloads nothing (the start-up
    check reads a remote dataset's file, :func:`~automl_mm.engine.preflight_loading.check_before_loading`, and a
    remote ``CocoMetric``'s, :func:`~automl_mm.engine.preflight_loading.check_remote_metric_files`). A
    ``CocoMetric``'s file (not ``LVISMetric``'s) is refused where ``COCOeval`` fails on an annotation of it
    (:func:`~automl_mm.datasets.coco_split.first_cocoeval_problem`), as a local one is, and a polygon pycocotools
    cannot rasterise where the key reads masks (:func:`read_coco_file`). Cost: each file parsed once more than the
    run parses it; once in all where another key reads the same local file as a plain path (``parsed`` is
    ``check_config``'s, keyed by :func:`read_identity`, whose summaries end with the file's :func:`backend_summary`,
    computed by its local pass for a file a local backend reads too).

    Raises:
        ConfigCheckError: naming the ``ann_file`` key, the file and what is wrong: a backend that cannot give the
            file (not installed, unreachable, the file missing), or the file's content.
    """
    from mmdet.datasets import CocoDataset, CocoPanopticDataset

    from .preflight_walk import cocoeval_metrics

    readers = (CocoDataset.parse_data_info, CocoPanopticDataset.parse_data_info)
    scored = {f'{key}.ann_file' for _, key in cocoeval_metrics(cfg)}  # a CocoMetric's COCOeval scores against it
    mask_keys = {key for key in mask_reading_keys(cfg) if not outside_split(key, test_only, split)}
    files = list(backend_coco_files(cfg))
    mask_files = {read_identity(path, backend_args) for path, key, backend_args, _ in files if key in mask_keys}
    for path, key, backend_args, cls in files:
        if outside_split(key, test_only, split):
            continue
        read = functools.partial(read_coco_file, path, backend_args=backend_args, masks_read=key in mask_keys,
                                 warn=read_identity(path, backend_args) not in mask_files)
        try:
            # check_config's summaries end with the backend one (its local pass parsed a file both read: that part)
            sizeless_unscorable = read(parsed, lambda coco: (None,) * 5 + (backend_summary(coco),))[-1]
            if sizeless_unscorable is None:  # (parsed by the local pass, which was not told: parsed again)
                sizeless_unscorable = read({}, backend_summary)
            sizeless, unscorable = sizeless_unscorable
        except ValueError as err:
            raise ConfigCheckError(f'{key}: {err}') from None
        if cls is not None and sizeless is not None and getattr(cls, 'parse_data_info', None) in readers:
            raise ConfigCheckError(_sizeless_message(key, path, cls, sizeless))
        if unscorable is not None and key in scored:
            raise ConfigCheckError(cocoeval_message(key, path, unscorable))


def backend_summary(coco: dict) -> tuple[tuple | None, tuple | None]:
    """What the checks of a COCO file read through a storage backend keep of it (:func:`read_coco_file`'s
    ``summarise``): its first image without a numeric size (:func:`first_sizeless`, for a dataset) and its first
    annotation ``COCOeval`` fails on (:func:`~automl_mm.datasets.coco_split.first_cocoeval_problem`, for a
    ``CocoMetric``), so that a dataset and a metric reading one file share one read."""
    from automl_mm.datasets.coco_split import first_cocoeval_problem

    return first_sizeless(coco['images']), first_cocoeval_problem(coco)


def check_images_kept(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """Each COCO dataset (not ``test_mode``; an OHL hook's ``bn_recalibration_dataloader``'s included) with a
    ``filter_cfg`` keeps an image of its annotation file (``files``: those :func:`check_config` loaded), as mmdet's
    ``CocoDataset.filter_data`` keeps them: with ``filter_empty_gt``, an image with an annotation of one of the
    dataset's classes (``metainfo.classes``, else the class's defaults, else every category), and whose shorter side is
    at least ``min_size``. A file of no such image (an image-info file without annotations, such as COCO's
    ``image_info_test-dev2017.json``, read for training; a ``min_size`` above every image) passed the checks and stopped
    the runner's build of the loader with numpy's ``need at least one array to concatenate`` (mmengine serialising the
    empty data list). The rule is mmdet's own ``CocoDataset.filter_data``, run on the file's summary, and only for a
    dataset class that keeps it: a subclass with its own rule (``CocoPanopticDataset``: images with a thing segment in
    ``segments_info``, which a panoptic file's annotations hold instead of ``category_id``; ``CityscapesDataset``) is
    left to mmdet.

    Raises:
        ConfigCheckError: naming the dataset's ``filter_cfg`` key, the file and why no image is kept.
    """
    try:
        from mmdet.datasets import CocoDataset
    except ImportError:  # mmdet not installed: no COCO dataset is built
        return
    # (an OHL hook's bn_recalibration_dataloader too: the hook builds it at before_train; each dataset with the
    # class it builds in the scope mmengine builds it in, a wrapper's _scope_ included)
    for dataset, where, path, cls in coco_dataset_classes(cfg, bn_recalibration=True):
        summary, filter_cfg = files.get(path), dataset.get('filter_cfg')
        if outside_split(where, test_only, split) or summary is None or not isinstance(filter_cfg, dict) or \
                dataset.get('test_mode') is True or not summary.sides:
            continue
        if cls.filter_data is not CocoDataset.filter_data:
            continue  # another rule (a panoptic set's): mmdet's to apply
        min_size = filter_cfg.get('min_size', 0)
        min_size = min_size if isinstance(min_size, (int, float)) and not isinstance(min_size, bool) else 0
        classes = (dataset.get('metainfo') or {}).get('classes') or cls.METAINFO.get('classes')
        names = list(summary.category_images) if classes is None or isinstance(classes, str) else list(classes)
        annotated = set().union(*(summary.category_images.get(name, set()) for name in names))
        empty = bool(filter_cfg.get('filter_empty_gt', False))
        # mmdet's rule on what it reads of the file: the images' sizes (a side not given: kept, mmdet's to refuse)
        # and each class's images (cat_ids: the classes' names here, cat_img_map keyed alike)
        sides = [(i, float('inf') if side is None else side) for i, side in summary.sides.items()]
        if CocoDataset.filter_data(SimpleNamespace(
                test_mode=False, filter_cfg=dict(filter_cfg, min_size=min_size), cat_ids=names,
                cat_img_map={name: summary.category_images.get(name, ()) for name in names},
                data_list=[dict(img_id=i, width=side, height=side) for i, side in sides])):
            continue
        if empty and not annotated:
            why = ('it has no annotations' if not summary.category_images else
                   f'none has an annotation of the classes of {where} ({", ".join(map(repr, names[:5]))}'
                   f'{" ..." if len(names) > 5 else ""})')
        elif empty:
            why = f'those with annotations all have a side under min_size={min_size}'
        else:
            why = f'all have a side under min_size={min_size}'
        raise ConfigCheckError(f'{where}.filter_cfg={filter_cfg!r} keeps none of the {len(summary.sides)} images of '
                               f'{path}: {why}. mmdet would stop when the runner builds the loader ("need at least '
                               'one array to concatenate"); give the training annotations, or filter less')


#: The checks between datasets, moved to :mod:`automl_mm.engine.preflight_coco_shared` (which imports this module):
#: still importable from here, read there at first use.
_SHARED = frozenset({'COPY_SAMPLE', 'MAX_COMPARED', 'SAME_OBJECT_IOU', 'check_shared_folders', 'copied_images',
                     'folder_groups', 'same_objects', 'shared_folder_files'})


def __getattr__(name: str) -> Any:
    if name in _SHARED:
        from . import preflight_coco_shared

        return getattr(preflight_coco_shared, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
