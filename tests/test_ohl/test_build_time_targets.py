"""Targets read only when something was built are refused (``automl_mm/ohl/build_time_targets.py``).

mmdet heads build ``self.assigner`` / ``self.sampler`` (RoI heads: ``bbox_assigner`` / ``bbox_sampler``) from their
``train_cfg`` at ``__init__``: an ``AttributeSpace`` over ``model.rpn_head.train_cfg.assigner.pos_iou_thr`` wrote
the dict every trunk, the history recorded each copy's value, and assignment kept the built 0.7 (silently). So did
an optimiser's ``defaults`` (torch copies them into the groups) and ``runner.cfg``."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.build_time_targets import check_kept_value
from automl_mm.ohl.ownership import check_owned_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook

CONFIG = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'


@pytest.fixture(scope='module')
def runner():
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, weight_decay=1e-4)
    return SimpleNamespace(model=model, cfg=cfg, optim_wrapper=SimpleNamespace(optimizer=optimizer),
                           param_schedulers=[], train_loop=SimpleNamespace())


REFUSED = {  # path: the target the message must name
    'model.rpn_head.train_cfg.assigner.pos_iou_thr': 'model.rpn_head.assigner.pos_iou_thr',
    'model.train_cfg.rpn.assigner.neg_iou_thr': 'model.rpn_head.assigner.neg_iou_thr',
    'model.rpn_head.train_cfg.sampler.num': 'model.rpn_head.sampler.num',
    'model.roi_head.train_cfg.assigner.pos_iou_thr': 'model.roi_head.bbox_assigner.pos_iou_thr',
    'model.train_cfg.rcnn.sampler.num': 'model.roi_head.bbox_sampler.num',
    'model.roi_head.train_cfg.sampler.pos_fraction': 'model.roi_head.bbox_sampler.pos_fraction',
    'model.roi_head.train_cfg.assigner': 'model.roi_head.bbox_assigner',  # the whole dict
    'optim_wrapper.optimizer.defaults.weight_decay': 'optim_wrapper.optimizer.param_groups.*.weight_decay',
    'cfg.model.roi_head.bbox_head.loss_bbox.loss_weight': 'the built object (model...',
}
READ_AT_RUN_TIME = [
    'model.roi_head.bbox_head.loss_bbox.loss_weight', 'model.train_cfg.rpn_proposal.nms.iou_threshold',
    'model.rpn_head.assigner.pos_iou_thr', 'model.roi_head.bbox_sampler.num', 'model.roi_head.train_cfg.pos_weight',
    'model.rpn_head.train_cfg.allowed_border', 'optim_wrapper.optimizer.param_groups.*.weight_decay',
    'model.test_cfg.rcnn.score_thr',
]


def test_a_built_configs_value_is_written_but_never_read(runner):
    """Why the refusal: the dict changes, the assigner that assigns does not."""
    assigner = runner.model.rpn_head.assigner
    set_attribute(runner, 'model.rpn_head.train_cfg.assigner.pos_iou_thr', 0.5)
    assert runner.model.rpn_head.train_cfg.assigner.pos_iou_thr == 0.5 and assigner.pos_iou_thr == 0.7
    set_attribute(runner, 'model.rpn_head.train_cfg.assigner.pos_iou_thr', 0.7)


@pytest.mark.parametrize('path', list(REFUSED))
def test_every_writer_refuses_a_target_read_only_at_build_time_naming_what_to_target(runner, path):
    instead = REFUSED[path]
    with pytest.raises(ValueError, match=re.escape(f'writes {path}') + '.*' + re.escape(f'Target {instead}')):
        check_owned_attribute(runner, path, 'me')
    space = AttributeSpace(dict(type='Categorical'), target=path, choices=[0.5, 0.6], name='s')
    if path.startswith('model.'):
        with pytest.raises(ValueError, match="OHL space 's' writes"):
            space.resolve(runner)  # the launching process's config check, before the copies start
    with pytest.raises(ValueError, match="OHL space 's' writes"):
        space.setup(runner, None, 0)
    with pytest.raises(ValueError, match='SetAttributesHook writes'):
        SetAttributesHook({path: 0.5}).before_train(runner)
    with pytest.raises(ValueError, match='TrunkScheduleHook writes'):
        TrunkScheduleHook({path: [0.5]}, trunk_iters=1).before_train(runner)


@pytest.mark.parametrize('path', READ_AT_RUN_TIME)
def test_targets_read_at_every_step_are_accepted(runner, path):
    check_owned_attribute(runner, path, 'me')
    choices = [256, 512] if path.endswith('.num') else [0.5, 0.6]  # a sampler's num is a count of samples
    AttributeSpace(dict(type='Categorical'), target=path, choices=choices, name='s').resolve(runner)


@pytest.mark.parametrize('path, why', [
    ('model.rpn_head.prior_generator.scales', "reads 'scales' only at __init__, to make base_anchors"),
    ('model.rpn_head.prior_generator.ratios.0', "reads 'ratios' only at __init__, to make base_anchors"),
    ('model.rpn_head.loss_cls.use_sigmoid', "reads 'use_sigmoid' only at __init__, to make cls_criterion"),
])
def test_attributes_a_class_derives_others_from_at_init_are_refused(runner, path, why):
    anchors = runner.model.rpn_head.prior_generator.base_anchors[0].clone()
    with pytest.raises(ValueError, match=why):
        check_owned_attribute(runner, path, 'me')
    set_attribute(runner, 'model.rpn_head.prior_generator.scales', torch.tensor([64.0]))  # what the write did
    assert torch.equal(runner.model.rpn_head.prior_generator.base_anchors[0], anchors)
    set_attribute(runner, 'model.rpn_head.prior_generator.scales', torch.tensor([4.0]))


def test_a_cascade_stage_config_names_that_stages_built_assigner():
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    cfg = Config.fromstring("_base_ = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'\n", file_format='.py')
    cfg.model.backbone = dict(type='mmdet.ResNet', depth=18, out_indices=(0, 1, 2, 3), init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    cascade = SimpleNamespace(model=model)
    with pytest.raises(ValueError, match=re.escape('Target model.roi_head.bbox_assigner.1.pos_iou_thr instead')):
        check_owned_attribute(cascade, 'model.roi_head.train_cfg.1.assigner.pos_iou_thr', 'me')
    with pytest.raises(ValueError, match=re.escape('Target model.roi_head.bbox_sampler.2.num instead')):
        check_owned_attribute(cascade, 'model.train_cfg.rcnn.2.sampler.num', 'me')
    for path in ('model.roi_head.bbox_head.*.loss_cls.loss_weight', 'model.roi_head.bbox_assigner.1.pos_iou_thr',
                 'model.roi_head.train_cfg.1.pos_weight'):
        check_owned_attribute(cascade, path, 'me')


def test_the_launching_processs_config_check_refuses_a_runner_cfg_target():
    """``tools/train.py``'s check (before the copies start) saw only that the runner has a ``cfg``."""
    from automl_mm.engine.preflight_ohl_build import _check_targets

    space = AttributeSpace(dict(type='Categorical'), target='cfg.model.train_cfg.rpn_proposal.nms.iou_threshold',
                           choices=[0.6, 0.7], name='nms')
    with pytest.raises(ValueError, match=r"OHL space 'nms' writes cfg\.model.*runner\.cfg is the config"):
        _check_targets(SimpleNamespace(spaces=[space]), None, None, None, Config(dict(model=dict())))


