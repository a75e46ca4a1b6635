"""The forked gloo ranks of the tests run after the test process used torch's OpenMP threads (tests/_forked_ranks)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import sys
import torch
from _forked_ranks import fork_ranks

torch.set_num_threads(2)
w = torch.randn(16, 16, 3, 3)
for _ in range(3):
    torch.nn.functional.conv2d(torch.randn(64, 16, 32, 32), w)  # the test process's OpenMP threads exist now

def rank(r, out):
    y = torch.nn.functional.conv2d(torch.randn(8, 16, 32, 32), w)
    open(f'{out}/rank{r}', 'w').write(str(tuple(y.shape)))

fork_ranks(rank, (sys.argv[1],))
'''


def test_forked_ranks_run_after_the_parent_used_openmp_threads(tmp_path):
    # with the parent's thread count in the ranks, both hung in their first convolution (libgomp after fork)
    env = {**os.environ, 'PYTHONPATH': f'{ROOT / "tests"}{os.pathsep}{ROOT}', 'OMP_NUM_THREADS': '2'}
    proc = subprocess.Popen([sys.executable, '-c', SCRIPT, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung ranks too
        proc.communicate()
        raise AssertionError('the forked ranks hung in their first convolution') from None
    assert proc.returncode == 0, output[-2000:]
    assert [(tmp_path / f'rank{r}').read_text() for r in range(2)] == ['(8, 16, 30, 30)'] * 2
