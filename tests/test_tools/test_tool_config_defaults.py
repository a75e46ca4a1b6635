"""What tools/train.py and tools/test.py set in the config, as mmdet's tools do: work_dir from --work-dir, else the
config's (a --cfg-options work_dir too), else ./work_dirs/<config name>; test.py's CHECKPOINT as load_from (and no
resume); --launcher; LOCAL_RANK from --local_rank / --local-rank unless the launcher exported it."""
from __future__ import annotations

import os
import os.path as osp

import pytest
import torch

from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
DEFAULT = osp.join('./work_dirs', 'baseline_convnet_1x1_30e_digits')


def _tool(name: str):
    return load_tool(name, f'_tool_defaults_{name}')


@pytest.fixture(autouse=True)
def _registered():
    from automl_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)


class _Built(Exception):
    pass


def _test_config(monkeypatch, *argv):
    """The config tools/test.py builds its runner from (the runner is not built)."""
    from mmengine.runner import Runner

    def build(cfg):
        raise _Built(cfg)

    monkeypatch.setattr(Runner, 'from_cfg', build)
    with pytest.raises(_Built) as built:
        _tool('test').main(list(argv))
    return built.value.args[0]


@pytest.fixture
def checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {}}, path)
    return path


@pytest.mark.parametrize('argv, work_dir', [
    ([], DEFAULT),
    (['--cfg-options', 'work_dir=/tmp/from_option'], '/tmp/from_option'),
    (['--work-dir', '/tmp/from_flag'], '/tmp/from_flag'),
])
def test_train_work_dir(argv, work_dir):
    tool = _tool('train')
    cfg = tool.build_config(tool.parse_args([DIGITS, *argv]))
    assert (cfg.work_dir, cfg.launcher) == (work_dir, 'none')


@pytest.mark.parametrize('argv, work_dir', [
    ([], DEFAULT),
    (['--cfg-options', 'work_dir=/tmp/from_option'], '/tmp/from_option'),
    (['--work-dir', '/tmp/from_flag'], '/tmp/from_flag'),
])
def test_test_work_dir_and_checkpoint(checkpoint, monkeypatch, argv, work_dir):
    cfg = _test_config(monkeypatch, DIGITS, checkpoint, *argv)
    assert (cfg.work_dir, cfg.load_from, cfg.resume, cfg.launcher) == (work_dir, checkpoint, False, 'none')


@pytest.mark.parametrize('flag', ['--local_rank', '--local-rank'])
def test_local_rank_sets_the_environment_unless_the_launcher_did(flag, monkeypatch):
    tool = _tool('train')
    assert tool.parse_args([DIGITS, f'{flag}=3']).local_rank == 3 and os.environ['LOCAL_RANK'] == '3'
    monkeypatch.setenv('LOCAL_RANK', '1')
    tool.parse_args([DIGITS, flag, '5'])
    assert os.environ['LOCAL_RANK'] == '1'
