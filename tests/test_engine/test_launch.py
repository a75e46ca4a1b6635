"""Local workers (tools/train.py without --launcher): how they start and what they inherit."""
from __future__ import annotations

import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from automl_mm.engine.launch import EXIT_WITH_PARENT_ENV, start_method

from conftest import REPO_ROOT

FROZEN = '''
import gc, multiprocessing, multiprocessing.forkserver, runpy, sys
from automl_mm.engine.launch import WORKER_PRELOAD

if __name__ == "__main__":  # not in the fork server, which imports this file as its main module
    counts = []
    # (a config that is not there: --help exits before the tool's imports, the missing file after them)
    for tool, args in (("tools/train.py", ["no_such_config.py"]), ("tools/test.py", ["no_such_config.py", "x.pth"])):
        gc.unfreeze()
        sys.argv = [tool, *args]
        try:
            runpy.run_path(tool, run_name="__main__")
        except SystemExit:
            pass
        counts.append(gc.get_freeze_count())
    gc.unfreeze()
    multiprocessing.forkserver.set_forkserver_preload(list(WORKER_PRELOAD))
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        counts.append(pool.apply(gc.get_freeze_count))  # in a worker forked from the preloaded server
    print("FROZEN", *counts)
'''


def test_the_tools_and_the_fork_server_freeze_their_imported_heap(tmp_path):
    """tools/train.py and tools/test.py started as scripts freeze what they imported before main(), the local
    workers' fork server what it preloaded (freeze_imported_heap; a worker inherits it): about 470k objects that
    every full collection and the interpreter's shutdown walked (6.0 s of a process's exit against 1.0 s frozen, on
    the shared machine under load; the caller of tools/train.py waited for the fork server's: it holds the tool's
    stdout). This test's own module is not the workers' main here: importing conftest freezes a worker's heap too."""
    (tmp_path / 'frozen.py').write_text(FROZEN)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run([sys.executable, str(tmp_path / 'frozen.py')], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    counts = [int(n) for n in out.stdout.split('FROZEN')[-1].split()]
    assert len(counts) == 3 and all(n > 200_000 for n in counts), (counts, out.stderr[-2000:])


LAUNCHER = '''
import json, os, sys, time
import torch
from mmengine.config import Config
from automl_mm.engine.launch import launch_local


class Items(torch.utils.data.Dataset):
    """Item i: (i, the pid of the process that loaded it)."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return i, os.getpid()


def read_through_loader_workers():
    """Two epochs of a DataLoader with 2 persistent worker processes, as a run's train_dataloader (mmengine's
    Runner sets the start method first): the items read per epoch and the pids of the processes that loaded them."""
    from mmengine.utils.dl_utils import set_multi_processing

    set_multi_processing(distributed=True)
    loader = torch.utils.data.DataLoader(Items(), batch_size=None, num_workers=2, persistent_workers=True)
    epochs = [[(int(i), int(pid)) for i, pid in loader] for _ in range(2)]
    loader._iterator._shutdown_workers()
    return dict(items=[sorted(i for i, _ in epoch) for epoch in epochs],
                loaders=sorted({pid for epoch in epochs for _, pid in epoch}))


def report_then_sleep(cfg_path):
    """A worker's ``main``: write what it sees next to the dumped config, then its pid, then sleep."""
    import mmengine.runner.checkpoint

    from automl_mm.engine.resume import save_checkpoint_atomic

    rank = os.environ['RANK']
    with open(os.path.join(os.path.dirname(cfg_path), f'rank{rank}.json'), 'w') as f:
        json.dump(dict(world_size=os.environ['WORLD_SIZE'], parent=os.getppid(), pid=os.getpid(),
                       patched=mmengine.runner.checkpoint.save_checkpoint is save_checkpoint_atomic,
                       dynamo='torch._dynamo' in sys.modules, **read_through_loader_workers()), f)
    with open(os.path.join(os.path.dirname(cfg_path), 'pid' + rank), 'w') as f:
        f.write(str(os.getpid()))
    time.sleep(300)

if __name__ == '__main__':
    launch_local(Config(dict(work_dir=sys.argv[1])), 2, report_then_sleep)
'''


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] != 'Z'  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.fixture(scope='module')
def killed_launch(tmp_path_factory) -> dict:
    """One launch_local of 2 CPU workers (a fork server and two workers, about 10 s on 2 busy cores) that two tests
    read: what each worker saw (``reports``), then whether the workers outlived their launcher killed with SIGKILL,
    the hardest case: the launcher runs no code at all (SIGTERM, without a handler, ends it the same way). Records
    and does not assert: a worker that never started raises."""
    tmp_path = tmp_path_factory.mktemp('killed_launch')
    sig = signal.SIGKILL
    script = tmp_path / 'launcher.py'
    script.write_text(LAUNCHER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env)
    try:
        deadline = time.time() + 120
        while not all((tmp_path / f'pid{r}').exists() for r in (0, 1)):
            assert proc.poll() is None and time.time() < deadline, 'the workers did not start'
            time.sleep(0.2)
        time.sleep(0.2)
        pids = [int((tmp_path / f'pid{r}').read_text()) for r in (0, 1)]
        reports = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
        alive_before = [_alive(p) for p in pids]
        proc.send_signal(sig)
        proc.wait(30)
        deadline = time.time() + 30
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.2)
        return dict(launcher=proc.pid, reports=reports, pids=pids, sig=sig, alive_before=alive_before,
                    alive_after=[_alive(p) for p in pids])
    finally:
        proc.kill()
        for r in (0, 1):
            path = tmp_path / f'pid{r}'
            if path.exists():
                try:
                    os.kill(int(path.read_text()), signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.mark.slow  # shares killed_launch's fork server (about 10 s on 2 busy cores) with the test below
@pytest.mark.skipif(not os.path.isdir('/proc'), reason='reads /proc (Linux)')
def test_cpu_workers_are_forked_from_a_preloaded_server_and_keep_the_patches(killed_launch):
    assert start_method() == 'forkserver'  # CPUs on Linux; CUDA or a platform without it: 'spawn'
    reports = killed_launch['reports']
    assert [r['world_size'] for r in reports] == ['2', '2']
    assert all(r['patched'] for r in reports)  # the server imported automl_mm, which installs the patches
    # and torch._dynamo, which the first optimiser built would import in every worker (0.8 s of CPU time each)
    assert all(r['dynamo'] for r in reports)
    # the OS parent is the server, not the launcher's process
    assert reports[0]['parent'] == reports[1]['parent'] != killed_launch['launcher']


@pytest.mark.slow  # shares killed_launch's fork server and two workers with the tests around it
def test_each_worker_reads_through_loader_worker_processes_of_its_own(killed_launch):
    """A run's dataloader workers start in every local worker (a worker that could not have children, as a daemonic
    process of a pool, failed at its first batch) and a persistent loader serves a second epoch. The runs that
    train through them are forked as torchrun starts ranks (tests/_train_ranks.py: test_attribute_workers_copies,
    test_policy), not through this launch."""
    reports = killed_launch['reports']
    assert all(r['items'] == [[0, 1, 2, 3], [0, 1, 2, 3]] for r in reports), reports
    for report in reports:  # two loader processes, neither the worker itself
        assert len(report['loaders']) == 2 and report['pid'] not in report['loaders'], reports


@pytest.mark.slow  # shares killed_launch's fork server and two workers with the test above
@pytest.mark.skipif(not os.path.isdir('/proc'), reason='reads /proc (Linux)')
def test_workers_stop_when_the_launcher_is_killed(killed_launch):
    """A killed ``tools/train.py`` must not leave its copies training (and writing into its work dir)."""
    pids, sig = killed_launch['pids'], killed_launch['sig']
    assert all(killed_launch['alive_before'])
    assert not any(killed_launch['alive_after']), f'workers {pids} outlived their launcher ({sig.name})'


def test_a_run_asked_to_exit_with_the_process_that_started_it(tmp_path):
    """The benchmarks start ``tools/train.py`` with AUTOML_MM_EXIT_WITH_PARENT=1: a killed benchmark stops it."""
    pid_file = tmp_path / 'pid'
    child = ('import os, time; from automl_mm.engine.launch import exit_with_parent_if_asked; '
             f'assert exit_with_parent_if_asked(); open({str(pid_file)!r}, "w").write(str(os.getpid())); '
             'time.sleep(300)')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get('PYTHONPATH', '')]),
               **{EXIT_WITH_PARENT_ENV: '1'})
    parent = f'import subprocess, sys, time; subprocess.Popen([sys.executable, "-c", {child!r}]); time.sleep(300)'
    proc = subprocess.Popen([sys.executable, '-c', parent], env=env)
    pid = None
    try:
        deadline = time.time() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.1)
        pid = int(pid_file.read_text())
        proc.kill()
        proc.wait(30)
        deadline = time.time() + 10
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)  # gone with its parent (without the variable it would outlive it)
    finally:
        proc.kill()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_benchmark_runs_are_asked_to_exit_with_the_benchmark(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    from _arms import train_command
    _, _, env = train_command(Config(dict(work_dir=str(tmp_path))), str(tmp_path), 'run')
    assert env[EXIT_WITH_PARENT_ENV] == '1'


def test_local_workers_split_the_cores_the_process_may_use(monkeypatch, tmp_path):
    """os.cpu_count() is the machine's: 4 copies pinned to 2 of 16 cores got 4 torch threads each."""
    from mmengine.config import Config

    from automl_mm.engine import launch

    started = []
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)  # set: the workers keep it (test_launch_environment.py)
    monkeypatch.setattr(launch.os, 'cpu_count', lambda: 16)
    monkeypatch.setattr(launch.os, 'sched_getaffinity', lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: started.append((args[2], kw['nprocs'])))
    launch.launch_local(Config(dict(work_dir=str(tmp_path))), 4, print)
    assert started == [(1, 4)]
    monkeypatch.setattr(launch.os, 'sched_getaffinity', lambda pid: set(range(16)))
    launch.launch_local(Config(dict(work_dir=str(tmp_path))), 4, print)
    assert started[-1] == (4, 4)
