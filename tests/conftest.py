from __future__ import annotations

import logging
import os
import os.path as osp

import pytest


def _split_the_cores_between_xdist_workers() -> None:
    """Under pytest-xdist (``make test``: ``-n 2`` on 2 cores) each worker and the tools it starts run
    ``usable cores // workers`` torch / OpenMP threads (``OMP_NUM_THREADS``, unless it is set already): with
    torch's default, a thread per core in every worker, the workers' threads oversubscribed the cores and spun
    in OpenMP's waits (two -n 2-like processes over test_attribute_workers.py and test_reward_horizon_benchmark.py:
    101.6 s wall and 46.7 s user CPU against 68.0 s and 21.9 s with one thread each; over the non-slow
    test_pc_nas_loop.py and test_cr_nas_loop.py 277 / 295 s against 59 / 80 s). Set before torch is imported."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT') or 0)
    if workers > 1 and not os.environ.get('OMP_NUM_THREADS'):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
        os.environ['OMP_NUM_THREADS'] = str(max(1, cores // workers))
        import torch

        torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))  # (in case a plugin imported torch first)


_split_the_cores_between_xdist_workers()

from automl_mm.utils import register_all_modules  # noqa: E402

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

register_all_modules(init_default_scope=True)


def _torch_inductor_cache_dir_before_any_test() -> None:
    """Set ``TORCHINDUCTOR_CACHE_DIR`` as torch sets it, before any test: torch imports ``torch._dynamo`` at the
    first optimizer it builds (``torch/_compile.py``), and that import sets the variable for the rest of the process
    (``torch/_inductor/runtime/cache_dir_utils.py``: ``cache_dir``, torch's default directory unless it is set). The
    test that built a process's first optimizer (``test_contracts.py::test_controller_contract[FrozenController-
    Categorical]`` run alone, whichever came first in a worker) left it set, and
    ``_environment_of_this_test_only`` warned and removed it, so the next first import set it again. The import
    (``torch._inductor``, which imports ``torch._dynamo``: 1 to 2 s) is paid once per process at start-up, the
    xdist controller's too, where a worker's first optimizer would have paid it; a run whose tests build no
    optimizer pays it in addition."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    cache_dir()


_torch_inductor_cache_dir_before_any_test()


def pytest_collection_modifyitems(config, items):
    """Slow tests (minutes each) first, in collection order: with ``-n 2 --dist worksteal`` (``make test``) they
    start while the other worker has short tests to take, instead of one worker ending the run alone on a long test
    collected late."""
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)


