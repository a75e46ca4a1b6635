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
        os.makedirs(root / 'train' / f'c{c}', exist_ok=True)
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


def _repeated(root, times: int = 10) -> dict:
    cfg = _class_folders(root)
    return dict(cfg, sampler=dict(type='InfiniteSampler', shuffle=True),
                dataset=dict(type='RepeatDataset', times=times, dataset=cfg['dataset']))


def test_bn_batches_of_a_repeated_training_set_hold_each_image_once(tmp_path):
    """A ``train_dataloader`` whose dataset repeats its images (mmengine's ``RepeatDataset``, common in mmdet
    configs; ``ClassBalancedDataset``) gave a sample of the repeated index space: 5 batches of 8 from the 200 images
    under ``RepeatDataset(times=10)`` held one image twice (seed 3), so BN was re-estimated on 39 images with one
    counted twice. Each stored image is now taken once per pass, as from the unwrapped set."""
    loader = build_local_loader(_repeated(tmp_path), 'train_dataloader', 'train')
    assert len(loader.dataset) == 2000
    items = _items(fixed_batches(loader, 5, seed=3))
    assert len(items) == 40 and len(set(items)) == 40
    assert _items(fixed_batches(loader, 5, seed=3)) == items  # fixed: the same on every call, rank and resumed run
    # every image once before any twice: the first 200 of 240 are the 200 images
    many = _items(fixed_batches(loader, 30, seed=3))
    every = [loader.dataset.dataset.get_data_info(i)['img_path'] for i in range(200)]
    assert len(many) == 240 and sorted(many[:200]) == sorted(every)
    for seed in range(10):  # seeds 0-9: none repeats an image within the set's size
        assert len(set(_items(fixed_batches(loader, 25, seed=seed)))) == 200

    # the same through a num_batch_per_epoch slice (a Subset: the repeated set's first 400 indices, every image
    # twice)
    sliced = build_local_loader(dict(_repeated(tmp_path), num_batch_per_epoch=50), 'train_dataloader', 'train',
                                reading_ranks=1)
    assert len(sliced.dataset) == 400 and len(set(_items(fixed_batches(sliced, 25, seed=3)))) == 200


def test_bn_batches_of_one_split_listed_twice_hold_each_image_once(tmp_path):
    """A ``ConcatDataset`` whose config lists one split twice builds two dataset objects of the same images: they
    were told apart by object (``id``), so 5 batches of 8 from the 200 images of two copies of one
    ``ImageFolderDataset`` held 38 images, 2 of them twice (seed 1; seed 0: 35 images, 5 twice). Each stored image
    (its data info) is now taken once per pass, whichever part reads it, also under a ``RepeatDataset``."""
    cfg = _class_folders(tmp_path)
    concat = build_local_loader(dict(cfg, dataset=dict(type='ConcatDataset', datasets=[cfg['dataset']] * 2)),
                                'train_dataloader', 'train')
    assert len(concat.dataset) == 400
    items = _items(fixed_batches(concat, 5, seed=1))
    assert len(items) == 40 and len(set(items)) == 40
    many = _items(fixed_batches(concat, 30, seed=1))  # 240 items: the 200 images once, then a new pass
    every = [concat.dataset.datasets[0].get_data_info(i)['img_path'] for i in range(200)]
    assert sorted(many[:200]) == sorted(every)
    for seed in range(5):
        assert len(set(_items(fixed_batches(concat, 25, seed=seed)))) == 200

    repeated = _repeated(tmp_path, times=2)
    concat = build_local_loader(dict(repeated, dataset=dict(type='ConcatDataset',
                                                            datasets=[repeated['dataset']] * 2)),
                                'train_dataloader', 'train')
    assert len(concat.dataset) == 800
    items = _items(fixed_batches(concat, 50, seed=1))  # 400 items: the 200 images once, then once more
    assert sorted(items[:200]) == sorted(every) and Counter(Counter(items).values()) == {2: 200}


