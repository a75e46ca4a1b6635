"""``local_loader.item_identity`` told an item of the generated-from-source datasets (DigitsDataset,
FashionMNISTDataset, CIFAR10Dataset) by a digest of its data info, pixels included: one source image read at another
``img_size`` was another item, so two parts of a reward loader at ``img_size`` 8 and 16 sharing it passed the config
check (``_shared_item``) and the build (``check_items_once``), and BN batches drew it twice. An item with a
``source_idx`` of a dataset naming its source (``item_source()``) is now told by (source, ``source_idx``)."""
from __future__ import annotations

import pytest
from torch.utils.data import ConcatDataset

from automl_mm.engine.local_loader import PIXELS_ONLY, SOURCE_IMAGE, check_items_once, item_identity
from automl_mm.engine.preflight_eval_splits import repeated_items
from tests.test_datasets.test_fashion_mnist import write_fashion


def _digits(seed, indices, img_size, split='reward'):
    return dict(type='DigitsDataset', split=split, img_size=img_size, pipeline=[], seed=seed, indices=indices)


def _built(cfg):
    from automl_mm.datasets import DigitsDataset

    return DigitsDataset(**{k: v for k, v in cfg.items() if k != 'type'})


def test_digits_reward_parts_at_other_img_size_sharing_a_source_image_are_refused():
    import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)

    # seed=0 position 3 and seed=1 position 8 are one source image (source_idx=30), read at 8x8 and at 16x16
    parts = [_digits(0, [3], 8), _digits(1, [8], 16)]
    loader = dict(dataset=dict(type='ConcatDataset', datasets=parts), batch_size=4)
    assert repeated_items(loader, 'reward_dataloader') == (
        'reward_dataloader.dataset.datasets.0 and reward_dataloader.dataset.datasets.1 (splits of one source carved '
        'with other seed: 0 and 1, both reading one image (source_idx=30) at their items 0 and 0)')  # was None
    # at build (what the config check cannot build): the ConcatDataset's indices 0 and 1 are one image
    concat = ConcatDataset([_built(cfg) for cfg in parts])
    with pytest.raises(ValueError, match=r'^reward_dataloader\.dataset reads one image at its indices 0 and 1 '
                                         r'\(source_idx=30\)'):
        check_items_once(concat, 'reward_dataloader')
    assert item_identity(concat, 0) == item_identity(concat, 1) == (SOURCE_IMAGE, 'sklearn.datasets.load_digits', 30)


def test_other_source_images_at_other_img_size_stay_apart():
    # position 1: source image 7 of seed=0, 5 of seed=1
    parts = [_digits(0, [1], 8), _digits(1, [1], 16)]
    assert repeated_items(dict(dataset=dict(type='ConcatDataset', datasets=parts)), 'r') is None
    concat = ConcatDataset([_built(cfg) for cfg in parts])
    check_items_once(concat, 'r')
    assert [item_identity(concat, i)[2] for i in range(2)] == [7, 5]


def test_bn_batches_take_a_source_image_once_across_img_sizes():
    from torch.utils.data import DataLoader

    from automl_mm.engine.evaluate import fixed_batches

    # one 5-image training split listed at img_size 8 and 16: 5 source images, 10 items
    concat = ConcatDataset([_built(_digits(0, None, size, split='train') | dict(max_samples=5)) for size in (8, 16)])
    batches = fixed_batches(DataLoader(concat, batch_size=5, collate_fn=lambda b: b), 1, seed=1)
    assert sorted(item['source_idx'] for item in batches[0]) == sorted(
        concat.datasets[0].get_data_info(i)['source_idx'] for i in range(5))  # each source image once


def test_fashion_mnist_source_is_the_part_read(tmp_path):
    from automl_mm.datasets import FashionMNISTDataset, NoisyLabelDataset

    # the tiny folder's training image i and test image i (i < 7) hold equal bytes and label: still two images
    root = write_fashion(tmp_path / 'fm')
    train = FashionMNISTDataset(split='train', data_root=root, reward_size=20, pipeline=[])
    test = FashionMNISTDataset(split='test', data_root=root, pipeline=[])
    at = next(i for i in range(len(train)) if train.get_data_info(i)['source_idx'] < 7)
    source = train.get_data_info(at)['source_idx']
    assert test.get_data_info(source)['source_idx'] == source
    assert item_identity(train, at)[0] == SOURCE_IMAGE and item_identity(train, at) != item_identity(test, source)
    # a copy of the files is the same source; labels flipped by NoisyLabelDataset leave the image the same
    copy = FashionMNISTDataset(split='train', data_root=write_fashion(tmp_path / 'copy', compress=False),
                               reward_size=20, pipeline=[])
    noisy = NoisyLabelDataset(dict(type='FashionMNISTDataset', split='train', data_root=root, reward_size=20,
                                   pipeline=[]), noise_ratio=0.5)
    assert item_identity(copy, at) == item_identity(noisy, at) == item_identity(train, at)


def test_items_without_a_named_source_are_told_as_before():
    import numpy as np
    from mmengine.dataset import BaseDataset

    class InMemory(BaseDataset):  # an mmpretrain-style in-memory set: img and label, no source index
        def load_data_list(self):
            return [dict(img=np.zeros((2, 2, 3), np.uint8), gt_label=0, source_idx=i) for i in range(2)] + \
                [dict(img=np.ones((2, 2, 3), np.uint8), gt_label=1)]

    data = InMemory(serialize_data=False)
    # a source_idx without item_source(): told by its data info (pixels included), as before
    assert item_identity(data, 0) != item_identity(data, 1) and item_identity(data, 0)[0] != SOURCE_IMAGE
    assert item_identity(data, 2)[-1] == PIXELS_ONLY


def test_cifar_source_is_the_batches_read(tmp_path):
    import shutil

    from automl_mm.datasets import CIFAR10Dataset

    from conftest import write_cifar

    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))  # 100 training images, 20 test images
    train = CIFAR10Dataset(data_root=root, split='train', reward_size=10, pipeline=[])
    reward = CIFAR10Dataset(data_root=shutil.copytree(root, str(tmp_path / 'copy')), split='reward', reward_size=10,
                            seed=1, pipeline=[])
    test = CIFAR10Dataset(data_root=root, split='test', pipeline=[])
    sources = {train.get_data_info(i)['source_idx']: i for i in range(len(train))}
    at = next(i for i in range(len(reward)) if reward.get_data_info(i)['source_idx'] in sources
              and reward.get_data_info(i)['source_idx'] < len(test))
    source = reward.get_data_info(at)['source_idx']
    # one training image, in a copy of the batches: one item; the test batch's image of that index: another
    assert item_identity(reward, at) == item_identity(train, sources[source])
    assert item_identity(test, source) != item_identity(train, sources[source])
