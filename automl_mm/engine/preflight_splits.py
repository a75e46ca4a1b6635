"""The held-out splits of automl_mm's split datasets against the training split (part of
:func:`automl_mm.engine.preflight.check_config`).

``DigitsDataset``, ``FashionMNISTDataset``, ``CIFAR10Dataset`` and ``ImageFolderDataset`` carve their splits from
one source by seeded arguments (their ``SPLIT_ARGS``): two datasets of one source are disjoint parts only when they
carve with the same values. A training split of ``seed=1`` beside a reward split of ``seed=0`` (a child config or
``--cfg-options train_dataloader.dataset.seed=1``) shared most of its images with it, silently. Also: label noise
only in training (:func:`check_noise_on_training_only`), and no scored loader reading a dataset outside
``test_mode`` through a transform that can give ``None`` (:func:`check_replaced_evaluation_items`).
"""
from __future__ import annotations

import inspect
import os
import os.path as osp
from collections.abc import Iterator
from typing import Any

from automl_mm.utils.wording import a_class

from .preflight_classes import _dataset_class
from .preflight_walk import (
    NOT_HELD_OUT,
    ConfigCheckError,
    _loader_cfgs,
    bn_recalibration_loader_cfgs,
    scoped_datasets,
    scoped_pipeline_transforms,
)


