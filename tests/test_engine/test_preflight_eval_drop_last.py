"""A val / test loader with ``drop_last=True`` scored a subset of its split: mmengine's ``DataLoader`` drops each
rank's last partial batch and ``collect_results`` keeps what is left (it only removes the sampler's padding), with no
word: the reported accuracy / mAP was of fewer images than the split."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

BASELINE = f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py'


def test_drop_last_in_an_evaluated_loader_is_refused():
    cfg = Config.fromfile(BASELINE)
    loader = dict(cfg.test_dataloader, drop_last=True, batch_size=100)
    loader['dataset'] = dict(loader['dataset'], lazy_init=False)
    # what it did: the 357-image test split scored on its first 300 images
    assert len(Runner.build_dataloader(loader).dataset) == 357
    assert sum(len(b['inputs']) for b in Runner.build_dataloader(loader)) == 300
    cfg.val_dataloader = dict(cfg.val_dataloader, drop_last=True)
    with pytest.raises(ConfigCheckError, match=r'val_dataloader.drop_last=True drops the last partial batch'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads the test loader only


def test_a_filter_cfg_dropping_images_from_an_evaluated_loader_is_refused(coco_root):
    """mmdet's ``filter_cfg`` drops images outside ``test_mode``: a val set given the training set's
    ``filter_empty_gt`` / ``min_size`` lost those images, and its ``CocoMetric`` (whose ``ann_file`` lists every image)
    counted their objects as missed, silently."""
    from mmdet.datasets import CocoDataset

    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_dataloader.dataset.pop('test_mode', None)
    cfg.val_dataloader.dataset.filter_cfg = dict(filter_empty_gt=True, min_size=100)
    # what it did: every one of the 4 val images (64 px) dropped from the scored split
    dataset = dict(cfg.val_dataloader.dataset, pipeline=[], serialize_data=False)
    dataset.pop('type')
    assert len(CocoDataset(**dataset)) == 0 and len(CocoDataset(**dict(dataset, test_mode=True))) == 4
    with pytest.raises(ConfigCheckError, match=r"val_dataloader.dataset.filter_cfg=\{'filter_empty_gt': True, "
                                               r"'min_size': 100\} drops images from the scored split"):
        check_config(cfg)
    cfg.val_dataloader.dataset.test_mode = True  # mmdet reads no filter_cfg in test mode
    check_config(cfg)
    cfg.val_dataloader.dataset.test_mode = False
    cfg.val_dataloader.dataset.filter_cfg = dict(filter_empty_gt=False, min_size=0)  # filters nothing
    check_config(cfg)


def test_a_batch_sampler_regrouping_an_evaluated_loader_is_refused():
    """mmdet's ``AspectRatioBatchSampler`` regroups each rank's images by aspect ratio, and mmengine's
    ``collect_results`` interleaves the ranks' results as if in the sampler's order, then cuts ``DefaultSampler``'s
    padding off the end: on 2 ranks, image 0 (the padding) was scored twice and image 1 not at all."""
    from itertools import chain, zip_longest
    from unittest import mock

    import mmengine.dataset.sampler as samplers
    from mmdet.datasets.samplers import AspectRatioBatchSampler

    class Shapes:
        shapes = [(100, 50), (50, 100), (50, 100), (100, 50), (100, 50)]

        def __len__(self):
            return len(self.shapes)

        def get_data_info(self, i):
            return {'width': self.shapes[i][0], 'height': self.shapes[i][1]}

    parts = []
    for rank in range(2):
        with mock.patch.object(samplers, 'get_dist_info', return_value=(rank, 2)):
            sampler = samplers.DefaultSampler(Shapes(), shuffle=False)
        parts.append([i for batch in AspectRatioBatchSampler(sampler, batch_size=2) for i in batch])
    # mmengine's collect_results (dist.py): the ranks' parts interleaved, then cut to the dataset's length
    scored = [i for i in chain.from_iterable(zip_longest(*parts)) if i is not None][:len(Shapes())]
    assert sorted(scored) == [0, 0, 2, 3, 4]
    cfg = Config.fromfile(BASELINE)
    cfg.test_dataloader.batch_sampler = dict(type='mmdet.AspectRatioBatchSampler')
    with pytest.raises(ConfigCheckError, match=r'test_dataloader.batch_sampler .*AspectRatioBatchSampler.* regroups'):
        check_config(cfg, test_only=True)


@pytest.mark.parametrize('sampler', ['mmdet.ClassAwareSampler', 'InfiniteSampler', 'automl_mm.CopySampler'])
def test_a_training_sampler_in_an_evaluated_loader_is_refused(sampler):
    """A training sampler draws instead of giving each image once: mmdet's ``ClassAwareSampler`` over images of
    classes [0, 0, 0, 1] gave [0, 2, 3, 3] (image 3 scored twice, image 1 never), silently."""
    from mmdet.datasets.samplers import ClassAwareSampler

    class Classes:
        metainfo = {'classes': ('a', 'b')}

        def __len__(self):
            return 4

        def get_cat_ids(self, i):
            return [[0, 0, 0, 1][i]]

    assert sorted(ClassAwareSampler(Classes(), seed=0)) == [0, 2, 3, 3]
    cfg = Config.fromfile(BASELINE)
    cfg.val_dataloader.sampler = dict(type=sampler)
    with pytest.raises(ConfigCheckError, match=rf"val_dataloader.sampler \({sampler}\) is a training sampler"):
        check_config(cfg)
