"""A loader scored on the wrong ground truth fails at start, naming the key: a COCO metric reading another split's
annotation file (or one of several files a loader concatenates), and a reward or search loader that reads the test
split, also behind a dataset wrapper, another spelling of its path or a link."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import CR_NAS, DETECTOR, OHL, PC_NAS

from conftest import REPO_ROOT


def test_a_coco_metric_of_another_split_fails_at_start():
    """A reward split without its own reward_evaluator fell back to val_evaluator, whose CocoMetric reads the val
    annotations: automl_mm's COCO splits number images from 1, so every reward prediction was scored against the
    val image of the same id (a perfect detector scored mAP 0), silently."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl_autoaug',
                                   'ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'))
    reward = cfg.pop('reward_evaluator')
    with pytest.raises(ConfigCheckError, match=r'val_evaluator reads ground truth from '
                                               r'data/fmnist_det/annotations/instances_val.json but reward_dataloader '
                                               r'is .*instances_reward.json'):
        check_config(cfg)
    cfg.custom_hooks[0].reward_evaluator = reward  # the hook's own evaluator of the right split
    from automl_mm.engine.preflight import split_mismatch
    assert split_mismatch(cfg.reward_dataloader, reward) is None
    detector = Config.fromfile(DETECTOR)  # val / test pairs too (after the files are checked: data needed)
    assert split_mismatch(detector.val_dataloader, detector.val_evaluator) is None
    assert split_mismatch(detector.val_dataloader, dict(detector.val_evaluator, ann_file='elsewhere.json'))[0] == \
        'elsewhere.json'
    cr_nas = Config.fromfile(CR_NAS)
    cr_nas.train_cfg.search_evaluator = dict(cr_nas.train_cfg.get('search_evaluator') or cr_nas.val_evaluator,
                                             ann_file='elsewhere.json')
    with pytest.raises(ConfigCheckError, match='train_cfg.search_evaluator reads ground truth from elsewhere.json'):
        check_config(cr_nas)


def test_a_coco_metric_scoring_a_concatenation_of_coco_files_fails_at_start():
    """A reward loader concatenating two COCO files under a CocoMetric of one of them passed (the metric's file was
    one of the loader's): automl_mm's splits number images from 1, so the second file's predictions were scored
    against the first file's images of the same ids, silently."""
    from automl_mm.engine.preflight import split_mismatch

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl_autoaug',
                                   'ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'))
    reward = cfg.reward_dataloader.dataset.to_dict()
    val = dict(reward, ann_file=cfg.val_dataloader.dataset.ann_file)
    loader = dict(cfg.reward_dataloader, dataset=dict(type='ConcatDataset', datasets=[reward, val]))
    metric = cfg.reward_evaluator
    assert metric.ann_file.endswith('instances_reward.json')
    assert split_mismatch(cfg.reward_dataloader, metric) is None
    found = split_mismatch(loader, metric)
    assert found is not None and found[0] == metric.ann_file and 'instances_val.json' in found[1] \
        and 'instances_reward.json' in found[1]
    cfg.reward_dataloader = loader
    with pytest.raises(ConfigCheckError, match=r'reward_evaluator reads ground truth from .*instances_reward\.json '
                                               r'but reward_dataloader reads several COCO files, .*instances_reward'
                                               r'\.json \+ .*instances_val\.json: one COCO metric holds the ground '
                                               r'truth of one file'):
        check_config(cfg)


def test_a_reward_or_search_split_that_is_the_test_split_fails_at_start():
    """reward_dataloader.dataset.split='test' ran: the rewards were test accuracy (the best copy's reward equalled
    the final test top-1), i.e. the search tuned on the test split."""
    cfg = Config.fromfile(OHL)
    cfg.reward_dataloader.dataset.split = 'test'
    with pytest.raises(ConfigCheckError, match=r'reward_dataloader reads the test split'):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    nas.reward_dataloader = nas.test_dataloader  # the search's fallback split
    with pytest.raises(ConfigCheckError, match=r'reward_dataloader reads the test split'):
        check_config(nas)


