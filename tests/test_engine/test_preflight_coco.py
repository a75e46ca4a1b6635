"""COCO annotation files fail at start, naming the key and the file: a loader's or a metric's file that is empty,
invalid JSON or without images, and ``metainfo.classes`` that are not the file's categories (a subset is said)."""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import DETECTOR

from conftest import REPO_ROOT, synthcoco_detector_cfg


def _write(path: str, text: str) -> str:
    with open(path, 'w') as f:
        f.write(text)
    return path


@pytest.mark.parametrize('content, words', [('', 'is empty (0 bytes)'),
                                            (json.dumps({'images': [], 'annotations': [],
                                                         'categories': [{'id': 1, 'name': 'a'}]}), 'has no images'),
                                            ('{"images": [', 'is not valid JSON')])
def test_coco_annotation_file_empty_or_without_images_is_named(tmp_path, content, words):
    ann = _write(str(tmp_path / 'instances_train.json'), content)
    cfg = Config.fromfile(DETECTOR)
    cfg.train_dataloader.dataset.ann_file = ann
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.ann_file: COCO annotation file') as info:
        check_config(cfg)
    assert ann in str(info.value) and words in str(info.value)


def test_coco_metric_annotation_file_is_checked_too(tmp_path, coco_root):
    cfg = Config.fromfile(DETECTOR)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = coco_root + '/'
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = osp.join(coco_root, 'annotations/instances_val.json')
    check_config(cfg)
    cfg.val_evaluator.ann_file = _write(str(tmp_path / 'empty.json'), '')
    with pytest.raises(ConfigCheckError, match=r'val_evaluator\.ann_file: .*empty\.json.* is empty'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py does not read val_evaluator
    cfg.val_evaluator.ann_file = osp.join(coco_root, 'annotations/instances_train.json')  # a valid file, wrong split
    with pytest.raises(ConfigCheckError, match=r'val_evaluator reads ground truth from .*instances_train\.json but '
                                               r'val_dataloader is .*instances_val\.json'):
        check_config(cfg)


@pytest.mark.parametrize('classes, words', [
    (('ellipse', 'rectangle'), "gives 2 class names, but train_dataloader.dataset.ann_file .*instances_train.json has "
                               "3 categories; it names them in another order than the file's categories"),
    (('ellipse', 'rectangle', 'triangle'), "gives 3 class names, but .* has 3 categories; it names them in another "
                                           "order than the file's categories"),
    (('rectangle', 'ellipse', 'triangel'), "gives 3 class names, .*; it names 'triangel', which the file has no "
                                         "category of"),
    (('rectangle', 'ellipse', 'triangle', 'circle'), 'gives 4 class names, but .* has 3 categories'),
    ('rectangle', 'must be a list or tuple of class names'),
])
def test_coco_metainfo_classes_that_are_not_the_files_categories_fail_at_start(coco_root, classes, words):
    """mmdet's CocoDataset keeps the file's categories whose names are in metainfo.classes, numbered in the file's
    order, and checks nothing: 2 names of a 3-category file dropped every triangle's box (the objects stayed in the
    images as background), names in another order named every label after another class, and a misspelt name
    shifted the names after it; all silently."""
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)  # the shipped names pass
    cfg.train_dataloader.dataset.metainfo = dict(classes=classes)
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.metainfo\.classes ' + words):
        check_config(cfg)


def test_coco_dataset_without_metainfo_classes_is_checked_with_its_default_names(coco_root):
    """Without metainfo.classes mmdet's CocoDataset has COCO's 80 names: none is a category of the generated set,
    so every annotation was dropped."""
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_dataloader.dataset.pop('metainfo')
    with pytest.raises(ConfigCheckError, match=r'test_dataloader\.dataset\.metainfo\.classes \(not given: the '
                                               r'default names of CocoDataset\) gives 80 class names, but .* has 3 '
                                               r'categories'):
        check_config(cfg, test_only=True)  # tools/test.py checks its split too


def test_fmnist_det_classes_a_subset_is_said_and_another_order_refused(tmp_path, caplog):
    """The Fashion-MNIST detection set's config with 9 of its 10 names trains on those 9 (mmdet's subset of
    classes): the 'Ankle boot' boxes it drops are named. The same 9 names in another order were other labels'."""
    from automl_mm.datasets.fmnist_det import CATEGORIES

    ann = {'images': [{'id': 1, 'file_name': '1.png', 'width': 160, 'height': 160}],
           'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [8, 8, 28, 28], 'area': 784,
                            'iscrowd': 0}],  # (one, or the training filter_cfg keeps no image: check_images_kept)
           'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(CATEGORIES)]}
    os.makedirs(tmp_path / 'annotations')
    for split in ('train', 'reward', 'val', 'test'):
        # (each split's own file: byte-identical files are one split's, refused for a reward loader)
        _write(str(tmp_path / 'annotations' / f'instances_{split}.json'), json.dumps(dict(ann, info=split)))
        (tmp_path / split).mkdir()
        _write(str(tmp_path / split / '1.png'), '')  # the image is looked for (test_preflight_late.py)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(tmp_path) + '/'
    for key in ('val_evaluator', 'test_evaluator', 'reward_evaluator'):
        cfg[key].ann_file = cfg[key].ann_file.replace('data/fmnist_det/', str(tmp_path) + '/')
    check_config(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.metainfo = dict(classes=CATEGORIES[:9])
    cfg.model.roi_head.bbox_head.num_classes = 9
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        check_config(cfg)
    finally:
        logger.removeHandler(caplog.handler)
    assert "val_dataloader.dataset.metainfo.classes names 9 of the 10 categories" in caplog.text
    assert "the annotations of 'Ankle boot' are dropped" in caplog.text
    cfg.val_dataloader.dataset.metainfo = dict(classes=CATEGORIES[1:9] + CATEGORIES[:1])
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset\.metainfo\.classes gives 9 class names, "
                                               r"but val_dataloader\.dataset\.ann_file .*instances_val\.json has 10 "
                                               r"categories; it names them in another order"):
        check_config(cfg)


