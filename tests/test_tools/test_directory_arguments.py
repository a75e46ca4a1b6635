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
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

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


def _blocker(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    return blocker


@pytest.mark.parametrize('below', [False, True])
def test_train_work_dir_that_is_a_file_is_refused_naming_where_it_was_given(tmp_path, below):
    """``tools/train.py CONFIG --work-dir a_file`` ended in mmengine's mkdir_or_exist with a raw ``FileExistsError:
    [Errno 17] File exists`` traceback (``a_file/run``: ``NotADirectoryError``), after the config was checked."""
    blocker = _blocker(tmp_path)
    work = str(blocker / 'run' if below else blocker)
    refused = rf'^--work-dir {work} cannot be made: {blocker} is a file, not a folder$'
    with pytest.raises(NotADirectoryError, match=refused):
        _tool('train').build_config(_args(DIGITS, work, None))
    args = _args(DIGITS, None, None)
    args.cfg_options = {'work_dir': work}
    with pytest.raises(NotADirectoryError, match=rf'^work_dir {work} cannot be made'):
        _tool('train').build_config(args)
    assert blocker.read_text() == 'x'


def test_test_tool_work_dir_out_and_show_dir_below_a_file_are_refused_by_option(tmp_path, monkeypatch):
    """``tools/test.py``'s ``--work-dir`` failed as tools/train.py's; ``--out a_file/preds.pkl`` in os.makedirs after
    the runner was built, and an absolute ``--show-dir`` below a file at the first drawn image."""
    blocker, run = _blocker(tmp_path), _run_dir(tmp_path)
    checkpoint, work = osp.join(run, 'epoch_2.pth'), str(tmp_path / 'work')
    for extra, refused in ((['--work-dir', str(blocker)], rf'^--work-dir {blocker} cannot be made'),
                           (['--work-dir', work, '--out', f'{blocker}/preds.pkl'],
                            rf'^--out {blocker}/preds\.pkl cannot be written: its folder {blocker} is a file'),
                           (['--work-dir', work, '--show-dir', f'{blocker}/vis'],
                            rf'^--show-dir {blocker}/vis cannot be made: {blocker} is a file, not a folder$')):
        monkeypatch.setattr(sys, 'argv', ['test.py', DIGITS, checkpoint, *extra])
        with pytest.raises((NotADirectoryError, ValueError), match=refused):
            _tool('test').main()
    assert blocker.read_text() == 'x'


def test_measure_latency_out_that_cannot_be_written_is_refused_before_the_supernet_is_built(tmp_path, capsys):
    """``--out`` a folder, or below a file, failed in the JSON dump after every entry was timed."""
    blocker = _blocker(tmp_path)
    tool = _tool('measure_latency')
    for out, refused in ((str(tmp_path), f'--out {tmp_path} is a folder'),
                         (f'{blocker}/table.json', f'--out {blocker}/table.json cannot be written: its folder '
                                                   f'{blocker} is a file, not a folder')):
        with pytest.raises(SystemExit) as exited:
            tool.parse_args([DIGITS, '--out', out])
        assert exited.value.code == 2
        assert f': error: {refused}' in capsys.readouterr().err
