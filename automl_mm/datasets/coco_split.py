"""Split a COCO annotation file by image into an architecture-search train part and a held-out val part.

CR-NAS (Liang et al., ICLR 2020) searches on COCO with the train set split by image: about 130K images to train
the supernet ("arch-train") and 5K images to score candidate architectures ("arch-val"), so the official val2017
stays untouched until the final evaluation. On the current COCO train2017 (118,287 images) the faithful split is
``--val-images 5000``; the default ``val_fraction`` (5000 / 118287) keeps the same proportion on any other set.

:func:`check_coco_annotation_file` reads a COCO file and checks it; the checks of its entries are
:mod:`~automl_mm.datasets.coco_entries`'s. This module still serves, as the same objects, the moved names that are
public or read elsewhere (``first_cocoeval_problem``, ``first_polygon_problem``, ``DROPPED_EXAMPLES``,
``DROPPED_REASONS``, ``_is_number``, ``_refuse_bad_entries``), not the helpers only those call. The constants are
read where they are defined: set ``coco_entries.DROPPED_EXAMPLES``, not this module's name, to change the warning.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np

from automl_mm.utils.io import dump_json_atomic
from automl_mm.utils.wording import a_type

from .coco_entries import (  # noqa: F401 (their former home: first_cocoeval_problem, _is_number, ...)
    DROPPED_EXAMPLES,
    DROPPED_REASONS,
    _is_number,
    _refuse_bad_entries,
    first_cocoeval_problem,
    first_polygon_problem,
)
from .generated import check_out_dir
from .splits import check_seed

COCO_TRAIN2017_IMAGES = 118287
DEFAULT_VAL_FRACTION = 5000 / COCO_TRAIN2017_IMAGES


def _load(ann_file: str, local: str | None = None) -> dict:
    """The parsed COCO file ``ann_file``, read from the local file ``local`` (``ann_file`` itself where ``None``:
    another for a file read through a storage backend, :func:`_load_through_backend`).

    Raises:
        ValueError: missing, empty, not JSON, or without an ``images`` list or with ``annotations`` no list, naming
            ``ann_file`` (and ``local`` where it is another path).
    """
    where = '' if local is None or local == ann_file else f' (read as {local!r})'
    local = ann_file if local is None else local
    if not osp.isfile(local):
        raise ValueError(f'COCO annotation file not found: {ann_file!r}{where}')
    if osp.getsize(local) == 0:
        raise ValueError(f'COCO annotation file {ann_file!r}{where} is empty (0 bytes)')
    try:
        with open(local) as f:
            coco = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'COCO annotation file {ann_file!r}{where} is not valid JSON: {err}') from err
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list):
        raise ValueError(f"COCO annotation file {ann_file!r} has no 'images' list")
    if 'annotations' in coco and not isinstance(coco['annotations'], list):
        raise ValueError(f"COCO annotation file {ann_file!r}: 'annotations' must be a list")
    return coco


def reads_through_backend(path: str, backend_args: dict | None) -> bool:
    """Whether mmdet reads the annotation file ``path`` through one of mmengine's storage backends rather than
    ``open``: ``backend_args`` given (its ``backend`` chooses it), or a URI (``s3://...``: its prefix chooses)."""
    return backend_args is not None or '://' in path


def _load_through_backend(ann_file: str, backend_args: dict | None) -> dict:
    """:func:`_load` of ``ann_file`` read as mmdet's ``CocoDataset.load_data_list`` and ``CocoMetric`` read it:
    through ``mmengine.fileio.get_local_path`` with the config's ``backend_args`` (a local copy of a remote file,
    removed afterwards; the local path itself for mmengine's ``LocalBackend``, or where a local backend maps it).

    Raises:
        ValueError: the backend cannot be built or cannot give the file (naming ``ann_file``, ``backend_args`` and
            the backend's error), or :func:`_load`'s.
    """
    from contextlib import ExitStack

    from mmengine.fileio import get_local_path

    with ExitStack() as stack:
        try:
            local = stack.enter_context(get_local_path(ann_file, backend_args=backend_args))
        except Exception as err:  # the backend's own: ImportError (petrel_client), FileNotFoundError, KeyError, ...
            raise ValueError(f'COCO annotation file {ann_file!r} cannot be read through backend_args='
                             f'{backend_args!r}, as mmdet reads it ({type(err).__name__}: {err})') from None
        return _load(ann_file, os.fspath(local))


def check_coco_annotation_file(ann_file: str, require_images: bool = True, backend_args: dict | None = None,
                               polygons: bool = True) -> dict:
    """Load a COCO annotation file, or raise a ``ValueError`` naming the file and what is wrong with it.

    A file mmdet reads through a storage backend (``backend_args`` given, as a dataset's or a ``CocoMetric``'s, or
    a URI) is read through it, as mmdet reads it (:func:`_load_through_backend`): until the fifty-eighth session
    the config check left such files unread, and a file without image sizes, or with bad annotations, was found
    only when the runner built the loader (or, dropped by mmdet without a word, not at all).

    Checked: the file exists, is not empty, is JSON, holds an ``images`` list (non-empty unless
    ``require_images=False``), ``annotations`` (if present) is a list and ``categories`` is a non-empty list.
    mmdet's ``CocoDataset`` and ``CocoMetric`` fail on such files with errors that do not name the file
    (``JSONDecodeError``, ``need at least one array to concatenate``). Then every entry
    (:func:`_refuse_bad_entries`), against what mmdet 3.3's ``CocoDataset.parse_data_info`` does with it. Refused,
    as mmdet misreads them without a word or fails deep inside: an image or category without an ``id``; an
    annotation without an ``id``, an ``image_id`` or a ``category_id`` (pycocotools indexes every annotation by
    them), and (unless ``ignore``, which mmdet skips before reading anything else of it) an ``image_id`` that is a
    listed id written as another type (``'1'`` beside image ``1``: pycocotools indexes it under another image), a
    ``category_id`` that is no category's id (dropped as a class the dataset does not train), a ``bbox`` that is
    not 4 finite numbers ``[x, y, w, h]`` (``not enough values to unpack``, or NaN boxes trained on), or a missing
    or non-numeric ``area`` (``KeyError: 'area'``; ``COCOeval`` reads it of every box it scores), or a
    ``segmentation`` polygon pycocotools cannot rasterise
    (:func:`~automl_mm.datasets.coco_entries._polygon_problem`: a coordinate that is no finite
    number, or one far outside the image, which it walked for some 80 GB; ``polygons=False`` leaves them to the
    caller, :func:`first_polygon_problem`: only a config that reads masks rasterises them). Warned of, once
    per file with a count and the first ids of each reason, as mmdet drops them as it means to: annotations with
    ``ignore`` set, a ``w`` or ``h`` <= 0, no overlap with their image, an ``area`` <= 0, or a ``w`` or ``h`` under 1
    pixel (:data:`DROPPED_REASONS`; until the fifty-eighth session a negative ``w`` / ``h`` was refused, and a set
    with a few such boxes could not be trained through automl_mm at all; the warning also counts those of them
    ``COCOeval`` scores where the file is a ``CocoMetric``'s ``ann_file``: it reads ``iscrowd``, not ``ignore``,
    and skips only an ``area`` < 0, so the others are objects to detect that the model cannot match, lowering AP
    and recall without a word); and annotations of an ``image_id`` no
    image has and that is no listed id written as another type, which neither mmdet nor ``COCOeval`` reads. Ids
    compare as pycocotools keys its index: the JSON number ``1.0`` is the id ``1``, the string ``'1'`` another. The
    annotation entries of a COCO panoptic file (``segments_info`` per image, ``CocoPanopticDataset``'s format) are
    not checked. Cost: one pass over the entries.

    Returns:
        The parsed annotation dict.

    Raises:
        ValueError: naming ``ann_file`` and what is wrong; for an entry, its id (else its index) and the key.
    """
    coco = _load_through_backend(ann_file, backend_args) if reads_through_backend(ann_file, backend_args) \
        else _load(ann_file)
    if require_images and not coco['images']:
        raise ValueError(f"COCO annotation file {ann_file!r} has no images (its 'images' list is empty)")
    if not isinstance(coco.get('categories'), list) or not coco['categories']:
        raise ValueError(f"COCO annotation file {ann_file!r} has no 'categories' list (or it is empty)")
    _refuse_bad_entries(coco, ann_file, polygons)
    return coco


def _num_val(num_images: int, val_images: int | None, val_fraction: float | None) -> int:
    if val_images is not None and val_fraction is not None:
        raise ValueError(f'give val_images or val_fraction, not both (got val_images={val_images}, '
                         f'val_fraction={val_fraction})')
    if val_images is None:
        fraction = DEFAULT_VAL_FRACTION if val_fraction is None else float(val_fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}')
        num_val = round(fraction * num_images)
        if not 1 <= num_val < num_images:
            raise ValueError(f'val_fraction={fraction:.6g} of {num_images} images gives {num_val} arch-val images; '
                             f'it must give between 1 and {num_images - 1} (pass val_images instead)')
        return num_val
    if isinstance(val_images, bool) or int(val_images) != val_images:
        raise ValueError(f'val_images must be an integer, got {val_images!r}')
    if not 1 <= val_images < num_images:
        raise ValueError(f'val_images must be in [1, {num_images - 1}] for a file with {num_images} images, '
                         f'got {val_images}')
    return int(val_images)


def _subset(coco: dict, image_ids: set[int]) -> dict:
    """Every top-level key kept; images and annotations filtered by image id, their order and ids unchanged."""
    out = dict(coco)
    out['images'] = [img for img in coco['images'] if img['id'] in image_ids]
    if 'annotations' in coco:
        out['annotations'] = [ann for ann in coco['annotations'] if ann['image_id'] in image_ids]
    return out


def _held_image_ids(path: str) -> set | None:
    """The image ids of an existing output file; ``None`` when there is none. An unreadable file (half written by
    an interrupted tool) counts as another split: an empty set."""
    if not osp.exists(path):
        return None
    try:
        with open(path) as f:
            return {img['id'] for img in json.load(f)['images']}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _whole_float(value: object) -> bool:
    """Whether ``value`` is a float of a whole number (``1.0``: a JSON number written with a fraction)."""
    return isinstance(value, float) and value.is_integer()


def _write_as_int(value: float, image: str = '') -> str:
    """What to do with the whole-float id ``value``, for :func:`_refuse_malformed_entries`: pycocotools keys its
    index by the id, where ``1.0`` and ``1`` are one key, so mmdet reads such a file as if the id were the int;
    the split refuses it all the same, as it writes the ids back as read (COCO ids are integers, and a file of
    ``1.0`` beside ``1`` would hold two ids that are one key)."""
    return (f'COCO ids are integers, write it as {int(value)} (pycocotools reads {value!r} as the id {int(value)}'
            f'{image}, but split_coco writes ids back as read and does not rewrite them): rewrite the file with '
            'integer ids')


def _refuse_malformed_entries(coco: dict, ann_file: str) -> None:
    """``ValueError`` naming ``ann_file`` and the entry where an ``images`` entry is no dict or has no ``id`` of int or
    str (pycocotools keys its index by it), the ids are of two types, or an ``annotations`` entry is no dict or has
    no ``image_id`` of the images' id type. The split read them with a bare ``KeyError: 'id'`` / ``'image_id'``, a
    ``TypeError`` or (ids 1 and ``'2'``) "'<' not supported between instances of 'str' and 'int'", naming no file,
    and dropped an annotation of ``image_id`` ``'3'`` beside the image of id ``3`` (it names no image) silently."""
    types: dict = {}
    ids = {img['id'] for img in coco['images'] if isinstance(img, dict) and isinstance(img.get('id'), int)}
    for i, img in enumerate(coco['images']):
        if not isinstance(img, dict):
            raise ValueError(f'COCO annotation file {ann_file!r}: images[{i}] is not an image entry (a dict): '
                             f'{img!r}')
        if 'id' not in img:
            raise ValueError(f"COCO annotation file {ann_file!r}: images[{i}] has no 'id' ({img!r})")
        if _whole_float(img['id']):
            raise ValueError(f'COCO annotation file {ann_file!r}: images[{i}] has id {img["id"]!r}: '
                             f'{_write_as_int(img["id"])}')
        if isinstance(img['id'], bool) or not isinstance(img['id'], (int, str)):
            raise ValueError(f'COCO annotation file {ann_file!r}: images[{i}] has id {img["id"]!r}: an image id is '
                             'an int or a str')
        types.setdefault(type(img['id']), img['id'])
    if len(types) > 1:
        (a, first), (b, second) = types.items()
        raise ValueError(f'COCO annotation file {ann_file!r} has image ids of two types, {a.__name__} ({first!r}) and '
                         f'{b.__name__} ({second!r}): give every image an id of one type (an annotation\'s image_id '
                         'names its image by value and type)')
    for i, ann in enumerate(coco.get('annotations', [])):
        if not isinstance(ann, dict):
            raise ValueError(f'COCO annotation file {ann_file!r}: annotations[{i}] is not an annotation entry (a '
                             f'dict): {ann!r}')
        if 'image_id' not in ann:
            raise ValueError(f"COCO annotation file {ann_file!r}: annotations[{i}] has no 'image_id' ({ann!r})")
        if _whole_float(ann['image_id']):
            image = ', the image of id ' + str(int(ann['image_id'])) if int(ann['image_id']) in ids else ''
            raise ValueError(f'COCO annotation file {ann_file!r}: annotations[{i}] has image_id {ann["image_id"]!r}: '
                             f'{_write_as_int(ann["image_id"], image)}')
        if types and (isinstance(ann['image_id'], bool) or type(ann['image_id']) not in types):
            # it names no image: split by image, the annotation was dropped without a word
            raise ValueError(f'COCO annotation file {ann_file!r}: annotations[{i}] has image_id {ann["image_id"]!r} '
                             f'({a_type(ann["image_id"])}), but the image ids are '
                             f'{next(iter(types)).__name__}: it names no image')


def _refuse_repeated_files(coco: dict, ann_file: str) -> None:
    """``ValueError`` where two images of ``coco`` (of other ids) name one image file (``file_name``, normalised:
    ``a.png`` and ``./a.png`` are one): split by id, the file could land in both parts, so arch-val scored
    candidates on an image the supernet trained on (ids 3 and 7 of a 10-image file both ``3.png``, 3 arch-val images,
    seed 2: ``3.png`` was in both files), silently."""
    seen: dict = {}
    for img in coco['images']:
        name = img.get('file_name') if isinstance(img, dict) else None
        if not isinstance(name, str):
            continue
        first = seen.setdefault(osp.normpath(name), img['id'])
        if first != img['id']:
            raise ValueError(f'COCO annotation file {ann_file!r} lists the image file {name!r} under two image ids, '
                             f'{first} and {img["id"]}: split by image id, it could be in both parts (arch-val '
                             'scoring images the supernet trains on). Give each image file one entry')


class SplitFiles(tuple):
    """What :func:`split_coco` returns: ``(train_file, val_file)`` (the plain tuple it returned before), with
    ``counts``: ``((images, annotations) of train_file, (images, annotations) of val_file)`` as written, so that a
    caller (``tools/data/split_coco.py``) need not read the files back for them."""

    counts: tuple[tuple[int, int], tuple[int, int]]

    def __new__(cls, files: tuple[str, str], counts: tuple[tuple[int, int], tuple[int, int]]) -> SplitFiles:
        split = super().__new__(cls, files)
        split.counts = tuple((int(n), int(a)) for n, a in counts)
        return split

    def __getnewargs__(self) -> tuple:  # pickled with its counts
        return tuple(self), self.counts


def split_coco(ann_file: str, out_dir: str, val_images: int | None = None, val_fraction: float | None = None,
               seed: int = 0, prefix: str = 'instances_arch', overwrite: bool = False) -> SplitFiles:
    """Split ``ann_file`` by image into ``<prefix>-train.json`` and ``<prefix>-val.json`` under ``out_dir``.

    Image ids (sorted) are shuffled with ``numpy.random.default_rng(seed)``; the first ``val_images`` of the
    permutation form arch-val and the rest arch-train. Both parts are disjoint and together hold every image,
    including images without annotations. Each annotation follows its image, keeping its id; annotations whose
    ``image_id`` is not in ``images`` are dropped. All other top-level keys (``info``, ``licenses``,
    ``categories``, ...) are copied to both files, and ``file_name`` is unchanged, so both files read images from
    the original image folder.

    Args:
        ann_file: COCO annotation JSON, e.g. ``data/coco/annotations/instances_train2017.json``.
        out_dir: Directory for the two output files (created if missing).
        val_images: Number of arch-val images; 5000 reproduces CR-NAS on COCO train2017.
        val_fraction: Fraction of images for arch-val, rounded to the nearest count. When neither this nor
            ``val_images`` is given, ``5000 / 118287`` (CR-NAS's 5K out of train2017's 118,287 images).
        seed: Seed of the shuffle, an int in ``[0, 2**32)``; the same file and seed always give the same split.
        prefix: Output file name prefix.
        overwrite: Replace output files that hold another split (other images in a part). Without it they are
            refused: a search resumed on a re-drawn split validated on images its supernet had trained on.

    Returns:
        ``(train_file, val_file)`` paths, a :class:`SplitFiles` whose ``counts`` give each file's images and
        annotations.

    Raises:
        ValueError: ``ann_file`` is missing, not JSON or has no ``images`` list; an image entry has no ``id`` (an
            int or a str, of one type for all; a float such as ``1.0``, which pycocotools reads as ``1``, is refused
            saying to write it as the int) or an annotation no ``image_id`` (the same type; ``3.0`` likewise); image
            ids repeat, or two ids name one image file (``file_name``: it could land in both parts); both
            ``val_images`` and ``val_fraction`` are given; the arch-val size is not in ``[1, num_images - 1]``;
            an output would be ``ann_file`` itself; ``seed`` is not an int in ``[0, 2**32)`` (before the file is read).
        FileExistsError: an output file exists with other images than this split gives it and ``overwrite`` is
            False (names the file and both image counts; nothing is written).
        NotADirectoryError: ``out_dir`` or a parent of it is a file (before the file is read).

    Examples:
        >>> import json, os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> coco = {'images': [{'id': i, 'file_name': f'{i}.png'} for i in range(1, 11)],
        ...         'annotations': [{'id': 7, 'image_id': 3}], 'categories': [{'id': 1, 'name': 'a'}]}
        >>> with open(os.path.join(d, 'ann.json'), 'w') as f:
        ...     json.dump(coco, f)
        >>> train, val = split_coco(os.path.join(d, 'ann.json'), d, val_images=2)
        >>> [len(json.load(open(p))['images']) for p in (train, val)]
        [8, 2]
    """
    seed = check_seed(seed, 'seed')  # before the file is read
    check_out_dir(out_dir)
    if not prefix or osp.basename(prefix) != prefix:
        raise ValueError(f'prefix must be a plain file name prefix, got {prefix!r}')
    outputs = [osp.join(out_dir, f'{prefix}-{part}.json') for part in ('train', 'val')]
    if any(osp.exists(p) and osp.samefile(p, ann_file) for p in outputs if osp.exists(ann_file)):
        # '<out_dir>/<prefix>-train.json' as the input: its train part was written over it, the rest lost
        raise ValueError(f'split_coco would write over its input {ann_file!r} (out_dir {out_dir!r}, prefix '
                         f'{prefix!r}): choose another prefix or out_dir')
    coco = _load(ann_file)
    _refuse_malformed_entries(coco, ann_file)
    ids = [img['id'] for img in coco['images']]
    if len(set(ids)) != len(ids):
        raise ValueError(f'COCO annotation file {ann_file!r} has repeated image ids')
    _refuse_repeated_files(coco, ann_file)
    num_val = _num_val(len(ids), val_images, val_fraction)
    order = np.random.default_rng(seed).permutation(len(ids))
    sorted_ids = sorted(ids)
    val_ids = {sorted_ids[i] for i in order[:num_val]}
    train_ids = set(ids) - val_ids

    train_file = osp.join(out_dir, f'{prefix}-train.json')
    val_file = osp.join(out_dir, f'{prefix}-val.json')
    if not overwrite:
        for path, part in ((train_file, train_ids), (val_file, val_ids)):
            held = _held_image_ids(path)
            if held is not None and held != part:
                raise FileExistsError(
                    f'{path} holds another split ({len(held)} images, {len(held - part)} not in this split\'s '
                    f'{len(part)}): write into another out_dir or prefix, or pass --overwrite (overwrite=True) to '
                    'replace it; nothing was written')
    os.makedirs(out_dir, exist_ok=True)
    parts = [_subset(coco, train_ids), _subset(coco, val_ids)]
    dump_json_atomic(parts[0], train_file)
    dump_json_atomic(parts[1], val_file)
    return SplitFiles((train_file, val_file), [(len(p['images']), len(p.get('annotations', []))) for p in parts])
