"""--cfg-options that tools/train.py / tools/test.py replaced by their own flags afterwards, silently."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

import pytest

from automl_mm.engine.preflight import ConfigCheckError
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(work_dir, resume=None, options=None) -> argparse.Namespace:
    return argparse.Namespace(config=DIGITS, work_dir=work_dir, resume=resume, amp=False, cfg_options=options,
                              launcher='none', local_rank=0)


@pytest.mark.parametrize('options, resume, flag', [
    ({'launcher': 'pytorch'}, None, '--launcher'),
    ({'work_dir': 'elsewhere'}, None, '--work-dir'),
    ({'load_from': 'other.pth'}, 'given.pth', '--resume'),
    ({'resume': False}, 'auto', '--resume'),
])
def test_train_refuses_an_option_its_flag_replaces(tmp_path, options, resume, flag):
    """e.g. --cfg-options launcher=pytorch ran with --launcher's default none; work_dir=A --work-dir B wrote to B."""
    (tmp_path / 'given.pth').write_bytes(b'')
    with pytest.raises(ConfigCheckError, match=rf'--cfg-options {next(iter(options))}=.* would be replaced by '
                                               rf'{flag}'):
        _tool('train').build_config(_args(str(tmp_path), resume, options))


def test_train_keeps_options_no_flag_replaces(tmp_path):
    train = _tool('train')
    cfg = train.build_config(_args(str(tmp_path), None, dict(work_dir=str(tmp_path), launcher='none')))
    assert cfg.work_dir == str(tmp_path)
    cfg = train.build_config(_args(None, None, dict(work_dir=str(tmp_path / 'w'))))
    assert cfg.work_dir == str(tmp_path / 'w')


def test_test_tool_refuses_a_load_from_option(tmp_path, monkeypatch):
    """tools/test.py CONFIG A.pth --cfg-options load_from=B.pth tested A.pth."""
    checkpoint = tmp_path / 'a.pth'
    checkpoint.write_bytes(b'x')
    monkeypatch.setattr(sys, 'argv', ['test.py', DIGITS, str(checkpoint), '--cfg-options', 'load_from=b.pth'])
    with pytest.raises(ConfigCheckError, match=r"load_from='b.pth' would be replaced by the CHECKPOINT argument"):
        _tool('test').main()
