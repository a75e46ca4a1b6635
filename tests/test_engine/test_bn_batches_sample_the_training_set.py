"""BN re-estimation batches (NAS path scoring, ``bn_recalibration_batches``; OHL's clean reward statistics) are a
seeded random sample of the training set, not its first batches: an ImageFolder training set (the ImageNet PC-NAS
configs) is ordered by class, so the first 20 batches of 128 held two of the 1,000 classes, and every path was scored
with BatchNorm statistics of tench and goldfish images, without a word."""
from __future__ import annotations

import os
from collections import Counter
from types import SimpleNamespace

from mmengine.config import ConfigDict

from automl_mm.engine.evaluate import build_local_loader, fixed_batches


def _class_folders(root, classes: int = 10, per_class: int = 20) -> dict:
    for c in range(classes):
        os.makedirs(root / 'train' / f'c{c}')
        for i in range(per_class):
            (root / 'train' / f'c{c}' / f'{i:02d}.png').touch()  # never read: no loading transform
    return dict(batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                dataset=dict(type='automl_mm.ImageFolderDataset', data_root=str(root),
                             data_prefix=dict(img_path='train'), pipeline=[]))


def _items(batches) -> list:
    return [path for batch in batches for path in batch['img_path']]


def test_bn_batches_are_a_seeded_sample_of_the_whole_training_set(tmp_path):
    loader = build_local_loader(_class_folders(tmp_path), 'train_dataloader', 'train')
    batches = fixed_batches(loader, 5, seed=3)
    items = _items(batches)
    assert [len(b['img_path']) for b in batches] == [8] * 5
    assert len(set(items)) == 40  # without replacement
    classes = Counter(path.split(os.sep)[-2] for path in items)
    # the first 5 batches in order: 20 + 20 images of c0 and c1; a sample of 40 of the 200 images spans the classes
    assert len(classes) >= 8 and max(classes.values()) <= 10, classes
    assert _items(fixed_batches(loader, 5, seed=3)) == items  # the same on every call, rank and resumed run
    assert _items(fixed_batches(loader, 5, seed=4)) != items
    # more batches than the set holds: every image once, then a new permutation
    many = _items(fixed_batches(loader, 30, seed=3))
    every = [loader.dataset.get_data_info(i)['img_path'] for i in range(len(loader.dataset))]
    assert len(many) == 240 and sorted(many[:200]) == sorted(every) and set(many[200:]) <= set(every)


def test_the_nas_loops_re_estimate_on_a_sample_of_the_classes(tmp_path):
    from automl_mm.nas.loop import SearchLoopBase

    loop = SimpleNamespace(bn_recalibration_batches=5, _bn_batches=None, seed=0,
                           runner=SimpleNamespace(cfg=ConfigDict(train_dataloader=_class_folders(tmp_path))))
    classes = Counter(path.split(os.sep)[-2] for path in _items(SearchLoopBase._bn_loader(loop)))
    assert len(classes) >= 8, classes
