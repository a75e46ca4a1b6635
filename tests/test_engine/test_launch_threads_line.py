"""The local launcher prints the torch threads it gives each worker, and where they come from, before the workers
start: one config and seed gave other rewards under torchrun (1 thread where OMP_NUM_THREADS is unset) than under
the local launcher (the cores split between the workers), and nothing said which count either run had."""
from mmengine.config import Config
from mmengine.logging import MMLogger

from automl_mm.engine import launch


def _line(tmp_path, monkeypatch, capsys) -> str:
    MMLogger.get_instance('automl_mm_launch_threads')  # the current logger print_log writes through
    cfg = Config(dict(work_dir=str(tmp_path)))
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: None)
    launch.launch_local(cfg, 2, print)
    return [line for line in capsys.readouterr().out.splitlines() if 'local worker processes' in line][0]


def test_the_split_of_the_cores_is_printed_with_the_script_that_gives_the_same(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(launch, 'usable_cpus', lambda: 8)
    monkeypatch.setattr(launch, 'quota_note', lambda: '')  # no cgroup CPU quota below the 8 (tests/test_utils_cpus.py)
    assert _line(tmp_path, monkeypatch, capsys).endswith(
        'starting 2 local worker processes, 4 torch threads each (8 usable cores split between them, as '
        'tools/dist_train.sh CONFIG 2 splits them)')


def test_a_users_omp_num_threads_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert _line(tmp_path, monkeypatch, capsys).endswith(
        'starting 2 local worker processes, 1 torch thread each (OMP_NUM_THREADS)')
