"""Settings that mmengine / mmdet refuse only when a loader or metric is built or read (for val: after training, or
naming no key) fail at start, in :func:`check_config`, naming the key."""
from __future__ import annotations

import copy
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.runner_checks import checked_by_tool
from automl_mm.registry import DATASETS

from conftest import REPO_ROOT, synthcoco_detector_cfg

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
DIGIT_NAMES = tuple(str(i) for i in range(10))


def _concat(dataset: dict, kind: str, *classes) -> dict:
    """A ``kind`` ConcatDataset of copies of ``dataset``, the i-th with ``metainfo.classes=classes[i]`` (``None``:
    as it is)."""
    inner = []
    for names in classes:
        inner.append(copy.deepcopy(dataset))
        if names is not None:
            inner[-1]['metainfo'] = dict(classes=names)
    return dict(type=kind, datasets=inner)


def _digits_concat(*classes, kind: str = 'ConcatDataset') -> Config:
    cfg = Config.fromfile(DIGITS)
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_dataloader.dataset = _concat(cfg.val_dataloader.dataset, kind, *classes)
    return cfg


def test_a_concat_dataset_of_other_class_names_fails_at_start_naming_the_key():
    """mmengine's ConcatDataset refused inner datasets of other class names (or order) only when the loader was
    built, with "The meta information of the 2-th dataset does not match meta information of the first dataset":
    no key, no names."""
    cfg = _digits_concat(None, DIGIT_NAMES[::-1])
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(ValueError, match='2-th dataset does not '
                                                                                            'match'):
        DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))  # what the runner does
    with pytest.raises(ConfigCheckError, match=re.escape(
            "val_dataloader.dataset.datasets.1 (DigitsDataset) has class names ('9', '8', '7', '6', '5', '4', '3', "
            "'2', '1', '0') (its metainfo.classes), but val_dataloader.dataset.datasets.0 (DigitsDataset) has ('0', "
            "'1', '2', '3', '4', '5', '6', '7', '8', '9') (DigitsDataset's default names); label 0 is '9' in one and "
            "'0' in the other: mmengine's ConcatDataset refuses this when the loader is built, naming neither key nor "
            "names. Give every inner dataset the same class names in the same order (or set val_dataloader.dataset."
            "ignore_keys=['classes']")):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads test_dataloader only
    cfg.val_dataloader.dataset.ignore_keys = 'classes'  # mmengine's way to concatenate them as they are
    check_config(cfg)
    cfg.val_dataloader.dataset.ignore_keys = ['palette', 'classes']
    check_config(cfg)
    check_config(_digits_concat(None, DIGIT_NAMES))  # the same names pass


def test_a_concat_dataset_inside_a_wrapper_and_a_third_dataset_are_named():
    cfg = _digits_concat(None, DIGIT_NAMES, DIGIT_NAMES[:9] + ('nine', ))
    cfg.val_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.val_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset\.dataset\.datasets\.2 \(DigitsDataset\) "
                                               r"has class names .* label 9 is 'nine' in one and '9' in the other"):
        check_config(cfg)


def test_the_same_names_as_a_list_and_a_tuple_pass_for_automl_mm_datasets():
    """mmengine's ConcatDataset compares the type of the class names too (TypeError when built); automl_mm's
    classification datasets store given names as a tuple, so a config list beside the default tuple builds, and the
    start check (which refused it while they kept the list) passes it."""
    cfg = _digits_concat(None, list(DIGIT_NAMES))
    with DefaultScope.overwrite_default_scope('automl_mm'):
        built = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
    assert built.metainfo['classes'] == DIGIT_NAMES
    check_config(cfg)


def _mmdet_concat(coco_root: str, second: tuple) -> Config:
    """The detector on two of the generated set's three classes, its val loader mmdet's ConcatDataset of the val
    split named ``('rectangle', 'ellipse')`` and named ``second``."""
    cfg = synthcoco_detector_cfg(coco_root)
    names = ('rectangle', 'ellipse')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.metainfo = dict(classes=names)
    cfg.model.roi_head.bbox_head.num_classes = 2
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_dataloader.dataset = _concat(cfg.val_dataloader.dataset, 'ConcatDataset', names, second)
    return cfg


