"""A pipeline value written beside an mmdet hook that replaces or skips it during training is refused by the config
check, before any copy or worker starts (:func:`automl_mm.engine.preflight_unbound_choices.check_switched_writes`),
in the words of the workers' check (:func:`automl_mm.ohl.switching_hooks.check_switching_hooks`).

Until the fifty-sixth session's review the refusal came only from each worker's ``AttributeSpace.setup`` /
``SetAttributesHook`` / ``TrunkScheduleHook``, after the launcher had started every copy and each had built its runner;
the config check refused ``PipelineSwitchHook`` only beside a ``PipelineChoiceSpace``."""
from __future__ import annotations

import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_ohl import check_ohl_config
from automl_mm.engine.preflight_unbound_choices import check_switched_writes
from automl_mm.engine.preflight_walk import ConfigCheckError

PATH = 'train_dataloader.dataset.pipeline.transforms.0.prob'
FLIP = dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal')
SWITCH = dict(type='mmdet.PipelineSwitchHook', switch_epoch=1, switch_pipeline=[FLIP])
SPACE = dict(type='AttributeSpace', name='flip', distribution=dict(type='Categorical'), choices=[0.0, 1.0],
             target=PATH)


def _cfg(custom_hooks, max_epochs=4, dataset=None, **train_cfg):
    return Config(dict(default_scope='mmdet', custom_hooks=custom_hooks,
                       train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, **train_cfg),
                       train_dataloader=dict(dataset=dataset or dict(type='CocoDataset', pipeline=[FLIP]))))


def _ohl(*spaces):
    return dict(type='automl_mm.OHLHook', num_copies=2, trunk_epochs=2, reward_key='coco/bbox_mAP',
                spaces=list(spaces))


@pytest.mark.parametrize('writer, key, owner', [
    (_ohl(SPACE), r'custom_hooks\[0\]\.spaces\[0\]', "OHL space 'flip'"),
    (dict(type='automl_mm.TrunkScheduleHook', values={PATH: [1.0, 0.0]}, trunk_epochs=2), r'custom_hooks\[0\]',
     'TrunkScheduleHook')])
def test_a_pipeline_write_beside_a_pipeline_switch_is_refused_by_the_config_check(writer, key, owner):
    with pytest.raises(ConfigCheckError, match=rf'^{key}: {owner} writes {PATH}, but PipelineSwitchHook\(switch_epoch=1'
                                               r'\) replaces .* set its switch_epoch to train_cfg\.max_epochs \(4\)'):
        check_switched_writes(_cfg([writer, SWITCH]), 'mmdet')
    # from check_ohl_config, before its other checks (a retrain without an OHLHook too)
    with pytest.raises(ConfigCheckError, match=rf'{owner} writes {PATH}, but PipelineSwitchHook'):
        check_ohl_config(_cfg([writer, SWITCH]), 'mmdet')


def test_a_set_attributes_hook_beside_a_switch_passes_the_config_check():
    """SetAttributesHook writes once, before training, and credits nothing: a retrain of a stock RTMDet / YOLOX config
    with a learned pipeline value (mmdet's own second stage) was refused; the workers warn instead."""
    once = dict(type='automl_mm.SetAttributesHook', values={PATH: 1.0})
    check_switched_writes(_cfg([once, SWITCH]), 'mmdet')
    check_ohl_config(_cfg([once, SWITCH]), 'mmdet')
    check_switched_writes(_cfg([dict(type='YOLOXModeSwitchHook', num_last_epochs=2),
                                dict(type='automl_mm.SetAttributesHook', values={'model.bbox_head.use_l1': False,
                                     'train_dataloader.dataset.pipeline.0.prob': 1.0})], dataset=MIX), 'mmdet')


