"""Settings that cannot work fail before the first training iteration (and before workers start), naming the key."""
from __future__ import annotations

import json
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from automl_mm.engine.launch import WorkerError, launch_local
from automl_mm.engine.preflight import ConfigCheckError, _check_num_classes, build_check, check_config, metric_keys
from automl_mm.nas.spaces import StageAllocationSpace

from conftest import REPO_ROOT, synthcoco_detector_cfg

OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')
PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
CR_NAS = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py')
DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')


def test_metric_keys_of_accuracy_and_coco_metric():
    assert metric_keys(dict(type='Accuracy', topk=(1, 5))) == {'accuracy/top1', 'accuracy/top5'}
    assert 'coco/bbox_mAP' in metric_keys(dict(type='mmdet.CocoMetric', metric='bbox'))
    assert metric_keys(dict(type='automl_mm.UnroundedCocoMetric', metric='segm', metric_items=['mAP_s'])) == \
        {'coco/segm_mAP_s'}
    assert metric_keys(dict(type='MyOwnMetric')) is None  # unknown: not checked


def test_ohl_reward_key_the_metric_does_not_produce_fails_at_start():
    cfg = Config.fromfile(OHL)
    check_config(cfg)  # the shipped config passes
    cfg.custom_hooks[0].reward_key = 'accuracy/top3'
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='accuracy/top3' is not reported by "
                                               r".*\['accuracy/top1'"):
        check_config(cfg)


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
        check_config(cfg)  # the training images, though (tests/test_engine/test_preflight_images.py)

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


def test_a_key_checked_through_mmengines_evaluator_dict_too():
    """``dict(type='Evaluator', metrics=[...])`` skipped the reward_key / metric_key check (a wrong key failed
    only at the first trunk end or search step)."""
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_key = 'accuracy/top3'
    cfg.custom_hooks[0].reward_evaluator = dict(type='Evaluator', metrics=[dict(type='Accuracy', topk=(1, ))])
    with pytest.raises(ConfigCheckError, match=r"reward_key='accuracy/top3' is not reported by "
                                               r"custom_hooks\[0\]\.reward_evaluator"):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    nas.train_cfg.metric_key = 'top1'
    nas.train_cfg.search_evaluator = dict(metrics=dict(type='Accuracy', topk=(1, )))
    with pytest.raises(ConfigCheckError, match=r"train_cfg.metric_key='top1' is not reported"):
        check_config(nas)


def test_a_bad_stage_space_is_named_as_the_stage_space():
    """Every stage_space error was reported as train_cfg.reference_allocation."""
    cfg = Config.fromfile(CR_NAS)
    cfg.train_cfg.stage_space = dict(stage_choices=[[1, 2]] * 4, total_blocks=30)
    cfg.train_cfg.reference_allocation = (2, 2, 2, 2)
    with pytest.raises(ConfigCheckError, match=r'train_cfg\.stage_space: total_blocks=30 is out of reach'):
        check_config(cfg)


def test_nas_metric_key_the_metric_does_not_produce_fails_at_start():
    cfg = Config.fromfile(PC_NAS)
    check_config(cfg)
    cfg.train_cfg.metric_key = 'top1'
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_key='top1'.*train_cfg\.search_evaluator"):
        check_config(cfg)


def test_cr_nas_reference_allocation_outside_the_space_names_both():
    cfg = Config.fromfile(CR_NAS)
    cfg.train_cfg.reference_allocation = (2, 2, 2, 3)
    with pytest.raises(ConfigCheckError, match=r'train_cfg\.reference_allocation: \[2, 2, 2, 3\] \(4 stages, 9 '
                                               r'blocks\) is not an allocation of the space: 4 stages, '
                                               r'total_blocks=8'):
        check_config(cfg)
    space = StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8)
    with pytest.raises(ValueError, match='9 blocks'):
        space.path_of((2, 2, 2, 3))  # what CRNASLoop itself calls
    with pytest.raises(ValueError, match='3 stages'):
        space.path_of((3, 3, 2))
    assert space.values(space.path_of((2, 2, 2, 2))) == [2, 2, 2, 2]


