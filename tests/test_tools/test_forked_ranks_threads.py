"""The gloo ranks of the tests run after the test process used torch's OpenMP threads and while another thread of
it holds a lock (tests/_forked_ranks: forked from a forkserver, not from the threaded test process)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _forked_ranks import fork_ranks

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import sys
import threading
import time

import torch
from _forked_ranks import fork_ranks

w = torch.ones(16, 16, 3, 3)


def rank(r, out):
    y = torch.nn.functional.conv2d(torch.randn(8, 16, 32, 32), w)
    with HELD:  # a lock another thread of the test process holds while the ranks start: a forked copy waits forever
        pass
    open(f'{out}/rank{r}', 'w').write(str(tuple(y.shape)))


HELD = threading.Lock()

if __name__ == '__main__':
    torch.set_num_threads(2)
    for _ in range(3):
        torch.nn.functional.conv2d(torch.randn(64, 16, 32, 32), w)  # the test process's OpenMP threads exist now
    started = threading.Event()

    def hold():
        with HELD:
            started.set()
            time.sleep(600)

    threading.Thread(target=hold, daemon=True).start()
    started.wait()
    fork_ranks(rank, (sys.argv[1],))
'''


def test_forked_ranks_run_after_the_parent_used_openmp_threads_while_a_thread_holds_a_lock(tmp_path):
    # forked from the test process, the ranks hung: in their first convolution (libgomp after a fork, before they
    # ran with one thread) and, the module-level lock taken, on the lock (a fork copies only the forking thread)
    script = tmp_path / 'ranks.py'  # a file, not -c: a forkserver rank imports its function's module by path
    script.write_text(SCRIPT)
    env = {**os.environ, 'PYTHONPATH': f'{ROOT / "tests"}{os.pathsep}{ROOT}', 'OMP_NUM_THREADS': '2'}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung ranks too
        proc.communicate()
        raise AssertionError('the ranks hung (a lock or OpenMP pool copied by forking the threaded test process)') \
            from None
    assert proc.returncode == 0, output[-2000:]
    assert [(tmp_path / f'rank{r}').read_text() for r in range(2)] == ['(8, 16, 30, 30)'] * 2


def _sleeping_rank(rank, out):
    Path(out, f'pid{rank}').write_text(str(os.getpid()))
    if rank == 1:
        time.sleep(600)  # a hung rank


def test_ranks_still_running_at_the_timeout_are_killed_and_named(tmp_path):
    with pytest.raises(TimeoutError, match=r'ranks \[1\] of 2 still running after 3 s'):
        fork_ranks(_sleeping_rank, (str(tmp_path),), timeout=3)
    pid = int((tmp_path / 'pid1').read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind the test
        os.kill(pid, 0)



_PRELOADED = ['_train_preload', 'mmdet.models', 'automl_mm.ohl', 'automl_mm.engine.worker_preload_done']


def _preloaded(rank, out):
    import gc
    import json

    # (none of them is imported by unpickling this function: this file and _forked_ranks import none)
    Path(out, f'rank{rank}').write_text(json.dumps([[n for n in _PRELOADED if n in sys.modules],
                                                    gc.get_freeze_count() > 0]))


def test_the_fork_server_preloads_what_the_tools_fork_server_does(tmp_path):
    """tests/_train_preload.py runs in the server (a rank inherits mmdet's and automl_mm's registering modules and
    the frozen heap) under the suite's PYTHONPATH (the repository root only): CPython's forkserver imports its
    preload before it takes the client's sys.path, and skips a module it cannot import without a word."""
    import json

    fork_ranks(_preloaded, (str(tmp_path),), nprocs=1)
    assert json.loads((tmp_path / 'rank0').read_text()) == [_PRELOADED, True]
