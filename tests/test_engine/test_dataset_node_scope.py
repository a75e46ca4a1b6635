"""A dataset node's ``_scope_`` is the scope mmengine builds it in (``build_from_cfg`` pops it and switches to it,
and what the node builds inside, a wrapped dataset, is built in that scope too): the start checks' dataset build
(:func:`build_check`, :func:`check_data_sources`) resolved every dataset type in the config's ``default_scope``,
so a user's dataset registered in the user's own scope, named there by its node's ``_scope_``, was refused ("is not a
registered dataset in scope 'automl_mm'") although the runner builds it, and one inside a wrapper of that
``_scope_`` was read in full at the check (no ``lazy_init``) before the runner read it again."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.engine.preflight import build_check, check_data_sources
from tests.test_engine._user_scope_helpers import LOADS, USER_SCOPE

SCOPED = {
    'own _scope_': (dict(type='UserScopedItems', _scope_=USER_SCOPE, tag='own'), 4),
    "a wrapper's _scope_": (dict(type='RepeatDataset', _scope_=USER_SCOPE, times=2,
                                 dataset=dict(type='UserScopedItems', tag='inner')), 8),
}


@pytest.mark.parametrize('name', sorted(SCOPED))
def test_a_dataset_of_the_users_scope_named_by_its_node_is_checked_as_the_runner_builds_it(name):
    dataset, length = SCOPED[name]
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(
        batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)))
    LOADS.clear()
    check_data_sources(cfg)  # (was: "train_dataloader.dataset....type='UserScopedItems' is not a registered ...")
    build_check(cfg)
    assert sum(LOADS.values()) == 0, LOADS  # built lazily: the check reads no data list
    with DefaultScope.overwrite_default_scope('automl_mm'):
        loader = Runner.build_dataloader(cfg.train_dataloader)  # the runner's own build
    assert len(loader.dataset) == length
