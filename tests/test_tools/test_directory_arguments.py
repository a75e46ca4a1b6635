"""A directory where a tool takes a file: ``tools/train.py --resume work_dirs/run`` said "--resume checkpoint not
found: work_dirs/run" (it exists), ``tools/test.py CONFIG work_dirs/run`` and a config's ``load_from`` "checkpoint
file not found", a CONFIG argument ``configs/ohl`` "config file not found". Each now says a directory was given and
what it holds (the newest complete checkpoint; the configs)."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

import pytest
import torch

from automl_mm.engine.checkpoint import load_from_local

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_tool_{name}_dirs', osp.join(REPO_ROOT, f'tools/{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(config: str, work_dir: str, resume: str | None) -> argparse.Namespace:
    return argparse.Namespace(config=config, work_dir=work_dir, resume=resume, amp=False, cfg_options=None,
                              launcher='none', local_rank=0)


def _run_dir(tmp_path, with_checkpoint: bool = True) -> str:
    run = tmp_path / 'run'
    run.mkdir()
    if with_checkpoint:
        torch.save({'meta': {'epoch': 2}, 'state_dict': {}}, run / 'epoch_2.pth')
    return str(run)


def test_train_resume_from_a_directory_says_so(tmp_path):
    run = _run_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match=rf'--resume checkpoint is a directory, not a checkpoint file: {run} '
                                                rf'\(the newest complete checkpoint in it is {run}/epoch_2\.pth; '
                                                r'`--resume` without a path'):
        _tool('train').build_config(_args(DIGITS, str(tmp_path / 'work'), run))


def test_train_resume_from_a_missing_path_still_says_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'--resume checkpoint not found: .*nothing\.pth \(its folder holds '
                                                r'no complete checkpoint\)$'):
        _tool('train').build_config(_args(DIGITS, str(tmp_path / 'work'), str(tmp_path / 'nothing.pth')))


def test_a_missing_checkpoint_names_the_newest_one_of_its_folder(tmp_path, monkeypatch):
    """``--resume work_dirs/run/epoch_9.pth`` of a run that saved up to epoch 2 (a mistyped number, a checkpoint
    already rotated out by ``max_keep_ckpts``) said only "not found"; the message now names what the folder holds
    (the checkpoint ``--resume`` without a path would take), for ``tools/train.py`` and ``tools/test.py`` alike."""
    run = _run_dir(tmp_path)
    missing = osp.join(run, 'epoch_9.pth')
    with pytest.raises(FileNotFoundError, match=rf'^--resume checkpoint not found: {missing} \(the newest complete '
                                                rf'checkpoint in its folder is {run}/epoch_2\.pth\)$'):
        _tool('train').build_config(_args(DIGITS, str(tmp_path / 'work'), missing))
    monkeypatch.setattr(sys, 'argv', ['test.py', DIGITS, missing, '--work-dir', str(tmp_path / 'work')])
    with pytest.raises(FileNotFoundError, match=rf'^checkpoint file not found: {missing} \(the newest complete '
                                                rf'checkpoint in its folder is {run}/epoch_2\.pth\)$'):
        _tool('test').main()


def test_a_checkpoint_in_a_missing_folder_says_the_folder_is_missing(tmp_path):
    missing = str(tmp_path / 'wrok_dirs' / 'run' / 'epoch_2.pth')
    with pytest.raises(FileNotFoundError, match=rf'^--resume checkpoint not found: {missing} \(there is no folder '
                                                rf'{tmp_path}/wrok_dirs/run\)$'):
        _tool('train').build_config(_args(DIGITS, str(tmp_path / 'work'), missing))


def test_test_tool_checkpoint_directory_says_so(tmp_path, monkeypatch):
    run = _run_dir(tmp_path, with_checkpoint=False)
    monkeypatch.setattr(sys, 'argv', ['test.py', DIGITS, run, '--work-dir', str(tmp_path / 'work')])
    with pytest.raises(FileNotFoundError, match=rf'checkpoint file is a directory, not a checkpoint file: {run} '
                                                r'\(it holds no complete checkpoint\)'):
        _tool('test').main()


def test_load_from_a_directory_says_so(tmp_path):
    run = _run_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'checkpoint file is a directory.*epoch_2\.pth'):
        load_from_local(run)


def test_a_config_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'config is a directory, not a config file: .*configs/ohl \(it '
                                                r'holds ohl'):
        _tool('train').build_config(_args(osp.join(REPO_ROOT, 'configs/ohl'), str(tmp_path / 'work'), None))