def test_pc_nas_flops_limit_nobody_meets_fails_before_training_naming_the_range(tmp_path):
    cfg = Config.fromfile(PC_NAS)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.flops_limit = 1e5
    cfg.train_cfg.warmup_iters = 1
    cfg.train_cfg.stage_iters = 1
    cfg.param_scheduler = []
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'train_cfg\.flops_limit=100000 is below every architecture of the space: '
                                         r'flops reaches from (\S+) to (\S+)') as info:
        runner.train()
    low, high = (float(v) for v in str(info.value).split('from ')[1].split(' to '))
    # the config's comment: 40 of the 54 paths fit 3.5 MFLOPs, the largest has 5.2 MFLOPs
    assert low < 3.5e6 < high and abs(high - 5.2e6) < 0.1e6
    assert not [f for f in __import__('os').listdir(tmp_path) if f.endswith('.pth')]  # nothing trained


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

    ann = {'images': [{'id': 1, 'file_name': '1.png', 'width': 160, 'height': 160}], 'annotations': [],
           'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(CATEGORIES)]}
    os.makedirs(tmp_path / 'annotations')
    for split in ('train', 'reward', 'val', 'test'):
        _write(str(tmp_path / 'annotations' / f'instances_{split}.json'), json.dumps(ann))
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


def test_build_check_raises_config_errors_in_the_launching_process():
    cfg = Config.fromfile(OHL)
    build_check(cfg)
    cfg.custom_hooks[0].trunk_epochs = 0
    with pytest.raises(ValueError, match='trunk_epochs must be a positive integer'):
        build_check(cfg)
    cfg = Config.fromfile(OHL)
    cfg.model.backbone.type = 'ConvNett'
    with pytest.raises(KeyError, match='ConvNett'):
        build_check(cfg)
    # --cfg-options default_hooks.chekpoint.interval=1: every copy failed with mmengine's "must contain the key
    # 'type'", naming nothing
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict({'default_hooks.chekpoint.interval': 1})
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.chekpoint = \{'interval': 1\} has no type: "
                                               r".*checkpoint"):
        build_check(cfg)
    cfg = Config.fromfile(OHL)
    cfg.default_hooks.logger.intervall = 1
    with pytest.raises(TypeError, match='intervall'):  # built here, as mmengine builds it
        build_check(cfg)


@pytest.mark.slow  # spawns two interpreters (about 20 s on 2 busy cores)
def test_a_worker_error_is_raised_once_with_its_rank_and_traceback(tmp_path):
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(WorkerError) as info:
        launch_local(cfg, 2, int)  # int(cfg_path) fails in every worker; a builtin keeps the workers' start light
    message = str(info.value)
    assert re.match(r'worker rank [01] of 2 failed \(work_dir ', message)
    assert 'Traceback' in message
    assert message.count('ValueError: invalid literal for int()') == 1
    assert message.rstrip().splitlines()[-1].startswith('ValueError: invalid literal for int()')  # printed last