@pytest.fixture(autouse=True)
def _automl_mm_default_scope():
    """Every test starts in automl_mm's default scope and leaves it as it found it, whatever scope its runners
    made current (an mmdet config's ``default_scope='mmdet'`` would otherwise leak into the tests after it)."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('automl_mm'):
        yield


@pytest.fixture(autouse=True)
def _environment_of_this_test_only():
    """Every test leaves ``os.environ`` as it found it: what code under test set there (mmengine's slurm start-up
    sets MASTER_PORT, MASTER_ADDR, WORLD_SIZE, RANK and LOCAL_RANK) and ``monkeypatch.delenv(name, raising=False)``
    of an unset name does not record, so it outlived the test: WORLD_SIZE=2 left by a slurm start-up test made 27
    later tests of that worker fail (tools/test.py refused to run 'in one of 2 processes'). A leak is put right and
    reported as a warning naming the test and the variables."""
    import warnings

    own = 'PYTEST_CURRENT_TEST'  # pytest's own, set anew in each phase
    before = {k: v for k, v in os.environ.items() if k != own}
    yield
    after = {k: v for k, v in os.environ.items() if k != own}
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        for name in set(after) - set(before):
            del os.environ[name]
        os.environ.update(before)
        names = sorted({name for name, _ in changed})
        warnings.warn(f'the test left os.environ changed ({names}); restored', stacklevel=2)


@pytest.fixture(autouse=True)
def _runner_loggers_of_this_test_only():
    """Drop, when a test ends, the loggers its runners made (every MMLogger but mmengine's own 'mmengine'), and
    close their files. A runner built from a config dict names its logger by its start's timestamp, to the second,
    and ``MMLogger.get_instance`` hands back an existing logger of that name with its old log file: a test whose
    runner started in the same second as the previous test's (in the same worker) wrote its log lines into that
    test's file, and a check that reads its own work dir's log found nothing. Broader-scoped fixtures' runners keep
    their own logger objects."""
    yield
    from mmengine.logging import MMLogger

    for name in [n for n in MMLogger._instance_dict if n != 'mmengine']:
        logger = MMLogger._instance_dict.pop(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()


def _skip_mmengine_restart_sleep() -> None:
    """mmengine's ``IterBasedTrainLoop`` sleeps 2 s whenever its finite dataloader runs out and restarts
    (``_InfiniteDataloaderIterator.__next__``, its only ``time.sleep``): idle time only, nothing is loaded or
    drawn during it (the new iterator is made after it), but 2 s per pass in every in-process iteration run
    (test_attribute_workers.py: 12 of them, 24 of its 53 s). In this process only; runs of tools/train.py keep it."""
    import time

    from mmengine.runner import loops

    class _TimeWithoutSleep:
        sleep = staticmethod(lambda seconds: None)

        def __getattr__(self, name):
            return getattr(time, name)

    loops.time = _TimeWithoutSleep()


_skip_mmengine_restart_sleep()


def _read_external_config_index_once() -> None:
    """Read an installed package's config index once per process. mmengine resolves every ``mmdet::`` base of a
    config (``Config._get_cfg_path``) by re-reading mmdet's ``.mim/model-index.yml`` and all 101 metafiles it
    imports (pure-Python YAML), then, for a base config that has no metafile entry (``mmdet::_base_/...``), falls
    back to the plain path; it also reloads ``pkg_resources`` (``is_installed``) per base: 1.5 s of every
    ``Config.fromfile`` of the synthcoco Faster R-CNN baseline (3 such bases), 0.04 s once cached. The index maps
    config names to the same metafile entries as mmengine's (first weight of a name wins); each lookup returns a
    copy. In this process only; runs of tools/*.py keep mmengine's own."""
    import copy
    import functools
    import warnings

    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils

    @functools.cache
    def cfg_index(package_path: str) -> dict:
        index = {}
        meta_index = config_utils.load(osp.join(package_path, '.mim', 'model-index.yml'))
        for meta_path in meta_index['Import']:
            for model_cfg in config_utils.load(osp.join(package_path, '.mim', meta_path))['Models']:
                if 'Config' not in model_cfg:
                    warnings.warn(f'There is not `Config` define in {model_cfg}', stacklevel=2)
                    continue
                index.setdefault(model_cfg['Config'].partition('/')[-1], model_cfg)
        return index

    def get_cfg_metainfo(package_path: str, cfg_path: str) -> dict:
        index = cfg_index(package_path)
        if cfg_path not in index:
            raise ValueError(f'Expected configs: {index.keys()}, but got {cfg_path}')
        return copy.deepcopy(index[cfg_path])

    get_cfg_metainfo.mmengine_original = config_utils._get_cfg_metainfo
    config_utils._get_cfg_metainfo = get_cfg_metainfo
    config_module.is_installed = functools.cache(config_module.is_installed)


_read_external_config_index_once()

_worker_iterators: list = []  # (iterator, its DataLoader) weak references, of every loader with worker processes


def _track_worker_iterators() -> None:
    """Record every torch DataLoader iterator that starts worker processes (see ``_loader_workers_shut_down``)."""
    import weakref

    from torch.utils.data import dataloader

    cls = dataloader._MultiProcessingDataLoaderIter
    init = cls.__init__

    def __init__(self, loader, *args, **kwargs):
        init(self, loader, *args, **kwargs)
        _worker_iterators.append((weakref.ref(self), weakref.ref(loader)))

    cls.__init__ = __init__


_track_worker_iterators()


@pytest.fixture(autouse=True)
def _loader_workers_shut_down():
    """Shut down, when a test ends, the worker processes of the DataLoader iterators it started and left running
    (an iteration loop's last pass, persistent workers): a runner is a reference cycle, so they were shut down by
    the garbage collector, in whichever later test it ran, after multiprocessing had already closed their index
    queues (weak references are cleared before finalizers run): the stop message never reached the workers and
    torch waited 5 s per worker (``MP_STATUS_CHECK_INTERVAL``) before terminating them, 10 s per 2-worker
    iterator. Iterators of broader-scoped fixtures (started before the test's own fixtures) are left alone."""
    _worker_iterators.clear()
    yield
    for iterator_ref, loader_ref in _worker_iterators:
        iterator, loader = iterator_ref(), loader_ref()
        if iterator is not None and not iterator._shutdown:
            iterator._shutdown_workers()
            if loader is not None and getattr(loader, '_iterator', None) is iterator:
                loader._iterator = None  # a persistent loader used again starts new workers
    _worker_iterators.clear()


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory) -> str:
    """A tiny generated COCO-format set shared by the detection tests."""
    from automl_mm.datasets import generate_coco

    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    generate_coco(root, num_train=8, num_val=4, img_size=64, max_objects=3, seed=0)
    return root


@pytest.fixture
def arms(monkeypatch):
    """benchmarks/_arms.py, the runner the OHL evidence benchmarks share, with benchmarks/ importable for the
    benchmark scripts themselves (``tests/test_tools/test_benchmark_*.py``)."""
    import importlib

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('_arms')


def synthcoco_detector_cfg(root: str):
    """The synthcoco Faster R-CNN baseline config reading the generated set at ``root`` (every loader and the COCO
    metrics' annotation files)."""
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root + '/'
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = osp.join(root, 'annotations/instances_val.json')
    return cfg


def tiny_digits_cfg(work_dir: str, max_epochs: int = 1):
    """The digits baseline config shrunk for in-process Runner tests: 64 images of 16 px per split, ``max_epochs``
    epochs, a checkpoint every epoch, local visualisation files only."""
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.max_samples = 64
        cfg[loader].dataset.img_size = 16
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.checkpoint.interval = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def resumed_runner(cfg, checkpoint: str):
    """A Runner of ``cfg`` that resumes ``checkpoint`` (``resume=True``, ``load_from=checkpoint``), not trained yet."""
    from mmengine.runner import Runner

    cfg.resume, cfg.load_from = True, checkpoint
    return Runner.from_cfg(cfg)


def train_copy_runner(cfg, after_train=None):
    """Build ``cfg``'s runner (its ``runner_type``, e.g. the OHL ``CopyRunner``) in this process and train it, with
    the copy layout reset before and after; ``after_train(runner)`` runs before the reset. Returns the runner."""
    import copy

    from automl_mm.ohl import reset_copy_layout
    from automl_mm.registry import RUNNERS

    reset_copy_layout()
    try:
        runner = RUNNERS.build(copy.deepcopy(cfg))
        runner.train()
        if after_train is not None:
            after_train(runner)
    finally:
        reset_copy_layout()
    return runner


def tiny_ohl_cfg(work_dir: str, **hook):
    """One copy of the digits OHL config for in-process runs (build it with ``RUNNERS.build``: its CopyRunner),
    tiny: 64 training images, batches of 16 (4 iterations per epoch), 3 epochs, no validation or test."""
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py'))
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.model.backbone.channels = (8, 16)
    cfg.model.head.in_channels = 16
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.reward_dataloader.dataset.max_samples = 64
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=100)
    cfg.param_scheduler = []
    cfg.reward_evaluator = dict(type='Accuracy', topk=(1,))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, max_keep_ckpts=4)
    cfg.default_hooks.logger.interval = 1
    if 'trunk_iters' in hook:
        cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].update(num_copies=1, plot=False, **hook)
    return cfg


def count_config_checks(monkeypatch) -> list:
    """Record each run of automl_mm's config check (its first step, ``check_training_config``): the list gets the
    run's ``test_only`` flag each time."""
    from automl_mm.engine import preflight

    calls = []
    check = preflight.check_training_config

    def counting(cfg, *args, **kwargs):
        calls.append(kwargs.get('test_only', args[1] if len(args) > 1 else False))
        return check(cfg, *args, **kwargs)

    monkeypatch.setattr(preflight, 'check_training_config', counting)
    return calls


def run_tool(*args: str, timeout: int = 900, env: dict | None = None, check: bool = True):
    """Run a repo tool (e.g. tools/train.py) in a subprocess from the repo root; return the completed process."""
    import os
    import subprocess
    import sys

    full_env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc


def read_scalars(work_dir: str) -> list[dict]:
    """Rows of every scalars.json the LocalVisBackend wrote under work_dir (all runs, in time order)."""
    import glob
    import json

    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def write_cifar(root: str, n_per_batch: int = 20, seed: int = 0) -> str:
    """Write tiny CIFAR-10 batches in the standard python pickle format (5 train batches + test_batch)."""
    import os
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, size=n_per_batch)]
        with open(os.path.join(root, name), 'wb') as f:
            pickle.dump({b'batch_label': name.encode(), b'labels': labels, b'data': data,
                         b'filenames': [b'x.png'] * n_per_batch}, f, protocol=2)
    return root


def _freeze_the_imported_heap() -> None:
    """Move every object alive once this conftest has imported automl_mm, mmengine, mmdet and torch (modules,
    classes, functions: 420k objects, none of them garbage) into the collector's permanent generation
    (``gc.freeze``), after a full collection. mmengine's ``BaseDataset._serialize_data`` runs a full
    ``gc.collect()`` at every dataset's ``full_init`` (serialize_data=True), and each one walked that whole heap:
    0.2-0.3 s a dataset, 7.4 of test_resume_data_check.py's 20.9 s (27 datasets). Objects the tests make are
    collected as before; only the ones frozen here are no longer scanned."""
    import gc

    gc.collect()
    gc.freeze()


_freeze_the_imported_heap()
