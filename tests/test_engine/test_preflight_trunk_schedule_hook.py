"""An exported ``schedule_policy.py`` (``TrunkScheduleHook(trunk_epochs=...)``) in an iteration-loop retraining
config would replay its first value all run; the hook refused it in ``before_train`` after the runner was built,
``check_config`` refuses it first, naming the entry. (The runner's refusal is tested in ``test_schedule_replay``.)"""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_digits_cfg


def test_a_trunk_epochs_schedule_under_an_iteration_loop_is_refused_at_start(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks = [dict(type='TrunkScheduleHook', values={'model.head.loss_module.label_smoothing': [0.0, 0.1]},
                             trunk_epochs=1)]
    check_config(cfg)  # an epoch loop
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=8, val_interval=4)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=4, by_epoch=False)
    cfg.param_scheduler = []
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]: TrunkScheduleHook\(trunk_epochs=1\) needs an '
                                               r'epoch-based loop, but train_cfg.type is IterBasedTrainLoop'):
        check_config(cfg)
