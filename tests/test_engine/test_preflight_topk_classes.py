"""The top-k checks decide by the metric class mmengine builds, not by its ``type`` name: a user's subclass of
automl_mm's ``Accuracy`` under another name reports the same ``top{k}`` keys (a reward on top-11 of 10 classes, a
constant 100 %, passed), and a user's own class named ``Accuracy`` in the user's scope is not automl_mm's."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import Registry

from automl_mm.engine.preflight_classes import check_accuracy_topk, check_searched_topk
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.evaluation.accuracy import Accuracy
from tests.test_engine._user_scope_helpers import registered_for_one_test

#: The user's own scope (a project's ``registry.py``: a registry of metrics under mmengine's).
USER_SCOPE = 'automl_mm_test_topk_classes'
USER_METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=USER_SCOPE)


class KeptAccuracy(Accuracy):
    """A user's Accuracy subclass that keeps its compute_metrics, under its own default prefix."""

    default_prefix = 'acc'


class OwnAccuracy(BaseMetric):
    """A user's own metric registered as 'Accuracy': its topk is not automl_mm's."""

    def __init__(self, topk=1, **kwargs):
        super().__init__(**kwargs)

    def process(self, data_batch, data_samples):
        self.results.append(0.0)

    def compute_metrics(self, results):
        return dict(top11=0.0)


def _cfg(metric: dict) -> Config:
    return Config(dict(default_scope=USER_SCOPE, model=dict(type='automl_mm.ImageClassifier', head=dict(
        num_classes=10)), custom_hooks=[dict(type='automl_mm.OHLHook', reward_evaluator=metric)]))


@pytest.fixture(autouse=True)
def _registered():
    """The user's classes registered in the user's scope for one test, then removed (a name such as
    'Accuracy' left registered would change other tests' messages, which list the registries holding it)."""
    yield from registered_for_one_test(USER_METRICS, {'KeptAccuracy': KeptAccuracy, 'Accuracy': OwnAccuracy})


def test_a_subclass_under_another_name_is_checked():
    cfg = _cfg(dict(type='KeptAccuracy', topk=11))
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\]\.reward_evaluator\.topk=11 but '
                                               r'model\.head\.num_classes=10'):
        check_accuracy_topk(cfg, test_only=False)
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_key='acc/top11' is the top-11 accuracy"):
        check_searched_topk(cfg, 'acc/top11', 'custom_hooks[0].reward_key', dict(type='KeptAccuracy', topk=11),
                            'val_evaluator')


def test_a_users_own_class_named_accuracy_is_not_automl_mms():
    cfg = _cfg(dict(type='Accuracy', topk=11))
    check_accuracy_topk(cfg, test_only=False)
    check_searched_topk(cfg, 'accuracy/top11', 'custom_hooks[0].reward_key', dict(type='Accuracy', topk=11),
                        'val_evaluator')
