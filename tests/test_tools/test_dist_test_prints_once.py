"""tools/test.py prints the test metrics once per job: under tools/dist_test.sh every rank printed the same dict
(2 lines for 2 processes, 8 for 8 GPUs), where the log already has them once (rank 0's logger)."""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


@pytest.mark.slow
def test_dist_test_prints_the_metrics_once(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(tmp_path / 'build')
    checkpoint = str(tmp_path / 'digits.pth')
    torch.save({'state_dict': Runner.from_cfg(cfg).model.state_dict()}, checkpoint)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
    env.pop('MASTER_PORT', None)
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools/dist_test.sh'), DIGITS, checkpoint, '2',
                           '--work-dir', str(tmp_path / 'w'), '--cfg-options', 'test_dataloader.dataset.max_samples=16',
                           'test_dataloader.dataset.img_size=16'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    printed = [line for line in proc.stdout.splitlines() if line.startswith("{'accuracy/top1'")]
    assert len(printed) == 1, proc.stdout[-2000:]
