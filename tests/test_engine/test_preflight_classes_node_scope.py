"""The class-count check (:func:`_check_num_classes`) resolved a dataset's and a metric's ``type`` in the config's
``default_scope`` without the node's own ``_scope_`` (which mmengine's ``build_from_cfg`` switches to first): a
user's dataset named by its ``_scope_`` had no known classes and a user's metric so named counted as unregistered
(its loader not compared), so a head of another class count than the data passed."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, _check_num_classes
from tests.test_engine._user_scope_helpers import USER_SCOPE


def _cfg(**loaders) -> Config:
    head = dict(type='LinearClsHead', num_classes=3, in_channels=8)
    return Config(dict(default_scope='automl_mm', model=dict(type='ImageClassifier', head=head), **loaders))


def test_a_dataset_named_by_its_node_scope_has_its_class_count_checked():
    cfg = _cfg(train_dataloader=dict(dataset=dict(type='UserScopedItems', _scope_=USER_SCOPE)))
    with pytest.raises(ConfigCheckError, match=r"^model\.head\.num_classes=3 \(LinearClsHead\), but "
                                               r"train_dataloader\.dataset \(UserScopedItems's classes\) names 2 "):
        _check_num_classes(cfg, False)


def test_a_loader_scored_by_a_metric_named_by_its_node_scope_is_compared():
    three = dict(type='UserScopedItems', _scope_=USER_SCOPE, metainfo=dict(classes=('a', 'b', 'c')))
    cfg = _cfg(train_dataloader=dict(dataset=three),
               val_dataloader=dict(dataset=dict(type='UserScopedItems', _scope_=USER_SCOPE)),
               val_evaluator=dict(type='UserScopedAccuracy', _scope_=USER_SCOPE))
    with pytest.raises(ConfigCheckError, match=r"^model\.head\.num_classes=3 \(LinearClsHead\), but "
                                               r"val_dataloader\.dataset \(UserScopedItems's classes\) names 2 "):
        _check_num_classes(cfg, False)