@pytest.mark.parametrize('index, path, why', [
    (0, 'aug_space.0.0.level', "reads 'aug_space' only at __init__, to make transforms"),
    (1, 'policies.0.0.level', "reads 'policies' only at __init__, to make transforms"),
    (2, 'kwargs.num_ops', "reads 'kwargs' only at __init__, to make op"),
])
def test_augmentation_wrappers_built_from_their_lists_are_refused(index, path, why):
    """mmdet's RandAugment / AutoAugment keep the lists their ``transforms`` were built from, and
    TorchvisionAugment the keyword arguments of its ``op``: a write there changed no image. What they read at every
    call (the built transforms, ``aug_num``, ``op.num_ops``) is accepted."""
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope

    from automl_mm.datasets.torchvision_augment import TorchvisionAugment

    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose([dict(type='RandAugment', aug_space=[[dict(type='Rotate', level=5)]], aug_num=1),
                            dict(type='AutoAugment', policies=[[dict(type='Rotate', level=5)]])])
    pipeline.transforms.append(TorchvisionAugment('RandAugment', num_ops=2, magnitude=9))
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))
    prefix = f'train_dataloader.dataset.pipeline.transforms.{index}'
    with pytest.raises(ValueError, match=why):
        check_owned_attribute(runner, f'{prefix}.{path}', 'me')
    for fine in ('transforms.0.transforms.0.level', 'prob') if index < 2 else ('op.num_ops',):
        check_owned_attribute(runner, f'{prefix}.{fine}', 'me')


