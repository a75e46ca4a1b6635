"""Train (or search) with an mmengine Runner built from a config. All behaviour lives in the config."""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Any


def build_parser(cli: Any = None) -> argparse.ArgumentParser:
    """The command line of ``tools/train.py`` (mmdet's ``tools/train.py``'s options); ``cli``: the module of its
    parts (default :mod:`automl_mm.engine.tool_cli`; its file executed alone to parse before the imports below)."""
    if cli is None:
        from automl_mm.engine import tool_cli as cli
    parser = argparse.ArgumentParser(description='Train a model (or run a search) from a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints (default: ./work_dirs/<config>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or, without a path, from work_dir/last_checkpoint '
                             '(falling back, with a warning, to the newest complete checkpoint in work_dir; with '
                             'none, a warning says training starts from the config\'s load_from weights, or from '
                             'scratch without them)')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly by the real total batch / auto_scale_lr.base_batch_size (the '
                             'config must set it); the real batch is what one optimiser step learns from: world size '
                             'x train_dataloader.batch_size x optim_wrapper.accumulative_counts (an OHL run counts '
                             'one copy\'s ranks)')
    parser.add_argument('--cfg-options', nargs='+', action=cli.CfgOptionsAction,
                        help='override config keys, e.g. train_cfg.max_epochs=2 "model.backbone.depth=34"')
    cli.add_launcher_arguments(parser, 'training')
    return parser


def parse_args(argv: list[str] | None = None, cli: Any = None) -> argparse.Namespace:
    """The parsed command line (``sys.argv[1:]`` without ``argv``); ``cli`` as in :func:`build_parser`."""
    if cli is None:
        from automl_mm.engine import tool_cli as cli
    return cli.parse_tool_args(build_parser(cli), argv)


if __name__ == '__main__':  # --help and usage errors before the imports below (some 3 s: torch, mmengine, mmdet)
    import runpy
    _early = runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_early_cli.py'))
    _early['require_stack']('tools/train.py')  # a Python without torch, mmengine, mmdet: which to use
    _cli = _early['standalone_cli']()
    if _cli is not None:
        parse_args(cli=_cli)  # exits on --help or a usage error; main() parses again with automl_mm's own

import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from automl_mm.datasets.generated import check_out_dir
from automl_mm.engine import (
    CheckpointFormatError,
    diagnose_checkpoint_file,
    find_resumable_checkpoint,
    resolve_resume,
)
from automl_mm.engine.config_read import check_sets_model, config_not_found, read_config
from automl_mm.engine.dist import gloo_without_gpus
from automl_mm.engine.hooks import resume_strict_hook
from automl_mm.engine.launch import (
    check_launcher_matches_environment,
    check_slurm_environment,
    exit_with_parent_if_asked,
    launch_local,
    prestart_workers,
    required_world_size,
    stop_prestarted_workers,
)
from automl_mm.engine.patches import install as install_mmengine_patches
from automl_mm.engine.preflight import (
    build_check,
    check_config,
    check_data_sources,
    check_metric_arguments,
    merge_options,
)
from automl_mm.engine.preflight_losses import check_loss_holders
from automl_mm.engine.preflight_masks import check_mask_metrics
from automl_mm.engine.preflight_options import check_options_not_overridden
from automl_mm.engine.preflight_schedule_span import warn_schedule_span
from automl_mm.engine.rank_agreement import (
    check_ranks_run_alike,
    checking_own_files_together,
    join_process_group,
    leave_process_group,
    reading_config_together,
)
from automl_mm.engine.rank_failures import naming_first_failure, recorded_for_torchrun
from automl_mm.engine.resume import checkpoint_not_found, checkpoint_seed, read_as_local_file
from automl_mm.engine.runner_checks import checked_by_tool
from automl_mm.engine.tool_args import enable_amp, enable_auto_scale_lr
from automl_mm.engine.tool_errors import exit_on_refusal
from automl_mm.registry import RUNNERS
from automl_mm.utils import register_all_modules
from automl_mm.utils.frozen_heap import freeze_imported_heap


