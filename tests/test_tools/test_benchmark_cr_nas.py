"""benchmarks/cr_nas_fmnist_det.py's command line: options that would change nothing are refused before any
work, the options it reads are kept, and a work dir holding its runs is refused unless ``--reuse``."""
from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize('argv, flags', [
    (['--allocation', '2', '2', '2', '2', '--search-seeds', '3'], '--search-seeds 3 is not read with --allocation'),
    (['--allocation', '2', '2', '2', '2', '--search-options', 'train_cfg.stage_iters=2'],
     '--search-options train_cfg.stage_iters=2 is not read with --allocation'),
    (['--train-options', 'max_epochs=3'], 'train_cfg.max_epochs'),  # the file wrote 1 there when it was read
    (['--train-options', 'max_iters=3'], "--train-options max_iters=3: the config has no top-level key 'max_iters'"),
    (['--search-options', 'max_iters=3'], "--search-options max_iters=3: the config has no top-level key"),
    (['--train-options', 'train_cfg.val_interval=1'], '--train-options train_cfg.val_interval=1 is set by the '
                                                     'benchmark'),
    (['--train-options', 'val_evaluator.classwise=True'], '--train-options val_evaluator.classwise=True is set by'),
    (['--train-options', 'val_dataloader.batch_size=2'], '--train-options val_dataloader.batch_size=2 is set by'),
    (['--search-options', 'randomness.seed=5'], '--search-options randomness.seed=5 would give every run this seed'),
    (['--train-options', 'randomness.seed=5'], 'instead of its --seeds seed'),
])
def test_cr_nas_benchmark_refuses_options_that_change_nothing_before_any_work(arms, capsys, argv, flags):
    """With --allocation no search runs (its seeds and options were ignored); an option the benchmark overwrites
    after merging it (the arms' validation is the test split after the last epoch, every run's seed is --seeds'), or
    a top-level name the file had already written into its settings (max_epochs), changed nothing, silently."""
    module = importlib.import_module('cr_nas_fmnist_det')
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flags in err and any(words in err for words in ('change nothing', 'changes the top-level name',
                                                            'the same run'))


def test_cr_nas_benchmark_keeps_the_options_it_reads(arms):
    module = importlib.import_module('cr_nas_fmnist_det')
    args = module.parse_args(['--search-seeds', '0', '1', '--seeds', '0', '1', '2', '--jobs', '2', '--out', 'r.json'])
    assert args.search_seeds == [0, 1] and args.jobs == 2
    args = module.parse_args(['--allocation', '2', '3', '2', '1', '--dilations', '2', '2', '2', '1', '2', '3', '2', '1',
                              '--seeds', '0', '1', '2', '--jobs', '2', '--reuse',
                              '--search-options', 'train_cfg.flops_tolerance=0.1',  # the FLOPs check reads it
                              '--train-options', 'train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
                              'test_dataloader.batch_size=2'])
    assert args.search_options == {'train_cfg.flops_tolerance': 0.1}
    module.parse_args(['--search-options', 'train_cfg.stage_iters=2', 'train_dataloader.batch_size=2',
                       'default_hooks.checkpoint.interval=4', 'train_cfg.dilation_choices=[1,2]'])


def test_cr_nas_benchmark_refuses_a_work_dir_holding_its_runs_unless_reused(arms, tmp_path):
    """A second invocation without --reuse trained again into the same run folders; the report could then pair
    the new search with the old retraining's mAP."""
    module = importlib.import_module('cr_nas_fmnist_det')
    (tmp_path / 'searched_s1').mkdir()
    args = module.parse_args(['--seeds', '0', '1', '--work-dir', str(tmp_path)])
    assert module.run_names(args) == ['search_s0', 'search_s1', 'standard_s0', 'searched_s0', 'standard_s1',
                                      'searched_s1']
    with pytest.raises(FileExistsError, match=r'already holds searched_s1: pass --reuse'):
        module.check_work_root(args, str(tmp_path))
    module.check_work_root(module.parse_args(['--seeds', '0', '1', '--reuse']), str(tmp_path))
    module.check_work_root(module.parse_args(['--seeds', '0']), str(tmp_path))  # none of its runs is there
