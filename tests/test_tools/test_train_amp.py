"""tools/train.py --amp, as mmdet's: optim_wrapper becomes mmengine's AmpOptimWrapper with a dynamic loss scale
(one set by the config or --cfg-options is kept). A scoped name of mmengine's OptimWrapper
(optim_wrapper.type='mmengine.OptimWrapper') was refused as if it were another wrapper."""
from __future__ import annotations

import importlib.util
import os.path as osp

import pytest
import torch

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


@pytest.fixture
def tool(monkeypatch):
    """tools/train.py with a CUDA device as far as --amp asks (the config is built, no runner)."""
    for name in ('LOCAL_RANK', 'TORCHINDUCTOR_CACHE_DIR'):
        monkeypatch.setenv(name, 'unset')
        monkeypatch.delenv(name)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    spec = importlib.util.spec_from_file_location('_tool_train_amp', osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from automl_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return module


def _optim_wrapper(tool, tmp_path, *argv):
    return dict(tool.build_config(tool.parse_args([DIGITS, '--work-dir', str(tmp_path), '--amp', *argv]))
                .optim_wrapper)


@pytest.mark.parametrize('kind', ['OptimWrapper', 'mmengine.OptimWrapper', 'AmpOptimWrapper'])
def test_amp_makes_the_wrapper_mmengines_amp_one(tool, tmp_path, kind):
    wrapper = _optim_wrapper(tool, tmp_path, '--cfg-options', f'optim_wrapper.type={kind}')
    assert wrapper['type'] == 'AmpOptimWrapper' and wrapper['loss_scale'] == 'dynamic'
    assert wrapper['optimizer']['type'] == 'SGD'


def test_amp_keeps_a_loss_scale_given_and_says_so(tool, tmp_path, monkeypatch):
    from automl_mm.engine import tool_args

    logged = []
    monkeypatch.setattr(tool_args, 'print_log', lambda msg, **kw: logged.append(msg))
    assert _optim_wrapper(tool, tmp_path, '--cfg-options', 'optim_wrapper.loss_scale=512')['loss_scale'] == 512
    assert logged == ["--amp: keeping optim_wrapper.loss_scale=512 (mmdet's tools/train.py --amp sets 'dynamic' in "
                      'its place)']
    logged.clear()
    _optim_wrapper(tool, tmp_path, '--cfg-options', 'optim_wrapper.loss_scale=dynamic')
    assert logged == []


def test_amp_refuses_another_wrapper_naming_the_key(tool, tmp_path):
    with pytest.raises(ValueError, match=r"--amp needs optim_wrapper\.type OptimWrapper .*got 'OptimWrapperDict'"):
        _optim_wrapper(tool, tmp_path, '--cfg-options', 'optim_wrapper.type=OptimWrapperDict')
