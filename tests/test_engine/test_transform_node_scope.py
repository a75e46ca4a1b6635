"""A transform's (and a choice space's, an anchor generator's) ``type`` is resolved where mmengine builds it: in its
own ``_scope_`` (``build_from_cfg`` pops it and switches to that scope's registry), else in the scope of the node
that builds it (a dataset's or a wrapper's ``_scope_``: the switched scope holds while the dataset's class builds its
``Compose`` pipeline, and a detector its heads' generators), else in the config's ``default_scope``. The pipeline
checks resolved every transform in ``default_scope`` alone, so a user's transform of the user's own scope passed
them: a choice transform in a scored pipeline, an unbound one in the training pipeline, a pasted fragment of it and
a resize whose ``scale`` fails at the first image were not refused or warned of."""
from __future__ import annotations

import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_augment import check_no_augmentation_when_scored
from automl_mm.engine.preflight_sizes import check_anchor_generators, check_transform_sizes
from automl_mm.engine.preflight_unbound_choices import (
    check_loss_fragment_not_searched,
    check_pipeline_switch,
    check_policy_fragment_used,
    unbound_choice_transforms,
)
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._user_scope_kinds import USER_SCOPE

CHOICE = dict(type='UserChoice', num_choices=2, key='aug')
RESIZE = dict(type='UserResize', scale=[1, 2, 3])


def _scoped(transform: dict, how: str) -> dict:
    """A dataset config (at ``<loader>.dataset``) whose pipeline's second transform is ``transform``, the user's scope
    given by the transform's ``_scope_``, by its dataset's, or by a wrapper dataset's; where that transform ends."""
    pipeline = [dict(type='LoadImageFromFile'), dict(transform, _scope_=USER_SCOPE) if how == 'own' else transform]
    # 'scope.Type' finds the user's dataset but switches no scope: its transforms need their own _scope_
    leaf = dict(type=f'{USER_SCOPE}.UserItems' if how == 'own' else 'UserItems', pipeline=pipeline)
    if how == 'dataset':
        return dict(leaf, _scope_=USER_SCOPE), 'dataset.pipeline[1]'
    if how == 'wrapper':
        return dict(type='RepeatDataset', _scope_=USER_SCOPE, times=2, dataset=leaf), 'dataset.dataset.pipeline[1]'
    return leaf, 'dataset.pipeline[1]'


HOW = ['own', 'dataset', 'wrapper']


@pytest.mark.parametrize('how', HOW)
def test_a_users_choice_transform_in_a_scored_pipeline_is_refused(how):
    dataset, at = _scoped(CHOICE, how)
    cfg = Config(dict(default_scope='automl_mm', val_dataloader=dict(dataset=dataset)))
    with pytest.raises(ConfigCheckError, match=re.escape(f'val_dataloader.{at} is UserChoice, a training')):
        check_no_augmentation_when_scored(cfg, 'automl_mm', False)


@pytest.mark.parametrize('how', HOW)
def test_a_users_unbound_choice_transform_of_the_training_pipeline_is_found(how):
    dataset, at = _scoped(CHOICE, how)
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(dataset=dataset)))
    hook = dict(type='OHLHook', spaces=[])
    assert unbound_choice_transforms(cfg, hook, 'automl_mm') == [(f'train_dataloader.{at}', 'UserChoice', 'aug')]


def test_a_users_choice_space_under_its_own_scope_binds_its_key():
    """The space is built by OHLHook in automl_mm's scope, its ``_scope_`` first: bound, the transform is not
    warned of, and a PipelineSwitchHook beside it is refused."""
    dataset, _ = _scoped(CHOICE, 'own')
    space = dict(type='UserChoiceSpace', _scope_=USER_SCOPE, key='aug', distribution=dict(type='Categorical'))
    hook = dict(type='OHLHook', spaces=[space])
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(dataset=dataset), train_cfg=dict(max_epochs=4),
                      custom_hooks=[hook, dict(type='mmdet.PipelineSwitchHook', switch_epoch=2, switch_pipeline=[])]))
    assert unbound_choice_transforms(cfg, hook, 'automl_mm') == []
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[1\] is a PipelineSwitchHook \(switch_epoch=2\).*"
                                               r"PipelineChoiceSpace\(key='aug'\) of custom_hooks\[0\]"):
        check_pipeline_switch(cfg, hook, 'custom_hooks[0]', 'automl_mm')


