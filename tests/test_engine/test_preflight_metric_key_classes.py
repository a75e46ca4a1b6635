"""The checks of reported keys decide by the metric class mmengine builds, not by its ``type`` name: a user's
subclass of mmdet's ``CocoMetric`` under another name reports mmdet's keys (a misspelt ``reward_key`` on it passed,
and stopped the run at the first reading), and a user's own class named ``CocoMetric`` in the user's scope is not
mmdet's (its own key was refused as not reported, and its AR keys were judged by mmdet's ``proposal_nums``)."""
from __future__ import annotations

import pytest
from mmdet.evaluation import CocoMetric
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import Registry

from automl_mm.engine.preflight_coco_counts import _validated_by_mmdet, uncomputed_coco_keys
from automl_mm.engine.preflight_evaluators import check_evaluators
from automl_mm.engine.preflight_metrics import check_metric_key, metric_keys
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._user_scope_helpers import registered_for_one_test

#: The user's own scope (a project's ``registry.py``: a registry of metrics under mmengine's).
USER_SCOPE = 'automl_mm_test_key_classes'
USER_METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=USER_SCOPE)


class KeptCoco(CocoMetric):
    """A user's CocoMetric subclass that keeps mmdet's compute_metrics (its keys)."""


class DetCoco(CocoMetric):
    """Its keys under its own default prefix."""

    default_prefix = 'det'


class OwnCoco(BaseMetric):
    """A user's own metric registered as 'CocoMetric' in the user's scope: no subclass of mmdet's."""

    default_prefix = 'coco'

    def process(self, data_batch, data_samples):
        self.results.append(0.0)

    def compute_metrics(self, results):
        return dict(own=0.0)


@pytest.fixture(autouse=True)
def _registered():
    """The user's classes registered in the user's scope for one test, then removed (a name such as
    'CocoMetric' left registered would change other tests' messages, which list the registries holding it)."""
    yield from registered_for_one_test(USER_METRICS, {'KeptCoco': KeptCoco, 'DetCoco': DetCoco, 'CocoMetric': OwnCoco})


def test_a_subclass_under_another_name_reports_mmdets_keys():
    assert metric_keys(dict(type='KeptCoco'), scope=USER_SCOPE) == metric_keys(dict(type='mmdet.CocoMetric'))
    assert 'det/bbox_mAP' in metric_keys(dict(type='DetCoco'), scope=USER_SCOPE)
    assert 'coco/bbox_mAP' in metric_keys(dict(type='KeptCoco', _scope_=USER_SCOPE), scope='mmdet')
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_key='coco/bbox_mAp' is not reported by "
                                               r"reward_evaluator, which reports \['coco/bbox_mAP'"):
        check_metric_key('coco/bbox_mAp', 'custom_hooks[0].reward_key', dict(type='KeptCoco'), 'reward_evaluator',
                         scope=USER_SCOPE)


def test_two_metrics_of_one_key_are_found_whatever_their_names():
    cfg = Config(dict(default_scope=USER_SCOPE,
                      val_evaluator=[dict(type='KeptCoco'), dict(type='mmdet.CocoMetric')]))
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\[0\] and val_evaluator\[1\] both report"):
        check_evaluators(cfg, test_only=False)


def test_a_users_own_class_named_coco_metric_is_not_mmdets():
    own = dict(type='CocoMetric', metric='proposal', proposal_nums=(1, 10, 100))
    assert metric_keys(own, scope=USER_SCOPE) is None  # its own compute_metrics: known only by running it
    check_metric_key('coco/own', 'custom_hooks[0].reward_key', own, 'reward_evaluator', scope=USER_SCOPE)
    assert uncomputed_coco_keys(own, USER_SCOPE) == []
    assert not _validated_by_mmdet(own, USER_SCOPE)


def test_the_stock_names_keep_their_keys():
    assert metric_keys(dict(type='CocoMetric')) == metric_keys(dict(type='CocoMetric'), scope='mmdet')
    assert 'coco/AR@1000' in uncomputed_coco_keys(dict(type='CocoMetric', metric='proposal', proposal_nums=(1, 10,
                                                                                                            100)))
    assert _validated_by_mmdet(dict(type='CocoMetric'), None) and _validated_by_mmdet(dict(type='CocoMetric'), 'mmdet')
    assert not _validated_by_mmdet(dict(type='UnroundedCocoMetric'), 'automl_mm')
    assert metric_keys(dict(type='Accuracy', topk=(1, 5)), scope='automl_mm') == {'accuracy/top1', 'accuracy/top5'}