def test_bn_batches_keep_two_splits_of_one_source_apart(tmp_path):
    """Two different splits of one source (mmengine's ``indices`` of one folder: its first and last 100 images)
    share no image: a ``ConcatDataset`` of them is 200 images, each taken once; two overlapping ones (the first 120
    and the last 120) share 40, counted once."""
    cfg = _class_folders(tmp_path)

    def concat_of(*indices):
        parts = [dict(cfg['dataset'], indices=i) for i in indices]
        return build_local_loader(dict(cfg, dataset=dict(type='ConcatDataset', datasets=parts)),
                                  'train_dataloader', 'train')

    apart = concat_of(list(range(100)), list(range(100, 200)))
    assert len(set(_items(fixed_batches(apart, 25, seed=2)))) == 200
    overlapping = concat_of(120, -120)  # 240 indices of 200 images
    assert len(overlapping.dataset) == 240
    items = _items(fixed_batches(overlapping, 30, seed=2))
    assert len(set(items[:200])) == 200  # every image once before any twice


def test_a_plain_training_set_keeps_its_sample(tmp_path):
    """Skipping repeated items changes nothing where nothing repeats: the sample of a plain set is the seeded
    permutation's first items, as before (the measured figures stand)."""
    from automl_mm.utils.seeding import stream_rng

    loader = build_local_loader(_class_folders(tmp_path), 'train_dataloader', 'train')
    first = stream_rng(3, 'bn.batches').permutation(200)[:40]
    every = [loader.dataset.get_data_info(int(i))['img_path'] for i in first]
    assert _items(fixed_batches(loader, 5, seed=3)) == every


def test_the_nas_loops_re_estimate_on_each_image_of_a_repeated_set_once(tmp_path):
    from automl_mm.nas.loop import SearchLoopBase

    loop = SimpleNamespace(bn_recalibration_batches=25, _bn_batches=None, seed=0,
                           runner=SimpleNamespace(cfg=ConfigDict(train_dataloader=_repeated(tmp_path))))
    assert len(set(_items(SearchLoopBase._bn_loader(loop)))) == 200


def test_item_identity_follows_mmengines_wrappers_lazily_initialised():
    from mmengine.dataset import BaseDataset, ClassBalancedDataset, ConcatDataset, RepeatDataset
    from torch.utils.data import DataLoader

    from automl_mm.engine.local_loader import item_identity

    class Items(BaseDataset):
        def load_data_list(self):  # item 0 of class 0 (rare), items 1-9 of class 1
            return [dict(i=i, label=int(i > 0)) for i in range(10)]

        def get_cat_ids(self, idx):
            return [self.get_data_info(idx)['label']]

    plain = Items()
    item_of = {item_identity(plain, i): i for i in range(10)}  # one identity per item

    def ids(dataset):
        return [item_of[item_identity(dataset, i)] for i in range(len(dataset))]

    assert len(item_of) == 10
    # two objects of one config: the same 10 items (they were 20 identities, two per item)
    concat = ConcatDataset([Items(lazy_init=True), Items(lazy_init=True)], lazy_init=True)
    assert ids(concat) == list(range(10)) * 2 and len({item_identity(concat, i) for i in range(20)}) == 10
    assert ids(RepeatDataset(Items(lazy_init=True), 3, lazy_init=True)) == list(range(10)) * 3
    balanced = ClassBalancedDataset(Items(), oversample_thr=0.5, lazy_init=True)
    assert len(balanced) == 12 and sorted(ids(balanced)) == [0, 0, 0] + list(range(1, 10))  # item 0 3 times
    loader = DataLoader(balanced, batch_size=5, collate_fn=lambda b: b)
    for seed in range(5):  # 2 batches of 5: 10 distinct items, each image once
        items = [d['i'] for b in fixed_batches(loader, 2, seed) for d in b]
        assert sorted(items) == list(range(10)), (seed, items)


def test_items_made_from_their_position_stay_apart():
    """A dataset whose data infos name no image (equal infos, images made from the position) keeps every index its
    own item: a sample of 10 of its 10 items holds each once, and two objects of it are one set."""
    from mmengine.dataset import BaseDataset, ConcatDataset
    from torch.utils.data import DataLoader

    from automl_mm.engine.local_loader import item_identity

    class Positional(BaseDataset):
        def load_data_list(self):
            return [dict(label=0) for _ in range(10)]

        def prepare_data(self, idx):
            return dict(i=idx)

    plain = Positional()
    assert len({item_identity(plain, i) for i in range(10)}) == 10
    concat = ConcatDataset([Positional(), Positional()])
    assert len({item_identity(concat, i) for i in range(20)}) == 10
    loader = DataLoader(plain, batch_size=5, collate_fn=lambda b: b)
    assert sorted(d['i'] for b in fixed_batches(loader, 2, 0) for d in b) == list(range(10))