def test_a_class_subset_of_one_dataset_config_of_val_and_test_is_said_once_naming_both(monkeypatch):
    """mmdet's ``test_dataloader = val_dataloader``: one dataset config whose ``metainfo.classes`` name a subset of
    its file's categories was said twice, once per split with the same words; it is said once naming both keys,
    and another dataset config (another file) gets its own."""
    import automl_mm.engine.preflight_classes as module
    from automl_mm.engine.preflight_classes import _check_coco_classes

    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    loader = dict(batch_size=1, dataset=dict(type='CocoDataset', data_root='/data/', ann_file='val.json',
                                             metainfo=dict(classes=('a', 'b'))))
    cfg = Config(dict(default_scope='mmdet', val_dataloader=loader, test_dataloader=loader))
    categories = {'/data/val.json': ['a', 'b', 'c'], '/data/test.json': ['a', 'b', 'c']}
    _check_coco_classes(cfg, categories, test_only=False)
    assert logged == ['val_dataloader.dataset.metainfo.classes and test_dataloader.dataset.metainfo.classes name 2 of '
                      "the 3 categories of /data/val.json: the annotations of 'c' are dropped (those objects are "
                      'background)'], logged
    logged.clear()
    cfg.test_dataloader.dataset.ann_file = 'test.json'
    _check_coco_classes(cfg, categories, test_only=False)
    assert [m.split(' names ')[0] for m in logged] == ['val_dataloader.dataset.metainfo.classes',
                                                       'test_dataloader.dataset.metainfo.classes'], logged


def _without(coco_root: str, tmp_path, split: str, index: int, *keys: str) -> tuple[str, int]:
    """A copy of the generated ``split`` file whose image ``index`` lacks ``keys``; the path and that image's id."""
    with open(osp.join(coco_root, f'annotations/instances_{split}.json')) as f:
        coco = json.load(f)
    for key in keys:
        del coco['images'][index][key]
    return _write(str(tmp_path / f'sizeless_{split}.json'), json.dumps(coco)), coco['images'][index]['id']


@pytest.mark.parametrize('keys, missing', [(('height', ), 'height'), (('width', ), 'width'),
                                           (('width', 'height'), 'height')])
def test_a_dataset_file_whose_image_lacks_its_size_is_refused_naming_the_image_and_key(tmp_path, coco_root, keys,
                                                                                         missing):
    """mmdet's CocoDataset copies every image's height and width when built: a file without them stopped the
    runner's build of the loader with a bare ``KeyError: 'height'`` (no key, file or image named)."""
    from mmdet.datasets import CocoDataset

    cfg = synthcoco_detector_cfg(coco_root)
    ann, image_id = _without(coco_root, tmp_path, 'train', 2, *keys)
    with pytest.raises(KeyError, match=missing):  # what the check prevents
        CocoDataset(ann_file=ann, data_prefix=dict(img=osp.join(coco_root, 'train/')), pipeline=[])
    cfg.train_dataloader.dataset.ann_file = ann
    with pytest.raises(ConfigCheckError, match=rf"^train_dataloader\.dataset\.ann_file: image id {image_id} of "
                                               rf".*sizeless_train\.json has no '{missing}': mmdet's CocoDataset "
                                               r'reads every image\'s height and width when it is built'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py does not build the training set


def test_a_file_only_a_coco_metric_reads_needs_no_image_sizes(tmp_path, coco_root):
    """pycocotools reads no image size: the check reads the files of the datasets (check_config summarises those
    alone), so a CocoMetric's own file without sizes is not refused, and the same file read by a dataset is."""
    from automl_mm.engine.preflight_coco import CocoSummary, check_image_sizes_given

    cfg = synthcoco_detector_cfg(coco_root)
    ann, image_id = _without(coco_root, tmp_path, 'val', 0, 'width', 'height')
    with open(ann) as f:
        summary = CocoSummary(json.load(f), whole=False)
    assert summary.sizeless == (image_id, 'height')
    check_image_sizes_given(cfg, {ann: summary}, test_only=False)  # the metric's file: no dataset reads it
    cfg.val_dataloader.dataset.ann_file = ann
    with pytest.raises(ConfigCheckError, match=rf"^val_dataloader\.dataset\.ann_file: image id {image_id} "):
        check_image_sizes_given(cfg, {ann: summary}, test_only=False)