def _cr_nas_test_cfg():
    import importlib.util

    path = osp.join(REPO_ROOT, 'tests/test_nas/test_cr_nas_loop.py')
    spec = importlib.util.spec_from_file_location('_cr_nas_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._cfg


def test_cr_nas_budget_nothing_fits_fails_before_the_first_iteration(coco_root, tmp_path, monkeypatch):
    from automl_mm.datasets.coco_split import split_coco
    from automl_mm.nas import CRNASLoop

    split_coco(osp.join(coco_root, 'annotations', 'instances_train.json'), osp.join(coco_root, 'annotations'),
               val_images=2, seed=0)
    make_cfg = _cr_nas_test_cfg()
    iterations = []
    def counted(self, batch):  # count training iterations instead of running them
        iterations.append(1)
        self._iter += 1

    monkeypatch.setattr(CRNASLoop, 'run_iter', counted)
    with pytest.raises(ValueError, match=r'no allocation of stage_space fits the FLOPs budget .* flops_tolerance '
                                         r'-0\.5; the allocations reach'):
        Runner.from_cfg(make_cfg(coco_root, str(tmp_path / 'w'), flops_tolerance=-0.5)).train()
    assert iterations == []
    with pytest.raises(ValueError, match=r'train_cfg\.reference_allocation: \[2, 2, 2, 1\] \(4 stages, 7 blocks\) '
                                         r'is not an allocation of the space: 4 stages, total_blocks=6'):
        Runner.from_cfg(make_cfg(coco_root, str(tmp_path / 'x'), reference_allocation=(2, 2, 2, 1))).train()
    assert iterations == []


AM_LFS = osp.join(REPO_ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')
AUTOAUG = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')


def test_a_space_that_disagrees_with_the_model_or_pipeline_fails_in_the_launching_process():
    """What an OHL space reads from the model or the training pipeline (AM-LFS's num_intervals, the key of a
    PipelineChoiceSpace) used to be checked only when a worker's hook met its runner: after every copy had
    started, once per process."""
    build_check(Config.fromfile(AM_LFS))
    cfg = Config.fromfile(AM_LFS)
    cfg.custom_hooks[0].spaces[0].num_intervals = 3
    with pytest.raises(ValueError, match='LossFunctionSpace has num_intervals=3 but the loss'):
        build_check(cfg)

    build_check(Config.fromfile(AUTOAUG))
    cfg = Config.fromfile(AUTOAUG)
    cfg.custom_hooks[0].spaces[0].key = 'autoaugg'
    with pytest.raises(ValueError, match="PipelineChoiceSpace\\(key='autoaugg'\\) found no choice transform"):
        build_check(cfg)


def test_a_space_reading_what_the_check_does_not_build_is_left_to_the_run():
    """A space whose resolve reads the optimiser (built by the runner only) is not failed by the check."""
    from automl_mm.engine.preflight import _resolve_spaces

    class NeedsOptimiser:
        resolved = False

        def resolve(self, runner):
            runner.optim_wrapper  # noqa: B018
            NeedsOptimiser.resolved = True

    from automl_mm.ohl import OHLHook

    hook = OHLHook(spaces=[dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=2),
                                target='model.x', choices=[1, 2])], num_copies=2,
                   trunk_epochs=1, reward_dataloader=dict(dataset=dict(type='DigitsDataset', split='reward')),
                   reward_evaluator=dict(type='Accuracy'), reward_key='accuracy/top1')
    hook.spaces[0].resolve = NeedsOptimiser().resolve
    _resolve_spaces([hook], model=object(), train_dataset=None)
    assert not NeedsOptimiser.resolved


@pytest.mark.parametrize('policy', [
    "dict(type='FixedAutoAugment', elements='randaugment', probs='uniform')",
    "dict(type='TorchvisionAugment', policy='RandAugment')",
    "dict(type='RandomApply', transforms=[dict(type='OHLAutoAugment', key='autoaug')], prob=0.5)",
    "dict(type='mmcv.RandomFlip', prob=0.5, direction='vertical')",
])
def test_a_child_config_that_redefines_train_pipeline_alone_fails_at_start(tmp_path, policy):
    """A child config that redefines train_pipeline only (as a retraining config with an exported policy is
    usually written) trained without it: the base's train_dataloader holds the pipeline it was read with.
    Refused, naming the file and the rebinding; with the loader rebound it passes, and so does a config whose
    loader pipeline was changed while the top-level name stayed (a benchmark arm, a dumped config)."""
    base = osp.join(REPO_ROOT, 'configs/_base_/datasets/fashion_mnist.py')
    child = tmp_path / 'child.py'
    pipeline = f"train_pipeline = [dict(type='RandomCrop', crop_size=28, padding=2), {policy}, " \
               "dict(type='PackClsInputs')]\n"
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}')
    with pytest.raises(ConfigCheckError, match=r"child\.py assigns train_pipeline \(RandomCrop, .*PackClsInputs\) "
                                               r"but not train_dataloader.*train_dataloader = dict\(dataset=dict\("
                                               r"pipeline=train_pipeline\)\)"):
        check_config(Config.fromfile(str(child)))
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n')
    check_config(Config.fromfile(str(child)))
    arm = Config.fromfile(str(child))  # the loader changed, the top-level name stale: how benchmarks make arms
    arm.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    check_config(arm)
    dumped = tmp_path / 'dumped.py'
    arm.dump(str(dumped))
    check_config(Config.fromfile(str(dumped)))
    check_config(Config.fromfile(base))


