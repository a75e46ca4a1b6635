"""Every change automl_mm makes to mmengine, in one place, applied by :func:`install` (once per process).

mmengine 0.10.7 is patched where it cannot be configured, and only there:

1. **Safe checkpoint loading** (torch >= 2.6 refuses mmengine's own checkpoints with ``weights_only=True``):
   ``CheckpointLoader``'s local-file scheme (used by ``load_checkpoint``, ``Runner.load_checkpoint`` and
   ``Runner.resume``) becomes :func:`automl_mm.engine.checkpoint.load_from_local`, which keeps ``weights_only=True``
   with an allow-list and names empty, truncated or foreign files.
2. **Atomic checkpoint saving** (mmengine truncates and streams, so a killed save leaves half a file):
   ``save_checkpoint`` in ``mmengine.runner.checkpoint``, ``mmengine.runner.runner`` and ``mmengine.runner``
   becomes :func:`automl_mm.engine.resume.save_checkpoint_atomic`, and the ``open`` that
   ``mmengine.hooks.checkpoint_hook`` sees writes ``last_checkpoint`` atomically
   (:func:`automl_mm.engine.resume.open_last_checkpoint_atomically`).
3. **Resume fallback** (an empty or dangling ``last_checkpoint`` made ``--resume`` fail): ``find_latest_checkpoint``
   in ``mmengine.runner.checkpoint``, ``mmengine.runner.runner``, ``mmengine.runner._flexible_runner``
   (``FlexibleRunner``'s own copy) and ``mmengine.runner`` (what the strategies' ``load_or_resume`` reads) becomes
   :func:`automl_mm.engine.resume.resolve_resume`.
4. **CPU-aware pytorch launcher** (mmengine calls ``torch.cuda.set_device`` even without GPUs):
   ``mmengine.dist.utils._init_dist_pytorch`` becomes :func:`automl_mm.engine.dist.init_dist_pytorch_cpu_aware`
   (which first refuses two torchrun workers holding one ``RANK``, two nodes given one ``NODE_RANK``).
   **A port per slurm job, and its first node** (mmengine's slurm start-up took 29500 for every job: a second job
   on a node stopped with ``EADDRINUSE``; its ``MASTER_ADDR`` was a shell's output, the error message where
   scontrol is missing): ``mmengine.dist.utils._init_dist_slurm`` becomes
   :func:`automl_mm.engine.dist.init_dist_slurm_job` (15000 + the job id's last four digits where neither
   ``dist_cfg.port`` nor ``MASTER_PORT`` names one; scontrol run without a shell, a missing one named; a port that
   another job holds named on every rank that meets it, :func:`automl_mm.engine.dist.job_rendezvous_store`).
   Likewise ``mmengine.dist.utils._init_dist_mpi`` (29500 for every mpirun job) becomes
   :func:`automl_mm.engine.dist.init_dist_mpi_job` (a port from the job's PMIx namespace, the same check).
5. **World size and epoch length in every checkpoint** (a resume on another number of processes, or with another
   ``train_dataloader.batch_size``, is named as such only when the checkpoint records them):
   ``Runner.save_checkpoint`` and ``FlexibleRunner.save_checkpoint`` are wrapped by
   :func:`automl_mm.engine.resume.recording_world_size`, which adds ``meta['world_size']`` and
   ``meta['epoch_length']``, whatever hooks the run has.
6. **Dataloader workers seeded anew every epoch** (mmengine's default ``worker_init_fn`` seeds them with a constant,
   so with ``persistent_workers=False`` every random transform drew the same numbers every epoch):
   ``Runner.build_dataloader`` and ``FlexibleRunner.build_dataloader`` are wrapped by
   :func:`automl_mm.engine.worker_seeds.reseeding_build_dataloader`, which replaces that default by
   :class:`automl_mm.engine.worker_seeds.EpochSeededWorkerInit` (seeds from the run's seed, the rank, the worker,
   the epoch and torch's per-iterator seed); a user's own ``worker_init_fn`` is kept.
7. **automl_mm's start-of-run checks under any launcher** (a stock mmdet / mmengine ``tools/train.py`` ran none of
   them): ``Runner.__init__``, ``Runner.train``, ``Runner.val`` and ``Runner.test`` (and ``FlexibleRunner``'s)
   are wrapped by :mod:`automl_mm.engine.runner_checks`: an OHL hook that needs several processes is refused in a
   lone process however the runner is built, and a runner built from a config runs ``check_config`` and the model
   checks before its first dataloader is built.

8. **The data a run reads, in every checkpoint** (a resume on a re-dealt split trained on images of the reward
   split, silently): ``Runner.train`` and ``FlexibleRunner.train`` are wrapped by
   :func:`registering`, which registers :class:`~automl_mm.engine.data_fingerprint.DataFingerprintHook` on the
   runner: checkpoints record a fingerprint of
   each dataset (``meta['data_fingerprints']``) and a resume on data that differs is refused, naming the config key
   (``resume_data_check=False`` at the config's top level resumes anyway).
9. **A resume under another config, named** (an edited ``optim_wrapper.optimizer.lr`` was replaced by the
   checkpoint's optimiser state while an edited pipeline took effect, both silently): ``Runner.train`` and
   ``FlexibleRunner.train`` are wrapped by :func:`registering`, which registers
   :class:`~automl_mm.engine.resume_config.ResumeConfigHook`: a resume logs one warning naming the config
   keys that differ from the checkpoint's run (``meta['cfg']``), those the checkpoint's state overrides apart from
   those that take effect.
10. **A dataset's build error names its loader's key** (a wrong ``data_root`` stopped a single-process run with the
    dataset's message, naming no loader): ``build_dataloader``, ``build_train_loop``, ``build_val_loop`` and
    ``build_test_loop`` of ``Runner`` and ``FlexibleRunner`` are wrapped by :mod:`automl_mm.engine.loader_keys`,
    which re-raises it of its type as ``'val_dataloader.dataset: <message>'``.
11. **A config's text formatted once** (``Config.pretty_text`` ran yapf afresh at every call: at the runner's
    start, in every checkpoint's ``meta['cfg']``, in the resume check; 0.94 s of a 3.15 s 3-epoch tiny digits run):
    yapf's ``FormatCode`` as ``mmengine.config.config`` sees it is wrapped by
    :func:`automl_mm.engine.config_format.memoised_format_code`, which returns the first result for the same text
    and style (the same text as before).
12. **No torchvision import for the environment log** (mmengine's ``collect_env``, run by every runner's start,
    imported torchvision only for its ``TorchVision: <version>`` line: 1 s of CPU at each process's start):
    ``collect_env`` in ``mmengine.runner.runner`` and ``mmengine._strategy.base`` is wrapped by
    :func:`automl_mm.engine.env_info.collect_env_reading_torchvision_version`, which reads the version from
    torchvision's ``version.py`` (the log reads as before).
13. **load_from keeps the config's learned hyper-parameters** (a plain ``AMLFSLoss()`` retrained from a searched
    checkpoint trained with the search's last θ, silently): ``Runner.train`` and ``FlexibleRunner.train`` are wrapped
    by :func:`registering`, which registers :class:`~automl_mm.engine.learned_state.LearnedStateHook`: on
    ``load_from`` (not a resume) the buffers modules declare in ``learned_state`` keep this run's values, with one
    warning naming each that the checkpoint set otherwise and its config key. **load_from fills a CR backbone's
    extra blocks** (a reallocated CR network fine-tuned from its own checkpoint with ``frozen_stages`` /
    ``norm_eval`` trained its blocks beyond the standard count inside a frozen stage, BN in train mode, where a
    ``Pretrained`` ``init_cfg`` of the same file froze them): the same hook marks on ``load_from`` the blocks the
    checkpoint holds whole as standard ones (one INFO line names them), records the marked blocks in every
    checkpoint (``meta['filled_blocks']``) and on a resume restores exactly those (a resume keeps the uninterrupted
    run's trainable set).
14. **A failed ``custom_imports`` module named where its classes are missing** (under ``allow_failed_imports=True``
    mmengine only warned ``'my_project.x failed to import and is ignored.'``, and the run stopped later with
    ``'MySpace is not in the automl_mm::search space registry'``, naming neither the module nor its error):
    ``import_modules_from_strings`` in ``mmengine.config.config``, ``mmengine.utils`` and ``mmengine.utils.misc``
    becomes :func:`automl_mm.engine.custom_imports.import_modules_recording_failures` (mmengine's semantics, a
    warning naming the module's file and exception), and an unregistered ``type``'s error names each failed module,
    its file and its exception (:func:`automl_mm.engine.preflight_types.type_hint`); where automl_mm is imported by
    mmengine's own running loop (a stock launcher's ``custom_imports`` that imports automl_mm first),
    ``warnings.showwarning`` is wrapped by :func:`automl_mm.engine.custom_imports.recording_mmengine_warnings` (for
    the rest of that loop, and left in place after it, until a ``warnings.catch_warnings()`` around it exits; not
    at every import: a process-wide wrapper was dropped where automl_mm was first imported inside
    ``warnings.catch_warnings()``); a module skipped where neither saw it is found when the config is checked
    (:func:`automl_mm.engine.custom_imports.record_unseen_failures`).
15. **Subsets that share nothing** (``BaseDataset._copy_without_annotation`` deep-copied with one default
    ``memo=dict()`` for every call in the process: two ``get_subset`` results of one dataset, mmdet's
    ``CocoDataset`` included, held one pipeline, and the memo kept every copied attribute alive):
    ``mmengine.dataset.BaseDataset._copy_without_annotation`` is wrapped by
    :func:`automl_mm.engine.dataset_copy.copying_with_own_memo`, which gives each call without ``memo`` a new dict.
16. **One name per runner in a process** (mmengine names a run's log folder, logger, message hub and visualiser by
    the second it started: a second runner started in the same second took the first's message hub, and its
    ``CheckpointHook`` deleted this run's ``iter_3.pth`` under ``max_keep_ckpts`` by the first run's ids):
    ``Runner.setup_env`` and ``BaseStrategy._setup_env`` (where a ``FlexibleRunner`` 's timestamp is made: it
    never calls ``Runner.setup_env``) are wrapped by :func:`automl_mm.engine.run_names.naming_each_run`
    (``<timestamp>_1``, ..., one count for both kinds of runner).
    A visualizer the config names (``name='visualizer'``, mmdet's and automl_mm's ``default_runtime``) was the
    first runner's for every later one (its ``save_dir``: config and scalars written into the first run's
    ``vis_data``): ``build_visualizer`` of ``Runner`` and ``FlexibleRunner`` is wrapped by
    :func:`automl_mm.engine.run_names.own_visualizer`, which drops the instance of that name before the build.
17. **A test after training reads the average** (``Runner.test()`` / ``Runner.val()`` after ``train()`` on one
    runner under mmengine's ``EMAHook`` tested the raw weights: ``EMAHook.before_run``, which they call again,
    rebuilt the average from the model, while every validation during training and the checkpoints' ``state_dict``
    read the average; under OHL the best copy's own weights, not its broadcast average): ``EMAHook.before_run`` is
    wrapped by :func:`automl_mm.engine.hooks.keeping_the_average`, which keeps a hook's average of the runner's
    model once built.
18. **An installed package's metafiles parsed once per process** (mmengine parsed mmdet's model index and the 101
    metafiles it imports, 102 YAML files, afresh for every ``mmdet::`` base of every config read, to look the base
    up among mmdet's model configs: 0.75 s of a 0.85 s ``Config.fromfile`` of a detection config, 6.9 s of a 41 s
    CR-NAS search that read its config 7 times): the ``load`` that ``mmengine.config.utils`` sees is wrapped by
    :func:`automl_mm.engine.config_metafiles.memoised_metafile_load`, which parses a file once (again when it
    changes) and hands every call its own copy (the look-up and the config read as before).
19. **auto_scale_lr counts gradient accumulation** (``Runner.scale_lr`` scaled by ``world_size x batch_size /
    base_batch_size``, though with ``optim_wrapper.accumulative_counts=k`` an optimiser step learns from ``k``
    times that batch: 4 accumulated batches of 2 standing for a base batch of 8 trained at a quarter of the lr):
    ``Runner.scale_lr`` is wrapped by :func:`automl_mm.engine.lr_scaling.scaling_by_accumulation`, which scales by
    ``world_size x batch_size x accumulative_counts`` (each wrapper of an ``OptimWrapperDict`` by its own count),
    and ``BaseStrategy._scale_lr`` (``FlexibleRunner``'s) by
    :func:`automl_mm.engine.lr_scaling.strategy_scaling_by_accumulation`.
20. **An evaluation that raised leaves no stale state** (``Evaluator.evaluate`` stops at the first metric that
    raises, ``Evaluator.process`` likewise: the other metrics kept that evaluation's results, and kept refusals,
    into the evaluator's next evaluation, which raised the old refusal or scored the old samples):
    ``Evaluator.process`` and ``Evaluator.evaluate`` are wrapped by
    :func:`automl_mm.engine.evaluate.clearing_on_failure`, which clears every metric of the evaluator where they
    raise.

Every entry point reaches :func:`install`: ``import automl_mm`` (so also mmengine's
``custom_imports=dict(imports=['automl_mm'])``, e.g. in a stock mmdet ``tools/train.py``), automl_mm's
``register_all_modules`` and automl_mm's ``tools/train.py`` / ``tools/test.py``.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from mmengine.logging import print_log

from .checkpoint import load_from_local
from .config_format import memoised_format_code
from .config_metafiles import memoised_metafile_load
from .custom_imports import install as install_custom_imports
from .data_fingerprint import DataFingerprintHook
from .dataset_copy import install as install_dataset_copy
from .dist import init_dist_mpi_job, init_dist_pytorch_cpu_aware, init_dist_slurm_job
from .env_info import collect_env_reading_torchvision_version
from .hooks import keeping_the_average
from .learned_state import LearnedStateHook
from .loader_keys import install as install_loader_keys
from .lr_scaling import scaling_by_accumulation, strategy_scaling_by_accumulation
from .resume import open_last_checkpoint_atomically, recording_world_size, resolve_resume, save_checkpoint_atomic
from .resume_config import ResumeConfigHook
from .run_names import install as install_run_names
from .runner_checks import install as install_runner_checks
from .worker_seeds import reseeding_build_dataloader

PATCHES = ('local checkpoints load with weights_only=True and an allow-list',
           'checkpoints and last_checkpoint are saved atomically',
           'auto-resume falls back to the newest complete checkpoint',
           'the pytorch launcher uses gloo without GPUs and refuses two torchrun workers with one RANK',
           'the slurm launcher takes a port per job (SLURM_JOB_ID) and runs scontrol without a shell',
           'the mpi launcher takes a port per job (PMIX_NAMESPACE)',
           'slurm and mpi ranks refuse a rendezvous port that another job holds',
           'checkpoints record the world size and epoch length (meta.world_size, meta.epoch_length)',
           'dataloader workers are seeded anew every epoch',
           "runners built from a config run automl_mm's start-of-run checks",
           'checkpoints record the data read (meta.data_fingerprints) and a resume on other data is refused',
           "a resume names the config keys that differ from the checkpoint's run (meta.cfg)",
           "a dataset's build error names its loader's config key",
           "a config's text is formatted (yapf) once per text",
           "the environment log reads torchvision's version without importing it",
           "load_from keeps the config's learned hyper-parameters (an AMLFSLoss's theta), naming any it does not load, "
           "and fills the CR blocks beyond the standard count it holds (meta.filled_blocks, restored on a resume)",
           'a custom_imports module skipped by allow_failed_imports is named, with its error, where its types are '
           'missing',
           'get_subset copies of a dataset share nothing (a memo per copy)',
           'each runner of a process (Runner and FlexibleRunner) has its own timestamp (log folder, logger, '
           'message hub) and its own visualizer, '
           "one the config names ('visualizer') too",
           "Runner.test() / val() after train() on one runner read EMAHook's average, not the raw weights",
           "an installed package's metafiles (the look-up of a config's mmdet:: bases) are parsed once per process",
           'auto_scale_lr scales by the effective batch, world_size x batch_size x optim_wrapper.accumulative_counts',
           "an evaluator's process or evaluate that raised leaves none of its metrics holding results or a kept error")
_installed = False


def install() -> bool:
    """Apply the patches listed in the module docstring, and log them once (mmengine's current logger): one line at
    INFO saying where they are listed, and :data:`PATCHES` at DEBUG.

    Idempotent: only the first call in a process patches and logs.

    Returns:
        ``True`` when this call applied the patches, ``False`` when they were already applied.
    """
    global _installed
    if _installed:
        return False
    import mmengine.config.config as config_module
    import mmengine.hooks.checkpoint_hook as checkpoint_hook_module
    import mmengine.runner as mm_runner
    import mmengine.runner.checkpoint as checkpoint_module
    import mmengine.runner.runner as runner_module
    from mmengine.dist import utils as dist_utils

    checkpoint_module.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    for module in (checkpoint_module, runner_module, mm_runner):
        module.save_checkpoint = save_checkpoint_atomic
    checkpoint_hook_module.open = open_last_checkpoint_atomically
    import mmengine.runner._flexible_runner as flexible_runner_module

    for module in (checkpoint_module, runner_module, flexible_runner_module, mm_runner):
        module.find_latest_checkpoint = resolve_resume
    dist_utils._init_dist_pytorch = init_dist_pytorch_cpu_aware
    dist_utils._init_dist_slurm = init_dist_slurm_job
    dist_utils._init_dist_mpi = init_dist_mpi_job
    from mmengine.runner._flexible_runner import FlexibleRunner
    for runner_class in (runner_module.Runner, FlexibleRunner):  # FlexibleRunner is no Runner: its own save
        if not getattr(runner_class.save_checkpoint, 'records_world_size', False):
            runner_class.save_checkpoint = recording_world_size(runner_class.save_checkpoint)
    for runner_class in (runner_module.Runner, FlexibleRunner):
        build = runner_class.__dict__['build_dataloader']  # a staticmethod object
        if not getattr(build.__func__, 'reseeds_workers', False):
            runner_class.build_dataloader = staticmethod(reseeding_build_dataloader(build.__func__))
    install_runner_checks((runner_module.Runner, FlexibleRunner))
    if not getattr(config_module.FormatCode, 'memoised', False):
        config_module.FormatCode = memoised_format_code(config_module.FormatCode)
    import mmengine.config.utils as config_utils
    if not getattr(config_utils.load, 'memoised', False):
        config_utils.load = memoised_metafile_load(config_utils.load)
    import mmengine._strategy.base as strategy_module
    for module in (runner_module, strategy_module):
        if not getattr(module.collect_env, 'reads_torchvision_version', False):
            module.collect_env = collect_env_reading_torchvision_version(module.collect_env)
    install_loader_keys((runner_module.Runner, FlexibleRunner))
    install_custom_imports()
    install_dataset_copy()
    install_run_names()
    if not getattr(runner_module.Runner.scale_lr, 'counts_accumulation', False):
        runner_module.Runner.scale_lr = scaling_by_accumulation(runner_module.Runner.scale_lr)
    strategy_class = strategy_module.BaseStrategy
    if not getattr(strategy_class._scale_lr, 'counts_accumulation', False):
        strategy_class._scale_lr = strategy_scaling_by_accumulation(strategy_class._scale_lr)
    from mmengine.hooks import EMAHook
    if not getattr(EMAHook.before_run, 'keeps_average', False):
        EMAHook.before_run = keeping_the_average(EMAHook.before_run)
    from mmengine.evaluator import Evaluator

    from .evaluate import clearing_on_failure
    for name in ('process', 'evaluate'):
        if not getattr(getattr(Evaluator, name), 'clears_on_failure', False):
            setattr(Evaluator, name, clearing_on_failure(getattr(Evaluator, name)))
    for runner_class in (runner_module.Runner, FlexibleRunner):
        for hook_class in (DataFingerprintHook, ResumeConfigHook, LearnedStateHook):
            if hook_class not in getattr(runner_class.__dict__['train'], 'registers', ()):
                runner_class.train = registering(runner_class.__dict__['train'], hook_class)
    _installed = True
    # one short line in every process at INFO (the list was ~1,600 characters in each), the list itself at DEBUG
    print_log(f'automl_mm patched mmengine ({len(PATCHES)} changes): see the README\'s "mmengine patches" table or '
              'automl_mm.engine.patches.PATCHES', logger='current')
    print_log('automl_mm\'s mmengine patches (automl_mm/engine/patches.py): ' + '; '.join(PATCHES), logger='current',
              level=logging.DEBUG)
    return True


def registering(train: Callable, hook_class: type) -> Callable:
    """Wrap a runner class's ``train``: register one ``hook_class()`` on the runner first (not a config entry: the
    runner saves its config in the work dir, and a copy that carried the hook would register it twice). The
    wrapper's ``registers`` names every hook class its chain of wrappers registers."""
    @functools.wraps(train)
    def wrapper(self, *args, **kwargs):
        if not any(isinstance(h, hook_class) for h in getattr(self, 'hooks', [])):
            self.register_hook(hook_class())
        return train(self, *args, **kwargs)

    wrapper.registers = (*getattr(train, 'registers', ()), hook_class)
    return wrapper


__all__ = ['PATCHES', 'install', 'registering']