def test_mmdets_concat_dataset_of_other_class_names_fails_at_start(coco_root):
    """mmdet's ConcatDataset (default_scope 'mmdet') takes inner datasets of other class names: each labelled by its
    own names, and a list of metainfos for the evaluator (CocoMetric failed on it after training: see
    :func:`test_the_late_failures_happen_after_training_without_the_check`)."""
    cfg = _mmdet_concat(coco_root, ('rectangle', 'ellipse'))
    # the same names pass the class check; one CocoMetric would score each image of the file read twice as two
    with pytest.raises(ConfigCheckError, match=r'val_dataloader\.dataset reads .*instances_val\.json 2 times'):
        check_config(cfg)
    cfg = _mmdet_concat(coco_root, ('rectangle', 'triangle'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import DATASETS as MMDET_DATASETS
        built = MMDET_DATASETS.build(dict(copy.deepcopy(cfg.val_dataloader.dataset), lazy_init=True))
    assert isinstance(built.metainfo, list)  # accepted when built
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset\.datasets\.1 \(CocoDataset\) has class names "
                                               r"\('rectangle', 'triangle'\) .* label 1 is 'triangle' in one and "
                                               r"'ellipse' in the other: mmdet's ConcatDataset takes it: each dataset "
                                               r"keeps its own label numbers under one model, and the loader's "
                                               r"metainfo becomes a list, on which CocoMetric fails"):
        check_config(cfg)
    evaluator = cfg.val_evaluator
    cfg.val_evaluator = dict(type='MultiDatasetsEvaluator', metrics=[evaluator, evaluator],
                             dataset_prefixes=['a', 'b'])
    check_config(cfg)  # mmdet's way to score each dataset with its own names


@pytest.mark.parametrize('items, words', [
    (['mAP', 'mAP_51'], "'mAP_51' is not an item of CocoMetric"),
    (['AR@10'], "'AR@10' is not an item of CocoMetric"),
    ('mAP', "must be a list of item names, not a string \\(mmdet reads it letter by letter: 'm' is not an item"),
])
def test_a_coco_metric_item_mmdet_does_not_know_fails_at_start(coco_root, items, words):
    """CocoMetric takes any metric_items when built and refuses an unknown one (KeyError: metric item "mAP_51" is not
    supported) only in compute_metrics, and only once the model predicts a box: at a validation after training."""
    import torch
    from mmdet.evaluation import CocoMetric

    metric = CocoMetric(ann_file=osp.join(coco_root, 'annotations/instances_val.json'), metric_items=items)
    metric.dataset_meta = dict(classes=('rectangle', 'ellipse', 'triangle'))

    def predict(*boxes):
        metric.results.clear()
        metric.process({}, [dict(img_id=1, ori_shape=(64, 64), pred_instances=dict(
            bboxes=torch.tensor(boxes).view(-1, 4), scores=torch.full((len(boxes), ), 0.9),
            labels=torch.zeros(len(boxes), dtype=torch.long)))])
        return metric.compute_metrics(metric.results)

    assert predict() == {}  # no box predicted yet (an early model): nothing refused
    with pytest.raises(KeyError, match='is not supported'):
        predict([0., 0., 8., 8.])
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)
    cfg.val_evaluator = [dict(type='Accuracy'), dict(cfg.val_evaluator, metric_items=items)]
    with pytest.raises(ConfigCheckError, match=r'val_evaluator\[1\]\.metric_items=.*: ' + words):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads test_evaluator only
    # reads no items (automl_mm's: mmdet's own proposal_fast stops on unequal box counts, check_recall_metrics)
    cfg.val_evaluator[1].update(metric='proposal_fast', type='automl_mm.UnroundedCocoMetric')
    check_config(cfg)
    cfg.test_evaluator = dict(type='automl_mm.UnroundedCocoMetric', ann_file=cfg.test_evaluator.ann_file,
                              metric=['bbox', 'proposal'], metric_items=items)
    with pytest.raises(ConfigCheckError, match=r'test_evaluator\.metric_items=.*: ' + words):
        check_config(cfg, test_only=True)
    cfg.test_evaluator.metric_items = ['mAP', 'AR@100', 'AR_l@1000']  # any of the 12 for any metric (mmdet's)
    check_config(cfg)


def test_a_collate_fn_that_is_not_registered_fails_at_start_naming_the_key():
    """mmengine looks a loader's collate_fn type up in its FUNCTIONS registry and wraps what it finds in a partial:
    a name it lacks failed when the loader was built with "the first argument must be callable" (no key, no name)."""
    cfg = Config.fromfile(DIGITS)
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_dataloader.collate_fn = dict(type='psuedo_collate')
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(TypeError, match='must be callable'):
        Runner.build_dataloader(copy.deepcopy(cfg.val_dataloader))  # what the runner does
    with pytest.raises(ConfigCheckError, match=re.escape(
            "val_dataloader.collate_fn.type='psuedo_collate' is not a function in mmengine's FUNCTIONS registry, "
            "where mmengine looks it up (it has default_collate, pseudo_collate; did you mean 'pseudo_collate'?)")):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads test_dataloader only
    for good in ('pseudo_collate', 'default_collate', 'mmengine.dataset.utils.pseudo_collate'):
        cfg.val_dataloader.collate_fn = dict(type=good)
        check_config(cfg)
    from mmengine.dataset import default_collate
    cfg.val_dataloader.collate_fn = dict(type=default_collate)  # a function itself
    check_config(cfg)
    cfg.test_dataloader.collate_fn = dict(type='automl_mm.no_such_collate')
    with pytest.raises(ConfigCheckError, match=r"test_dataloader\.collate_fn\.type='automl_mm\.no_such_collate' "):
        check_config(cfg, test_only=True)