def test_random_resized_crops_aspect_ratio_range_is_refused_as_read_only_at_init():
    """automl_mm's ``RandomResizedCrop`` draws its aspect ratio between ``log_aspect``, made of
    ``aspect_ratio_range`` at ``__init__``: a write of the range (or one bound) changed no drawn crop."""
    from automl_mm.datasets.transforms import RandomResizedCrop

    crop = RandomResizedCrop(scale=8)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=crop)))
    for path in ('aspect_ratio_range', 'aspect_ratio_range.0'):
        with pytest.raises(ValueError, match=rf"writes train_dataloader\.dataset\.pipeline\.{re.escape(path)}, but "
                                             r"RandomResizedCrop .*reads 'aspect_ratio_range' only at __init__, to "
                                             r'make log_aspect.*separate runs'):
            check_owned_attribute(runner, f'train_dataloader.dataset.pipeline.{path}', 'me')
    log_aspect = crop.log_aspect
    set_attribute(runner, 'train_dataloader.dataset.pipeline.aspect_ratio_range', (0.5, 2.0))  # what the write did
    assert crop.log_aspect == log_aspect
    for fine in ('crop_ratio_range.0', 'scale'):
        check_owned_attribute(runner, f'train_dataloader.dataset.pipeline.{fine}', 'me')


def test_a_datasets_settings_read_only_when_it_loads_its_data_list_are_refused():
    """``NoisyLabelDataset`` flips its labels, and the datasets that carve a split (``SPLIT_ARGS``) carve it, once,
    when the data list is loaded (``full_init``, before training even under ``lazy_init``): a write of
    ``noise_ratio`` or ``reward_ratio`` changed no label and no split, while the history recorded it."""
    from automl_mm.datasets import DigitsDataset, ImageFolderDataset, NoisyLabelDataset

    noisy = NoisyLabelDataset(DigitsDataset(split='train', img_size=8, max_samples=50), noise_ratio=0.2)
    folder = ImageFolderDataset.__new__(ImageFolderDataset)  # (its class is what is read: no folder needed)
    folder.split = 'train'
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=noisy), reward=SimpleNamespace(dataset=folder))
    labels = [noisy.get_data_info(i)['gt_label'] for i in range(len(noisy))]
    set_attribute(runner, 'train_dataloader.dataset.noise_ratio', 0.5)  # what the write did: nothing
    assert [noisy.get_data_info(i)['gt_label'] for i in range(len(noisy))] == labels
    for path, made in (('train_dataloader.dataset.noise_ratio', 'the flipped labels'),
                       ('train_dataloader.dataset.seed', 'the flipped labels'),
                       ('train_dataloader.dataset.dataset.split_sizes', "its 'train' split"),
                       ('train_dataloader.dataset.dataset.seed', "its 'train' split"),
                       ('reward.dataset.reward_ratio', "its 'train' split"),
                       ('reward.dataset.seed', "its 'train' split")):
        attribute = path.rsplit('.', 1)[1]
        with pytest.raises(ValueError, match=rf"writes {re.escape(path)}, but \w+ \(.*\) reads '{attribute}' only "
                                             rf'when it loads its data list .*to make {made}.*separate runs'):
            check_owned_attribute(runner, path, 'me')
    digits = noisy.dataset  # its images were rendered and kept at load: the same kind, missed beside it
    for attribute, made in (('img_size', 'the images of its data list'), ('max_samples', 'the images of'),
                            ('filter_cfg', 'its data list'), ('data_root', 'its data list')):
        with pytest.raises(ValueError, match=rf"DigitsDataset \(train_dataloader\.dataset\.dataset\) reads "
                                             rf"'{attribute}' only when it loads its data list .*to make {made}"):
            check_owned_attribute(runner, f'train_dataloader.dataset.dataset.{attribute}', 'me')
    assert digits.img_size == 8
    check_owned_attribute(runner, 'train_dataloader.dataset.dataset.max_refetch', 'me')  # read at every item
    with pytest.raises(ValueError, match=r"reads 'allow_empty' only when it loads its data list .*to make the class"):
        check_owned_attribute(runner, 'reward.dataset.allow_empty', 'me')  # read by its folder listing alone


