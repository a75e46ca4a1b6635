"""tools/test.py (and a resume) with a checkpoint trained on other classes than the config's data."""
from __future__ import annotations

import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.datasets.fashion_mnist import FashionMNISTDataset
from automl_mm.engine.checkpoint import CheckpointMismatchError
from automl_mm.utils import register_all_modules
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
TINY = ['test_dataloader.dataset.max_samples=16']


@pytest.fixture(scope='module')
def weights(tmp_path_factory) -> dict:
    """The digits model's initial weights (the keys and shapes a digits checkpoint has)."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(tmp_path_factory.mktemp('build'))
    return Runner.from_cfg(cfg).model.state_dict()


def _save(path, weights: dict, classes) -> str:
    torch.save(dict(meta=dict(epoch=1, iter=1, dataset_meta=dict(classes=classes)), state_dict=weights), str(path))
    return str(path)


def _test(monkeypatch, checkpoint: str, work: str, *extra: str):
    spec = importlib.util.spec_from_file_location('_tool_test', osp.join(REPO_ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', ['test.py', DIGITS, checkpoint, '--work-dir', work, *extra,
                                      '--cfg-options', *TINY])
    tool.main()


def test_a_checkpoint_of_other_classes_is_refused(weights, tmp_path, monkeypatch, capsys):
    """A Fashion-MNIST checkpoint (10 classes, the same network) scored against digits labels: no error before."""
    fmnist = _save(tmp_path / 'fmnist.pth', weights, FashionMNISTDataset.METAINFO['classes'])
    with pytest.raises(CheckpointMismatchError, match=r"fmnist\.pth was trained on other classes than the config's "
                                                       r"test set \(class 0 is 'T-shirt/top' in the checkpoint, "
                                                       r"'0' here\).*--allow-partial"):
        _test(monkeypatch, fmnist, str(tmp_path / 'a'))
    _test(monkeypatch, fmnist, str(tmp_path / 'b'), '--allow-partial')  # asked for: evaluated
    digits = _save(tmp_path / 'digits.pth', weights, tuple(str(i) for i in range(10)))
    _test(monkeypatch, digits, str(tmp_path / 'c'))  # the same classes: evaluated
    assert 'accuracy/top1' in capsys.readouterr().out


def test_a_reordered_class_list_is_refused(weights, tmp_path, monkeypatch):
    reordered = _save(tmp_path / 'r.pth', weights, ('1', '0', *(str(i) for i in range(2, 10))))
    with pytest.raises(CheckpointMismatchError, match=r"class 0 is '1' in the checkpoint, '0' here"):
        _test(monkeypatch, reordered, str(tmp_path / 'a'))
