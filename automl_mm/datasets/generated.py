"""Generated data sets on disk: one set per folder, regenerated only on request.

A generator writes its split folders, its annotation files and, last, ``annotations/generator.json`` with the
settings that made them (the completion marker). :func:`prepare_generated_dir` reads it first: the same settings
mean the set on disk is this one (nothing to do); another set, or files without a marker (an older generator or an
interrupted run), are refused unless ``overwrite``, which removes that set's folders first. Writing over a set made
with other arguments used to leave its extra images beside the new annotations, and the split files derived from it
(``split_coco``) named boxes that the new images no longer had.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from automl_mm.utils.seeding import SEED_LIMIT, seed_range_reason

MARKER = osp.join('annotations', 'generator.json')


def check_generator_seed(seed: Any, key: str = 'seed') -> int:
    """``seed`` as an int in ``[0, 2**32)``: :func:`~automl_mm.datasets.splits.check_seed` (split ``k`` of a
    generated set is drawn from ``default_rng([seed, k])``, and ``[seed, 1]`` is ``seed + 2**32``).

    Raises:
        ValueError: naming ``key`` and the range (:func:`~automl_mm.utils.seeding.as_seed`), for ``None``, a bool, a
            non-integer, a negative seed or one of ``2**32`` or more.
    """
    from .splits import check_seed

    return check_seed(seed, key)


def seed_argument(value: str) -> int:
    """argparse ``type`` of a tool's ``--seed``: an int in ``[0, 2**32)`` (:data:`SEED_LIMIT`, the seeds
    :func:`~automl_mm.utils.seeding.as_seed` takes).

    Raises:
        argparse.ArgumentTypeError: naming the value and the range (argparse prefixes ``argument --seed``).
    """
    import argparse

    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{value!r} is not an int (a seed in [0, 2**32))') from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f'{value} is outside [0, 2**32) (0 .. {SEED_LIMIT - 1}): a seed is a '
                                         'non-negative int')
    if seed >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f'{value} is outside [0, 2**32) (0 .. {SEED_LIMIT - 1}): '
                                         f'{seed_range_reason(seed)}')
    return seed


def check_out_dir(out_dir: str, what: str = 'the output folder') -> None:
    """Refuse an output folder that cannot be made because it, or the nearest of its parents that exists, is a file
    (``os.makedirs`` failed later with a bare ``NotADirectoryError`` / ``FileExistsError`` traceback).

    Args:
        out_dir: The folder to be made (or there already).
        what: How the message names it: the option or config key that gave it (``'--work-dir'``, ``'work_dir'``).

    Raises:
        NotADirectoryError: naming ``what``, ``out_dir`` and the file in its way.
    """
    path = blocking_file(out_dir)
    if path is not None:
        raise NotADirectoryError(f'{what} {out_dir} cannot be made: {path} is a file, not a folder')


def blocking_file(out_dir: str) -> str | None:
    """The absolute path of ``out_dir``, or of the nearest of its parents that exists, where that is no folder (so
    ``out_dir`` cannot be made); ``None`` where it can."""
    path = osp.abspath(out_dir)
    while not osp.exists(path) and osp.dirname(path) != path:
        path = osp.dirname(path)
    return path if osp.exists(path) and not osp.isdir(path) else None


def prepare_generated_dir(out_dir: str, settings: dict[str, Any], folders: Sequence[str],
                          overwrite: bool = False, unrecorded: Sequence[str] = ()) -> bool:
    """Make ``out_dir`` ready for the set ``settings`` describes.

    Args:
        out_dir: The set's folder.
        settings: JSON-serialisable arguments that determine the set (the generator's name included, and a digest of
            the data it is made from, where it reads any: e.g. ``fashion_mnist``).
        folders: The set's sub-folders under ``out_dir`` (its split folders and ``annotations``), removed by
            ``overwrite``; nothing else in ``out_dir`` is touched.
        overwrite: Replace another set found there.
        unrecorded: Keys of ``settings`` that a marker written before they were recorded lacks, and that are
            ``None`` in ``settings`` when this call cannot tell them (the source files missing): compared only where
            both sides give them, so that such a set stays usable.

    Returns:
        True when ``out_dir`` already holds the set of these ``settings`` (complete: the marker is written last).

    Raises:
        FileExistsError: ``out_dir`` holds another set, or files of one without a marker, and ``overwrite`` is
            False (nothing was changed).
        NotADirectoryError: ``out_dir`` or a parent is a file (:func:`check_out_dir`).
    """
    check_out_dir(out_dir)
    marker = osp.join(out_dir, MARKER)
    if osp.isfile(marker):
        with open(marker) as f:
            found = json.load(f)
        asked = json.loads(json.dumps(settings))  # as the marker stores it (tuples become lists)
        for key in unrecorded:  # not recorded there (an older generator), or not known here: not compared
            if found.get(key) is None or asked.get(key) is None:
                found.pop(key, None)
                asked.pop(key, None)
        if found == asked:
            return True
        what = f'a set made with other settings ({_difference(found, asked)})'
    elif any(osp.exists(osp.join(out_dir, name)) for name in folders):
        what = 'files of a set without its settings file (an older generator, or an interrupted run)'
    else:
        return False
    if not overwrite:
        raise FileExistsError(f'{out_dir} holds {what}: generate into another folder, or pass --overwrite '
                              f'(overwrite=True) to replace it; nothing was changed')
    for name in folders:
        path = osp.join(out_dir, name)
        if osp.isdir(path):
            shutil.rmtree(path)
    return False


def mark_generated(out_dir: str, settings: dict[str, Any]) -> None:
    """Write the completion marker (call after every file of the set is written)."""
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    with open(osp.join(out_dir, MARKER), 'w') as f:
        json.dump(settings, f, indent=1, sort_keys=True)


def _difference(found: dict, asked: dict) -> str:
    keys = sorted(set(found) | set(asked), key=str)
    diff = [f'{k}: {found.get(k)!r} there, {asked.get(k)!r} asked' for k in keys if found.get(k) != asked.get(k)]
    return '; '.join(diff[:3]) + ('; ...' if len(diff) > 3 else '')


class GeneratedSet(dict):
    """What a generator returns: ``{split: annotation file path}`` (the plain ``dict`` it returned before), with:

    Attributes:
        written: True when this call wrote the set; False when ``out_dir`` held it already and nothing was written.
        counts: ``{split: {'images': n, 'annotations': m, ...}}``, per split in the files' order (a generator may
            add its own counts, e.g. ``generate_fmnist_det``'s objects per COCO area range): taken from what the
            call wrote, or read once from each file of a set that was there already.

    The tools print these, instead of reading each annotation file back and telling from the marker file's stat
    whether the call wrote.
    """

    def __init__(self, files: dict[str, str], written: bool, counts: dict[str, dict[str, int]]) -> None:
        super().__init__(files)
        if list(counts) != list(files):
            raise ValueError(f'counts must give the splits of files, {list(files)}, got {list(counts)}')
        self.written = bool(written)
        self.counts = {split: dict(counts[split]) for split in files}


def split_counts(coco: dict) -> dict[str, int]:
    """``{'images': n, 'annotations': m}`` of a COCO dict."""
    return {'images': len(coco.get('images', [])), 'annotations': len(coco.get('annotations', []))}


def read_generated_set(out_dir: str, files: dict[str, str],
                       count: Callable[[dict], dict[str, int]] = split_counts) -> GeneratedSet:
    """The :class:`GeneratedSet` of a set ``out_dir`` holds already (``written`` False): ``count`` of each
    annotation file of ``files`` (``{split: path}``), each read once.

    Raises:
        FileNotFoundError: An annotation file is missing or not JSON although the completion marker is there
            (removed or changed by hand); names the file.
    """
    counts = {}
    for split, path in files.items():
        try:
            with open(path) as f:
                coco = json.load(f)
        except (OSError, ValueError) as err:
            raise FileNotFoundError(
                f'{out_dir} holds the completion marker {MARKER} of this set, but its {split} annotation file '
                f'{path} is missing or unreadable ({type(err).__name__}: {err}): remove {out_dir} and generate the '
                'set again') from err
        counts[split] = count(coco)
    return GeneratedSet(files, False, counts)


def set_summary(tool: str, out_dir: str, generated: GeneratedSet) -> str:
    """One line saying what a generator tool wrote (as mmdet's dataset converters end), e.g. ``generate_coco.py:
    wrote 80 images and 2 annotation files (196 annotations) under data/synthetic_coco: train 64 images / 154
    annotations, val 16 / 42``; without ``generated.written``, that ``out_dir`` holds this set already and nothing
    was written. ``generated``: a generator's :class:`GeneratedSet` (its counts; no file is read)."""
    counts = {split: (c['images'], c['annotations']) for split, c in generated.counts.items()}
    images = sum(n for n, _ in counts.values())
    annotations = sum(n for _, n in counts.values())
    splits = ', '.join(f'{split} {n} images / {a} annotations' if i == 0 else f'{split} {n} / {a}'
                       for i, (split, (n, a)) in enumerate(counts.items()))
    if not generated.written:
        return (f'{tool}: {out_dir} holds this set already, nothing written: {images} images and {len(generated)} '
                f'annotation files ({annotations} annotations): {splits}')
    return (f'{tool}: wrote {images} images and {len(generated)} annotation files ({annotations} annotations) under '
            f'{out_dir}: {splits}')