def test_a_test_split_behind_a_wrapper_or_another_spelling_of_its_path_fails_at_start(monkeypatch):
    """Only the top-level dataset was compared, by raw strings: a test split inside RepeatDataset / ConcatDataset,
    the test annotation file through another data_root spelling, or ImageNet's val folder with split='reward'
    (2 % of the test images) passed, and the rewards were test images."""
    import copy

    import automl_mm.datasets.coco_split as coco_split

    monkeypatch.setattr(coco_split, 'check_coco_annotation_file', lambda path: None)  # COCO files not needed
    refused = []
    cfg = Config.fromfile(OHL)
    inner = dict(cfg.reward_dataloader.dataset.to_dict(), split='test')
    cfg.reward_dataloader.dataset = dict(type='RepeatDataset', times=1, dataset=inner)
    refused.append(cfg)
    cfg = Config.fromfile(OHL)
    cfg.reward_dataloader.dataset = dict(type='ConcatDataset',
                                         datasets=[cfg.reward_dataloader.dataset.to_dict(), inner])
    refused.append(cfg)
    det = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py')
    for root, ann in (('data/fmnist_det', 'annotations/instances_test.json'),
                      ('data/', 'fmnist_det/annotations/instances_test.json')):
        cfg = Config.fromfile(det)
        cfg.reward_dataloader = copy.deepcopy(cfg.test_dataloader)
        cfg.reward_dataloader.dataset.update(data_root=root, ann_file=ann)
        cfg.reward_evaluator.ann_file = 'data/fmnist_det/annotations/instances_test.json'
        refused.append(cfg)
    imagenet = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')
    cfg = Config.fromfile(imagenet)
    cfg.reward_dataloader.dataset.data_prefix = dict(img_path='val')
    refused.append(cfg)
    for cfg in refused:
        with pytest.raises(ConfigCheckError, match='reward_dataloader reads the test split'):
            check_config(cfg)
    from automl_mm.engine.preflight import reads_test_split

    cfg = Config.fromfile(imagenet)  # the reward part of the train folder, and the whole train folder, are not
    check_config(cfg)
    cfg.reward_dataloader.dataset.split = 'all'
    assert not reads_test_split(cfg.reward_dataloader, cfg.test_dataloader)
    with pytest.raises(ConfigCheckError, match='reads the images train_dataloader.dataset trains on'):
        check_config(cfg)  # the training images, though (tests/test_engine/test_preflight_images_split_sources.py)

    # a dataset class of one's own with nothing that names its data: only the same settings are the same data
    reward = dict(dataset=dict(type='MyDataset', path='reward.npz', pipeline=[]))
    test = dict(dataset=dict(type='MyDataset', path='test.npz', pipeline=[dict(type='Resize')]))
    assert not reads_test_split(reward, test) and reads_test_split(test, test)


def test_a_test_split_or_its_annotation_file_reached_through_a_link_is_the_same_file(tmp_path, monkeypatch):
    """Paths were compared normalised but not resolved: the test data set reached through a symlinked folder
    passed as another split (rewards read on test images), and a metric reading the loader's own annotation file
    through the link was refused as another split's."""
    from automl_mm.engine.preflight import reads_test_split, split_mismatch

    (tmp_path / 'data' / 'annotations').mkdir(parents=True)
    (tmp_path / 'data' / 'annotations' / 'instances_test.json').write_text('{}')
    (tmp_path / 'mirror').symlink_to(tmp_path / 'data')
    monkeypatch.chdir(tmp_path)

    def loader(root):
        return dict(dataset=dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_test.json',
                                 data_prefix=dict(img='test/'), pipeline=[]))

    assert reads_test_split(loader('mirror/'), loader('data/'))
    assert split_mismatch(loader('data/'), dict(type='CocoMetric',
                                                ann_file='mirror/annotations/instances_test.json')) is None


