"""A read key is checked against the metric class mmengine would build: the config's ``default_scope`` resolves an
unprefixed ``type`` (mmengine's ``Registry.switch_scope_and_registry``), a node's ``_scope_`` comes first, and a
``scope.Type`` names its scope itself. A user's ``CocoMetric`` subclass registered in the user's own scope was not
resolved by :func:`check_computed_key` (no scope given): a ``save_best`` / ``reward_key`` / ``metric_key`` on an AR item
its ``proposal_nums`` do not evaluate passed, read as -1 or as another count's recall."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import Registry

from automl_mm.engine.preflight_coco_counts import check_computed_key, check_uncomputed_selection_keys
from automl_mm.engine.preflight_metric_order import check_metric_order
from automl_mm.engine.preflight_metrics import check_metric_key
from automl_mm.engine.preflight_outputs import _check_checkpoint_hook
from automl_mm.engine.preflight_search import _check_ohl_hook, _check_search_loop
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import _mmdet_coco_metric

#: The user's own scope: a registry of metrics under mmengine's, as a project's ``registry.py`` makes it.
USER_SCOPE = 'automl_mm_test_user_metrics'
USER_METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=USER_SCOPE)


@USER_METRICS.register_module()
class KeptProposals(_mmdet_coco_metric()):
    """A user's CocoMetric subclass that keeps mmdet's evaluation (its AR items read at the counts evaluated)."""


def _proposal(**options):
    """The user's metric, ``metric='proposal'`` at pycocotools' own counts (AR@1000 not evaluated)."""
    return dict(dict(type='KeptProposals', metric='proposal', proposal_nums=(1, 10, 100)), **options)


# unprefixed under the config's default_scope, its own _scope_, or scope.Type (no default_scope)
SCOPED = [(USER_SCOPE, _proposal()), (None, _proposal(type=f'{USER_SCOPE}.KeptProposals')),
          ('mmdet', _proposal(_scope_=USER_SCOPE))]


@pytest.mark.parametrize('scope, metric', SCOPED)
def test_a_users_metric_in_its_own_scope_is_resolved_for_a_read_key(scope, metric):
    refused = r"='coco/AR@1000' is the average recall at 1000 detections per image, which {} \(KeptProposals\) " \
              r'does not evaluate'
    reward = r'^custom_hooks\[0\]\.reward_key' + refused.format('reward_evaluator')
    with pytest.raises(ConfigCheckError, match=reward):
        check_computed_key('coco/AR@1000', 'custom_hooks[0].reward_key', metric, 'reward_evaluator', scope=scope)
    with pytest.raises(ConfigCheckError, match=reward):
        check_metric_key('coco/AR@1000', 'custom_hooks[0].reward_key', metric, 'reward_evaluator', scope=scope)
    check_computed_key('coco/AR@100', 'custom_hooks[0].reward_key', metric, 'reward_evaluator', scope=scope)
    cfg = Config(dict(default_scope=scope, val_dataloader=dict(), val_evaluator=metric,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='coco/AR@1000'))))
    if scope is None:
        cfg.pop('default_scope')
    for check in (check_uncomputed_selection_keys, _check_checkpoint_hook):
        with pytest.raises(ConfigCheckError, match=r'^default_hooks\.checkpoint\.save_best' +
                           refused.format('val_evaluator')):
            check(cfg)
    cfg.train_cfg = dict(type='PCNASLoop', search_evaluator=metric, metric_key='coco/AR@1000')
    with pytest.raises(ConfigCheckError, match=r'^train_cfg\.metric_key' +
                       refused.format(r'train_cfg\.search_evaluator')):
        _check_search_loop(cfg, cfg.train_cfg)
    cfg.runner_type = 'automl_mm.CopyRunner'
    cfg.custom_hooks = [dict(type='automl_mm.OHLHook', reward_evaluator=metric, reward_key='coco/AR@1000')]
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\]\.reward_key' +
                       refused.format(r'custom_hooks\[0\]\.reward_evaluator')):
        _check_ohl_hook(cfg)


def test_a_metric_type_the_config_scope_does_not_hold_is_not_taken_from_another():
    """mmengine builds an unprefixed type in the default scope's registry and its parents alone: under
    default_scope='mmdet' the user's KeptProposals is no metric (the build fails, naming it), not judged here."""
    check_computed_key('coco/AR@1000', 'custom_hooks[0].reward_key', _proposal(), 'reward_evaluator', scope='mmdet')


@pytest.mark.parametrize('scope, metric', SCOPED)
def test_a_users_proposal_fast_in_its_own_scope_is_resolved_under_a_shuffled_loader(scope, metric):
    """KeptProposals keeps mmdet's fast_eval_recall, which pairs results with images by position; its name says
    neither 'coco' nor 'lvis', so with its node's _scope_ not read it passed as no COCO metric."""
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(metric, ann_file='ann.json', metric='proposal_fast')))
    with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.shuffle: .* but val_evaluator "
                                               r"\(KeptProposals, metric='proposal_fast'\) pairs"):
        check_metric_order(cfg, scope)
