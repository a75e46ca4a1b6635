"""automl_mm's start-of-run checks under a stock launcher (mmdet's ``tools/train.py`` with
``custom_imports=dict(imports=['automl_mm'])``, ``Runner.from_cfg`` in a script): they ran only in automl_mm's own
tools, so the stock tool trained a config automl_mm's tool refuses, and failed late naming no key or reported
wrong numbers (:mod:`automl_mm.engine.runner_checks`)."""
from __future__ import annotations

import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import mmdet
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT, count_config_checks, synthcoco_detector_cfg, tiny_digits_cfg

STOCK_TRAIN = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')
OHL_CHOICE = ("dict(type='OHLRandomChoice', key='aug', transforms=[[], [dict(type='mmcv.RandomFlip', prob=1.0, "
              "direction='vertical')]])")
SMALL = ("train_cfg = dict(max_epochs=1, val_interval=1)\n"
         "train_dataloader = dict(dataset=dict(max_samples=64))\n"
         "visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])\n")


def _stock_train(tmp_path, config_text: str, *args: str, custom_imports: bool = True) -> subprocess.CompletedProcess:
    """Run mmdet's own tools/train.py on a config of ``config_text`` with automl_mm in its ``custom_imports`` (or,
    ``custom_imports=False``, named by its ``default_scope`` only: mmengine imports it while it builds the runner)."""
    config = tmp_path / 'cfg.py'
    imports = "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n" if custom_imports else ''
    config.write_text(f"{imports}{config_text}")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, STOCK_TRAIN, str(config), '--work-dir', str(tmp_path / 'work'), *args],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)


def test_a_scored_augmentation_is_refused_by_the_stock_tool(tmp_path):
    """Before: mmdet's tool trained and reported val accuracy on vertically flipped digits (exit 0). The config has
    no custom_imports: automl_mm is imported by its default_scope while mmengine builds the runner, inside a from_cfg
    that began unwrapped; until the forty-third session that first runner of the process was never checked (so a
    PC-NAS search whose reward split was the training split scored its candidates on training images to the end)."""
    proc = _stock_train(tmp_path, f"_base_ = '{DIGITS}'\n{SMALL}val_dataloader = dict(dataset=dict(max_samples=64, "
                                  f"pipeline=[{OHL_CHOICE}, dict(type='PackClsInputs')]))\n", custom_imports=False)
    assert proc.returncode != 0
    assert 'ConfigCheckError: val_dataloader.dataset.pipeline[0] is OHLRandomChoice, a training augmentation' in \
        proc.stderr, proc.stderr[-3000:]
    assert 'Epoch(train)' not in proc.stdout + proc.stderr  # refused before the first iteration


def test_an_unreported_save_best_key_is_refused_by_the_stock_tool_before_training(tmp_path):
    """Before: the stock tool trained the first epoch and stopped in mmengine's CheckpointHook with
    ``KeyError: 'accuracy/top3'``, naming no config key."""
    proc = _stock_train(tmp_path, f"_base_ = '{DIGITS}'\n{SMALL}"
                                  "default_hooks = dict(checkpoint=dict(save_best='accuracy/top3'))\n")
    assert proc.returncode != 0
    assert "ConfigCheckError: default_hooks.checkpoint.save_best='accuracy/top3' is not reported by val_evaluator" \
        in proc.stderr, proc.stderr[-3000:]
    assert 'Epoch(train)' not in proc.stdout + proc.stderr


def test_a_child_config_that_redefines_train_pipeline_alone_is_refused_by_the_stock_tool(tmp_path):
    """The retraining recipe's mistake (README: "Retraining with stock mmdet"): before, mmdet's tool trained without
    the new pipeline, silently (exit 0)."""
    proc = _stock_train(tmp_path, f"_base_ = '{DIGITS}'\ntrain_cfg = dict(max_epochs=1, val_interval=1)\n"
                                  "train_pipeline = [dict(type='mmcv.RandomFlip', prob=0.5), "
                                  "dict(type='PackClsInputs')]\n")
    assert proc.returncode != 0
    assert 'cfg.py assigns train_pipeline (RandomFlip, PackClsInputs) but not train_dataloader' in proc.stderr, \
        proc.stderr[-3000:]


def test_an_ohl_copies_config_is_refused_by_the_stock_tool_before_building_naming_the_launchers(tmp_path):
    """Before: the stock tool built the CopyRunner (model, hooks, work dir) and stopped with "world size 1 does not
    fit the OHL configuration ... Run `python tools/train.py CONFIG`", which named the tool just run."""
    proc = _stock_train(tmp_path, f"_base_ = '{OHL}'\n")
    assert proc.returncode != 0
    tail = proc.stderr[-3000:]
    assert "ConfigCheckError: custom_hooks[0] (OHLHook) trains in 4 processes (num_copies x ranks_per_copy), but " \
        "this runner runs alone (launcher='none')" in tail, tail
    assert f'`python {osp.join(REPO_ROOT, "tools", "train.py")} CONFIG`' in tail
    assert '`torchrun --nproc_per_node 4`' in tail
    assert 'Loads checkpoint' not in proc.stdout and not osp.isdir(tmp_path / 'work')  # nothing was built