def _tiny_run(cfg: Config, work_dir: str) -> Config:
    """``cfg`` shrunk to one epoch of 1 iteration (4 training images, a batch), validated after it, a checkpoint
    saved before that."""
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.indices = 4
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer.name = osp.basename(work_dir)  # a visualizer of its own (mmdet's config names it 'visualizer')
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    return cfg


def test_a_coco_image_folder_that_does_not_exist_fails_at_start(coco_root, tmp_path, monkeypatch):
    """mmdet's CocoDataset reads its annotation file when built and its images only when iterated: a val loader
    whose data_prefix named no folder trained its epochs, then failed in the first validation (FileNotFoundError
    naming the image, not the key)."""
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_dataloader.dataset.data_prefix = dict(img='vall/')
    with pytest.raises(ConfigCheckError, match=re.escape(
            f"val_dataloader.dataset.data_prefix.img='vall/': {coco_root}/vall/000001.png, the first image of "
            f"{coco_root}/annotations/instances_val.json, does not exist (nor does the folder {coco_root}/vall/)")):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads test_dataloader only
    cfg.val_dataloader.dataset.data_prefix = dict(img=osp.join(coco_root, 'val'))  # absolute: data_root unread
    check_config(cfg)
    (tmp_path / 'empty').mkdir()
    cfg.val_dataloader.dataset.data_prefix = dict(img=str(tmp_path / 'empty'))
    with pytest.raises(ConfigCheckError, match=r"data_prefix\.img='.*empty': .*empty/000001\.png, the first image "
                                               r"of .*instances_val\.json, does not exist$"):
        check_config(cfg)
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    class Petrel(LocalBackend):  # a local stand-in (no petrel_client here), read by the config check; a real petrel
        # backend is remote storage, which only the start-up check reads (test_preflight_remote_annotations)
        def __init__(self, **kwargs):
            pass

    monkeypatch.setitem(backends, 'petrel', Petrel)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})  # (get_local_path keeps one per backend_args)
    cfg.val_dataloader.dataset.backend_args = dict(backend='petrel')  # another storage: images not looked for here
    check_config(cfg)
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.test_dataloader.dataset)
    cfg.test_dataloader.dataset.dataset.data_root = str(tmp_path) + '/'  # the annotation file given absolute
    cfg.test_dataloader.dataset.dataset.ann_file = osp.join(coco_root, 'annotations/instances_val.json')
    with pytest.raises(ConfigCheckError, match=r"test_dataloader\.dataset\.dataset\.data_prefix\.img='val/': "):
        check_config(cfg, test_only=True)


@pytest.mark.parametrize('fault', ['mmdet ConcatDataset of other names', 'val image folder missing'])
def test_the_late_failures_happen_after_training_without_the_check(coco_root, tmp_path, fault):
    """Without the check the run trained its epoch (and saved it), then failed in the first validation with an
    error that names no config key."""
    if fault == 'mmdet ConcatDataset of other names':
        cfg = _mmdet_concat(coco_root, ('rectangle', 'triangle'))
        late = (TypeError, 'list indices must be integers')
    else:
        cfg = synthcoco_detector_cfg(coco_root)
        cfg.val_dataloader.dataset.data_prefix = dict(img='vall/')
        late = (FileNotFoundError, 'vall/000001.png')
    cfg = _tiny_run(cfg, str(tmp_path))
    with pytest.raises(ConfigCheckError):
        check_config(cfg)
    with checked_by_tool():  # the runner's own start-of-run check skipped, as before it existed
        runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(late[0], match=late[1]):
        runner.train()
    assert osp.isfile(tmp_path / 'epoch_1.pth')  # trained, then lost at the first validation
    with pytest.raises(ConfigCheckError):  # what Runner.from_cfg(cfg).train() does now (engine/runner_checks.py)
        Runner.from_cfg(copy.deepcopy(_tiny_run(cfg, str(tmp_path / 'checked')))).train()
    assert not osp.isfile(tmp_path / 'checked' / 'epoch_1.pth')
