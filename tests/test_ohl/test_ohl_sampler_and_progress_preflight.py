"""Two OHL settings that failed only after the runner was built, in every worker: a ``CopySampler`` argument it
refuses (built in ``Runner.train``) and an ``OHLProgressHook`` without an ``OHLHook`` (refused in
``before_train``). ``check_config`` refuses both in the launching process, naming the config key."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_ohl_cfg


@pytest.mark.parametrize('argument, words', [
    (dict(seed=-1), r'CopySampler.seed must be None or a non-negative int, got -1'),
    (dict(shared_order='yes'), r"CopySampler: shared_order must be a bool, got 'yes'"),
    (dict(shuffle='False'), r"CopySampler: shuffle must be a bool, got 'False'"),  # was truthy: shuffled
])
def test_a_copy_sampler_argument_it_refuses_is_named_at_start(tmp_path, argument, words):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].num_copies = 2
    cfg.train_dataloader.sampler.update(argument)
    with pytest.raises(ConfigCheckError, match=r'train_dataloader.sampler \(CopySampler\): ' + words):
        check_config(cfg)
    cfg.train_dataloader.sampler = dict(type='CopySampler', shuffle=True, seed=3, shared_order=True)
    check_config(cfg)


def test_a_progress_hook_without_an_ohl_hook_is_refused_at_start(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks = [dict(type='OHLProgressHook', interval=2)]
    cfg.runner_type = 'Runner'
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] is an OHLProgressHook, which reports the trunks '
                                               r'of an OHLHook, but custom_hooks has no OHLHook'):
        check_config(cfg)
