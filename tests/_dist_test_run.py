"""One ``tools/dist_test.sh`` run (2 gloo processes on CPUs, 16 digits images of 16 px, ``--out``), shared by the
tests that check different things about it: test_dist_test_prints_once.py (the metrics printed once) and
test_launch_scripts.py (every prediction dumped once). Run once per pytest process (a worker of ``-n 2`` that runs
both tests starts it once), from a folder of its own, not the repository root."""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
_RUN: dict = {}


def dist_test_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    """The completed ``bash tools/dist_test.sh DIGITS <checkpoint> 2 --out <pkl> ...`` process and the ``--out``
    path (the checkpoint: the digits model's initial weights). The environment drops any GPUS / PORT /
    MASTER_PORT / SRUN_ARGS of the caller and gives PYTHON (this interpreter), a free PORT and OMP_NUM_THREADS=1."""
    if 'proc' not in _RUN:
        from mmengine.config import Config
        from mmengine.runner import Runner

        tmp = tmp_path_factory.mktemp('dist_test')
        cfg = Config.fromfile(DIGITS)
        cfg.work_dir = str(tmp / 'build')
        checkpoint = str(tmp / 'digits.pth')
        torch.save({'state_dict': Runner.from_cfg(cfg).model.state_dict()}, checkpoint)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items()
               if k not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'PORT', 'MASTER_PORT', 'PYTHON')}
        env.update(PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
        out = str(tmp / 'preds.pkl')
        _RUN['proc'] = subprocess.run(
            ['bash', osp.join(REPO_ROOT, 'tools/dist_test.sh'), DIGITS, checkpoint, '2', '--work-dir', str(tmp / 'w'),
             '--out', out, '--cfg-options', 'test_dataloader.dataset.max_samples=16',
             'test_dataloader.dataset.img_size=16'], cwd=tmp, env=env, capture_output=True, text=True, timeout=180)
        _RUN['out'] = out
    return _RUN['proc'], _RUN['out']


def failure_text(proc: subprocess.CompletedProcess, limit: int = 4000) -> str:
    """What a failed run printed, for an assertion message: the end of its output, and, where a rank died of a
    fatal signal, the start of its ``faulthandler`` dump (``Fatal Python error: ...`` and the threads' stacks),
    which a plain tail cut off behind the dump's list of extension modules (a CI run's SIGABRT of rank 1 showed
    only that list)."""
    text = proc.stdout + proc.stderr
    fatal = text.find('Fatal Python error')
    head = text[fatal:fatal + limit] + '\n[...]\n' if fatal >= 0 else ''
    return head + text[-limit:]
