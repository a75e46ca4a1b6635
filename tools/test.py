"""Evaluate a checkpoint on the test split of a config (``test_dataloader`` + ``test_evaluator``)."""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Any


def build_parser(cli: Any = None) -> argparse.ArgumentParser:
    """The command line of ``tools/test.py`` (mmdet's ``tools/test.py``'s options, and ``--allow-partial``);
    ``cli``: the module of its parts (default :mod:`automl_mm.engine.tool_cli`; its file executed alone to parse
    before the imports below)."""
    if cli is None:
        from automl_mm.engine import tool_cli as cli
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the evaluation logs and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=cli.CfgOptionsAction, help='override config keys')
    parser.add_argument('--allow-partial', action='store_true',
                        help='evaluate even if the checkpoint misses weights of the model, has others or other '
                             'shapes (by default that stops the test, naming the first keys)')
    parser.add_argument('--out', help='also dump every prediction to this pickle file (.pkl or .pickle) for offline '
                                      'evaluation (mmdet\'s DumpDetResults)')
    parser.add_argument('--show-dir', help='draw every test image with its predictions into this directory (a '
                                           'relative one under work_dir/<timestamp>/, as mmdet) through the '
                                           'config\'s default_hooks.visualization; detectors without one get '
                                           'mmdet\'s DetVisualizationHook, other models are refused')
    parser.add_argument('--show', action='store_true',
                        help='show every test image with its predictions in a window (mmdet\'s --show: the '
                             'visualization hook\'s show and wait_time; needs an interactive matplotlib backend, '
                             'refused without one)')
    parser.add_argument('--wait-time', type=float, default=None,
                        help='seconds each --show window stays open, 0 = until a key is pressed (default: 2, as mmdet; '
                             'only with --show)')
    parser.add_argument('--tta', action='store_true',
                        help='test with test-time augmentation: the config\'s tta_model wrapped around its model, '
                             'on its tta_pipeline (mmdet\'s keys; both must be set)')
    cli.add_launcher_arguments(parser, 'testing')
    return parser


def parse_args(argv: list[str] | None = None, cli: Any = None) -> argparse.Namespace:
    """The parsed command line (``sys.argv[1:]`` without ``argv``); ``cli`` as in :func:`build_parser`."""
    if cli is None:
        from automl_mm.engine import tool_cli as cli
    parser = build_parser(cli)
    args = cli.parse_tool_args(parser, argv)
    if args.wait_time is not None and not args.show:
        parser.error(f'--wait-time {args.wait_time:g} is how long --show keeps each image open; give --show too '
                     '(mmdet ignored it without)')
    if args.wait_time is not None and not args.wait_time >= 0:
        parser.error(f'--wait-time must be seconds >= 0 (0: until a key is pressed), got {args.wait_time:g}')
    if args.show and args.wait_time is None:
        args.wait_time = 2.0  # mmdet's default
    return args


if __name__ == '__main__':  # --help and usage errors before the imports below (some 3 s: torch, mmengine, mmdet)
    import runpy
    _early = runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_early_cli.py'))
    _early['require_stack']('tools/test.py')  # a Python without torch, mmengine, mmdet: which to use
    _cli = _early['standalone_cli']()
    if _cli is not None:
        parse_args(cli=_cli)  # exits on --help or a usage error; main() parses again with automl_mm's own

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.runner import Runner

from automl_mm.datasets.generated import check_out_dir
from automl_mm.engine import CheckpointFormatError, StrictCheckpointHook, diagnose_checkpoint_file
from automl_mm.engine.config_read import check_sets_model, config_not_found, read_config
from automl_mm.engine.dist import gloo_without_gpus
from automl_mm.engine.launch import check_launcher_matches_environment, check_slurm_environment
from automl_mm.engine.patches import install as install_mmengine_patches
from automl_mm.engine.preflight import check_config, check_data_sources, check_metric_arguments, merge_options
from automl_mm.engine.preflight_masks import check_mask_metrics
from automl_mm.engine.preflight_options import check_options_not_overridden
from automl_mm.engine.preflight_walk import runner_scope
from automl_mm.engine.rank_agreement import (
    check_ranks_run_alike,
    checking_own_files_together,
    join_process_group,
    leave_process_group,
    reading_config_together,
)
from automl_mm.engine.rank_failures import naming_first_failure, recorded_for_torchrun
from automl_mm.engine.resume import checkpoint_not_found, read_as_local_file
from automl_mm.engine.runner_checks import checked_by_tool
from automl_mm.engine.tool_args import (
    add_dump_results,
    check_out_file,
    check_show_display,
    draw_on_every_rank,
    enable_drawing,
)
from automl_mm.engine.tool_errors import exit_on_refusal
from automl_mm.engine.tta_views import apply_tta
from automl_mm.nas import SearchedArchitectureHook
from automl_mm.ohl import SearchedValuesHook
from automl_mm.ohl.copies import find_ohl_hook
from automl_mm.registry import RUNNERS
from automl_mm.utils import register_all_modules
from automl_mm.utils.frozen_heap import freeze_imported_heap
from automl_mm.utils.scope import type_name


