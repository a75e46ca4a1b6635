"""scikit-learn's bundled digits (1,797 real 8x8 handwritten digits) as an image-classification set."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from automl_mm.registry import DATASETS
from automl_mm.utils.checks import as_count

from .splits import (
    SPLITS,
    SingleLabelMixin,
    check_counts,
    check_fractions,
    check_seed,
    check_split,
    metainfo_with_classes,
    per_class_subset,
    refuse_classes_without_training,
    refuse_unread_base_keys,
    refuse_zero,
    stratified_split,
    take_mmpretrain_keys,
)


@DATASETS.register_module()
class DigitsDataset(SingleLabelMixin, BaseDataset):
    """The digits set split into seeded, stratified train / reward / test parts.

    Images are upsampled from 8x8 to ``img_size`` (bilinear), scaled to 0-255 and repeated over three channels:
    uint8 HWC arrays, so every image transform applies. The split is the same for a given ``seed`` in every
    process, so the reward part never overlaps training.

    Args:
        split: ``'train'``, ``'reward'`` (held out for OHL rewards / NAS scoring) or ``'test'``.
        img_size: Side of the square output image.
        split_sizes: Fractions of the 1,797 images in train, reward and test.
        seed: Seed of the split.
        samples_per_class: Keep a seeded sample of this many images of each of the 10 digits (a class-balanced
            subset of any split, drawn as ``FashionMNISTDataset``'s); a digit with fewer images in the split is
            refused. ``None`` (the default) keeps all.
        max_samples: Then keep only the first ``max_samples`` of the split (for tiny tests and demos); not
            class-balanced (``samples_per_class`` is).
        **kwargs: Passed to ``mmengine.dataset.BaseDataset`` (``pipeline``, ``test_mode``, ``indices``,
            ``metainfo``, ...); its ``ann_file``, ``data_root``, ``data_prefix`` and ``filter_cfg`` are never read
            and are refused. ``metainfo=dict(classes=...)`` renames the 10 classes (label order) and must give 10
            names. mmpretrain's ``with_label=True`` and ``download=False`` are taken (what it does anyway), other
            values refused.

    Raises:
        ValueError: An argument is out of range (the message names it), an unread ``BaseDataset`` key is given,
            or ``metainfo.classes`` does not give one name per digit.

    Examples:
        >>> ds = DigitsDataset(split='reward', img_size=16)
        >>> ds[0]['img'].shape, ds[0]['img'].dtype
        ((16, 16, 3), dtype('uint8'))
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}
    #: The arguments that decide which images each split holds, and the splits they do not change (read by the
    #: config check of held-out splits, :mod:`automl_mm.engine.preflight_splits`).
    SPLIT_ARGS = ('split_sizes', 'seed')
    FIXED_SPLITS: tuple[str, ...] = ()

    #: the mmengine ``BaseDataset`` keys this dataset never reads and refuses (``refuse_unread_base_keys``);
    #: the config check reads it too (a missing ``ann_file`` is not looked for)
    UNREAD_BASE_KEYS: tuple[str, ...] = ('ann_file', 'data_root', 'data_prefix', 'filter_cfg')

    def __init__(self,
                 split: str = 'train',
                 img_size: int = 32,
                 split_sizes: Sequence[float] = (0.6, 0.2, 0.2),
                 seed: int = 0,
                 max_samples: int | None = None,
                 samples_per_class: int | None = None,
                 **kwargs) -> None:
        take_mmpretrain_keys('DigitsDataset', kwargs, ('with_label', 'download'))
        refuse_unread_base_keys('DigitsDataset', kwargs, self.UNREAD_BASE_KEYS,
                                "builds its images from scikit-learn's bundled digits")
        self.split = check_split(split)
        counts = check_counts(max_samples=max_samples, samples_per_class=samples_per_class)
        max_samples, self.samples_per_class = counts['max_samples'], counts['samples_per_class']
        refuse_zero('DigitsDataset', max_samples=max_samples, samples_per_class=self.samples_per_class)
        img_size = as_count(img_size, 'DigitsDataset.img_size', 8)  # the source resolution
        # checked here, not first in load_data_list: with lazy_init (a config check) a bad value passed
        self.split_sizes = tuple(check_fractions(split_sizes, f'DigitsDataset.split_sizes (one for each of {SPLITS})',
                                                 len(SPLITS)).tolist())
        self.img_size = img_size
        self.seed = check_seed(seed, 'DigitsDataset.seed')
        self.max_samples = max_samples
        kwargs['metainfo'] = metainfo_with_classes(type(self), kwargs.get('metainfo'), "scikit-learn's digits")
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    def _parts(self, target: np.ndarray) -> list[np.ndarray]:
        """The train / reward / test index arrays of the digits' labels ``target``, refusing ``split_sizes`` that
        leave a split empty or (a ``'train'`` / ``'reward'`` dataset) a class no training image."""
        # per-class rounding (1078 / 362 / 357 at the defaults; the README's figures were measured on these splits)
        parts = stratified_split(target, self.split_sizes, self.seed)
        empty = [name for name, part in zip(SPLITS, parts) if len(part) == 0]
        if empty:  # a small fraction rounds to 0 in every class: (0.996, 0.002, 0.002) gave an empty test split
            raise ValueError(f'DigitsDataset.split_sizes={self.split_sizes} leave the {", ".join(empty)} split empty '
                             f'(rounded per class of about 180 images): give each split a larger fraction')
        if self.split != 'test':
            # (0.002, 0.499, 0.499): 5 training images of 5 classes, the other 5 classes trained on nothing, silently
            refuse_classes_without_training(target, parts[0], self.metainfo['classes'], 'split_sizes',
                                            self.split_sizes, "scikit-learn's digits",
                                            taken_by='the reward and test splits',
                                            advice='give the train split a larger fraction')
        return parts

    def check_sources(self) -> None:
        """Check what :meth:`load_data_list` splits (the start-up check of a dataset built with ``lazy_init``,
        :func:`~automl_mm.engine.preflight_loading.check_before_loading`): no split is empty, and (``'train'`` /
        ``'reward'``) every class keeps a training image. Cost: scikit-learn's bundled digits loaded and split
        (1,797 labels).

        Raises:
            ValueError: as :meth:`load_data_list`: an empty split, or a class without a training image (naming the
                classes, marked as a refusal of ``split_sizes``: :func:`~automl_mm.datasets.splits.of_argument`).
        """
        from sklearn.datasets import load_digits

        self._parts(load_digits().target)

    def load_data_list(self) -> list[dict]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        parts = self._parts(digits.target)
        indices = parts[SPLITS.index(self.split)]
        if self.samples_per_class is not None:
            indices = per_class_subset(indices, digits.target, self.samples_per_class, len(self.METAINFO['classes']),
                                       self.seed, self.split)
        if self.max_samples is not None:
            indices = indices[:self.max_samples]
        data_list = []
        for i in indices:
            img = (digits.images[i] * (255.0 / 16.0)).astype(np.float32)
            img = cv2.resize(img, (self.img_size, self.img_size), interpolation=cv2.INTER_LINEAR)
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
            data_list.append({'img': np.repeat(img[:, :, None], 3, axis=2), 'gt_label': int(digits.target[i]),
                              'source_idx': int(i)})
        return data_list

    def item_source(self) -> str:
        """The images ``source_idx`` indexes, for :func:`~automl_mm.engine.local_loader.item_identity`:
        scikit-learn's bundled digits (every split, seed and ``img_size`` reads the same 1,797 source images)."""
        return 'sklearn.datasets.load_digits'

    def prepare_data(self, idx: int) -> dict:
        data = self.get_data_info(idx)
        # get_data_info deep-copies, so transforms may modify the image in place.
        data['img_shape'] = data['ori_shape'] = data['img'].shape[:2]
        return self.pipeline(data)