def read_train_config(args: argparse.Namespace) -> Config:
    """The config file of ``args`` with its ``--cfg-options`` merged, ``launcher`` and ``work_dir`` set: what every
    rank of a distributed run reads alike, enough to start its process group (the first part of
    :func:`build_config`).

    Raises:
        FileNotFoundError: the config file is missing.
        ValueError: a ``--cfg-options`` key that a flag sets too.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(config_not_found(args.config))
    overridden = {'launcher': ('--launcher', args.launcher)}
    if args.work_dir is not None:
        overridden['work_dir'] = ('--work-dir', args.work_dir)
    if getattr(args, 'auto_scale_lr', False):
        overridden['auto_scale_lr.enable'] = ('--auto-scale-lr', True)
    if args.resume is not None:
        overridden['resume'] = ('--resume', True)
    if args.resume not in (None, 'auto'):  # without a path, load_from stays the start when nothing is resumed
        overridden['load_from'] = ('--resume', args.resume)
    check_options_not_overridden(args.cfg_options, overridden, 'tools/train.py')
    cfg = read_config(args.config)
    merge_options(cfg, args.cfg_options)
    check_sets_model(cfg, args.config)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = _default_work_dir(args)
    return cfg


def _default_work_dir(args: argparse.Namespace) -> str:
    """``./work_dirs/<config name>``, the work dir of a config that sets none."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def build_config(args: argparse.Namespace, cfg: Config | None = None) -> Config:
    """The checked config of ``args``: :func:`read_train_config` (or ``cfg``, which it returned), its work dir
    checked (it can be made), with ``--amp``,
    ``--auto-scale-lr`` and ``--resume`` applied (a resume resolved in this process's view of ``work_dir``), the
    default hooks added, gloo without GPUs, and :func:`~automl_mm.engine.preflight.check_config` passed (it reads the
    config's annotation files)."""
    if cfg is None:
        cfg = read_train_config(args)
    # this node's work dir (checked in the ranks' agreement: a node where it cannot be made stops every rank); a
    # file there failed in mmengine's makedirs, with a raw traceback
    given = '--work-dir' if args.work_dir is not None else \
        'the work dir' if cfg.work_dir == _default_work_dir(args) else 'work_dir'
    check_out_dir(cfg.work_dir, given)
    if args.amp:
        if not torch.cuda.is_available():
            raise RuntimeError('--amp needs a CUDA device (mmengine AmpOptimWrapper); torch sees none here: leave '
                               '--amp out to train in float32 on the CPU')
        enable_amp(cfg)
    if getattr(args, 'auto_scale_lr', False):
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto' or (args.resume is None and cfg.get('resume') and not cfg.get('load_from')):
        # `--resume`, or `resume = True` in the config without a path (mmengine's own auto-resume).
        # Resolved once here (not in every worker): a missing/empty/dangling last_checkpoint or a truncated file
        # falls back to the newest complete checkpoint, with a warning naming what was skipped.
        # A config's load_from (weights to start from, e.g. a pretrained detector) was dropped when there was
        # nothing to resume yet: the first run of `--resume` trained from random weights. It stays the start then.
        init = cfg.get('load_from') if args.resume == 'auto' else None
        found = resolve_resume(cfg.work_dir, load_from=init)
        cfg.resume, cfg.load_from = found is not None, found if found is not None else init
    elif args.resume is not None and not read_as_local_file(args.resume):
        cfg.resume, cfg.load_from = True, args.resume  # a URL: fetched by mmengine's loader, as in mmdet
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(checkpoint_not_found(
                args.resume, '--resume checkpoint', '; `--resume` without a path resumes the newest in --work-dir'))
        problem = diagnose_checkpoint_file(args.resume)
        if problem is not None:
            newest, _ = find_resumable_checkpoint(osp.dirname(args.resume) or '.')
            hint = f'; the newest complete checkpoint there is {newest}' if newest else ''
            raise CheckpointFormatError(f'--resume checkpoint is {problem}: {args.resume}{hint}')
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('resume') and cfg.get('load_from'):
        # mmengine's resume() switches to the checkpoint's seed, but only after the train dataloader (its sampler's
        # and workers' seeds) was built from the config's, or from a newly drawn one when the config sets none: the
        # data order after the resume point was not the interrupted run's. Build everything from that seed.
        seed, configured = checkpoint_seed(cfg.load_from), (cfg.get('randomness') or {}).get('seed')
        if seed is not None and seed != configured:
            if configured is not None:
                print_log(f'resuming {cfg.load_from}: it was trained with seed {seed}, the config sets '
                          f'randomness.seed={configured}; continuing with {seed}', logger='current',
                          level=logging.WARNING)
            cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    # Stop a run whose loss turns NaN/inf before it saves that state (disable: default_hooks.finite_loss=None).
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = dict()
    if 'finite_loss' not in cfg.default_hooks:
        cfg.default_hooks.finite_loss = dict(type='automl_mm.FiniteLossHook')
    elif cfg.default_hooks.finite_loss is None:
        # mmengine accepts None only for its own default hooks; deleting the key lost the choice in the work
        # dir's copy of the config, and a run from that copy (a resume) checked losses again
        cfg.default_hooks.finite_loss = dict(type='automl_mm.FiniteLossHook', enabled=False)
    gloo_without_gpus(cfg)
    check_config(cfg)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The runner of ``cfg``; a resume (``resume`` and ``load_from`` set) loads strictly.

    Resuming into another model is always a mistake: mmengine loads non-strictly and would continue with freshly
    initialised weights wherever the keys differ. The ``StrictCheckpointHook`` is registered on the runner, not
    written into ``cfg.custom_hooks``: the runner saves its config in the work dir, and a copy that carried the
    hook checked every later use of that file (``tools/test.py --allow-partial``, a ``load_from``) against the
    resumed checkpoint.
    """
    with checked_by_tool():  # checked by build_config (before local workers start); run() checks the model
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    strict = resume_strict_hook(cfg)  # (the start-up check places it in the runner's hooks from the same function)
    if strict is not None:
        runner.register_hook(strict)
    return runner


def run(cfg: Config | str) -> None:
    """Build the runner from a config (object or dumped file) and train."""
    register_all_modules(init_default_scope=False)  # the runner sets the scope from cfg.default_scope
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    # every process of torchrun / srun read the config, resolved --resume in its own view of work_dir
    # (build_config) and imported the code on its own node: all run the same thing, checked before the runner's
    # own collectives (its seed broadcast, DDP, the copies' groups) where the process group can start first
    checked = join_process_group(cfg)
    if checked:
        check_ranks_run_alike(cfg)
    else:  # one process, or a runner that starts its own process group (FlexibleRunner): built first, so that the
        # block below has the group
        runner = build_runner(cfg)
        check_ranks_run_alike(cfg)
    # a rank failing alone, named on all: in the runner's build (its model's constructor, after the runner's seed
    # broadcast: the others waited in DDP's broadcast) as in the run (a plugin's hook)
    with naming_first_failure('tools/train.py: the run'):
        if checked:
            runner = build_runner(cfg)
        check_loss_holders(runner.model)  # built; the data is read only by train()
        check_mask_metrics(cfg, runner.model)
        runner.train()
    del runner  # it holds the copies' wrappers and layout, so their process groups: released before they end
    leave_process_group()  # together: a rank leaving while a peer holds gloo connections could abort at shutdown


@recorded_for_torchrun  # its error where torchrun's summary ("Root Cause") reads it
def main(argv: list[str] | None = None) -> None:
    """Run the tool on ``argv`` (``sys.argv[1:]`` without it)."""
    exit_with_parent_if_asked()  # AUTOML_MM_EXIT_WITH_PARENT=1 (the benchmarks): stop when the caller is gone
    install_mmengine_patches()  # before any checkpoint is read or written
    args = parse_args(argv)
    check_launcher_matches_environment(args.launcher, 'tools/train.py')  # torchrun / srun, no --launcher
    check_slurm_environment(args.launcher, 'tools/train.py')  # --launcher slurm outside srun
    if args.launcher != 'none':  # a rank of torchrun / srun / mpirun: its own files checked, then agreed on
        # automl_mm's modules imported and the config file read on each rank's own node: one failing stops every
        # rank (before, it refused alone and the others waited for it in the rendezvous until the timeout)
        cfg = reading_config_together(
            lambda: read_train_config(args), args.launcher, 'tools/train.py: reading the config file',
            checks=lambda: register_all_modules(init_default_scope=False),
            checks_what="tools/train.py: importing automl_mm's modules",
            checks_advice="each rank imports automl_mm's modules on its own node: give every node the same installed "
                          'packages')
        with checking_own_files_together(cfg, 'tools/train.py: the start checks of each rank\'s own files (the '
                                              '--resume checkpoint, the config\'s data, the work dir)'):
            build_config(args, cfg)
            required_world_size(cfg)  # its OHL counts checked, as below
            check_data_sources(cfg)  # what build_check asks of the data: refused before the runner is built
            # the evaluators, which the runner builds only in train(): bound to their signatures (a metric's
            # constructor may act on files, and before the process group every rank is the main one); a
            # test_evaluator train() never builds, if mmdet's / mmengine's, also constructed aside, its output
            # folders moved into a throw-away one
            check_metric_arguments(cfg, construct=False)
        # a rank has no start-up check (build_check) to hold the config's own lengths: the option's spans alone
        warn_schedule_span(cfg, args.cfg_options)
        run(cfg)
        return
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    world_size = required_world_size(cfg)
    if world_size > 1:
        prestart_workers()  # the workers' imports overlap the check below
        try:
            build_check(cfg, args.cfg_options)  # config errors surface here, once, before any worker starts
        except BaseException:
            stop_prestarted_workers()  # else its imports outlive this refusal, holding our stdout / stderr open
            raise
        launch_local(cfg, world_size, run)  # e.g. an OHL search: one local process per model copy
    else:  # one process: the same check, before its runner is built (its faults were refused only in before_train,
        # after the runner had built the datasets and the model); its data and evaluators included
        build_check(cfg, args.cfg_options)
        run(cfg)


if __name__ == '__main__':
    freeze_imported_heap()  # imported: the collector no longer walks those objects (exit included)
    exit_on_refusal(main, 'tools/train.py')  # a config check's message without the traceback above it
