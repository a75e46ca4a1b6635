"""A tool's device option that this machine cannot run is refused at the command line, before the config is read,
naming the option and the CPU alternative (``tools/measure_latency.py --device cuda`` without CUDA built the supernet
and then stopped with ``ValueError: device='cuda' but CUDA is not available here``)."""
from __future__ import annotations

import argparse
import os.path as osp

import pytest
import torch

from automl_mm.engine.tool_devices import checked_device
from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT

PC_NAS = 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py'


def _no_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)


def _refusal(capsys, call) -> str:
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1].split(': error: ', 1)[1]  # after the parser's prog


def test_measure_latency_refuses_cuda_without_cuda_before_reading_the_config(monkeypatch, capsys, tmp_path):
    _no_cuda(monkeypatch)
    tool = load_tool('measure_latency', '_measure_latency_devices')
    # the config does not exist either: the device is refused first (nothing read, nothing built)
    err = _refusal(capsys, lambda: tool.main(['configs/pc_nas/nope.py', '--out', str(tmp_path / 't.json'),
                                             '--device', 'cuda']))
    build = f'built for CUDA {torch.version.cuda}' if torch.version.cuda else 'built without CUDA'
    assert err == (f'--device cuda: torch sees no CUDA device here (torch '
                   f'{torch.__version__}, {build}); use --device cpu to run on the CPU, or run on a machine with a GPU')
    assert not (tmp_path / 't.json').exists()


def test_measure_latency_refuses_a_missing_index_a_wrong_name_and_bad_counts(monkeypatch, capsys, tmp_path):
    tool = load_tool('measure_latency', '_measure_latency_devices')
    out = ['--out', str(tmp_path / 't.json')]
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    assert _refusal(capsys, lambda: tool.parse_args([PC_NAS, *out, '--device', 'cuda:1'])) == (
        '--device cuda:1: torch sees 1 CUDA device here (cuda:0); give one of them; use '
        '--device cpu to run on the CPU')
    assert tool.parse_args([PC_NAS, *out, '--device', 'cuda:0']).device == 'cuda:0'
    assert _refusal(capsys, lambda: tool.parse_args([PC_NAS, *out, '--device', 'gpu'])).startswith(
        "--device 'gpu' is not a torch device name (e.g. cpu, cuda, cuda:1): ")
    assert _refusal(capsys, lambda: tool.parse_args([PC_NAS, *out, '--num-threads', '0'])) == \
        '--num-threads must be >= 1, got 0'
    assert _refusal(capsys, lambda: tool.parse_args([PC_NAS, *out, '--repeats', '0'])) == \
        '--repeats must be >= 1, got 0'
    assert _refusal(capsys, lambda: tool.parse_args([PC_NAS, *out, '--warmup', '-1'])) == \
        '--warmup must be >= 0, got -1'
    assert tool.parse_args([PC_NAS, *out]).device == 'cpu'


def test_checked_device_other_kinds(monkeypatch, capsys):
    parser = argparse.ArgumentParser(prog='tool')
    assert checked_device(parser, 'cpu') == torch.device('cpu')
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    assert _refusal(capsys, lambda: checked_device(parser, 'mps')) == \
        '--device mps: torch has no mps device here; use --device cpu to run on the CPU'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert checked_device(parser, 'cuda:1') == torch.device('cuda:1')
    assert _refusal(capsys, lambda: checked_device(parser, 'cuda:2', '--gpu')) == (
        '--gpu cuda:2: torch sees 2 CUDA devices here (cuda:0 to cuda:1); give one of them; use --gpu '
        'cpu to run on the CPU')


def test_train_amp_without_cuda_names_the_cpu_alternative(monkeypatch, tmp_path):
    _no_cuda(monkeypatch)
    train = load_tool('train', '_train_devices')
    args = train.parse_args([osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'),
                             '--work-dir', str(tmp_path), '--amp'])
    with pytest.raises(RuntimeError, match=r'^--amp needs a CUDA device \(mmengine AmpOptimWrapper\); torch sees '
                                           r'none here: leave --amp out to train in float32 on the CPU$'):
        train.build_config(args)


def test_the_moved_helpers_are_still_imported_from_tool_args():
    """checked_device, exit_on_refusal, raised_as_refusal and TRACEBACK_VARIABLE lived in tool_args.py."""
    from automl_mm.engine import tool_args, tool_errors

    assert tool_args.checked_device is checked_device
    assert (tool_args.exit_on_refusal, tool_args.raised_as_refusal, tool_args.TRACEBACK_VARIABLE) == (
        tool_errors.exit_on_refusal, tool_errors.raised_as_refusal, tool_errors.TRACEBACK_VARIABLE)