def test_a_pasted_am_lfs_fragment_beside_a_users_loss_space_under_its_own_scope_is_refused(tmp_path):
    """The same resolution of a space, for ``check_loss_fragment_not_searched``: the user's ``LossFunctionSpace``
    subclass under its ``_scope_`` searches the loss the pasted fragment sets."""
    from tests.test_engine.test_preflight_loss_fragment_searched import FRAGMENT, _config

    cfg = _config(tmp_path, FRAGMENT)
    cfg.custom_hooks[0].spaces[0].update(type='UserLossSpace', _scope_=USER_SCOPE)
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.spaces\[0\] \(UserLossSpace\) searches that loss'):
        check_loss_fragment_not_searched(cfg)


def test_a_pasted_fragment_of_a_users_choice_transform_in_no_pipeline_is_refused():
    cfg = Config(dict(default_scope='automl_mm', ohl_fixed_aug=dict(CHOICE, _scope_=USER_SCOPE, probs=[0.5, 0.5]),
                      train_dataloader=dict(dataset=dict(type=f'{USER_SCOPE}.UserItems', pipeline=[]))))
    with pytest.raises(ConfigCheckError, match=r"ohl_fixed_aug: the config sets ohl_fixed_aug \(type='UserChoice'"):
        check_policy_fragment_used(cfg, 'automl_mm')


@pytest.mark.parametrize('how', HOW)
def test_a_users_resize_whose_scale_fails_at_the_first_image_is_refused(how):
    dataset, at = _scoped(RESIZE, how)
    at = at.replace('[1]', '.1')  # the size checks key list items as typed_nodes does
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(dataset=dataset)))
    with pytest.raises(ConfigCheckError,
                       match=re.escape(f'train_dataloader.{at} (UserResize).scale=[1, 2, 3] is no (width, height)')):
        check_transform_sizes(cfg, 'automl_mm')


@pytest.mark.parametrize('how', ['own', 'model'])
def test_a_users_anchor_generator_that_gives_no_anchor_is_refused(how):
    generator = dict(type='UserAnchors', ratios=[], scales=[8], strides=[4])
    model = dict(type='FasterRCNN', rpn_head=dict(type='RPNHead', anchor_generator=generator))
    if how == 'own':
        generator['_scope_'] = USER_SCOPE
    else:
        model['_scope_'] = USER_SCOPE
    with pytest.raises(ConfigCheckError, match=r'model\.rpn_head\.anchor_generator \(UserAnchors\)\.ratios=\[\] gives '
                                               'no anchor'):
        check_anchor_generators(Config(dict(default_scope='mmdet', model=model)))


def test_the_premise_mmengine_builds_a_datasets_pipeline_in_the_datasets_scope():
    """``build_from_cfg`` keeps the dataset's ``_scope_`` as the default scope while ``BaseDataset.__init__`` builds
    its ``Compose`` pipeline (and ``RepeatDataset`` the dataset it wraps): the user's transform is found there; the
    dataset named ``'scope.Type'`` builds its pipeline in the config's scope, where it is not."""
    from mmengine.registry import DATASETS, DefaultScope

    from tests.test_engine._user_scope_kinds import UserResize

    leaf = dict(type='UserItems', lazy_init=True, pipeline=[dict(type='UserResize', scale=(4, 4))])
    with DefaultScope.overwrite_default_scope('automl_mm'):
        built = DATASETS.build(dict(type='RepeatDataset', _scope_=USER_SCOPE, times=2, lazy_init=True, dataset=leaf))
        assert isinstance(built.dataset.pipeline.transforms[0], UserResize)
        with pytest.raises(KeyError, match='UserResize is not in'):  # a scope prefix switches no scope
            DATASETS.build(dict(leaf, type=f'{USER_SCOPE}.UserItems'))
