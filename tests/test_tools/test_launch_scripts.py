"""tools/dist_test.sh, tools/slurm_train.sh and tools/slurm_test.sh (mmdet's scripts and variables: PARTITION
JOB_NAME CONFIG WORK_DIR / CHECKPOINT, GPUS GPUS_PER_NODE CPUS_PER_TASK SRUN_ARGS, the tool's options after them),
with the project's PYTHON and PORT / MASTER_PORT. A fake ``srun`` on PATH records its arguments and environment,
then runs the command it was given, as srun runs it in every task."""
from __future__ import annotations

import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
from _dist_test_run import dist_test_run, failure_text

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')

FAKE_SRUN = """#!/usr/bin/env bash
# records argv (one a line) and the environment the tasks get, then runs the command (the first non-option)
printf '%s\\n' "$@" > "$SRUN_LOG"
echo "ENV PYTHONPATH=$PYTHONPATH" >> "$SRUN_LOG"
echo "ENV MASTER_PORT=${MASTER_PORT:-}" >> "$SRUN_LOG"
while [[ $# -gt 0 && "$1" == -* ]]; do shift; done
exec "$@"
"""

FAKE_PYTHON = '#!/bin/sh\nprintf "%s\\n" "$@" > "$PYTHON_LOG"\n'


def _script(tmp_path, script: str, *args: str, **env: str) -> tuple[list[str], list[str], subprocess.CompletedProcess]:
    """Run ``tools/<script>`` from ``tmp_path`` (not the repository root) with the fake srun and, unless ``env``
    names another, a fake python; returns (srun's arguments, the python command's arguments, the process)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name, text in (('srun', FAKE_SRUN), ('python', FAKE_PYTHON)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    base = {k: v for k, v in os.environ.items()
            if k not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'PORT', 'MASTER_PORT', 'PYTHON')}
    full = dict(base, PATH=f'{bin_dir}:{os.environ["PATH"]}', SRUN_LOG=str(tmp_path / 'srun.log'),
                PYTHON_LOG=str(tmp_path / 'python.log'), PYTHON=str(bin_dir / 'python'))
    full.update(env)
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=120)
    read = lambda name: (tmp_path / name).read_text().splitlines() if (tmp_path / name).exists() else []  # noqa: E731
    return read('srun.log'), read('python.log'), proc


def test_slurm_train_runs_one_task_per_gpu_with_mmdets_variables(tmp_path):
    srun, python, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'ohl', 'cfg.py', 'work dir', '--amp',
                                 '--cfg-options', 'a=1', GPUS='16', CPUS_PER_TASK='4',
                                 SRUN_ARGS='--quotatype=auto --exclude=n1')
    assert proc.returncode == 0, proc.stderr
    # --distribution=block: consecutive ranks (an OHL copy's) share a node, whatever SLURM_DISTRIBUTION says
    assert srun[:10] == ['--partition=gpu', '--job-name=ohl', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                         '--distribution=block', '--cpus-per-task=4', '--kill-on-bad-exit=1', '--quotatype=auto',
                         '--exclude=n1']
    assert srun[11:13] == ['-u', osp.join(REPO_ROOT, 'tools/train.py')]
    assert python[:2] == ['-u', osp.join(REPO_ROOT, 'tools/train.py')]
    assert python[2:] == ['cfg.py', '--work-dir=work dir', '--launcher=slurm', '--amp', '--cfg-options', 'a=1']
    assert any(line.startswith(f'ENV PYTHONPATH={REPO_ROOT}:') for line in srun) and 'ENV MASTER_PORT=' in srun


def test_slurm_test_passes_the_checkpoint_and_the_port(tmp_path):
    srun, python, proc = _script(tmp_path, 'slurm_test.sh', 'gpu', 'eval', 'cfg.py', 'ckpt.pth', '--out', 'p.pkl',
                                 GPUS='2', PORT='29611')
    assert proc.returncode == 0, proc.stderr
    assert '--gres=gpu:2' in srun and '--ntasks=2' in srun and '--ntasks-per-node=2' in srun  # not 8 GPUs for 2
    assert python == ['-u', osp.join(REPO_ROOT, 'tools/test.py'), 'cfg.py', 'ckpt.pth', '--launcher=slurm', '--out',
                      'p.pkl']
    assert 'ENV MASTER_PORT=29611' in srun  # mmengine's slurm launcher reads it


@pytest.mark.parametrize('script, args', [('slurm_train.sh', ('gpu', 'job', 'cfg.py')),
                                          ('slurm_test.sh', ('gpu', 'job', 'cfg.py')),
                                          ('dist_test.sh', ('cfg.py', 'ckpt.pth')),
                                          ('dist_train.sh', ('cfg.py',))])
def test_too_few_arguments_print_the_usage(tmp_path, script, args):
    srun, python, proc = _script(tmp_path, script, *args)
    assert proc.returncode == 2 and 'usage:' in proc.stderr and not srun and not python


def test_a_gpu_count_that_is_not_a_number_is_refused(tmp_path):
    srun, _, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'job', 'cfg.py', 'w', GPUS='eight')
    assert proc.returncode == 2 and "GPUS must be a positive whole number, got 'eight'" in proc.stderr and not srun


def test_slurm_train_reaches_the_real_tool_from_another_directory(tmp_path):
    """mmdet's script ran `python -u tools/train.py`, which exists only from the repository root."""
    _, _, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'job', DIGITS, str(tmp_path / 'w'), '--help',
                         GPUS='1', PYTHON=sys.executable)
    assert proc.returncode == 0, proc.stderr
    assert '--auto-scale-lr' in proc.stdout and '--launcher' in proc.stdout