def test_switches_outside_the_run_and_other_paths_pass():
    replay = dict(type='automl_mm.TrunkScheduleHook', values={PATH: [1.0, 0.0], 'model.roi_head.bbox_head.loss_cls.'
                                                                             'loss_weight': [2.0, 2.0]}, trunk_epochs=2)
    check_switched_writes(_cfg([replay, dict(SWITCH, switch_epoch=4)]), 'mmdet')  # at max_epochs: never switches
    check_switched_writes(_cfg([dict(type='automl_mm.SetAttributesHook', values={'model.x.y': 1.0}), SWITCH]),
                          'mmdet')
    check_switched_writes(_cfg([replay]), 'mmdet')  # no switch
    # an iteration loop has mmengine's 1 epoch: switch_epoch=1 never comes, switch_epoch=0 at its start
    for switch_epoch in (1, 0):
        cfg = _cfg([replay, dict(SWITCH, switch_epoch=switch_epoch)])
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10)
        if switch_epoch:
            check_switched_writes(cfg, 'mmdet')
            continue
        with pytest.raises(ConfigCheckError, match=r'PipelineSwitchHook\(switch_epoch=0\)'):
            check_switched_writes(cfg, 'mmdet')


MIX = dict(type='MultiImageMixDataset', dataset=dict(type='CocoDataset', pipeline=[]),
           pipeline=[dict(type='Mosaic', img_scale=(64, 64)), dict(type='RandomAffine'),
                     dict(type='YOLOXHSVRandomAug')])


def test_a_write_yolox_mode_switch_skips_or_overwrites_is_refused_by_the_config_check():
    yolox = dict(type='YOLOXModeSwitchHook', num_last_epochs=2)
    space = dict(SPACE, name='mosaic', target='train_dataloader.dataset.pipeline.0.prob')
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[0\]: OHL space 'mosaic' writes "
                                               r'train_dataloader\.dataset\.pipeline\.0\.prob, a Mosaic of '
                                               r'train_dataloader\.dataset, but YOLOXModeSwitchHook\('
                                               r'num_last_epochs=2'):
        check_switched_writes(_cfg([_ohl(space), yolox], dataset=MIX), 'mmdet')
    use_l1 = dict(type='automl_mm.TrunkScheduleHook', values={'model.bbox_head.use_l1': [False, False]}, trunk_epochs=2)
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[1\]: TrunkScheduleHook writes model\.bbox_head\.use_l1,'
                                               r' but YOLOXModeSwitchHook'):
        check_switched_writes(_cfg([yolox, use_l1], dataset=MIX), 'mmdet')
    # a transform it does not skip; the skipped types as the dataset lists them (a scoped type is not skipped)
    hsv = dict(type='automl_mm.SetAttributesHook', values={'train_dataloader.dataset.pipeline.2.hue_delta': 3})
    check_switched_writes(_cfg([hsv, yolox], dataset=MIX), 'mmdet')
    scoped = dict(MIX, pipeline=[dict(type='mmdet.Mosaic', img_scale=(64, 64))])
    check_switched_writes(_cfg([_ohl(space), yolox], dataset=scoped), 'mmdet')


SKIPPING = dict(MIX, skip_type_keys=['Mosaic'])


@pytest.mark.parametrize('writer, key, owner', [
    (_ohl(dict(SPACE, name='mosaic', target='train_dataloader.dataset.pipeline.0.prob')), r'custom_hooks\[0\]\.spaces'
     r'\[0\]', "OHL space 'mosaic'"),
    (dict(type='automl_mm.TrunkScheduleHook', values={'train_dataloader.dataset.pipeline.*.prob': [1.0, 0.0]},
          trunk_epochs=2), r'custom_hooks\[0\]', 'TrunkScheduleHook')])
def test_a_write_the_mix_dataset_itself_skips_is_refused_by_the_config_check(writer, key, owner):
    # MultiImageMixDataset(skip_type_keys=['Mosaic']) never runs its Mosaic, no YOLOXModeSwitchHook needed
    match = (rf'^{key}: {owner} writes train_dataloader\.dataset\.pipeline\.[0*]\.prob, a Mosaic of train_dataloader\.'
             r'dataset, but train_dataloader\.dataset \(a MultiImageMixDataset\) skips every Mosaic \(its '
             r"skip_type_keys=\['Mosaic'\]\): .* drop 'Mosaic' from train_dataloader\.dataset\.skip_type_keys$")
    with pytest.raises(ConfigCheckError, match=match):
        check_switched_writes(_cfg([writer], dataset=SKIPPING), 'mmdet')
    with pytest.raises(ConfigCheckError, match=rf'{owner} writes .* skips every Mosaic'):
        check_ohl_config(_cfg([writer], dataset=SKIPPING), 'mmdet')
    check_switched_writes(_cfg([writer], dataset=MIX), 'mmdet')  # skips nothing


