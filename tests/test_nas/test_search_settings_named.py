"""Bad NAS search settings are refused before training with the config key that holds them: pool sizes, the spaces'
and samplers' arguments, and CR-NAS's stage space in the launching process's config check."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import _cfg as _pc_cfg

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError


def _loop(cfg):
    runner = Runner.from_cfg(cfg)
    return runner.build_train_loop(runner._train_loop)


@pytest.mark.parametrize('override, match', [
    # named "pool_size", the other key of the same loop
    (dict(stage_pool_size=0), r'^train_cfg\.stage_pool_size must be an int >= 1, got 0'),
    (dict(pool_size=2.5), r'^train_cfg\.pool_size must be an int >= 1, got 2\.5'),
    # "StageAllocationSpace.__init__() missing 1 required positional argument: 'total_blocks'"
    (dict(stage_space=dict(stage_choices=[[1, 2]] * 4)), r"^train_cfg\.stage_space: .*'total_blocks'"),
    # "DilationSpace choices ([0, 1]): ..." (the key is dilation_choices)
    (dict(dilation_choices=(0, 1)), r'^train_cfg\.dilation_choices: .*a dilation must be an int >= 1, got 0'),
    (dict(completion_sampler=dict(type='UniformPathSampler', max_tries=0)),
     r'^train_cfg\.completion_sampler: .*max_tries must be an int >= 1'),
])
def test_cr_nas_settings_name_their_key(tmp_path, override, match):
    with pytest.raises((TypeError, ValueError), match=match):
        _loop(digits_cr_cfg(str(tmp_path), **override))


@pytest.mark.parametrize('override, match', [
    (dict(pool_size=0), r'^train_cfg\.pool_size must be an int >= 1, got 0'),
    (dict(sampler=dict(type='PoolPathSampler', enumerate_limit=-1)),
     r'^train_cfg\.sampler: .*enumerate_limit must be an int >= 0, got -1'),
])
def test_pc_nas_settings_name_their_key(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        _loop(_pc_cfg(str(tmp_path), **override))


def test_a_stage_space_without_total_blocks_is_named_by_the_config_check(tmp_path):
    """With a reference_allocation the launching process's check builds the stage space: a bare KeyError
    'total_blocks' before."""
    cfg = digits_cr_cfg(str(tmp_path), reference_allocation=(2, 2, 1, 1),
                         stage_space=dict(stage_choices=[[1, 2]] * 4))
    with pytest.raises(ConfigCheckError, match=r"^train_cfg\.stage_space: .*'total_blocks'"):
        check_config(cfg)


@pytest.mark.parametrize('value', [float('nan'), -1, 'often'])
def test_a_checkpoint_interval_that_is_no_interval_is_refused(tmp_path, value):
    """NaN never saved during a scoring pass (a kill lost every finished score), -1 saved after every round as 0
    does, 'often' failed in float() naming no key."""
    with pytest.raises(ValueError, match=r'^train_cfg\.checkpoint_interval_s must be a number of seconds >= 0'):
        _loop(_pc_cfg(str(tmp_path), checkpoint_interval_s=value))
    assert _loop(_pc_cfg(str(tmp_path / 'inf'), checkpoint_interval_s=float('inf'))).checkpoint_interval_s == \
        float('inf')  # only after each step