def test_dist_test_passes_the_checkpoint_and_options(tmp_path):
    _, python, proc = _script(tmp_path, 'dist_test.sh', 'cfg.py', 'ckpt.pth', '2', '--out', 'p.pkl',
                              MASTER_PORT='29612')
    assert proc.returncode == 0, proc.stderr
    # torchrun through tools/_torchrun.py: its summary ends the output, without torchrun's own traceback
    assert python[:1] == [osp.join(REPO_ROOT, 'tools/_torchrun.py')] and '--nproc_per_node=2' in python
    assert '--master_port=29612' in python
    assert python[python.index(osp.join(REPO_ROOT, 'tools/test.py')):] == [
        osp.join(REPO_ROOT, 'tools/test.py'), 'cfg.py', 'ckpt.pth', '--launcher', 'pytorch', '--out', 'p.pkl']


@pytest.mark.slow
def test_dist_test_runs_two_gloo_processes_and_dumps_every_prediction_once(tmp_path_factory):
    """2 processes (gloo on CPUs) test 16 images, 8 each; --out gathers all 16 predictions into one file. (Run from
    a folder of its own, as _script runs the scripts; shared with test_dist_test_prints_once.py.)"""
    proc, out = dist_test_run(tmp_path_factory)
    assert proc.returncode == 0, failure_text(proc)
    assert 'accuracy/top1' in proc.stdout
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 16


@pytest.mark.parametrize('srun_args, extra', [
    ('--comment="ohl search" --exclude=n1', ['--comment=ohl search', '--exclude=n1']),
    ("--export='ALL,NCCL_DEBUG=INFO'   --comment=a\\ b", ['--export=ALL,NCCL_DEBUG=INFO', '--comment=a b']),
    ('  ', []),
])
def test_srun_args_split_as_the_shell_splits_words(tmp_path, srun_args, extra):
    """SRUN_ARGS='--comment="ohl search"' was split on spaces alone: srun got '--comment="ohl' and 'search"', and
    ran 'search"' as each task's program."""
    srun, _, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'job', 'cfg.py', 'work', SRUN_ARGS=srun_args)
    assert proc.returncode == 0, proc.stderr
    start = srun.index('--kill-on-bad-exit=1') + 1
    assert srun[start:start + len(extra) + 1] == [*extra, str(tmp_path / 'bin' / 'python')]  # then the program


def test_srun_args_with_an_unmatched_quote_are_refused(tmp_path):
    srun, _, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'job', 'cfg.py', 'work', SRUN_ARGS='--comment="ohl')
    assert proc.returncode == 2 and srun == []
    assert 'SRUN_ARGS has an unmatched quote: --comment="ohl' in proc.stderr


@pytest.mark.parametrize('script, args, gpus', [('dist_test.sh', ('cfg.py', '8', 'ckpt.pth'), 'ckpt.pth'),
                                                ('dist_train.sh', ('cfg.py', '0'), '0'),
                                                ('dist_train.sh', ('cfg.py', 'eight', '--amp'), 'eight')])
def test_dist_scripts_refuse_a_gpu_count_that_is_not_a_number(tmp_path, script, args, gpus):
    """tools/dist_test.sh CONFIG 8 CHECKPOINT (the arguments swapped) stopped in torchrun with a ValueError
    traceback on --nproc_per_node, after test.py had been handed '8' as its checkpoint."""
    _, python, proc = _script(tmp_path, script, *args)
    assert proc.returncode == 2 and not python
    assert ("GPUS, the number of processes on this node, must be a positive whole number (or torchrun's auto, cpu, "
            f"gpu, xpu), got '{gpus}'") in proc.stderr
    assert f'usage: {osp.join(REPO_ROOT, "tools", script)} CONFIG' in proc.stderr


@pytest.mark.parametrize('gpus', ['auto', 'gpu', 'cpu', 'xpu'])
def test_dist_train_passes_torchruns_named_process_counts(tmp_path, gpus):
    """torchrun takes --nproc_per_node auto / cpu / gpu / xpu (mmdet's dist_train.sh CONFIG auto works): the GPUS
    check (81ea2a4) refused them as not a positive whole number."""
    _, python, proc = _script(tmp_path, 'dist_train.sh', 'cfg.py', gpus, MASTER_PORT='29613')
    assert proc.returncode == 0, proc.stderr
    assert f'--nproc_per_node={gpus}' in python


@pytest.mark.parametrize('port', ['0', '65536', 'auto'])
def test_slurm_train_refuses_a_port_that_is_no_tcp_port(tmp_path, port):
    """PORT=0 became MASTER_PORT=0: rank 0's rendezvous store bound a random port the other tasks did not know."""
    srun, _, proc = _script(tmp_path, 'slurm_train.sh', 'gpu', 'job', 'cfg.py', 'work', PORT=port)
    assert proc.returncode == 2 and srun == []
    assert f"PORT, the rendezvous port, must be a whole number from 1 to 65535, got '{port}'" in proc.stderr