def _plain(value: Any) -> Any:
    """``value`` with lists as tuples, so that ``[0.6, 0.2, 0.2]`` and ``(0.6, 0.2, 0.2)`` compare equal."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _split_leaves(loader: Any, key: str, scope: str | None) -> Iterator[dict]:
    """The leaf datasets of a loader whose class carves splits (``SPLIT_ARGS``): their key, class, source (the
    resolved ``data_root`` joined with ``data_prefix``), configured ``data_root``, split and carving arguments
    (defaults filled in)."""
    # (each in the scope mmengine builds it in: its _scope_, else its wrapper's, else scope)
    for dataset, where, built_in in scoped_datasets(loader.get('dataset') if isinstance(loader, dict) else None,
                                                    f'{key}.dataset', scope):
        cls = _dataset_class(dataset, built_in)
        if isinstance(dataset.get('dataset'), dict) or dataset.get('datasets') or \
                not isinstance(getattr(cls, 'SPLIT_ARGS', None), tuple):
            continue
        defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
        root, prefix = dataset.get('data_root') or '', dataset.get('data_prefix')
        root = os.fspath(root) if isinstance(root, os.PathLike) else root  # a pathlib.Path: mmengine joins it too
        prefix = (prefix.get('img_path') or prefix.get('img') or '') if isinstance(prefix, dict) else prefix or ''
        if not isinstance(root, str) or not isinstance(prefix, str):
            continue
        yield dict(key=where, cls=cls, source=osp.realpath(osp.join(root, prefix)) if root or prefix else None,
                   data_root=dataset.get('data_root'), split=dataset.get('split', defaults.get('split')),
                   args={a: _plain(dataset.get(a, defaults.get(a))) for a in cls.SPLIT_ARGS})


def _same_data(held: dict, trained: dict, digests: dict) -> bool:
    """Whether two leaves of one class carve the same data, judged by content where the class can tell it: the
    same source; or, where the class has ``shares_images(first, second)`` (``ImageFolderDataset``: a folder and
    its copy under another root, compared by the images both list, a sample read byte for byte), its verdict on
    the two leaves' resolved ``data_root`` + ``data_prefix``; or, where it has ``split_source(source)`` (a digest of
    what the split depends on, given the resolved ``data_root``, ``None`` for the class's default location:
    Fashion-MNIST's and CIFAR-10's training images and labels), the same non-``None`` digest, so that
    ``data_root=None`` and the folder it resolves to, or two copies of the files, count as one, and files of other
    images under the same labels as two. These are read only here, where the
    verdict depends on them (the paths differ and the splits would overlap), digests once per class and source
    (``digests``); the cost is the class's method's."""
    if held['source'] == trained['source']:
        return True
    shares_images = getattr(held['cls'], 'shares_images', None)
    if callable(shares_images):
        key = (held['cls'], held['source'], trained['source'])
        if key not in digests:
            digests[key] = bool(shares_images(held['source'], trained['source']))
        return digests[key]
    split_source = getattr(held['cls'], 'split_source', None)
    if not callable(split_source):
        return False
    found = []
    for leaf in (held, trained):
        if (held['cls'], leaf['source']) not in digests:
            digests[held['cls'], leaf['source']] = split_source(leaf['source'])
        found.append(digests[held['cls'], leaf['source']])
    return found[0] is not None and found[0] == found[1]


def _relabelled(held: dict, trained: dict, digests: dict) -> bool:
    """Whether two leaves of one class that are not the same data (:func:`_same_data`) read the same images under
    other labels: where the class has ``split_images(source)`` (Fashion-MNIST's and CIFAR-10's training images,
    without their labels), the same non-``None`` digest. Splits carved from other labels share images whatever
    their arguments (a copy of the files with label noise written into them, its training split beside a reward
    split of the original: told apart by their sources only, the two passed). Digests once per class and source
    (``digests``); the cost is the class's method's (the files read once for both digests)."""
    split_images = getattr(held['cls'], 'split_images', None)
    if not callable(split_images) or held['source'] == trained['source']:
        return False
    found = []
    for leaf in (held, trained):
        if ('images', held['cls'], leaf['source']) not in digests:
            digests['images', held['cls'], leaf['source']] = split_images(leaf['source'])
        found.append(digests['images', held['cls'], leaf['source']])
    return found[0] is not None and found[0] == found[1] and not _same_data(held, trained, digests)


def check_held_out_splits(cfg: Any, scope: str | None, test_only: bool) -> None:
    """Each dataset of another loader than ``train_dataloader`` of the same split-carving class and data as a
    training dataset (:func:`_same_data`) holds none of its images:

    * a different split carved with different ``SPLIT_ARGS`` values (a split in the class's ``FIXED_SPLITS``, the
      official test set, is the same whatever they are) is refused for every loader: the parts overlap;
    * the same split (or ``'all'``) is refused for a held-out loader (OHL's reward loader, the NAS search loaders:
      not in :data:`NOT_HELD_OUT`); a val / test loader may read the training split on purpose (training
      accuracy);
    * an OHL hook's ``bn_recalibration_dataloader`` (:func:`~automl_mm.engine.preflight_walk.
      bn_recalibration_loader_cfgs`) reads the training images: any split of it carved with other ``SPLIT_ARGS``
      values, its training split included, holds images of the reward and test splits, whose BN statistics would
      then be in the reward (its split ``'test'`` / the reward split itself:
      :func:`~automl_mm.engine.preflight_search._check_bn_loader`);
    * two sources of the same images under other labels (:func:`_relabelled`) are refused for any two splits but the
      class's ``FIXED_SPLITS`` (a val / test loader may read the training images on purpose): their splits are
      carved from other labels and share images whatever their ``SPLIT_ARGS``."""
    if test_only:
        return  # tools/test.py reads no training split
    train = list(_split_leaves(cfg.get('train_dataloader'), 'train_dataloader', scope))
    digests: dict = {}
    for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]:
        bn = key.endswith('.bn_recalibration_dataloader')
        if key == 'train_dataloader' or not train:
            continue
        for held in _split_leaves(loader, key, scope):
            for trained in train:
                if held['cls'] is not trained['cls']:
                    continue
                name = held['cls'].__name__
                same_split = held['split'] == trained['split'] or 'all' in (held['split'], trained['split'])
                fixed = held['cls'].FIXED_SPLITS
                if held['split'] not in fixed and trained['split'] not in fixed and \
                        not (not bn and same_split and key in NOT_HELD_OUT) and _relabelled(held, trained, digests):
                    raise ConfigCheckError(
                        f"{held['key']} ({name}, split={held['split']!r}, data_root={held['data_root']!r}) and "
                        f"{trained['key']} (split={trained['split']!r}, data_root={trained['data_root']!r}) carve "
                        'their splits from the same images under other labels: splits carved from other labels share '
                        'images whatever their ' + ', '.join(held['cls'].SPLIT_ARGS) + ', so '
                        + (f'{key} would re-estimate BN statistics on images of the reward and test splits. ' if bn
                           else f'{key} would score the model on images it trained on. ')
                        + 'Read both from one data_root (one set of labels)')
                if not bn and same_split:
                    if key in NOT_HELD_OUT or not _same_data(held, trained, digests):
                        continue
                    raise ConfigCheckError(
                        f"{held['key']} ({name}, split={held['split']!r}) reads the images {trained['key']} trains "
                        f"on (split={trained['split']!r}): rewards and search scores must come from a split held out "
                        "of training. Give it split='reward' (with the training split's "
                        f"{', '.join(held['cls'].SPLIT_ARGS)})")
                differ = [a for a in held['args'] if held['args'][a] != trained['args'][a]]
                if held['split'] in fixed or trained['split'] in fixed or not differ or \
                        not _same_data(held, trained, digests):
                    continue
                raise ConfigCheckError(
                    f"{held['key']} ({name}, split={held['split']!r}) and {trained['key']} (split="
                    f"{trained['split']!r}) carve their splits from the same data with other "
                    + ', '.join(f"{a}: {held['args'][a]!r} and {trained['args'][a]!r}" for a in differ)
                    + ': the two splits share images, so '
                    + (f'{key} would re-estimate BN statistics on images of the reward and test splits. ' if bn else
                       f'{key} would score the model on images it trained on. ')
                    + f"Give both the same {', '.join(differ)}")


def check_noise_on_training_only(cfg: Any, scope: str | None, test_only: bool, split: str = 'test') -> None:
    """Label noise (automl_mm's ``NoisyLabelDataset``, or a subclass, at any depth of a loader's dataset) only under
    ``train_dataloader``: every other loader (``val`` / ``test``, an OHL hook's reward split, a NAS search split) is
    scored against its labels. ``NoisyLabelDataset`` refuses a wrapped dataset of split ``'reward'`` / ``'test'``
    or ``test_mode=True``, but a val loader of the training split (``split='train'``, an image folder's
    ``'all'``) under it was scored against flipped labels, silently (a model right on every image scored about
    ``1 - noise_ratio``). An OHL hook's ``bn_recalibration_dataloader`` reads no label and is not checked.

    Raises:
        ConfigCheckError: naming the ``NoisyLabelDataset``'s key and its loader.
    """
    from automl_mm.datasets.noisy_labels import NoisyLabelDataset

    from .preflight_walk import outside_split

    for loader, key in _loader_cfgs(cfg):
        if key == 'train_dataloader' or outside_split(key, test_only, split) or not isinstance(loader, dict):
            continue
        # (each in the scope mmengine builds it in: its _scope_, else its wrapper's, else scope)
        for node, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope):
            cls = _dataset_class(node, built_in)
            if isinstance(cls, type) and issubclass(cls, NoisyLabelDataset):
                raise ConfigCheckError(
                    f'{where} is {a_class(cls)} (noise_ratio={node.get("noise_ratio")!r}), but {key} is scored: '
                    'its metric would count a right prediction of a flipped label as wrong (and a wrong one as '
                    'right). Label noise goes on training data only (train_dataloader): read the clean labels here '
                    f'(remove the {cls.__name__} from {key}, keeping the dataset it wraps)')


def _dropping_setting(cls: type | None, transform: dict) -> str | None:
    """``'ignore_empty=True'`` (mmcv's ``LoadImageFromFile`` or a subclass: ``None`` for an image it cannot read),
    ``'keep_empty=True'`` (mmdet's ``FilterAnnotations``, its default: ``None`` for an image left without boxes) or
    ``'allow_negative_crop=False'`` (mmdet's ``RandomCrop``, its default: ``None`` for a crop without boxes) where
    the transform config ``transform`` of class ``cls`` can give ``None``; else ``None``."""
    from mmcv.transforms import LoadImageFromFile

    if not isinstance(cls, type):
        return None
    if issubclass(cls, LoadImageFromFile):
        return 'ignore_empty=True' if transform.get('ignore_empty', False) is True else None
    try:
        from mmdet.datasets.transforms import FilterAnnotations, RandomCrop
    except ImportError:  # pragma: no cover - mmdet is a dependency
        return None
    if issubclass(cls, FilterAnnotations):
        return 'keep_empty=True' if transform.get('keep_empty', True) else None
    if issubclass(cls, RandomCrop):
        return None if transform.get('allow_negative_crop', False) else 'allow_negative_crop=False'
    return None


def check_replaced_evaluation_items(cfg: Any, scope: str | None, test_only: bool, split: str = 'test') -> None:
    """No scored loader (every loader but ``train_dataloader``: val / test, OHL's reward loader, the NAS search
    loaders) reads a dataset outside ``test_mode`` through a transform that can give ``None``
    (:func:`_dropping_setting`: mmcv's ``LoadImageFromFile(ignore_empty=True)``, mmdet's ``FilterAnnotations`` and
    ``RandomCrop``): mmengine's ``BaseDataset.__getitem__`` then reads a random other item in its place
    (``max_refetch`` times), so the metric scored another image at that position and one image twice, silently.
    mmdet's val / test datasets set ``test_mode=True``; mmpretrain's configs set none (their ``LoadImageFromFile``
    raises on an unreadable image, and such a pipeline passes). An automl_mm split dataset of split ``'reward'`` /
    ``'test'`` refuses the ``None`` itself (:class:`~automl_mm.datasets.splits.SingleLabelMixin`) and passes; an
    image folder's ``split='all'`` (a val folder's too) and a ``'train'`` split read for training accuracy do not.
    Wrapped datasets are checked each (their own ``test_mode``); an OHL hook's ``bn_recalibration_dataloader``
    (batches for BN statistics, not scored) is not.

    Raises:
        ConfigCheckError: naming the transform's key and setting, the dataset's key, type and split, and what to do.
    """
    from automl_mm.datasets.splits import SingleLabelMixin
    from automl_mm.registry import TRANSFORMS, config_class

    from .preflight_walk import outside_split

    for loader, key in _loader_cfgs(cfg):
        if key == 'train_dataloader' or outside_split(key, test_only, split) or not isinstance(loader, dict):
            continue
        for dataset, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope):
            if isinstance(dataset.get('dataset'), dict) or dataset.get('datasets') or \
                    dataset.get('test_mode'):
                continue  # a wrapper reads its inner datasets' items; test_mode (any true value) refuses None
            cls = _dataset_class(dataset, built_in)
            if isinstance(cls, type) and issubclass(cls, SingleLabelMixin) and \
                    dataset.get('split') in ('reward', 'test'):
                continue
            for transform, at, t_scope in scoped_pipeline_transforms(dataset.get('pipeline'), f'{where}.pipeline',
                                                                       built_in):
                t_cls = config_class(TRANSFORMS, transform, t_scope)
                setting = _dropping_setting(t_cls, transform)
                if setting is None:
                    continue
                split_of = f", split={dataset['split']!r}" if 'split' in dataset else ''
                raise ConfigCheckError(
                    f'{at} ({t_cls.__name__}, {setting}) gives None for some items, and {where} '
                    f'({getattr(cls, "__name__", dataset.get("type"))}{split_of}) is outside test_mode: mmengine '
                    f'reads a random other item of the set in the place of each such item, so {key} would score '
                    'another image at that position (and one image twice), silently. Set '
                    f'{where}.test_mode=True (mmengine then stops at the item, as mmdet\'s val / test datasets do), '
                    + ('or remove ignore_empty (an unreadable image then stops the run, naming its file)'
                       if setting == 'ignore_empty=True' else 'or take the transform out of this pipeline'))
