"""An OHL choice transform of the training pipeline that no space of the run's OHLHook binds is warned of at start.

Input that showed it: work_dirs/user/ohl_det_keep_aug.py (a user's config inheriting
``configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py`` and replacing ``custom_hooks`` with
an OHLHook of AttributeSpaces over the loss weight and weight decay, as the README's lr example replaces its base's
hooks): both copies trained 2 trunks on uniformly random augmentation pairs (``OHLAutoAugment`` unbound), which
nothing learned or exported, without a word."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine import preflight_unbound_choices as module
from automl_mm.engine.preflight_ohl import check_ohl_config

LEAF = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
ATTRIBUTE = dict(type='AttributeSpace', distribution=dict(type='Categorical'),
                 target='model.roi_head.bbox_head.loss_bbox.loss_weight', choices=[0.5, 1.0])


def _warnings(monkeypatch, cfg):
    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    check_ohl_config(cfg, cfg.get('default_scope'))
    return logged


def _leaf(spaces):
    cfg = Config.fromfile(LEAF)
    cfg.custom_hooks = [dict(type='automl_mm.OHLHook', num_copies=2, trunk_epochs=1, reward_key='coco/bbox_mAP',
                             spaces=spaces)]
    return cfg


def test_an_inherited_ohl_autoaugment_without_its_space_is_warned_of_naming_the_fix(monkeypatch):
    logged = _warnings(monkeypatch, _leaf([ATTRIBUTE]))
    assert len(logged) == 1
    assert "train_dataloader.dataset.pipeline[4] is OHLAutoAugment(key='autoaug')" in logged[0]
    assert "no PipelineChoiceSpace of custom_hooks[0] has key='autoaug'" in logged[0]
    assert 'train_dataloader = dict(dataset=dict(pipeline=train_pipeline))' in logged[0]


@pytest.mark.parametrize('how', ['space', 'probs', 'removed'])
def test_a_bound_fixed_or_removed_choice_transform_is_not_warned_of(monkeypatch, how):
    spaces = [ATTRIBUTE] + ([dict(type='PipelineChoiceSpace', key='autoaug',
                                  distribution=dict(type='FactorisedCategorical'))] if how == 'space' else [])
    cfg = _leaf(spaces)
    pipeline = cfg.train_dataloader.dataset.pipeline
    if how == 'probs':
        pipeline[4]['probs'] = [1.0 / 36 ** 2] * 36 ** 2
    if how == 'removed':
        del pipeline[4]
    assert _warnings(monkeypatch, cfg) == []


@pytest.mark.parametrize('switch_epoch', [2, 8])
def test_a_pipeline_switch_hook_beside_a_pipeline_choice_space_is_refused(switch_epoch):
    """mmdet's PipelineSwitchHook (RTMDet's configs) rebuilds the training pipeline from switch_pipeline at
    switch_epoch: the new choice transform is bound to no policy (it draws uniformly) and the new PackDetInputs does
    not carry the choice, so every trunk from then on trained off the searched policy and counted nothing, silently.
    Refused where the switch falls inside the run (the leaf's max_epochs is 8)."""
    from automl_mm.engine.preflight_walk import ConfigCheckError

    cfg = _leaf([dict(type='PipelineChoiceSpace', key='autoaug', distribution=dict(type='FactorisedCategorical'))])
    cfg.custom_hooks.append(dict(type='mmdet.PipelineSwitchHook', switch_epoch=switch_epoch,
                                 switch_pipeline=cfg.train_dataloader.dataset.pipeline))
    if switch_epoch >= cfg.train_cfg.max_epochs:
        check_ohl_config(cfg, cfg.get('default_scope'))
        return
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[1\] is a PipelineSwitchHook \(switch_epoch=2\).*"
                                               r"PipelineChoiceSpace\(key='autoaug'\) of custom_hooks\[0\]"):
        check_ohl_config(cfg, cfg.get('default_scope'))


BASELINE = 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'


@pytest.mark.parametrize('transform, warned', [
    (dict(type='automl_mm.OHLAutoAugment'), True),
    (dict(type='automl_mm.OHLRandomChoice', key='aug', transforms=[[], [dict(type='RandomFlip', prob=1.0)]]), True),
    (dict(type='automl_mm.FixedAutoAugment'), False),  # the uniform-random-pair baseline, by name
    (dict(type='automl_mm.OHLAutoAugment', probs=[1.0 / 36 ** 2] * 36 ** 2), False),
])
def test_a_choice_transform_in_a_run_without_an_ohl_hook_is_warned_of(monkeypatch, transform, warned):
    """OHLAutoAugment put in a detector's train_pipeline as the README's drop-in (a stock mmdet config run by mmdet's
    tools/train.py, no OHLHook) drew a uniformly random pair for every image, which nothing learned, without a word:
    the warning above was given only beside an OHLHook."""
    cfg = Config.fromfile(BASELINE)
    cfg.custom_hooks = []
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline.insert(len(pipeline) - 1, transform)
    logged = _warnings(monkeypatch, cfg)
    if not warned:
        assert logged == []
        return
    assert len(logged) == 1
    name, key = transform['type'].split('.')[1], transform.get('key', 'autoaug')
    assert logged[0].startswith(f'train_dataloader.dataset.pipeline[{len(pipeline) - 2}] is {name}(key={key!r}) '
                                'but custom_hooks has no OHLHook')
    assert f"automl_mm.OHLHook with a PipelineChoiceSpace(key={key!r})" in logged[0]
    assert ("type='automl_mm.FixedAutoAugment'" in logged[0]) == (name == 'OHLAutoAugment') and 'probs' in logged[0]