def test_a_runner_from_cfg_is_checked_once_when_it_trains(tmp_path, monkeypatch):
    """``Runner.from_cfg(cfg).train()`` (an mmengine user's script) runs check_config once, before any data is read;
    a runner that was already checked is not checked again by a second ``train()``."""
    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top3'
    runner = Runner.from_cfg(cfg)
    assert calls == []  # built, not checked yet: train() or test() decides what is read
    with pytest.raises(ConfigCheckError, match=re.escape("default_hooks.checkpoint.save_best='accuracy/top3'")):
        runner.train()
    assert calls == [False]
    assert runner._train_loop is None or isinstance(runner._train_loop, dict)  # no dataloader was built


def test_test_checks_only_what_testing_reads(tmp_path, monkeypatch):
    """``runner.test()`` runs ``check_config(test_only=True)``: a bad val loader does not stop a test, a bad test
    loader does."""
    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path))
    bad = [eval(OHL_CHOICE), dict(type='PackClsInputs')]  # noqa: S307 - the literal above
    cfg.val_dataloader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset, pipeline=bad))
    Runner.from_cfg(cfg).test()
    assert calls == [True]
    cfg.test_dataloader = dict(cfg.test_dataloader, dataset=dict(cfg.test_dataloader.dataset, pipeline=bad))
    with pytest.raises(ConfigCheckError, match=re.escape('test_dataloader.dataset.pipeline[0] is OHLRandomChoice')):
        Runner.from_cfg(cfg).test()


def test_the_model_checks_run_too(coco_root, tmp_path):
    """A 'segm' metric on Faster R-CNN: the stock path stopped with mmdet's "segm is not in results" after the first
    epoch's validation; refused at train() now (check_mask_metrics on the built model)."""
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.work_dir = str(tmp_path)
    cfg.val_evaluator = dict(cfg.val_evaluator, metric=['bbox', 'segm'])
    with pytest.raises(ConfigCheckError, match=re.escape("val_evaluator.metric=['bbox', 'segm'] scores instance masks, "
                                                         'but FasterRCNN has no model.roi_head.mask_head')):
        Runner.from_cfg(cfg).train()


def test_automl_mms_own_tool_checks_once_per_process(tmp_path, monkeypatch):
    """tools/train.py checks the config in build_config; the runner it builds is not checked a second time."""
    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path / 'work'))
    path = str(tmp_path / 'cfg.py')
    Config(cfg.to_dict()).dump(path)
    monkeypatch.setattr(sys, 'argv', ['tools/train.py', path])
    runpy.run_path(osp.join(REPO_ROOT, 'tools', 'train.py'), run_name='__main__')
    assert calls == [False]


class _OwnFromCfgRunner(Runner):
    """A Runner subclass whose ``from_cfg`` builds with ``cls(...)`` and never calls ``super().from_cfg``; it
    validates but builds no train loop (the checks read what the runner is given: its hooks and validation)."""

    @classmethod
    def from_cfg(cls, cfg):
        given = {key: cfg.get(key) for key in ('default_hooks', 'val_dataloader', 'val_cfg', 'val_evaluator')}
        return cls(model=cfg['model'], work_dir=cfg['work_dir'], default_scope=cfg.get('default_scope'), cfg=cfg,
                   **given)


def test_a_runner_subclass_whose_from_cfg_calls_cls_is_checked_and_one_without_a_config_is_not(tmp_path,
                                                                                                 monkeypatch):
    """Before: a subclass's own ``from_cfg`` (``cls(...)``, not ``super().from_cfg``) skipped the wrapped
    ``Runner.from_cfg``, so its runner was never marked and ``train()`` ran no check (here it went on to mmengine's
    own error about the missing train loader); a runner built inside ``checked_by_tool`` is exempt whatever builds
    it, and ``Runner(model=...)`` without a config is not checked."""
    from automl_mm.engine.runner_checks import checked_by_tool

    calls = count_config_checks(monkeypatch)
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top3'
    runner = _OwnFromCfgRunner.from_cfg(cfg)
    with pytest.raises(ConfigCheckError, match=re.escape("default_hooks.checkpoint.save_best='accuracy/top3'")):
        runner.train()
    assert calls == [False]
    with checked_by_tool():
        exempt = _OwnFromCfgRunner.from_cfg(cfg)
    bare = Runner(model=exempt.model, work_dir=str(tmp_path))
    for built in (exempt, bare):
        with pytest.raises(RuntimeError, match='train_dataloader'):  # mmengine's own error, no check ran first
            built.train()
    assert calls == [False]