FMNIST_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py')


@pytest.mark.parametrize('num_classes', [11, 9])
def test_a_head_with_another_class_count_than_the_data_fails_at_start(num_classes):
    """An 11-output head on Fashion-MNIST's 10 classes trained silently (one output never a label); 9 outputs
    failed only inside the loss, in every copy, after the data was read."""
    cfg = Config.fromfile(FMNIST_OHL)
    check_config(cfg)
    cfg.model.head.num_classes = num_classes
    with pytest.raises(ConfigCheckError, match=rf"model\.head\.num_classes={num_classes} \(LinearClsHead\), but "
                                               r"train_dataloader\.dataset \(FashionMNISTDataset's classes\) names 10 "
                                               rf"classes: set num_classes=10, or give the data set the {num_classes} "
                                               "class names"):
        check_config(cfg)


IMAGENET_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')


def test_an_image_folder_heads_count_is_checked_against_its_class_folders(tmp_path):
    """An ImageFolderDataset without metainfo.classes has a class per sub-folder, and was left unchecked: the
    ImageNet config's 1000-output head on a folder of 4 classes trained silently. The folders are counted as the
    dataset counts them (hidden folders skipped; an empty folder and a symlinked one are classes); a folder that
    does not exist yet, or has no class folders, is left to the dataset's own error."""
    from automl_mm.datasets import ImageFolderDataset

    cfg = Config.fromfile(IMAGENET_OHL)
    root = tmp_path / 'imagenet'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(root)
    check_config(cfg)  # no folder yet: the dataset says so when it is built
    (root / 'train').mkdir(parents=True)
    check_config(cfg)  # no class folders: the dataset's FileNotFoundError, not a second error
    elsewhere = tmp_path / 'dog_images'
    for folder in (root / 'train/ant', root / 'train/bee', root / 'train/.ipynb_checkpoints', elsewhere):
        folder.mkdir()
        (folder / 'a.jpg').write_bytes(b'')
    (root / 'train/cat').mkdir()  # empty: a class all the same (its label is taken)
    (root / 'train/dog').symlink_to(elsewhere, target_is_directory=True)
    (root / 'train/notes.txt').write_text('not a class')
    labelled = ImageFolderDataset(data_root=str(root), data_prefix=dict(img_path='train')).metainfo['classes']
    assert labelled == ('ant', 'bee', 'cat', 'dog')
    with pytest.raises(ConfigCheckError, match=r'model\.head\.num_classes=1000 \(LinearClsHead\), but '
                                               r'train_dataloader\.dataset \(ImageFolderDataset without metainfo\.'
                                               rf'classes\) reads 4 class folders in {re.escape(str(root))}/train '
                                               r'\(ant, bee, cat, dog; .*set num_classes=4, or give that folder the '
                                               r'1000 class folders'):
        check_config(cfg)
    cfg.model.head.num_classes = 4
    check_config(cfg)  # val does not exist yet
    for name in ('ant', 'bee', 'cat'):
        (root / 'val' / name).mkdir(parents=True)
    with pytest.raises(ConfigCheckError, match=r'num_classes=4 .*val_dataloader\.dataset .* reads 3 class folders '
                                               rf'in {re.escape(str(root))}/val '):
        check_config(cfg)
    (root / 'val/dog').mkdir()
    check_config(cfg)
    cfg.train_dataloader.dataset.data_prefix = dict(img_path=str(root / 'val'))  # an absolute prefix: data_root unread
    check_config(cfg)
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.train_dataloader.dataset)
    (root / 'val/eel').mkdir()  # wrapped: the inner folder set is counted
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset \(ImageFolderDataset without '
                                               r'metainfo\.classes\) reads 5 class folders'):
        check_config(cfg)


