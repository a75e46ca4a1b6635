"""A config that keeps the OHL copies' parts but has no ``OHLHook`` (a retraining config made from an OHL config by
dropping the hook, as the exported ``final_policy.py`` says) is refused by ``check_config``, naming the key and the
plain-training replacement. Before, its ``CopySampler`` failed when mmengine built the train loop, after the runner,
with a message asking for the ``OHLHook`` the user had just dropped (``CopyDataParallel`` likewise at the first
step of a multi-process run)."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_ohl_cfg


def _retrain_cfg(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks = []  # "drop the OHLHook to retrain from scratch"
    return cfg


def test_a_copy_sampler_without_an_ohl_hook_is_refused_naming_the_key(tmp_path):
    cfg = _retrain_cfg(tmp_path)
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.sampler is a CopySampler.*no OHLHook.*"
                                               r"train_dataloader\.sampler=dict\(type='DefaultSampler'"):
        check_config(cfg)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    check_config(cfg)


def test_a_copy_wrapper_without_an_ohl_hook_under_a_launcher_is_refused(tmp_path, monkeypatch):
    cfg = _retrain_cfg(tmp_path)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.launcher = 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(ConfigCheckError, match=r'model_wrapper_cfg is a CopyDataParallel.*no OHLHook'):
        check_config(cfg)
    cfg.model_wrapper_cfg = None  # mmengine's DDP
    check_config(cfg)
    cfg.launcher = 'none'  # one process: CopyDataParallel runs the model as it is and needs no layout
    cfg.model_wrapper_cfg = dict(type='automl_mm.CopyDataParallel')
    check_config(cfg)


def test_the_ohl_config_itself_passes(tmp_path):
    check_config(tiny_ohl_cfg(str(tmp_path / 'work')))
