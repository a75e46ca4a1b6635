"""The benchmarks that take ``--device`` refuse a CUDA device on a machine without one as the tools do
(:func:`automl_mm.engine.tool_devices.checked_device`): a usage error (exit status 2) that suggests ``--device cpu``,
before any data is read or network built (they said only that no CUDA device is available)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason='the refusal is for machines without CUDA')
@pytest.mark.parametrize('bench', ['cr_backbone_speed.py', 'reward_horizon.py'])
def test_a_cuda_device_without_cuda_is_a_usage_error_suggesting_the_cpu(bench):
    proc = subprocess.run([sys.executable, f'benchmarks/{bench}', '--device', 'cuda'], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={'PYTHONPATH': REPO_ROOT, 'PATH': '/usr/bin:/bin'})
    assert proc.returncode == 2
    assert (f'{bench}: error: --device cuda: torch sees no CUDA device here (torch {torch.__version__}'
            in proc.stderr)
    assert 'use --device cpu to run on the CPU' in proc.stderr and 'Traceback' not in proc.stderr