def test_a_detector_head_is_checked_against_the_classes_each_loader_reads(coco_root):
    """mmdet's NumClassCheckHook, which no config enables: the bbox head's count against every loader's classes;
    the RPN head's one class ("object") is not a class count; a subset of the file's classes with a head of that
    size is consistent; tools/test.py checks its split only."""
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)  # rpn_head.num_classes=1 beside 3 classes passes
    cfg.model.roi_head.bbox_head.num_classes = 4
    with pytest.raises(ConfigCheckError, match=r'model\.roi_head\.bbox_head\.num_classes=4 \(Shared2FCBBoxHead\), '
                                               r'but train_dataloader\.dataset\.metainfo\.classes names 3 classes'):
        check_config(cfg)
    cfg = synthcoco_detector_cfg(coco_root)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.metainfo = dict(classes=('rectangle', 'triangle'))
    cfg.model.roi_head.bbox_head.num_classes = 2
    check_config(cfg)  # two of the file's three categories, two outputs
    cfg.val_dataloader.dataset.metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
    with pytest.raises(ConfigCheckError, match=r'bbox_head\.num_classes=2 .*val_dataloader\.dataset\.metainfo\.'
                                               r'classes names 3 classes'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # the test split's classes match the head


@pytest.mark.parametrize('wrap', ['ConcatDataset', 'mmdet.ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset'])
def test_every_inner_dataset_of_a_concat_dataset_is_checked_against_the_heads(tmp_path, wrap):
    """Only the first inner dataset of a ConcatDataset whose classes were known was compared with the heads: a
    second one of another class count (Fashion-MNIST + a folder of 3 classes; two folders) trained silently under
    mmdet's or mmengine's ConcatDataset with ignore_keys='classes' (without it, other names are refused:
    test_preflight_late.py). Each is checked, the error names its key; also inside RepeatDataset /
    ClassBalancedDataset."""
    cfg = Config.fromfile(FMNIST_OHL)
    fmnist = cfg.train_dataloader.dataset
    folders = []
    for name, classes in (('three', ('ant', 'bee', 'cat')), ('ten', tuple('abcdefghij'))):
        for c in classes:
            (tmp_path / name / c).mkdir(parents=True)
        folders.append(dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path=name),
                            pipeline=fmnist.pipeline))
    concat = dict(type='mmdet.ConcatDataset' if wrap == 'mmdet.ConcatDataset' else 'ConcatDataset',
                  datasets=[fmnist, folders[1], folders[0]], ignore_keys=['classes'])
    where = 'train_dataloader.dataset'
    if wrap in ('RepeatDataset', 'ClassBalancedDataset'):
        concat = dict(type=wrap, dataset=concat, **({'times': 2} if wrap == 'RepeatDataset' else
                                                    {'oversample_thr': 0.1}))
        where += '.dataset'
    cfg.train_dataloader.dataset = concat
    with pytest.raises(ConfigCheckError, match=rf'model\.head\.num_classes=10 \(LinearClsHead\), but '
                                               rf'{re.escape(where)}\.datasets\.2 \(ImageFolderDataset without '
                                               rf'metainfo\.classes\) reads 3 class folders in '
                                               rf'{re.escape(str(tmp_path / "three"))} \(ant, bee, cat;'):
        check_config(cfg)
    (tmp_path / 'three/dog').mkdir()
    with pytest.raises(ConfigCheckError, match=rf'{re.escape(where)}\.datasets\.2 .* reads 4 class folders'):
        check_config(cfg)
    for c in 'efghij':
        (tmp_path / 'three' / c).mkdir()
    check_config(cfg)  # three datasets of 10 classes each


BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def test_a_checkpoint_out_dir_that_cannot_be_made_fails_at_start(tmp_path):
    # mmengine makes the folder at the first save: the run had trained up to it, then stopped (NotADirectoryError)
    cfg = Config.fromfile(BASELINE)
    cfg.default_hooks.checkpoint.out_dir = str(tmp_path / 'new' / 'ckpts')
    check_config(cfg)  # a folder still to be made under a writable one passes
    (tmp_path / 'a_file').write_text('')
    cfg.default_hooks.checkpoint.out_dir = str(tmp_path / 'a_file' / 'ckpts')
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.out_dir=.*a_file.* is not a folder"):
        check_config(cfg)


def test_a_checkpoint_save_best_key_the_val_metric_does_not_report_fails_at_start():
    # mmengine looked the key up after the first validation: KeyError, after training up to it
    cfg = Config.fromfile(BASELINE)
    for good in ('accuracy/top1', 'auto', ['accuracy/top5']):
        cfg.default_hooks.checkpoint.save_best = good
        check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = ['accuracy/top1', 'acc/top1']
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='acc/top1' is not reported by "
                                               r"val_evaluator, which reports \['accuracy/top1', 'accuracy/top5'\]"):
        check_config(cfg)


@pytest.mark.parametrize('config', [PC_NAS, CR_NAS])
def test_a_search_out_dir_that_cannot_be_made_fails_at_start(config, tmp_path):
    # the search wrote its result (and the retraining config) there only after its last stage
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    if config == PC_NAS:  # (CR-NAS's COCO files are generated by a fixture; its out_dir is checked before them)
        check_config(cfg)  # the default, 'search' under a work_dir still to be made, passes
    (tmp_path / 'a_file').write_text('')
    cfg.train_cfg.out_dir = str(tmp_path / 'a_file' / 'search')
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.out_dir=.*a_file.* is not a folder; exporting"):
        check_config(cfg)
    cfg.train_cfg.out_dir = 'search'
    (tmp_path / 'work').write_text('')  # a file where the work_dir would be
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.out_dir='search' cannot be made"):
        check_config(cfg)


def test_an_image_folder_with_metainfo_classes_none_is_checked_against_its_class_folders(tmp_path):
    """metainfo=dict(classes=None) names no classes: ImageFolderDataset labels its class folders as without it,
    but the check took the key for names and left the folders uncounted (a 10-output head on 3 folders passed)."""
    from automl_mm.datasets import ImageFolderDataset

    for name in ('ant', 'bee', 'cat'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'a.jpg').write_bytes(b'')
    dataset = dict(type='ImageFolderDataset', data_root=str(tmp_path), metainfo=dict(classes=None))
    assert ImageFolderDataset(**{k: v for k, v in dataset.items() if k != 'type'}).metainfo['classes'] == \
        ('ant', 'bee', 'cat')
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(dataset=dataset),
                      model=dict(type='ImageClassifier', head=dict(type='LinearClsHead', num_classes=10))))
    with pytest.raises(ConfigCheckError, match=r'model\.head\.num_classes=10 \(LinearClsHead\), but '
                                               r'train_dataloader\.dataset \(ImageFolderDataset without metainfo\.'
                                               r'classes\) reads 3 class folders'):
        _check_num_classes(cfg, test_only=False)
    cfg.model.head.num_classes = 3
    _check_num_classes(cfg, test_only=False)