def test_a_write_a_wrapped_mix_dataset_skips_is_refused_by_the_config_check():
    hsv = dict(type='automl_mm.SetAttributesHook', values={'train_dataloader.dataset.dataset.pipeline.2.hue_delta': 3})
    check_switched_writes(_cfg([hsv], dataset=dict(type='RepeatDataset', times=2, dataset=SKIPPING)), 'mmdet')
    mosaic = dict(type='automl_mm.TrunkScheduleHook', values={'train_dataloader.dataset.datasets.1.pipeline.0.prob':
                                                               [1, 1]}, trunk_epochs=2)
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\]: TrunkScheduleHook writes .*, a Mosaic of '
                                               r'train_dataloader\.dataset\.datasets\.1, but'):
        check_switched_writes(_cfg([mosaic], dataset=dict(type='ConcatDataset', datasets=[MIX, SKIPPING])), 'mmdet')


def _with_loader(cfg, key, dataset):
    cfg[key] = dict(batch_size=1, dataset=dataset)
    return cfg


@pytest.mark.parametrize('root', ['val_dataloader', 'test_dataloader', 'val_loop.dataloader',
                                  'test_loop.dataloader'])
@pytest.mark.parametrize('switch', [None, dict(type='YOLOXModeSwitchHook', num_last_epochs=2)])
def test_a_write_a_val_or_test_mix_dataset_skips_is_refused_by_the_config_check(root, switch):
    """The workers' check walks every loader a path names (the runner's val / test loader too); the config check
    modelled the training dataset only, so a write into a val / test ``MultiImageMixDataset``'s skipped transform
    (alone or beside a switch) passed it and was refused in every worker after start-up."""
    from types import SimpleNamespace

    from automl_mm.ohl.switching_hooks import check_switching_hooks

    path = f'{root}.dataset.pipeline.0.prob'
    loader = 'val_dataloader' if root.startswith('val') else 'test_dataloader'
    writer = _ohl(dict(SPACE, name='mosaic', target=path))
    hooks = [writer] + ([switch] if switch else [])
    match = (rf"^custom_hooks\[0\]\.spaces\[0\]: OHL space 'mosaic' writes {re.escape(path)}, a Mosaic of "
             rf'{re.escape(root)}\.dataset, but {re.escape(root)}\.dataset \(a MultiImageMixDataset\) skips every '
             r"Mosaic \(its skip_type_keys=\['Mosaic'\]\): the transform does not run")
    with pytest.raises(ConfigCheckError, match=match):
        check_switched_writes(_with_loader(_cfg(hooks), loader, SKIPPING), 'mmdet')
    with pytest.raises(ConfigCheckError, match=match[1:]):
        check_ohl_config(_with_loader(_cfg(hooks), loader, SKIPPING), 'mmdet')
    # the workers' answer, in the same words (their runner's loader of that name)
    from automl_mm.engine.preflight_unbound_choices import _dataset_stand_in

    stand_in = SimpleNamespace(dataset=_dataset_stand_in(SKIPPING, 'mmdet'))
    runner = SimpleNamespace(hooks=[], max_epochs=4, train_dataloader=SimpleNamespace(dataset=None),
                             **{loader: stand_in}, **{loader.replace('dataloader', 'loop'): SimpleNamespace(
                                 dataloader=stand_in)})
    with pytest.raises(ValueError, match=match.split(': ', 1)[1]):
        check_switching_hooks(runner, [path], "OHL space 'mosaic'")
    # a val / test dataset that skips nothing passes; so does the training loader's skip not applying to val
    check_switched_writes(_with_loader(_cfg(hooks), loader, MIX), 'mmdet')
