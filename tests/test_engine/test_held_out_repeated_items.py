"""A held-out loader the search engines read themselves (an OHL reward loader, a NAS search loader) that reads
items more than once is refused, as a val / test loader is (``check_scored_subsets``): ``evaluate_locally`` scores
each item read, so a ``RepeatDataset`` / ``ClassBalancedDataset`` around the reward split, or the split twice in a
``ConcatDataset``, counted every repeated box of a COCO metric as a false positive and weighed the repeated items
of an accuracy twice, silently. Refused by ``check_local_loader`` (purpose ``'score'``), so at the config check and
when the hook / loop builds the split."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.evaluate import build_local_loader, check_local_loader
from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import OHL, PC_NAS


def _digits(split='reward'):
    import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)

    return dict(type='DigitsDataset', split=split, img_size=8, pipeline=[], max_samples=10)


@pytest.mark.parametrize('dataset, named', [
    (dict(type='RepeatDataset', times=2, dataset=_digits()),
     r'^reward_dataloader\.dataset \(RepeatDataset, times=2\) reads items of reward_dataloader more than once'),
    (dict(type='ClassBalancedDataset', oversample_thr=0.5, dataset=_digits()),
     r'^reward_dataloader\.dataset \(ClassBalancedDataset, oversample_thr=0\.5\) reads items'),
    (dict(type='ConcatDataset', datasets=[_digits(), dict(type='RepeatDataset', times=3, dataset=_digits('train'))]),
     r'^reward_dataloader\.dataset\.datasets\.1 \(RepeatDataset, times=3\)'),
    (dict(type='ConcatDataset', datasets=[_digits(), _digits()]),
     r'^reward_dataloader\.dataset\.datasets\.0 and reward_dataloader\.dataset\.datasets\.1 \(the same data\)'),
])
def test_a_scored_split_reading_items_twice_is_refused_naming_the_key(dataset, named):
    with pytest.raises(ValueError, match=named):
        build_local_loader(dict(dataset=dataset, batch_size=4), 'reward_dataloader')


def test_wrappers_that_repeat_nothing_and_other_splits_pass():
    for dataset in (dict(type='RepeatDataset', times=1, dataset=_digits()),
                    dict(type='ClassBalancedDataset', oversample_thr=0, dataset=_digits()),
                    dict(type='ConcatDataset', datasets=[_digits(), _digits('train')])):
        loader = build_local_loader(dict(dataset=dataset, batch_size=4), 'reward_dataloader')
        assert len(loader.dataset) == (20 if dataset['type'] == 'ConcatDataset' else 10)
    check_local_loader(dict(dataset=dict(type='RepeatDataset', times=2, dataset=_digits()), batch_size=4),
                       'bn', 'sample')  # BN batches: a sample, not a score


def test_the_config_check_refuses_a_repeated_reward_and_search_split_at_start():
    cfg = Config.fromfile(OHL)
    check_config(cfg)
    cfg.reward_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.reward_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=r'^reward_dataloader\.dataset \(RepeatDataset, times=2\) reads items '
                                               r'of reward_dataloader more than once'):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    check_config(nas)
    nas.train_cfg.search_dataloader = dict(nas.reward_dataloader, dataset=dict(
        type='ConcatDataset', datasets=[nas.reward_dataloader.dataset, nas.reward_dataloader.dataset]))
    with pytest.raises(ConfigCheckError, match=r'^train_cfg\.search_dataloader\.dataset\.datasets\.0 and '
                                               r'train_cfg\.search_dataloader\.dataset\.datasets\.1 \(the same data\)'):
        check_config(nas)


@pytest.mark.parametrize('first, second, named', [
    (5, 8, r'\(the same data, their indices overlapping\)'),  # the first 5 items read twice
    ([0, 1, 2], [2, 3], r'\(the same data, their indices overlapping\)'),
    (None, [9], r'\(the same data, their indices overlapping\)'),
    (-3, -1, r'\(the same data, their indices overlapping\)'),
])
def test_a_scored_split_read_by_two_overlapping_indices_is_refused(first, second, named):
    """Two leaves of one split keeping other ``indices`` were taken as parts of it whatever they kept: ``indices=5``
    and ``indices=8`` of one reward split scored its first 5 items twice (13 items scored, 8 images)."""
    parts = [dict(_digits(), indices=first), dict(_digits(), indices=second)]
    with pytest.raises(ValueError, match=r'^reward_dataloader\.dataset\.datasets\.0 and reward_dataloader\.dataset'
                                         r'\.datasets\.1 ' + named):
        build_local_loader(dict(dataset=dict(type='ConcatDataset', datasets=parts), batch_size=4),
                           'reward_dataloader')


def test_indices_naming_an_item_twice_are_refused():
    with pytest.raises(ValueError, match=r'^reward_dataloader\.dataset\.indices \(position 3 named twice\) reads '
                                         r'items of reward_dataloader more than once'):
        build_local_loader(dict(dataset=dict(_digits(), indices=[3, 1, 3]), batch_size=4), 'reward_dataloader')


def test_two_disjoint_parts_of_one_split_read_each_item_once():
    """Parts of one split that keep no item in common pass, and read each of its items once (first 4 and the next
    6; ``indices=4`` beside ``indices=-6``: apart unless the split is shorter than 10, which the config cannot tell)."""
    for first, second in (([0, 1, 2, 3], [4, 5, 6, 7, 8, 9]), (4, -6), (4, [4, 5, 6, 7, 8, 9])):
        parts = [dict(_digits(), indices=first), dict(_digits(), indices=second)]
        loader = build_local_loader(dict(dataset=dict(type='ConcatDataset', datasets=parts), batch_size=4),
                                    'reward_dataloader')
        sources = [loader.dataset.get_data_info(i)['source_idx'] for i in range(len(loader.dataset))]
        assert len(sources) == 10 and len(set(sources)) == 10, (first, second)


def test_indices_past_the_items_are_named():
    """``indices=[0, 12]`` of a 10-item split stopped with mmengine's bare ``IndexError: list index out of range``,
    naming neither the loader nor the key; the local loaders and the runner's (``build_named_dataset``) name both."""
    from automl_mm.engine.loader_keys import build_named_dataset

    for indices in ([0, 12], [0, -11]):
        dataset = dict(_digits(), type='automl_mm.DigitsDataset', indices=indices)
        with pytest.raises(IndexError, match=rf'^reward_dataloader\.dataset: list index out of range: '
                                             rf'reward_dataloader\.dataset\.indices=\[0, {indices[1]}\] names a '
                                             r'position past the items the dataset loads'):
            build_local_loader(dict(dataset=dataset, batch_size=4), 'reward_dataloader')
        with pytest.raises(IndexError, match=r'^train_dataloader\.dataset: list index out of range: '
                                             r'train_dataloader\.dataset\.dataset\.indices=\[0, '):
            build_named_dataset('train_dataloader.dataset', dict(type='RepeatDataset', times=2, dataset=dataset))
    assert len(build_local_loader(dict(dataset=dict(_digits(), indices=[0, 5, -1]), batch_size=4),
                                  'reward_dataloader').dataset) == 3