def _read_test_config(args: argparse.Namespace) -> Config:
    """The config file of ``args`` with its ``--cfg-options`` merged and ``launcher`` set.

    Raises:
        FileNotFoundError: the config file is missing (the closest configs named).
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(config_not_found(args.config))
    cfg = read_config(args.config)
    merge_options(cfg, args.cfg_options)
    check_sets_model(cfg, args.config)
    cfg.launcher = args.launcher
    return cfg


def _check_checkpoint_and_config(cfg, args: argparse.Namespace, drawing: str) -> None:
    """The checkpoint file of ``args`` (a local one: there, and a checkpoint), then ``cfg`` completed for testing
    (search hooks dropped, drawing and TTA applied, gloo without GPUs) and checked, its test split's data included.
    Reads this process's own files: :func:`main` agrees on it across the ranks of a distributed run."""
    # a URL / model-zoo name (https://download.openmmlab.com/...) is fetched by mmengine's loader, as in mmdet
    if read_as_local_file(args.checkpoint):
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(checkpoint_not_found(args.checkpoint, 'checkpoint file'))
        problem = diagnose_checkpoint_file(args.checkpoint)
        if problem is not None:
            raise CheckpointFormatError(f'checkpoint is {problem}: {args.checkpoint}')
    # Search hooks (OHL copies, ...) only act while training; testing evaluates the one model in the checkpoint.
    hooks = list(cfg.get('custom_hooks', None) or [])
    ohl = find_ohl_hook(hooks, runner_scope(cfg))  # as the runner would build it
    hooks = hooks if ohl is None else hooks[:ohl[0]] + hooks[ohl[0] + 1:]
    # A resumed run's config saved by an older tools/train.py carries the strict check of the checkpoint it
    # resumed: it named that file and ignored --allow-partial. The check below is of the checkpoint tested.
    cfg.custom_hooks = [h for h in hooks if type_name(h.get('type', '') if isinstance(h, dict) else type(h)) !=
                        'StrictCheckpointHook']
    if drawing:
        enable_drawing(cfg, args.show_dir, show=args.show, wait_time=args.wait_time)
    if args.tta:
        apply_tta(cfg, args.show_dir, args.show)
    gloo_without_gpus(cfg)
    check_config(cfg, test_only=True)
    check_data_sources(cfg, test_only=True)  # the test split's data there: refused before the model is built
    # its evaluator, which the runner builds only in test(); a rank of a distributed run binds its metrics to their
    # signatures and constructs mmdet's / mmengine's aside, their output folders moved into a throw-away one (a
    # constructor may act on files, and before the process group every rank is the main one)
    check_metric_arguments(cfg, test_only=True, construct=args.launcher == 'none')