def test_an_early_stopping_hooks_rule_is_refused_as_it_set_min_deltas_sign_and_the_start_best_at_init():
    """mmengine's ``EarlyStoppingHook`` turns ``rule`` into ``min_delta``'s sign and ``best_score``'s start (-inf /
    inf) at ``__init__`` and compares by the held ``rule`` at each validation: a ``rule`` written after it (a loss's
    'less' rewritten to 'greater') counted no score as a gain against a best of inf, and stopped the run after
    ``patience`` validations, silently."""
    from mmengine.hooks import EarlyStoppingHook

    hook = EarlyStoppingHook(monitor='loss', patience=2)
    runner = SimpleNamespace(hooks=[hook])
    set_attribute(runner, 'hooks.0.rule', 'greater')  # what the write did: a falling loss is never a gain
    assert [hook._check_stop_condition(loss)[0] for loss in (0.9, 0.5)] == [False, True]
    with pytest.raises(ValueError, match=r"writes hooks\.0\.rule, but EarlyStoppingHook \(hooks\.0\) reads 'rule' "
                                         r'at __init__ .*min_delta.*best_score.*stop.*patience.*monitor'):
        check_owned_attribute(SimpleNamespace(hooks=[EarlyStoppingHook(monitor='loss')]), 'hooks.0.rule', 'me')
    for fine in ('min_delta', 'patience'):
        check_owned_attribute(runner, f'hooks.0.{fine}', 'me')


def test_a_reduce_on_plateau_schedulers_rule_is_refused_as_it_set_the_starting_best_at_init():
    """mmengine's ``ReduceOnPlateauParamScheduler`` sets its starting best (``rule_worse``: inf under 'less') by
    ``rule`` at ``__init__`` and compares by the held ``rule``: a written 'greater' counted no score as better than
    inf and cut the lr every ``patience`` validations, silently."""
    from mmengine.optim import ReduceOnPlateauLR

    def built():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return ReduceOnPlateauLR(optimizer, monitor='loss', rule='less', patience=1, factor=0.5)

    runner = SimpleNamespace(param_schedulers=[built()])
    set_attribute(runner, 'param_schedulers.0.rule', 'greater')  # what the write did: a rising accuracy never better
    for accuracy in (0.5, 0.6, 0.7):
        runner.param_schedulers[0].step({'loss': accuracy})
    assert runner.param_schedulers[0].optimizer.param_groups[0]['lr'] < 0.1
    with pytest.raises(ValueError, match=r"writes param_schedulers\.0\.rule, but ReduceOnPlateauLR "
                                         r"\(param_schedulers\.0\) reads 'rule' at __init__ too, .*best"):
        check_owned_attribute(SimpleNamespace(param_schedulers=[built()]), 'param_schedulers.0.rule', 'me')
    check_owned_attribute(runner, 'param_schedulers.0.patience', 'me')


def test_an_early_stopping_hooks_monitor_implying_another_rule_than_the_held_one_is_refused():
    """mmengine's ``EarlyStoppingHook`` infers ``rule`` from ``monitor``'s name at ``__init__`` (rule=None) and makes
    ``min_delta``'s sign and ``best_score``'s start of it: a written loss monitor kept 'greater', counted no falling
    loss as a gain and stopped the run after ``patience`` validations. Value by value: another accuracy, or a name
    no rule is inferred from (the held rule applies, as a given one would), is written."""
    from mmengine.hooks import EarlyStoppingHook

    hook = EarlyStoppingHook(monitor='accuracy/top1', patience=2)
    hook.monitor = 'loss'  # what the write did (set by hand: set_attribute now refuses it)
    assert hook.rule == 'greater' and [hook._check_stop_condition(loss)[0] for loss in (0.9, 0.5, 0.3)] == [
        False, False, True]
    runner = SimpleNamespace(hooks=[EarlyStoppingHook(monitor='accuracy/top1')])
    why = r"'hooks\.0\.monitor': 'loss' cannot take effect: .*rule 'greater'.*'loss' implies 'less'.*patience"
    with pytest.raises(ValueError, match=why):
        set_attribute(runner, 'hooks.0.monitor', 'loss')
    with pytest.raises(ValueError, match=why):
        SetAttributesHook({'hooks.0.monitor': 'loss'}).before_train(runner)
    space = AttributeSpace(dict(type='Categorical'), target='hooks.0.monitor', choices=['accuracy/top5', 'loss'],
                           name='s')
    with pytest.raises(ValueError, match=why):
        space.setup(runner, None, 0)  # each choice is checked before the first trunk
    for fine in ('accuracy/top5', 'my_metric'):
        set_attribute(runner, 'hooks.0.monitor', fine)
    assert runner.hooks[0].monitor == 'my_metric'
    # a rule given against the built name ('top' implies 'greater'): a build with the written monitor keeps it too
    given = SimpleNamespace(hooks=[EarlyStoppingHook(monitor='error_top1', rule='less')])
    set_attribute(given, 'hooks.0.monitor', 'error_top5')
    assert given.hooks[0].monitor == 'error_top5' and given.hooks[0].rule == 'less'
    check_kept_value([(given.hooks[0], 'monitor')], 'hooks.0.monitor', 3)  # no name, no rule implied (not str's)