@pytest.mark.parametrize('dataset, first, second', [
    (dict(_digits(), indices=[0, 5, -10]), 0, 2),  # -10: item 0 of the 10
    (dict(type='ConcatDataset', datasets=[dict(_digits(), indices=5), dict(_digits(), indices=-8)]), 2, 5),
])
def test_an_image_read_twice_that_the_config_cannot_tell_is_refused_when_built(dataset, first, second):
    """Positions of either sign name one item only given the split's length, which the config check does not know:
    ``indices=[0, 5, -10]`` of a 10-item reward split scored item 0 twice, and ``indices=5`` beside ``indices=-8``
    3 items twice (13 scored, 10 images). The loader is refused when built, naming the two indices."""
    with pytest.raises(ValueError, match=rf'^reward_dataloader\.dataset reads one image at its indices {first} and '
                                         rf'{second} \(source_idx=\d+\), but reward_dataloader is read whole'):
        build_local_loader(dict(dataset=dataset, batch_size=4), 'reward_dataloader')
    parts = [dict(_digits(), indices=2), dict(_digits(), indices=-8)]  # the first 2 and the last 8: apart
    loader = build_local_loader(dict(dataset=dict(type='ConcatDataset', datasets=parts), batch_size=4),
                                'reward_dataloader')
    assert len(loader.dataset) == 10


def test_two_stored_images_of_equal_pixels_are_not_refused_as_one_image_read_twice():
    """A data set of in-memory images without path or source index (mmpretrain's MNIST / CIFAR-10 data infos:
    ``img`` and ``gt_label``) may hold two images of equal bytes and label (Fashion-MNIST's first release did:
    zalandoresearch/fashion-mnist#44); its reward split was refused as 'reads one image at its indices 0 and 2',
    which no indices could fix. The same split listed twice is still refused by the config check."""
    import numpy as np
    from mmengine.dataset import BaseDataset

    from automl_mm.engine.local_loader import check_items_once, item_identity

    class InMemory(BaseDataset):
        def load_data_list(self):
            images = [np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8), np.zeros((2, 2), np.uint8)]
            return [dict(img=img, gt_label=0) for img in images]

    dataset = InMemory()
    check_items_once(dataset, 'reward_dataloader')  # raised ValueError
    assert item_identity(dataset, 0) == item_identity(dataset, 2) != item_identity(dataset, 1)  # BN batches: one
