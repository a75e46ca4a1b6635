"""``config_num_trunks``: the trunks of a config's run, counted before it starts as its ``OHLProgressHook`` counts
them (``make demo`` prints the count; it printed the epochs, right only for one-epoch trunks)."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight_ohl_schedule import config_num_trunks

from conftest import tiny_ohl_cfg


@pytest.mark.parametrize('hook, train_cfg, trunks', [
    (dict(trunk_epochs=1), None, 3),
    (dict(trunk_epochs=2), None, 2),  # 3 epochs: the last trunk partial
    (dict(trunk_iters=5), None, 3),  # 4 iterations an epoch (the train dataloader counted): 12 iterations
    (dict(trunk_iters=4), dict(type='IterBasedTrainLoop', max_iters=10), 3),
    (dict(trunk_epochs=1), dict(type='IterBasedTrainLoop', max_iters=10), None),  # refused by the config check
    (dict(trunk_epochs=0), None, None),
])
def test_trunks_counted_from_the_hooks_trunk_length(tmp_path, hook, train_cfg, trunks):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), **hook)
    if train_cfg is not None:
        cfg.train_cfg = train_cfg
    assert config_num_trunks(cfg) == trunks


def test_without_an_ohl_hook_there_is_no_count(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks = []
    assert config_num_trunks(cfg) is None


@pytest.mark.parametrize('change', ['both trunk lengths', 'two OHL hooks'])
def test_a_hook_the_runner_refuses_has_no_count(tmp_path, change):
    """trunk_epochs with trunk_iters (OHLHook takes one), two OHL hooks (find_ohl_hook raises): None, not a count
    or an error before make demo's run."""
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    if change == 'both trunk lengths':
        cfg.custom_hooks[0].trunk_iters = 5
    else:
        cfg.custom_hooks.append(dict(cfg.custom_hooks[0]))
    assert config_num_trunks(cfg) is None