@recorded_for_torchrun  # its error where torchrun's summary ("Root Cause") reads it
def main(argv: list[str] | None = None) -> None:
    """Run the tool on ``argv`` (``sys.argv[1:]`` without it)."""
    install_mmengine_patches()  # before any checkpoint is read or written
    args = parse_args(argv)
    check_launcher_matches_environment(args.launcher, 'tools/test.py')  # torchrun / srun, no --launcher
    check_slurm_environment(args.launcher, 'tools/test.py')  # --launcher slurm outside srun
    overridden = {'launcher': ('--launcher', args.launcher), 'load_from': ('the CHECKPOINT argument', args.checkpoint),
                  'resume': ('tools/test.py (it never resumes)', False)}
    if args.work_dir is not None:
        overridden['work_dir'] = ('--work-dir', args.work_dir)
    drawing = ' and '.join(flag for flag, given in (('--show', args.show), ('--show-dir', args.show_dir)) if given)
    if drawing:
        overridden['default_hooks.visualization.draw'] = (drawing, True)
    if args.show_dir is not None:
        overridden['default_hooks.visualization.test_out_dir'] = ('--show-dir', args.show_dir)
    if args.show:
        overridden['default_hooks.visualization.show'] = ('--show', True)
        overridden['default_hooks.visualization.wait_time'] = ('--wait-time', args.wait_time)
    check_options_not_overridden(args.cfg_options, overridden, 'tools/test.py')

    def checks() -> None:
        if args.show:
            check_show_display()  # before anything is built: a window needs an interactive backend
        register_all_modules(init_default_scope=False)

    # each rank of torchrun / srun / mpirun checks its display, imports automl_mm's modules and reads the config on
    # its own node: one failing stops every rank (before, it refused alone and the others waited for it in the
    # rendezvous until the timeout)
    advice = ("each rank imports automl_mm's modules and checks its display (--show) on its own node: give every node "
              'the same installed packages and a display (an interactive matplotlib backend)' if args.show else
              "each rank imports automl_mm's modules on its own node: give every node the same installed packages")
    checked = "checking the display (--show) and importing automl_mm's modules" if args.show else \
        "importing automl_mm's modules"
    cfg = reading_config_together(lambda: _read_test_config(args), args.launcher,
                                  'tools/test.py: reading the config file', checks=checks, checks_advice=advice,
                                  checks_what=f'tools/test.py: {checked}')
    given = '--work-dir' if args.work_dir else 'work_dir' if cfg.get('work_dir') else 'the work dir'
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # every rank of torchrun / srun reads the checkpoint and the data from its own node, and writes its outputs
    # there: a node lacking one, or where one cannot be made, stops every rank once the process group started
    # (before, it refused alone and the others waited in the rendezvous)
    with checking_own_files_together(cfg, 'tools/test.py: the start checks of each rank\'s own files (the '
                                          'checkpoint, the config\'s data, the folders written)'):
        if args.out is not None:
            check_out_file(args.out)  # before the model is built and every image predicted
        check_out_dir(cfg.work_dir, given)  # a file there failed in mmengine's makedirs, with a raw traceback
        if args.show_dir is not None and osp.isabs(args.show_dir):  # a relative one lies below work_dir/<timestamp>
            check_out_dir(args.show_dir, '--show-dir')
        _check_checkpoint_and_config(cfg, args, drawing)
    # every process of torchrun / srun read the config and imported the code on its own node: all test the same
    # checkpoint with the same config (its CHECKPOINT included), checked before the runner's own collectives
    checked = join_process_group(cfg)

    def build() -> Runner:
        with checked_by_tool():  # checked above and below, once
            return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)

    if checked:
        check_ranks_run_alike(cfg, compare_start=False)
    else:  # one process, or a runner that starts its own process group (FlexibleRunner): built first, so that the
        # block below has the group
        runner = build()
        check_ranks_run_alike(cfg, compare_start=False)
    # a rank failing alone, named on all: in the runner's build (its model's constructor, after the runner's seed
    # broadcast: the others waited in DDP's broadcast) as in the test (a plugin's transform)
    with naming_first_failure('tools/test.py: the test'):
        if checked:
            runner = build()
        check_mask_metrics(cfg, runner.model, test_only=True)  # built; nothing predicted yet
        # a NAS search's final checkpoint names its architecture (not in the weights): test the network it validated
        runner.register_hook(SearchedArchitectureHook())
        # an OHL search's checkpoint names the values of its attribute paths (not weights): test with those it
        # trained with
        runner.register_hook(SearchedValuesHook())
        if not args.allow_partial:
            # mmengine loads non-strictly: a checkpoint of another model would be scored with random weights.
            runner.register_hook(StrictCheckpointHook(checkpoint=args.checkpoint))
        if args.out is not None:
            add_dump_results(runner, args.out)
        if args.show_dir is not None:
            draw_on_every_rank(runner)  # mmdet's visualizer drew only rank 0's images
        metrics = runner.test()
    if is_main_process():  # every rank holds the same metrics: under tools/dist_test.sh each printed them
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})
    del runner  # it holds the copies' wrappers and layout, so their process groups: released before they end
    leave_process_group()  # together: a rank leaving while a peer held gloo connections aborted (exit -6) 1 run in 10


if __name__ == '__main__':
    freeze_imported_heap()  # imported: the collector no longer walks those objects (exit included)
    exit_on_refusal(main, 'tools/test.py')  # a config check's message without the traceback above it
