"""A checkpoint named by URL (an mmdet model-zoo https://download.openmmlab.com/... .pth), which mmdet's
tools/test.py CHECKPOINT and tools/train.py --resume hand to mmengine's CheckpointLoader to fetch, was refused here
as "checkpoint file not found: https://... (there is no folder https://...)". Only names mmengine reads as local
files are checked as files. The tests register a scheme of their own (no network): mmengine's loader routes it as
it routes https://."""
from __future__ import annotations

import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

from automl_mm.engine.resume import read_as_local_file
from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
TINY = ['test_dataloader.dataset.max_samples=16', 'test_dataloader.dataset.img_size=16']


def _tool(name: str):
    return load_tool(name, f'_tool_url_{name}')




@pytest.fixture
def zoo(monkeypatch, tmp_path):
    """``zoo://NAME`` read from tmp_path/NAME by a loader registered with mmengine, as a model-zoo URL would be
    downloaded; returns the folder and the names fetched."""
    monkeypatch.setattr(CheckpointLoader, '_schemes', OrderedDict(CheckpointLoader._schemes))
    fetched = []

    def load_from_zoo(filename, map_location=None):
        fetched.append(filename)
        return torch.load(tmp_path / filename[len('zoo://'):], map_location=map_location, weights_only=True)

    CheckpointLoader.register_scheme(prefixes='zoo://', loader=load_from_zoo)
    return tmp_path, fetched


def test_only_names_read_as_files_are_local():
    assert read_as_local_file('work_dirs/run/epoch_1.pth') and read_as_local_file('~/model.pth')
    assert not read_as_local_file('https://download.openmmlab.com/mmdetection/v3.0/x.pth')
    assert not read_as_local_file('torchvision://resnet18')


def test_test_tool_evaluates_a_checkpoint_named_by_url(zoo, tmp_path, monkeypatch, capsys):
    from mmengine.runner import Runner

    folder, fetched = zoo
    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(tmp_path / 'build')
    torch.save({'state_dict': Runner.from_cfg(cfg).model.state_dict(), 'meta': {}}, folder / 'digits.pth')
    from mmengine.visualization import Visualizer
    monkeypatch.setattr(Visualizer, '_instance_dict', OrderedDict())
    _tool('test').main([DIGITS, 'zoo://digits.pth', '--work-dir', str(tmp_path / 'w'), '--cfg-options', *TINY])
    assert fetched == ['zoo://digits.pth']
    assert "'accuracy/top1'" in capsys.readouterr().out


def test_test_tool_still_refuses_a_missing_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'checkpoint file not found: .*missing\.pth'):
        _tool('test').main([DIGITS, str(tmp_path / 'missing.pth')])


def test_train_tool_resumes_from_a_url(zoo):
    tool = _tool('train')
    from automl_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = tool.build_config(tool.parse_args([DIGITS, '--resume', 'zoo://epoch_3.pth']))
    assert (cfg.resume, cfg.load_from) == (True, 'zoo://epoch_3.pth')
