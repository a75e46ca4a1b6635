"""CR-NAS on the Fashion-MNIST detection set (issue #18 item 3): the search and retraining configs, and
benchmarks/cr_nas_fmnist_det.py's pieces end to end on a tiny generated set."""
from __future__ import annotations

import importlib.util
import json
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
from _train_ranks import train_ranks
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.datasets import generate_fmnist_det
from automl_mm.engine.evaluate import first_configured, held_out_keys
from automl_mm.models.backbones import CRResNet
from automl_mm.utils.io import strict_json

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

SEARCH = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py')
RETRAIN = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py')
SHAPES_SEARCH = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py')


def _bench():
    sys.path.insert(0, osp.join(REPO_ROOT, 'benchmarks'))
    spec = importlib.util.spec_from_file_location('cr_nas_fmnist_det', osp.join(REPO_ROOT,
                                                                               'benchmarks/cr_nas_fmnist_det.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_model(cfg: Config):
    from mmdet.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def test_search_config_scores_on_the_reward_split_with_the_shapes_search_space():
    cfg = Config.fromfile(SEARCH)
    loop = cfg.train_cfg
    assert loop.type == 'automl_mm.CRNASLoop'
    assert tuple(loop.reference_allocation) == (2, 2, 2, 2)
    assert loop.stage_space == Config.fromfile(SHAPES_SEARCH).train_cfg.stage_space  # 1-3 per stage, 8 in total
    assert osp.abspath(osp.join(REPO_ROOT, loop.retrain_config)) == RETRAIN
    assert tuple(loop.flops_input_shape) == (3, 160, 160)
    # the arch-val the loop resolves (no explicit search_dataloader / search_evaluator): the reward split
    loaders, evaluators = held_out_keys('search')
    loader, loader_key = first_configured(cfg, loop.get('search_dataloader'), 'train_cfg.search_dataloader', loaders)
    evaluator, evaluator_key = first_configured(cfg, loop.get('search_evaluator'), 'train_cfg.search_evaluator',
                                                evaluators)
    assert (loader_key, evaluator_key) == ('reward_dataloader', 'reward_evaluator')
    assert loader.dataset.ann_file == 'annotations/instances_reward.json'
    assert evaluator.ann_file.endswith('annotations/instances_reward.json')
    assert 'test' not in loader.dataset.ann_file + loader.dataset.data_prefix.img + evaluator.ann_file
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train.json'
    assert 'test' not in json.dumps(loop.to_dict())
    assert cfg.test_dataloader is None and cfg.test_evaluator is None and cfg.test_cfg is None

    model = _build_model(cfg)
    assert isinstance(model.backbone, CRResNet)
    assert tuple(model.backbone.active_stage_blocks) == (2, 2, 2, 2)
    assert model.roi_head.bbox_head.num_classes == 10


def test_retrain_template_is_the_standard_resnet18_and_validates_on_val_tests_on_test():
    cfg = Config.fromfile(RETRAIN)
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert 'max_stage_blocks' not in cfg.model.backbone
    assert cfg.val_evaluator.ann_file.endswith('instances_val.json')
    assert cfg.test_evaluator.ann_file.endswith('instances_test.json')
    model = _build_model(cfg)
    assert isinstance(model.backbone, CRResNet)
    assert tuple(model.backbone.active_stage_blocks) == (2, 2, 2, 2)
    assert tuple(model.backbone.active_dilations) == (1, ) * 8


def test_benchmark_arms_share_the_schedule_and_count_equal_flops():
    bench = _bench()
    args = bench.parse_args(['--allocation', '1', '3', '1', '3', '--data-root', '/tmp/elsewhere'])
    standard = bench.arm_config(args, 'standard', 2, bench.RETRAIN_CONFIG)
    searched = bench.arm_config(args, 'searched', 2, bench.RETRAIN_CONFIG,
                                dict(stage_blocks=(1, 3, 1, 3), dilations_per_block=(1, 2, 3, 1, 2, 3, 1, 2)))
    for cfg in (standard, searched):
        assert cfg.val_evaluator.ann_file == '/tmp/elsewhere/annotations/instances_test.json'  # the final number
        assert cfg.train_dataloader.dataset.data_root == '/tmp/elsewhere/'
        assert cfg.randomness.seed == 2
    assert tuple(standard.model.backbone.stage_blocks) == (2, 2, 2, 2)
    assert tuple(searched.model.backbone.stage_blocks) == (1, 3, 1, 3)
    strip = ('model', 'train_cfg', 'optim_wrapper', 'param_scheduler', 'train_dataloader')
    assert all(standard[k] == searched[k] for k in strip[1:])  # same schedule and data
    shape = tuple(Config.fromfile(SEARCH).train_cfg.flops_input_shape)
    a, b = bench.backbone_gflops(standard, shape), bench.backbone_gflops(searched, shape)
    assert a > 0.1 and abs(b / a - 1) <= 0.05  # equal FLOPs within the search's tolerance (dilation adds none)
    with pytest.raises(SystemExit):
        bench.parse_args(['--allocation', '2', '2', '2', '2', '--dilations', '1', '2'])  # 2 values for 8 blocks


def test_agreement_of_searches():
    bench = _bench()
    a = dict(stage_blocks=[1, 3, 1, 3], dilations_per_block=[1] * 8)
    assert bench.agreement([a, dict(a)]) == {'allocations_agree': True, 'dilations_agree': True}
    assert bench.agreement([a, dict(a, dilations_per_block=[2] * 8)]) == {'allocations_agree': True,
                                                                          'dilations_agree': False}
    assert bench.agreement([a, dict(a, stage_blocks=[2, 2, 2, 2])])['allocations_agree'] is False
    ranking = [dict(stage_blocks=[1, 3, 1, 3], score=0.3), dict(stage_blocks=[2, 2, 2, 2], score=0.2),
               dict(stage_blocks=[3, 1, 3, 1], score=0.1)]
    same, reversed_ = (dict(seed=s, stage_ranking=r) for s, r in (
        (0, ranking), (1, [dict(e, score=-e['score']) for e in ranking] + [dict(stage_blocks=[1, 1, 3, 3], score=9)])))
    assert bench.ranking_agreement([same, dict(same, seed=2), reversed_]) == [
        {'seeds': [0, 2], 'allocations': 3, 'kendall_tau': 1.0},
        {'seeds': [0, 1], 'allocations': 3, 'kendall_tau': -1.0},
        {'seeds': [2, 1], 'allocations': 3, 'kendall_tau': -1.0}]


def _forked_train_tool(argv: list[str], cwd: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    """The benchmark's ``subprocess.run([python, 'tools/train.py', *args], cwd=ROOT, ...)`` as the tool's main on
    ``args`` in a process forked from the fork server (tests/_train_ranks.py: ``--launcher none``, one process, as
    the subprocess ran these one-copy runs). A subprocess imported torch, mmengine, mmdet and automl_mm again for
    each of the 4 runs (5-8 s of CPU each); what is run (config, work dir) is the benchmark's command line. A failed
    run comes back as a failed process (exit status 1, the error in ``stderr``), which the benchmark reports."""
    assert argv[:2] == [sys.executable, 'tools/train.py'] and osp.samefile(cwd, REPO_ROOT), (argv, cwd)
    try:
        train_ranks(argv[2:], 1, launcher='none')
    except Exception as error:  # noqa: BLE001 - the subprocess's failure, as the benchmark reads it
        return subprocess.CompletedProcess(argv, 1, '', f'{type(error).__name__}: {error}')
    return subprocess.CompletedProcess(argv, 0, '', '')


# The smoke run's images resized to 64 px (the configs' 160) in every loader it reads (the generated canvases are at
# least 128 px): the search's train and reward loaders, the arms' train loader and the test loader the benchmark makes
# their evaluation's. The FLOPs comparison keeps its 160 px input shape (a count, no images).
_TRAIN_RESIZE, _TEST_RESIZE = 'train_dataloader.dataset.pipeline.2', 'dataset.pipeline.1'
SMALL_SEARCH = [f'{_TRAIN_RESIZE}.scale=(64,64)', f'reward_dataloader.{_TEST_RESIZE}.scale=(64,64)']
SMALL_TRAIN = [f'{_TRAIN_RESIZE}.scale=(64,64)', f'test_dataloader.{_TEST_RESIZE}.scale=(64,64)']


@pytest.mark.slow
def test_benchmark_smoke_run_searches_then_trains_both_arms(tmp_path, monkeypatch):
    """Two tiny searches (2 + 2 iterations, 2 reward images, dilations 1 or 2) and both arms retrained for
    retraining seed 1 (2 iterations each) through tools/train.py, two at a time, as the benchmark does; the
    searched arm is search seed 0's export (a retraining seed other than the search seeds, so the two kinds of
    seed are not mixed up). Each run is the benchmark's tools/train.py command line run by the tool's main in a
    process forked from the fork server (:func:`_forked_train_tool`), not a subprocess of the tool."""
    fashion = write_fake_fashion(str(tmp_path / 'fashion'))
    root = str(tmp_path / 'fmnist_det')
    generate_fmnist_det(root, data_root=fashion, seed=0, num_train=4, num_reward=2, num_val=2, num_test=2,
                        img_size=128, max_objects=3)
    out = str(tmp_path / 'report.json')
    bench = _bench()
    monkeypatch.setattr(bench, 'subprocess', SimpleNamespace(run=_forked_train_tool))
    report = bench.main([
        '--data-root', root, '--work-dir', str(tmp_path / 'work'), '--search-seeds', '0', '1', '--seeds', '1',
        '--jobs', '2',
        '--search-options', 'train_cfg.stage_iters=2', 'train_cfg.spatial_iters=2',
        'train_cfg.bn_recalibration_batches=0', 'train_cfg.num_samples=1', 'train_cfg.pool_size=1',
        'train_cfg.dilation_choices=[1,2]',
        # checkpoint_interval_s left at the loop's default, as the benchmark runs: a checkpoint after each search step
        # only (0 added one after every scored candidate, about 1 s each, most of the search's time)
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=4', *SMALL_SEARCH,
        '--train-options', 'train_dataloader.batch_size=2', *SMALL_TRAIN, '--out', out])
    with open(out) as f:
        written = json.load(f)
    # strict JSON: a NaN (mAP_l of a split without large objects at this size) is written as null, and said so
    null_note = written.pop('null_values', None)
    assert written == strict_json(json.loads(json.dumps(report)))
    assert (null_note is not None) == ('NaN' in json.dumps(report))  # a null standing for a NaN is said so
    results = []
    for seed in (0, 1):
        with open(tmp_path / 'work' / f'search_s{seed}' / 'search' / 'cr_nas_result.json') as f:
            results.append(json.load(f))
    assert [s['stage_blocks'] for s in report['searches']] == [r['stage_blocks'] for r in results]
    assert report['allocations_agree'] == (results[0]['stage_blocks'] == results[1]['stage_blocks'])
    assert report['dilations_agree'] == (results[0]['dilations_per_block'] == results[1]['dilations_per_block'])
    assert report['arch_val_images'] == 2
    assert [(p['seeds'], p['allocations']) for p in report['ranking_agreement']] == [([0, 1], 19)]
    for entry, result in zip(report['searches'], results):  # where the standard allocation ranked in each search
        ranking = [e['stage_blocks'] for e in result['stage_ranking']]
        assert len(ranking) == 19 and entry['reference_rank'] == ranking.index([2, 2, 2, 2]) + 1
    arms = report['arms']
    assert arms['standard']['stage_blocks'] == [2, 2, 2, 2]
    assert arms['searched']['stage_blocks'] == results[0]['stage_blocks']  # search seed 0's export
    assert arms['searched']['dilations_per_block'] == results[0]['dilations_per_block']
    assert report['equal_flops'] and abs(report['flops_ratio'] - 1) <= 0.05
    for entry in arms.values():
        assert [run['seed'] for run in entry['runs']] == [1]
        for key in ('bbox_mAP', 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l'):
            assert all(isinstance(run[key], float) for run in entry['runs'])
            assert set(entry[key]) == {'mean', 'std'}
    # what tools/train.py trained: the standard and the searched backbone, the same schedule, evaluated on test
    dumped = {name: Config.fromfile(str(tmp_path / 'work' / f'{name}.py'))
              for name in ('standard_s1', 'searched_s1')}
    for name, cfg in dumped.items():
        assert cfg.val_evaluator.ann_file.endswith('instances_test.json'), name
        assert cfg.randomness.seed == int(name[-1])
        assert [tuple(step.scale) for loader in (cfg.train_dataloader, cfg.val_dataloader)
                for step in loader.dataset.pipeline if step.type == 'Resize'] == [(64, 64)] * 2, name
        searched = name.startswith('searched')
        assert list(cfg.model.backbone.stage_blocks) == (results[0]['stage_blocks'] if searched else [2, 2, 2, 2])
        assert list(cfg.model.backbone.get('dilations_per_block') or [1] * 8) == \
            (results[0]['dilations_per_block'] if searched else [1] * 8)
        assert (cfg.train_cfg, cfg.param_scheduler, cfg.optim_wrapper) == (
            dumped['standard_s1'].train_cfg, dumped['standard_s1'].param_scheduler, dumped['standard_s1'].optim_wrapper)
    assert set(report['goal']) == {'difference', 'larger_std', 'searched_above_by_more_than_1_std', 'stable_choice'}


def test_benchmark_run_that_fails_stops_with_its_exit_status_and_keeps_its_console(tmp_path, monkeypatch):
    """The benchmark's own reading of a failed tools/train.py subprocess (the smoke run above replaces the
    subprocess and only succeeds): the run's name, its exit status and its stderr's end in the error, its output
    kept in ``<work>.console.log`` (the work dir was never made)."""
    bench = _bench()
    seen = []

    def failing(argv, cwd, env, **kwargs):
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 3, 'started\n', 'ValueError: planted\n')

    monkeypatch.setattr(bench, 'subprocess', SimpleNamespace(run=failing))
    with pytest.raises(RuntimeError, match=r'^search_s0 failed \(exit 3\):\nValueError: planted'):
        bench._run(Config(dict(work_dir='unused')), str(tmp_path), 'search_s0', None)
    assert seen[0][:2] == [sys.executable, 'tools/train.py']
    assert (tmp_path / 'search_s0.console.log').read_text() == 'started\nValueError: planted\n'


class _Started(Exception):
    pass


@pytest.mark.parametrize('omp, expected, jobs', [(None, '2', '2'), ('3', '3', '2'), (None, '2', '4')])
def test_benchmark_jobs_share_the_cores_unless_omp_num_threads_is_set(tmp_path, monkeypatch, capsys, omp, expected,
                                                                      jobs):
    """``--jobs 2`` started two tools/train.py runs each with torch's default thread count (2 x cores threads on the
    cores) where OMP_NUM_THREADS was unset; now each gets cores // jobs (4 cores here: 2), said once on stderr, as
    torchrun does, and a set OMP_NUM_THREADS is kept. ``--jobs 4`` over 2 searches starts 2: each gets 2, not 1
    (half the cores were idle). The subprocess is a stand-in: no training."""
    bench = _bench()
    options = sys.modules['_options']
    monkeypatch.setattr('automl_mm.engine.launch.usable_cpus', lambda: 4)
    if omp is None:
        monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    else:
        monkeypatch.setenv('OMP_NUM_THREADS', omp)
    submitted = []

    def recorded(cfg, work_root, name, done, threads=None):
        submitted.append(threads)
        raise _Started

    monkeypatch.setattr(bench, '_run', recorded)
    monkeypatch.setattr(bench, 'ensure_fmnist_det', lambda root: None)
    monkeypatch.setattr(bench, '_arch_val_images', lambda cfg: 10 ** 6)
    with pytest.raises(_Started):
        bench.main(['--jobs', jobs, '--search-seeds', '0', '1', '--work-dir', str(tmp_path / 'w')])
    assert submitted and all(threads == ({} if omp else {'OMP_NUM_THREADS': '2'}) for threads in submitted)
    err = capsys.readouterr().err
    assert err.count('OMP_NUM_THREADS is unset') == (0 if omp else 1)
    if jobs == '4':  # the retrainings (2 arms x 1 seed) split the cores by the 2 that start, too
        submitted.clear()
        with pytest.raises(_Started):
            bench.main(['--jobs', jobs, '--allocation', '1', '1', '1', '1', '--seeds', '0', '--work-dir',
                        str(tmp_path / 'a')])
        assert submitted == [{'OMP_NUM_THREADS': '2'}] * 2
        assert 'each of the 2 retrainings at a time gets 2 thread(s)' in capsys.readouterr().err

    seen = []  # a fresh module's _run puts them in the run's environment, over what it copied from os.environ
    bench = _bench()
    monkeypatch.setattr(bench, 'subprocess', SimpleNamespace(
        run=lambda argv, cwd, env, **kwargs: seen.append(env) or subprocess.CompletedProcess(argv, 0, '', '')))
    bench._run(Config(dict(work_dir='unused')), str(tmp_path), 's', None, options.threads_per_run(2))
    assert seen[-1]['OMP_NUM_THREADS'] == expected
    assert options.threads_per_run(1) == {}  # one run at a time: torch's default, as before
    assert options.threads_per_run(8, {}) == {'OMP_NUM_THREADS': '1'}  # at least 1
    assert options.threads_per_run(2, {'OMP_NUM_THREADS': ' '}) == {'OMP_NUM_THREADS': '2'}  # blank: unset