def test_a_checkpoint_hooks_save_best_and_what_it_made_of_it_are_refused():
    """mmengine's ``CheckpointHook`` makes ``key_indicators``, ``rules`` and ``is_better_than`` of ``save_best``
    (``rule``, ``greater_keys`` / ``less_keys``) at ``__init__`` and compares by them: a written ``save_best`` kept
    the built metric best, a written ``rules.0`` started the best at the other end and saved none. A written
    ``save_best`` of None does switch it off; under ``save_best='auto'`` the keys are read at the first
    validation."""
    from mmengine.hooks import CheckpointHook

    hook = CheckpointHook(save_best='accuracy/top1')
    hook.save_best = ['loss']  # what the write did (set by hand)
    assert hook.key_indicators == ['accuracy/top1'] and hook.rules == ['greater']
    runner = SimpleNamespace(hooks=[CheckpointHook(save_best='accuracy/top1'), CheckpointHook(save_best='auto')])
    with pytest.raises(ValueError, match=r"'hooks\.0\.save_best': 'loss' cannot take effect: .*key_indicators, "
                                         r'rules, is_better_than'):
        set_attribute(runner, 'hooks.0.save_best', 'loss')
    for path, why in (('hooks.0.rules.0', r"'rules' at __init__ too, to make is_better_than"),
                      ('hooks.0.key_indicators', r"'key_indicators' at __init__ too, to make is_better_than"),
                      ('hooks.0.greater_keys', r"'greater_keys' only at __init__, to make rules and is_better_than"),
                      ('hooks.0.less_keys', r"'less_keys' only at __init__")):
        with pytest.raises(ValueError, match=r'CheckpointHook \(hooks\.0\) reads ' + why):
            check_owned_attribute(runner, path, 'me')
    with pytest.raises(ValueError, match="has no attribute 'rule'; did you mean 'rules'"):
        set_attribute(runner, 'hooks.0.rule', 'less')
    for path in ('hooks.1.greater_keys', 'hooks.1.less_keys', 'hooks.1.rules.0'):
        check_owned_attribute(runner, path, 'me')  # 'auto': read (rules.0 = None) at the first validation
    check_owned_attribute(runner, 'hooks.0.max_keep_ckpts', 'me')
    set_attribute(runner, 'hooks.0.save_best', 'accuracy/top1')  # the built metric (held as a list)
    set_attribute(runner, 'hooks.0.save_best', None)


def test_a_checkpoint_hooks_by_epoch_is_refused_where_it_named_its_files_by_it():
    """mmengine's ``CheckpointHook`` names its files ``epoch_{}.pth`` / ``iter_{}.pth`` by ``by_epoch`` at
    ``__init__`` (no ``filename_tmpl`` given): a written ``by_epoch=False`` saved iteration 8 as epoch_8.pth."""
    from mmengine.hooks import CheckpointHook

    runner = SimpleNamespace(hooks=[CheckpointHook(), CheckpointHook(filename_tmpl='ckpt_{}.pth')])
    with pytest.raises(ValueError, match=r"'hooks\.0\.by_epoch': False cannot take effect: .*filename_tmpl "
                                         r"'epoch_\{\}\.pth' was made of the built by_epoch True"):
        set_attribute(runner, 'hooks.0.by_epoch', False)
    set_attribute(runner, 'hooks.0.by_epoch', True)
    set_attribute(runner, 'hooks.1.by_epoch', False)


def test_a_det_visualization_hooks_show_is_refused_as_it_dropped_the_backends_at_init(monkeypatch):
    """mmdet's ``DetVisualizationHook`` (and ``TrackVisualizationHook``) empties the visualizer's ``_vis_backends``
    at ``__init__`` under ``show=True``: a written ``show`` then stored nothing, or showed and stored."""
    from collections import OrderedDict

    from mmdet.engine.hooks import DetVisualizationHook, TrackVisualizationHook
    from mmengine.visualization import Visualizer

    monkeypatch.setattr(Visualizer, '_instance_dict', OrderedDict())  # this test's own current visualizer only
    Visualizer.get_instance('build_time_targets_show')
    runner = SimpleNamespace(hooks=[DetVisualizationHook(), TrackVisualizationHook()])
    for i, cls in enumerate(('DetVisualizationHook', 'TrackVisualizationHook')):
        with pytest.raises(ValueError, match=rf"{cls} \(hooks\.{i}\) reads 'show' at __init__ too, to make the "
                                             r"visualizer's storage backends"):
            check_owned_attribute(runner, f'hooks.{i}.show', 'me')
    check_owned_attribute(runner, 'hooks.0.score_thr', 'me')