def test_a_coco_metric_reading_a_copy_of_its_loaders_annotation_file_scores_that_file(tmp_path):
    """The metric's annotation file was compared with the loader's by path: a CocoMetric reading a copy of the
    loader's file (copied with the data set to another root) was refused as another split's. A file of other bytes
    (of the same size) still is."""
    from automl_mm.engine.preflight import split_mismatch

    text = '{"images": [{"id": 1, "file_name": "1.png"}]}'
    for root, content in (('data', text), ('copy', text), ('other', text.replace('1.png', '2.png'))):
        (tmp_path / root).mkdir()
        (tmp_path / root / 'instances_reward.json').write_text(content)
    loader = dict(dataset=dict(type='CocoDataset', data_root=str(tmp_path / 'data'), ann_file='instances_reward.json',
                               data_prefix=dict(img='reward/'), pipeline=[]))
    assert split_mismatch(loader, dict(type='CocoMetric', ann_file=str(tmp_path / 'copy/instances_reward.json'))) \
        is None
    other = str(tmp_path / 'other/instances_reward.json')
    assert split_mismatch(loader, dict(type='CocoMetric', ann_file=other)) == \
        (other, osp.realpath(tmp_path / 'data/instances_reward.json'), False)


def test_a_copy_of_the_test_annotation_file_or_image_folder_is_the_test_split(tmp_path):
    """The test split was told by its paths: a reward loader reading a copy of the test annotation file (or of an
    ImageFolderDataset test folder) under another root passed as another split, and the rewards were test images.
    A file of other bytes, or a folder of other images of the same names, stays another split."""
    from automl_mm.engine.preflight import reads_test_split

    for root in ('data', 'copy', 'other'):
        (tmp_path / root / 'annotations').mkdir(parents=True)
        (tmp_path / root / 'test' / 'cat').mkdir(parents=True)
        for i in range(3):
            (tmp_path / root / 'test' / 'cat' / f'{i}.png').write_bytes(bytes([i]) * 8 if root != 'other' else
                                                                         bytes([9 - i]) * 8)
        text = '{"images": [{"id": 1, "file_name": "1.png"}]}'
        (tmp_path / root / 'annotations' / 'instances_test.json').write_text(text if root != 'other' else
                                                                            text.replace('1.png', '2.png'))

    def coco(root):
        return dict(dataset=dict(type='CocoDataset', data_root=str(tmp_path / root), data_prefix=dict(img='test/'),
                                 ann_file='annotations/instances_test.json', pipeline=[]))

    def folder(root):
        return dict(dataset=dict(type='ImageFolderDataset', data_root=str(tmp_path / root), split='all',
                                 data_prefix=dict(img_path='test'), pipeline=[]))

    for loader in (coco, folder):
        assert reads_test_split(loader('copy'), loader('data')), loader.__name__
        assert not reads_test_split(loader('other'), loader('data')), loader.__name__


def test_bn_recalibration_images_of_the_test_or_reward_split_fail_at_start():
    """OHLHook.bn_recalibration_dataloader was checked against no split: BN statistics re-estimated on the test
    split leaked its images into every reward, and on the reward split fitted the images being scored (rewards read
    high), silently. Both are refused naming the key; clean training images (the documented use) pass."""
    cfg = Config.fromfile(OHL)
    hook = cfg.custom_hooks[0]
    clean = dict(cfg.train_dataloader, dataset=dict(cfg.train_dataloader.dataset, pipeline=cfg.test_pipeline))
    hook.bn_recalibration_batches = 2
    hook.bn_recalibration_dataloader = clean
    check_config(cfg)
    hook.bn_recalibration_dataloader = dict(clean, dataset=dict(clean['dataset'], split='test'))
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.bn_recalibration_dataloader reads the test split'):
        check_config(cfg)
    hook.bn_recalibration_dataloader = dict(clean, dataset=dict(cfg.reward_dataloader.dataset,
                                                                pipeline=cfg.test_pipeline))
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.bn_recalibration_dataloader reads the reward '
                                               r'split \(reward_dataloader\)'):
        check_config(cfg)
