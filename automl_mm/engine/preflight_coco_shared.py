"""The COCO split checks of :func:`automl_mm.engine.preflight.check_config` between datasets: two annotation files
that read one image folder (or a copy of it) agree on the images both list, and a held-out or training loader reads
no image of another split (:func:`check_shared_folders`, by sizes, objects and, for copied folders, image bytes).

Split from :mod:`automl_mm.engine.preflight_coco` (the checks of one dataset's files against its images), which
re-exports these names.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np

from automl_mm.datasets.content import same_file_content, same_folder_content

from .preflight_coco import CocoSummary, _size, image_folder
from .preflight_walk import (
    NOT_HELD_OUT,
    ConfigCheckError,
    _coco_datasets,
    bn_recalibration_coco_datasets,
    outside_split,
)

#: How many of the images two annotation files share are compared by their boxes (the first in file order).
MAX_COMPARED = 100
#: Two boxes of one image are one box from this IoU on: a copy, rounded or moved by a pixel (at 0.5, a large
#: object of one generated fmnist-det image matched one of another image of the same name in 3 of 10 images).
SAME_OBJECT_IOU = 0.9
#: How many images a held-out file lists under the names of the training file's are compared byte for byte with
#: them (:func:`copied_images`).
COPY_SAMPLE = 32


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every ``[x, y, w, h]`` box of ``a`` with every one of ``b``."""
    ax1, ay1, bx1, by1 = a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1]
    inter = np.clip(np.minimum(ax1 + a[:, None, 2], bx1 + b[None, :, 2]) - np.maximum(ax1, bx1), 0, None) * \
        np.clip(np.minimum(ay1 + a[:, None, 3], by1 + b[None, :, 3]) - np.maximum(ay1, by1), 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two annotation files' boxes of one image can describe it both: at least half the boxes of the one
    with fewer have a box of the other at IoU >= :data:`SAME_OBJECT_IOU` (a copy, a subset of the classes and
    relabelled classes pass; another image's objects match by chance: 1 of 420 generated image pairs)."""
    fewer, more = (a, b) if len(a) <= len(b) else (b, a)
    matched = int((_iou(fewer, more).max(axis=1) >= SAME_OBJECT_IOU).sum())
    return 2 * matched >= len(fewer)


def folder_groups(folders: list[str]) -> dict[str, str]:
    """Each image folder (resolved) -> the first of ``folders`` that holds the same images
    (:func:`~automl_mm.datasets.content.same_folder_content`: itself, or a copy under another root, whole or in
    part). Compared by path only, a loader reading a copy of another split's folder was not compared with that
    split's annotations, and scored its own against the other split's images, silently. Cost: one listing per folder
    (no ``stat``) and, per pair of distinct folders with names in common, up to 32 pairs of files compared."""
    groups: dict[str, str] = {}
    listings: dict = {}  # each folder listed once
    for folder in dict.fromkeys(osp.realpath(f) for f in folders):
        groups[folder] = next((first for first in dict.fromkeys(groups.values())
                               if same_folder_content(first, folder, listings=listings)), folder)
    return groups


def shared_folder_files(cfg: Any, test_only: bool, split: str = 'test') -> set[str]:
    """The annotation files (as :func:`~automl_mm.engine.preflight_walk._coco_datasets` names them) of the COCO
    datasets whose image folder (or a copy of it: :func:`folder_groups`) a dataset of another annotation file reads
    too: the files :func:`check_shared_folders` compares image by image (an OHL hook's
    ``bn_recalibration_dataloader`` included)."""
    read = [(image_folder(dataset), path) for dataset, where, path in [*_coco_datasets(cfg),
                                                                       *bn_recalibration_coco_datasets(cfg)]
            if image_folder(dataset) is not None and not outside_split(where, test_only, split)]
    groups = folder_groups([folder for folder, _ in read])
    by_folder: dict[str, set[str]] = {}
    for folder, path in read:
        by_folder.setdefault(groups[osp.realpath(folder)], set()).add(path)
    return {path for paths in by_folder.values() if len({osp.realpath(p) for p in paths}) > 1 for path in paths}


def check_shared_folders(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """Two COCO datasets of different annotation files that read one image folder (``files``: the loaded
    annotation files, :class:`CocoSummary` ``whole`` for these) agree on the images both files list (the same
    ``file_name``: the same file), so they cannot describe other images:

    * the same ``width`` / ``height`` where both give them (or the two turned round);
    * the same objects: on at most half of the first :data:`MAX_COMPARED` shared images with boxes in both files,
      no :func:`same_objects` (ids are not compared: a renumbered copy of a file is valid for mmdet, and the
      generated splits all number their images from 1).

    A subset of a file, or another labelling of the same images, passes; so do mmdet's COCO layout (train2017/ and
    val2017/, distinct names) and :func:`automl_mm.datasets.coco_split.split_coco`'s parts (one folder, disjoint
    images). A folder's copy under another root, whole or in part (:func:`folder_groups`), is the folder: another
    split's annotations read on a copy of this split's images were scored against them, silently. A held-out
    loader (OHL's reward loader, a NAS search loader: not in :data:`NOT_HELD_OUT`) reads no image of
    ``train_dataloader``'s datasets, nor of ``test_dataloader``'s (its annotation file itself, or a copy, is
    :func:`~automl_mm.engine.preflight_eval_splits.reads_test_split`'s: another file listing its images, e.g. the
    test annotations exported again, was compared with it by bytes and passed), at all: neither its annotation file
    (the same file, or a copy of its bytes under another path) nor a file of the same folder (or a copy of it)
    listing one of its images, nor a file whose images are copies of its images under another folder
    (:func:`copied_images`, for folders whose copy is not found whole: a data set copied under another root was two
    paths, and its held-out loader scored trained images, silently). Images copied under other names are not found.

    ``train_dataloader`` reads, the same way, no image of ``test_dataloader``'s datasets (its file itself, or a copy,
    is :func:`~automl_mm.engine.preflight_eval_splits.check_not_trained_on_test`'s): a training file listing test
    images (the whole file, of which the test file is a ``split_coco`` part) trained on them, silently.

    An OHL hook's ``bn_recalibration_dataloader`` (clean training images) reads, the same way, no image of
    ``test_dataloader``'s datasets nor of a held-out loader's (the reward split): its BN statistics re-estimated on
    them were in every reward (:func:`~automl_mm.engine.preflight_search._check_bn_loader` compares annotation files
    only: the test images under another annotation file passed)."""
    def local(found: Any) -> list[tuple[dict, str, str, str]]:
        return [(d, where, path, osp.realpath(image_folder(d) or '')) for d, where, path in found
                if image_folder(d) is not None and path in files and not outside_split(where, test_only, split)]

    datasets, bn_datasets = local(_coco_datasets(cfg)), local(bn_recalibration_coco_datasets(cfg))
    groups = folder_groups([folder for *_, folder in datasets + bn_datasets])

    def read(folder: str, other_folder: str) -> str:
        return folder if folder == other_folder else f'{folder} (as its copy {other_folder})'

    def shares(first_path: str, folder: str, second_path: str, other_folder: str) -> str | None:
        """What of the images of ``first_path`` (read from ``folder``) ``second_path`` (from ``other_folder``)
        reads too, in words; ``None``: none that the checks can find."""
        if osp.realpath(first_path) == osp.realpath(second_path):
            return f'the annotation file {first_path} (its images and boxes)'
        if same_file_content(first_path, second_path):
            return f'{second_path}, a copy of the annotation file {first_path} (its images and boxes)'
        if groups[folder] == groups[other_folder] and files[first_path].images is not None:
            names = [n for n in files[second_path].images or {} if n in files[first_path].images]
            return f'{len(names)} images of {read(folder, other_folder)} ({names[0]}, ...)' if names else None
        copies = copied_images(files[first_path], folder, files[second_path], other_folder)
        return (f'{other_folder}, whose images are copies of those of {folder} ({copies[0]} and {len(copies) - 1} '
                'more of the images both annotation files list, compared byte for byte)') if copies else None

    for i, (first, first_key, first_path, folder) in enumerate(datasets):
        for second, second_key, second_path, other_folder in datasets[i + 1:]:
            same_file = osp.realpath(first_path) == osp.realpath(second_path)
            if not same_file and groups[folder] == groups[other_folder]:
                _compare(files[first_path], files[second_path], (first, first_key, first_path),
                         (second, second_key, second_path), read(folder, other_folder))
    for _, first_key, first_path, folder in datasets:
        test = first_key.startswith('test_dataloader')
        if not (first_key.startswith('train_dataloader') or test):
            continue
        for _, second_key, second_path, other_folder in datasets:
            if second_key.split('.dataset')[0] in NOT_HELD_OUT:
                continue
            if test and same_file_content(first_path, second_path):
                continue  # the test split's own file, or a copy: reads_test_split names it
            shared = shares(first_path, folder, second_path, other_folder)
            if shared is None:
                continue
            if test:
                raise ConfigCheckError(
                    f'{second_key} reads {shared} as {first_key} does: rewards and search scores must come from a '
                    'split held out of training, never from the test split (the search would be tuned on it). Give '
                    'it its own annotation file and image folder')
            raise ConfigCheckError(
                f'{second_key} reads {shared} as {first_key} does: a held-out split scores the model on images it '
                'trained on. Give it a split held out of training (its own annotation file and image folder)')
    for _, train_key, train_path, train_folder in datasets:  # training on test images (another file of them)
        if not train_key.startswith('train_dataloader'):
            continue
        for _, test_key, test_path, test_folder in datasets:
            if not test_key.startswith('test_dataloader') or same_file_content(train_path, test_path):
                continue  # the test file itself, or a copy: check_not_trained_on_test names it
            shared = shares(test_path, test_folder, train_path, train_folder)
            if shared is not None:
                raise ConfigCheckError(
                    f'{train_key} reads {shared} as {test_key} does: the model would train on the images it is '
                    'tested on, and the test score would be of training images. Train on a file of images held '
                    'out of test (tools/data/split_coco.py writes disjoint parts)')
    for _, bn_key, bn_path, bn_folder in bn_datasets:
        for _, key, path, folder in datasets:
            test = key.startswith('test_dataloader')
            if not test and key.split('.dataset')[0] in NOT_HELD_OUT:
                continue  # the training split (what it should read), val
            shared = shares(path, folder, bn_path, bn_folder)
            if shared is not None:
                raise ConfigCheckError(
                    f'{bn_key} reads {shared} as {key} does: BN statistics re-estimated on '
                    + ('test images leak them into every reward. ' if test else
                       'the images being scored fit them, so the rewards read high. ')
                    + f"Give {bn_key.split('.dataset')[0]} clean training images, or leave it out "
                    '(train_dataloader read with the test_pipeline)')


def copied_images(trained: CocoSummary, folder: str, held: CocoSummary, other_folder: str,
                  sample: int = COPY_SAMPLE) -> list[str]:
    """The images of a held-out annotation file (``held``, read from ``other_folder``) that are copies of the
    training file's images of the same ``file_name`` (``trained``, read from ``folder``): compared byte for byte
    (:func:`~automl_mm.datasets.content.same_file_content`) on the first ``sample`` names both files list, in the
    held-out file's order. Empty unless at least half of those compared are copies (a copied data set: all of them;
    the generated sets name every split's images ``000001.png``, ... with other pixels: none), or none was
    compared (a folder that is missing: the image checks name it; empty files, placeholders, are not compared).
    Cost: two ``stat`` calls per compared name, and both files read where their sizes are equal."""
    if osp.realpath(folder) == osp.realpath(other_folder):
        return []
    training = set(trained.names)
    names = [n for n in held.names if n in training][:sample]
    compared = [n for n in names if osp.isfile(osp.join(folder, n)) and osp.isfile(osp.join(other_folder, n))
                and osp.getsize(osp.join(folder, n))]  # an empty file is no image (a placeholder): not compared
    copies = [n for n in compared if same_file_content(osp.join(other_folder, n), osp.join(folder, n))]
    return copies if compared and 2 * len(copies) >= len(compared) else []


def _compare(a: CocoSummary, b: CocoSummary, first: tuple, second: tuple, folder: str) -> None:
    """Refuse two annotation files of one image folder that describe its shared images differently
    (:func:`check_shared_folders`)."""
    shared = [n for n in b.images or {} if n in (a.images or {})]
    if not shared:
        return

    def keys() -> str:
        return (f'{first[1]}.data_prefix.img={first[0]["data_prefix"]["img"]!r} and '
                f'{second[1]}.data_prefix.img={second[0]["data_prefix"]["img"]!r} both read {folder}')

    for name in shared:
        size_a, size_b = _size(a.images[name]), _size(b.images[name])
        if size_a is not None and size_b is not None and size_a not in (size_b, size_b[::-1]):
            raise ConfigCheckError(
                f'{keys()}, but {first[2]} gives {name} the size {size_a[0]}x{size_a[1]} and {second[2]} '
                f'{size_b[0]}x{size_b[1]} (width x height): one file is one image, so one of them reads another '
                "split's folder. Give each its own split's images")
    compared = differ = 0
    example = None
    for name in shared:
        boxes_a, boxes_b = a.boxes(a.images[name].get('id')), b.boxes(b.images[name].get('id'))
        if not len(boxes_a) or not len(boxes_b):
            continue
        compared += 1
        if not same_objects(boxes_a, boxes_b):
            differ += 1
            example = example or name
        if compared == MAX_COMPARED:
            break
    if compared and 2 * differ > compared:
        raise ConfigCheckError(
            f"{keys()}, but their annotation files give other objects to the same images: on {differ} of the "
            f'{compared} images both list with boxes ({example}, ...), no box of {first[2]} matches one of '
            f"{second[2]} (IoU >= {SAME_OBJECT_IOU}). One of them reads another split's folder (the generated sets "
            "name every split's images 000001.png, ...): give each its own split's images")
