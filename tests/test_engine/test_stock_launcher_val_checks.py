"""``Runner.val()`` under a stock launcher (``Runner.from_cfg(cfg).val()`` in a script): automl_mm's start-of-run
checks wrapped ``train()`` and ``test()`` only, so a runner used only to validate ran none of them and reported
accuracy on augmented validation images (:mod:`automl_mm.engine.runner_checks`)."""
from __future__ import annotations

import re

import pytest
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError

from conftest import count_config_checks, tiny_digits_cfg

OHL_CHOICE = dict(type='OHLRandomChoice', key='aug',
                  transforms=[[], [dict(type='mmcv.RandomFlip', prob=1.0, direction='vertical')]])


def _with_bad_pipeline(cfg, loader: str):
    cfg[loader] = dict(cfg[loader], dataset=dict(cfg[loader].dataset, pipeline=[OHL_CHOICE,
                                                                                 dict(type='PackClsInputs')]))


def test_val_refuses_an_augmented_val_loader_naming_its_key(tmp_path, monkeypatch):
    """Before: ``val()`` validated on vertically flipped digits and returned the accuracy, no check run."""
    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path))
    _with_bad_pipeline(cfg, 'val_dataloader')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigCheckError, match=re.escape('val_dataloader.dataset.pipeline[0] is OHLRandomChoice')):
        runner.val()
    assert calls == [True]
    assert isinstance(runner._val_loop, dict)  # not built: no dataloader was built
    assert 'OHLRandomChoice' not in str(runner.cfg.test_dataloader)  # the config itself is unchanged


def test_val_refuses_an_unreported_save_best(tmp_path):
    """mmengine's CheckpointHook reads ``save_best`` after a ``val()`` too: before, ``KeyError: 'accuracy/top3'``
    after every image was predicted."""
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top3'
    with pytest.raises(ConfigCheckError, match=re.escape("default_hooks.checkpoint.save_best='accuracy/top3' is "
                                                         'not reported by val_evaluator')):
        Runner.from_cfg(cfg).val()


def test_val_checks_only_what_validating_reads_once_and_train_still_checks(tmp_path, monkeypatch):
    """A bad test loader does not stop ``val()``; a second ``val()`` is not checked again; a later ``train()`` runs
    the whole check (a training-only key, ``optim_wrapper.clip_grad.max_nom``, is refused there)."""
    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path))
    _with_bad_pipeline(cfg, 'test_dataloader')
    cfg.optim_wrapper.clip_grad = dict(max_nom=1.0)
    runner = Runner.from_cfg(cfg)
    assert 'accuracy/top1' in runner.val()
    runner.val()
    assert calls == [True]
    with pytest.raises(ConfigCheckError, match=re.escape('optim_wrapper.clip_grad.max_nom')):
        runner.train()
    assert calls == [True, False]
