"""PCNASLoop end to end on digits with a real mmengine Runner: outputs, cost limits, resume mid-stage, ranks."""
from __future__ import annotations

import glob
import json
import math
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from test_nas._cr_digits import use_cr_resnet

from automl_mm.nas import FlopsTable, LatencyTable, PathEvaluator
from automl_mm.nas.spaces import LayerwiseSpace

from conftest import REPO_ROOT, run_tool

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
TINY = dict(warmup_iters=4, stage_iters=2, pool_size=2, num_samples=2, batches_per_sample=1,
            bn_recalibration_batches=1, checkpoint_interval_s=0)


def _cfg(work_dir: str, **train_cfg) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.train_cfg.update(TINY)
    cfg.train_cfg.update(train_cfg)
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 3
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    return cfg


def _latency_table(**timing):
    """The digits search model's supernet and its latency table, the classifier head included (as
    tools/measure_latency.py measures it: the search refuses a table without the model's head)."""
    from automl_mm.nas.latency import model_head
    from automl_mm.registry import MODELS

    model = MODELS.build(Config.fromfile(CONFIG).model)
    net = model.backbone
    return net, LatencyTable.measure(net, (1, 3, 16, 16), head=model_head(model, net), **timing)


def _result(work_dir: str) -> dict:
    with open(osp.join(work_dir, 'search', 'pc_nas_result.json')) as f:
        return json.load(f)


def test_search_writes_final_pool_and_a_retrain_config(tmp_path):
    work = str(tmp_path / 'run')
    # trained enough for the reward accuracy to tell the operators apart, scored on 96 of the reward split's 359
    # images (the whole split, 23 batches for each of the 42 scorings, took most of the test's time)
    # a checkpoint after each step only (TINY's 0 saved one after every round of candidates: nothing reads them here)
    runner = Runner.from_cfg(_cfg(work, warmup_iters=60, stage_iters=10, batches_per_sample=6,
                                  checkpoint_interval_s=math.inf))
    runner.train()
    result = _result(work)
    pool = result['final_pool']
    assert len(pool) == 2 and result['cost'] == 'flops'
    assert [h['decided'] for h in result['history']] == [1, 2, 3, 4]
    # each stage kept the two best candidates, every candidate being an extension of the previous pool
    for prev, step in zip(result['history'], result['history'][1:]):
        assert all(c[:-1] in prev['pool'] for c, _ in step['candidates'])
        assert step['pool'] == [c for c, _ in step['candidates'][:2]]
    supernet = runner.model.backbone
    flops = FlopsTable.from_supernet(supernet, (1, 3, 16, 16))
    for entry in pool:
        assert entry['flops'] == flops.flops(supernet, entry['path']) <= 3.5e6
        assert entry['arch'] == supernet.arch_names(entry['path'])
    assert pool[0]['potential'] >= pool[1]['potential']
    # real scores, not tie-breaks: the candidates of every step differ, and each step kept its best scored
    # (null: a candidate with no completion under the FLOPs limit, scored -inf)
    for step in result['history']:
        scored = [(c, s) for c, s in step['candidates'] if s is not None]
        scores = [s for _, s in scored]
        assert len(set(scores)) > 1 and max(scores) > 0, step
        assert step['pool'][0] == max(scored, key=lambda cs: cs[1])[0]
        assert all(s is not None for _, s in step['candidates'][:len(scored)])  # null ranks last
    assert pool[0]['potential'] == max(s for _, s in result['history'][-1]['candidates'] if s is not None)
    # the exported config trains the chosen architecture from scratch
    final = Config.fromfile(osp.join(work, 'search', 'pc_nas_final_config.py'))
    assert final.model.backbone.arch == pool[0]['arch']
    assert final.train_cfg.type == 'EpochBasedTrainLoop'


def test_latency_limit_filters_every_scored_completion(tmp_path, monkeypatch):
    work = str(tmp_path / 'lat')
    net, table = _latency_table(repeats=3, warmup=1)
    table_file = str(tmp_path / 'lut.json')
    table.save(table_file)
    space = LayerwiseSpace()
    space.bind(net)
    latencies = sorted(table.latency(net, p) for p in space.completions(()))
    limit = latencies[len(latencies) // 2]
    evaluated = []
    original = PathEvaluator.__call__

    def spy(self, path, sample_index=0):
        evaluated.append(tuple(path))
        return original(self, path, sample_index)

    monkeypatch.setattr(PathEvaluator, '__call__', spy)
    # (checkpoint_interval_s=inf in this test's runs: a checkpoint after each step only, nothing reads the others)
    cfg = _cfg(work, latency_table=table_file, latency_limit=limit, flops_limit=None, checkpoint_interval_s=math.inf)
    Runner.from_cfg(cfg).train()
    assert evaluated and all(table.latency(net, p) <= limit for p in evaluated)
    assert all(e['latency_ms'] <= limit for e in _result(work)['final_pool'])
    # a latency table beside a FLOPs bound is still reported (it was loaded, checked and dropped)
    work = str(tmp_path / 'flops_bound')
    Runner.from_cfg(_cfg(work, latency_table=table_file, checkpoint_interval_s=math.inf)).train()
    result = _result(work)
    assert result['cost'] == 'flops' and result['cost_limit'] == 3.5e6
    assert [e['latency_ms'] for e in result['final_pool']] == [table.latency(net, e['path'])
                                                               for e in result['final_pool']]


def test_bad_cost_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match='latency_limit needs train_cfg.latency_table'):
        Runner.from_cfg(_cfg(str(tmp_path / 'a'), latency_limit=1.0, flops_limit=None)).train()
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(ValueError, match='bad.json'):
        Runner.from_cfg(_cfg(str(tmp_path / 'b'), latency_table=str(bad), latency_limit=1.0,
                             flops_limit=None)).train()


def test_scoring_completion_budgets_are_config_keys(tmp_path):
    loop = Runner.from_cfg(_cfg(str(tmp_path / 'c'), completion_sampler=dict(
        type='UniformPathSampler', max_tries=7, enumerate_limit=3))).train_loop
    assert (loop.uniform.max_tries, loop.uniform.enumerate_limit) == (7, 3) and loop.uniform.space is loop.space
    # the README's form: the budgets alone configure the default UniformPathSampler (they stopped the run with
    # mmengine's 'must contain the key "type"'), as do --cfg-options train_cfg.completion_sampler.max_tries=...
    loop = Runner.from_cfg(_cfg(str(tmp_path / 'f'), completion_sampler=dict(max_tries=5, enumerate_limit=0),
                                sampler=dict())).train_loop
    assert type(loop.uniform).__name__ == 'UniformPathSampler' and type(loop.sampler).__name__ == 'PoolPathSampler'
    assert (loop.uniform.max_tries, loop.uniform.enumerate_limit) == (5, 0)
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'd'), completion_sampler=dict(type='Categorical', num_choices=2)))
    with pytest.raises(TypeError, match='completion_sampler must build a UniformPathSampler'):
        _ = runner.train_loop
    # a PoolPathSampler is a UniformPathSampler too, but it would train the warm-up on its pool only
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'e'), completion_sampler=dict(type='PoolPathSampler', pool=[[2]])))
    with pytest.raises(TypeError, match='not a pool.s PoolPathSampler'):
        _ = runner.train_loop


class _Interrupt(Exception):
    pass


def kill_after_scores(monkeypatch, scores: int, run) -> None:
    """Run ``run()`` with ``PathEvaluator`` raising :class:`_Interrupt` (a kill) when ``scores`` paths were scored;
    the evaluator is restored afterwards."""
    calls = {'n': 0}
    original = PathEvaluator.__call__

    def dying(self, path, sample_index=0):
        if calls['n'] == scores:
            raise _Interrupt
        calls['n'] += 1
        return original(self, path, sample_index)

    monkeypatch.setattr(PathEvaluator, '__call__', dying)
    with pytest.raises(_Interrupt):
        run()
    monkeypatch.setattr(PathEvaluator, '__call__', original)


def test_resume_in_the_middle_of_a_stage_gives_the_same_pool(tmp_path, monkeypatch):
    reference = str(tmp_path / 'reference')
    # uninterrupted, a checkpoint after each step only (the killed run below saves one after every round, as it must)
    Runner.from_cfg(_cfg(reference, checkpoint_interval_s=math.inf)).train()

    # kill the run in the middle of stage 2's scoring pass (after 3 candidates were scored and checkpointed)
    work = str(tmp_path / 'killed')
    stage1 = 3  # the digits space's first layer has 3 candidates
    kill_after_scores(monkeypatch, (stage1 + 3) * TINY['num_samples'], lambda: Runner.from_cfg(_cfg(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert 'search_stage2_partial' in f.read()

    scored_after_resume = []
    original = PathEvaluator.__call__

    def counting(self, path, sample_index=0):
        scored_after_resume.append(tuple(path))
        return original(self, path, sample_index)

    # Other scoring settings in the middle of the step would rank its 3 finished candidates (potentials over 2
    # completions) against the rest (over 3, or read with BN re-estimated on 2 batches): refused, naming the key
    for key, value in (('num_samples', 3), ('bn_recalibration_batches', 2)):
        cfg = _cfg(work, **{key: value})
        cfg.resume = True
        with pytest.raises(ValueError, match=rf'middle of a scoring step scored with train_cfg.{key}='
                                             rf'{TINY[key]}, this run sets train_cfg.{key}={value}'):
            Runner.from_cfg(cfg).train()
    # ... and so would scores read on batches of another size (the search split's loader, resolved to the
    # top-level reward_dataloader here): the ranking of the step changed without a word
    cfg = _cfg(work)
    cfg.reward_dataloader.batch_size = 8
    cfg.resume = True
    with pytest.raises(ValueError, match=r"middle of a scoring step scored with reward_dataloader=.*'batch_size': "
                                         r"16.*this run sets reward_dataloader=.*'batch_size': 8"):
        Runner.from_cfg(cfg).train()
    monkeypatch.setattr(PathEvaluator, '__call__', counting)
    cfg = _cfg(work, checkpoint_interval_s=math.inf)  # nothing reads the resumed run's checkpoints after every round
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    ref, res = _result(reference), _result(work)
    assert res['history'] == ref['history']  # the same scores, pools and final pool
    assert res['final_pool'] == ref['final_pool']
    # stage 2's first three candidates were not scored again
    n_stage2 = len(ref['history'][1]['candidates'])
    n_rest = sum(len(h['candidates']) for h in ref['history'][2:])
    assert len(scored_after_resume) <= (n_stage2 - 3 + n_rest) * TINY['num_samples']


def test_a_resume_mid_step_with_another_latency_table_is_refused(tmp_path, monkeypatch):
    """Under latency_limit the latency table decides which completions a potential averages over. A search killed in
    the middle of stage 2's scoring and resumed with a table measured on another device (other costs, the same
    keys and supernet) scored the step's remaining candidates on other completions than its finished ones, without
    a word: refused now, naming train_cfg.latency_table. The same table under another file name resumes."""
    import shutil

    net, table = _latency_table(repeats=3, warmup=1)
    table_file, copied = str(tmp_path / 'lut.json'), str(tmp_path / 'copy_of_lut.json')
    table.save(table_file)
    shutil.copy(table_file, copied)
    other_device = LatencyTable({k: 1.2 * v for k, v in table.entries.items()}, 1.2 * table.fixed, table.input_shape,
                                dict(table.meta, device='cuda: another GPU'))
    other_file = str(tmp_path / 'lut_other_device.json')
    other_device.save(other_file)
    space = LayerwiseSpace()
    space.bind(net)
    latencies = sorted(table.latency(net, p) for p in space.completions(()))
    limit = latencies[3 * len(latencies) // 4]

    work = str(tmp_path / 'killed')
    calls = {'n': 0}
    original = PathEvaluator.__call__

    def dying(self, path, sample_index=0):
        if calls['n'] == (3 + 3) * TINY['num_samples']:  # stage 1's 3 candidates and 3 of stage 2
            raise _Interrupt
        calls['n'] += 1
        return original(self, path, sample_index)

    monkeypatch.setattr(PathEvaluator, '__call__', dying)
    with pytest.raises(_Interrupt):
        Runner.from_cfg(_cfg(work, latency_table=table_file, latency_limit=limit, flops_limit=None)).train()
    monkeypatch.setattr(PathEvaluator, '__call__', original)
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert '_partial' in f.read()
    cfg = _cfg(work, latency_table=other_file, latency_limit=limit, flops_limit=None)
    cfg.resume = True
    with pytest.raises(ValueError, match=rf"middle of a scoring step scored with train_cfg.latency_table=\{{'digest': "
                                         rf"'{table.digest()}', 'device': '.*'\}}, this run sets "
                                         rf"train_cfg.latency_table=\{{'digest': '{other_device.digest()}', "
                                         r"'device': 'cuda: another GPU'\}"):
        Runner.from_cfg(cfg).train()
    # (nothing reads this resumed run's checkpoints after every round: one after each step)
    cfg = _cfg(work, latency_table=copied, latency_limit=limit, flops_limit=None, checkpoint_interval_s=math.inf)
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    assert all(e['latency_ms'] <= limit for e in _result(work)['final_pool'])


def test_scoring_settings_hold_what_decides_the_admitted_completions(tmp_path):
    """The cost limit and what the costs are read from: under flops_limit the per-image shape the FLOPs are counted
    at (another one scores other completions; the batch size of input_shape is not part of it)."""
    loop = Runner.from_cfg(_cfg(str(tmp_path / 'f'), input_shape=(4, 3, 16, 16))).train_loop
    settings = loop.scoring_settings()
    assert settings['train_cfg.flops_limit'] == 3.5e6 and settings['train_cfg.input_shape'] == [3, 16, 16]
    assert 'train_cfg.latency_table' not in settings
    # the completion sampler too: under another enumerate_limit the step's other candidates were averaged over
    # other completions (rejection draws instead of exact ones) and ranked with the finished ones, silently
    assert settings['train_cfg.completion_sampler'] == {'type': 'UniformPathSampler', 'enumerate_limit': 100_000,
                                                        'max_tries': 10_000}
    loop.pool.record(loop.pool.candidates()[0], 0.5)  # a step partly scored
    loop.check_resumed_scoring(settings)
    loop.uniform.enumerate_limit = 0
    with pytest.raises(ValueError, match=r"train_cfg.completion_sampler=\{'type': 'UniformPathSampler', "
                                         r"'enumerate_limit': 100000, 'max_tries': 10000\}, this run sets "
                                         r"train_cfg.completion_sampler=\{.*'enumerate_limit': 0"):
        loop.check_resumed_scoring(settings)


@pytest.mark.slow
def test_two_ranks_split_the_scoring_and_agree(tmp_path):
    """torchrun with 2 gloo ranks: DDP supernet training on one path per iteration, scoring split and gathered."""
    work = str(tmp_path / 'two')
    opts = ['train_cfg.warmup_iters=4', 'train_cfg.stage_iters=2', 'train_cfg.pool_size=2', 'train_cfg.num_samples=2',
            'train_cfg.batches_per_sample=1', 'train_cfg.bn_recalibration_batches=1', 'train_dataloader.batch_size=8',
            'reward_dataloader.batch_size=16', 'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    run_tool('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29561', 'tools/train.py',
             CONFIG, '--launcher', 'pytorch', '--work-dir', work, '--cfg-options', *opts, timeout=600)
    result = _result(work)
    assert len(result['final_pool']) == 2
    assert [h['decided'] for h in result['history']] == [1, 2, 3, 4]
    log = ''.join(open(p).read() for p in glob.glob(osp.join(work, '*', '*.log')))
    assert 'Distributed training: True' in log
    assert '[stage1] scoring 3 candidates (0 already scored) on 2 ranks' in log


def test_cosine_schedule_spans_the_derived_search_length(tmp_path):
    """The config leaves T_max out: mmengine derives it from the loop's warmup_iters + L x stage_iters, which is
    the 1800 the config used to write by hand (600 + 4 layers x 300)."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    assert 'T_max' not in cfg.param_scheduler[0]
    runner = Runner.from_cfg(cfg)
    loop = runner.build_train_loop(runner._train_loop)
    runner._train_loop = loop
    assert loop.max_iters == 600 + 4 * 300 == 1800
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    (scheduler, ) = runner.build_param_scheduler(runner.param_schedulers)
    assert scheduler.T_max == 1800


@pytest.mark.parametrize('override, key', [(dict(T_max=1000), r'param_scheduler\[0\]\.T_max=1000'),
                                           (dict(end=5000), r'param_scheduler\[0\]\.end=5000')])
def test_a_schedule_that_disagrees_with_the_search_length_is_refused(tmp_path, override, key):
    cfg = _cfg(str(tmp_path))  # 4 + 4 layers x 2 = 12 iterations
    cfg.param_scheduler[0].update(override)
    with pytest.raises(ValueError, match=key + r'.*warmup_iters=4 \+ 4 layers x stage_iters=2'):
        Runner.from_cfg(cfg).train()
    cfg.param_scheduler[0].update(T_max=12, end=12)  # explicit and right: accepted
    from automl_mm.nas.loop import check_schedule_span
    check_schedule_span(cfg.param_scheduler, 12, '')


def test_bn_re_estimation_batches_are_the_same_for_every_path_call_and_rank(tmp_path):
    """The Fashion-MNIST search trains with random crops and flips. BN re-estimation used to draw those batches
    through the training pipeline at every call, so one path scored differently each time (by up to 1.2 points
    after 250 iterations), two paths could swap order, and ranks re-estimated on different images in `finish`."""
    import random

    import numpy as np
    import torch

    def build(seed_before: int):
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-fmnist_1x1_1800it_fmnist.py'))
        cfg.work_dir = str(tmp_path / f'run{seed_before}')
        cfg.train_cfg.update(TINY, bn_recalibration_batches=2)
        cfg.train_dataloader.batch_size = 8
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
        runner = Runner.from_cfg(cfg)
        random.seed(seed_before)  # another rank, or the same rank later in the search: other global RNG states
        np.random.seed(seed_before)
        torch.manual_seed(seed_before)
        return runner, runner.train_loop

    _, loop = build(1)
    state = np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state()
    first = [b['inputs'] for b in loop._bn_loader()]
    after = np.random.get_state()[1], random.getstate(), torch.get_rng_state()
    again = [b['inputs'] for b in loop._bn_loader()]
    other = [b['inputs'] for b in build(2)[1]._bn_loader()]
    assert len(first) == 2
    for batch_a, batch_b, batch_c in zip(first, again, other):
        assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(batch_a, batch_b, batch_c))
    # drawing them left the global RNGs as they were (the search's own draws do not shift)
    assert np.array_equal(after[0], state[0]) and after[1] == state[1] and torch.equal(after[2], state[2])
    # the pipeline is random: without the fixed seed the same images come out differently
    from automl_mm.engine.evaluate import build_local_loader

    loader = build_local_loader(loop.runner.cfg.train_dataloader, 'train_dataloader', 'train')
    assert not all(torch.equal(a, b) for a, b in zip(next(iter(loader))['inputs'], next(iter(loader))['inputs']))


def test_load_from_starts_a_new_search_and_resume_keeps_the_seed(tmp_path):
    """load_from (weights only) restored the old search: a new run with another flops_limit scored nothing and
    re-exported the old pool, one member over its limit. And the loop took runner.seed before the resume put the
    checkpoint's back (randomness.seed unset): a resumed search scored its candidates on other completions."""
    first = str(tmp_path / 'first')
    cfg = _cfg(first, checkpoint_interval_s=math.inf)  # the final checkpoint is read, not the ones after every round
    cfg.randomness = dict(seed=None)
    runner = Runner.from_cfg(cfg)
    runner.train()
    seed = runner.train_loop.seed
    with open(osp.join(first, 'last_checkpoint')) as f:
        final = f.read().strip()

    scored = []
    original = PathEvaluator.__call__

    def spy(self, path, sample_index=0):
        scored.append(tuple(path))
        return original(self, path, sample_index)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PathEvaluator, '__call__', spy)
        second = str(tmp_path / 'second')
        cfg = _cfg(second, flops_limit=2.3e6, checkpoint_interval_s=math.inf)  # its round checkpoints: unread
        cfg.load_from = final
        Runner.from_cfg(cfg).train()
    result = _result(second)
    assert scored and [h['decided'] for h in result['history']] == [1, 2, 3, 4]
    assert all(e['flops'] <= 2.3e6 for e in result['final_pool'])

    resumed = _cfg(first, checkpoint_interval_s=math.inf)
    resumed.randomness = dict(seed=None)
    resumed.resume, resumed.load_from = True, final
    runner = Runner.from_cfg(resumed)
    runner.train()
    assert runner.train_loop.seed == seed


@pytest.mark.parametrize('key, value', [('num_samples', 0), ('batches_per_sample', 0), ('num_samples', 1.5)])
def test_scoring_counts_that_score_nothing_are_named(tmp_path, key, value):
    with pytest.raises(ValueError, match=f'train_cfg.{key} must be'):
        _ = Runner.from_cfg(_cfg(str(tmp_path / 'bad'), **{key: value})).train_loop


def test_a_search_without_any_training_is_refused(tmp_path):
    """warmup_iters=0 and stage_iters=0 scored every candidate on the untrained supernet and exported a pool."""
    with pytest.raises(ValueError, match='warmup_iters and train_cfg.stage_iters are both 0'):
        _ = Runner.from_cfg(_cfg(str(tmp_path / 'none'), warmup_iters=0, stage_iters=0)).train_loop


def test_a_retrain_config_that_does_not_exist_is_named_at_start(tmp_path):
    """The export wrote _base_ = abspath(retrain_config) at the end of the search: run from another directory,
    the exported config pointed at a missing file."""
    with pytest.raises(ValueError, match="train_cfg.retrain_config not found: 'nowhere/retrain.py'"):
        _ = Runner.from_cfg(_cfg(str(tmp_path / 'r'), retrain_config='nowhere/retrain.py')).train_loop


def test_more_batches_per_sample_than_the_search_split_holds_stop_before_training(tmp_path):
    """cycle_batches wrapped around: one evaluation scored some images twice (a COCO mAP fell from 0.519 to 0.434
    with 5 batches of a 3-batch split, the repeated boxes counted as false positives)."""
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'r'), batches_per_sample=10_000))
    with pytest.raises(ValueError, match=r'train_cfg.batches_per_sample=10000 is more than the search split\'s '
                                         r'\d+ batches: one evaluation would score some images twice'):
        runner.train()
    assert runner.iter == 0  # refused before the supernet trained


@pytest.mark.parametrize('searched, differs', [
    (dict(stem_channels=24, out_channels=128), 'Conv2d'),
    (dict(act_cfg=dict(type='ReLU')), 'ReLU'),  # the parameter-count digest checked before let these two through
    (dict(norm_cfg=dict(type='GN', num_groups=4)), 'GroupNorm')])
def test_a_retrain_config_of_another_supernet_is_refused_at_start(tmp_path, searched, differs):
    """The export writes only `arch` over retrain_config: a search with stem 24 / out_channels 128 exported a
    network of the retrain config's 16 / 64, one with ReLU or GroupNorm a network with ReLU6 / BatchNorm, silently."""
    cfg = _cfg(str(tmp_path / 'wide'))
    cfg.model.backbone.update(searched)
    cfg.model.head.in_channels = searched.get('out_channels', cfg.model.head.in_channels)
    with pytest.raises(ValueError, match=r'retrain_config .*pc-nas-retrain_mbconv-digits_1x1_30e_digits.py: its '
                                         r'model.backbone is another network than the searched one, but the export '
                                         rf'sets only arch over it \(first difference, module line \d+: .*{differs}'):
        _ = Runner.from_cfg(cfg).train_loop


def test_a_retrain_config_spelling_out_the_searched_defaults_is_accepted(tmp_path):
    """Configs that differ only in how they write the same network (a default given explicitly) build the same
    modules: no refusal."""
    cfg = _cfg(str(tmp_path / 'same'))
    cfg.model.backbone.update(act_cfg=dict(type='ReLU6'))  # the supernet's default, which the retrain config omits
    _ = Runner.from_cfg(cfg).train_loop


@pytest.mark.parametrize('key, value, match', [
    ('sampler', dict(type='PoolPathSampler', pool=[[2]]), r'train_cfg\.sampler\.pool=.*set by the search'),
    ('sampler', dict(type='PoolPathSampler', space=dict(type='LayerwiseSpace')), r'train_cfg\.sampler\.space=.*'
     r'train_cfg\.space'),
    ('completion_sampler', dict(type='UniformPathSampler', space=dict(type='LayerwiseSpace')),
     r'train_cfg\.completion_sampler\.space=.*train_cfg\.space')])
def test_sampler_settings_the_loop_sets_itself_are_refused(tmp_path, key, value, match):
    """A sampler's space (and PoolPathSampler's pool) are set by the loop from its search: written in the sampler's
    config they were replaced without a word (the search ran over train_cfg.space and its own pools)."""
    with pytest.raises(ValueError, match=match):
        _ = Runner.from_cfg(_cfg(str(tmp_path / 'bad'), **{key: value})).train_loop


@pytest.mark.parametrize('loop', ['PCNASLoop', 'CRNASLoop'])
def test_a_path_sampling_hook_beside_a_search_loop_is_refused(tmp_path, loop):
    """A search loop applies its own path before each iteration; a PathSamplingHook in custom_hooks applied another
    in before_train_iter, right after it, so the search trained the hook's uniform paths (not the pool's, nor the
    fixed allocation's dilations), and its val_path replaced the searched architecture in the final validation."""
    cfg = _cfg(str(tmp_path / 'hook'))
    if loop == 'CRNASLoop':
        use_cr_resnet(cfg)
        cfg.train_cfg = dict(type='CRNASLoop', stage_iters=2, spatial_iters=2, flops_input_shape=(3, 16, 16),
                             stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6),
                             search_evaluator=dict(type='Accuracy', topk=(1, )), metric_key='accuracy/top1')
        space = dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6)
    else:
        space = dict(type='LayerwiseSpace')
    cfg.custom_hooks = [dict(type='EMAHook'), dict(type='automl_mm.PathSamplingHook', space=space)]
    with pytest.raises(ValueError, match=rf'custom_hooks\[1\] is a PathSamplingHook.*train_cfg.type={loop}'):
        _ = Runner.from_cfg(cfg).train_loop


def test_a_constrained_space_of_ones_own_is_not_enumerated_to_start_the_search(tmp_path, monkeypatch):
    """The one-architecture check counted the space (size()), which enumerates a space whose class overrides
    is_valid (d299ebf): a LayerwiseSpace subclass of one's own over the ImageNet supernet (8 operators in each of 20
    layers) never started. Here 54 paths: building the loop called is_valid 139 times; it tells 'more than one
    path' from the first two, without listing the space."""
    from automl_mm.nas.spaces import LayerwiseSpace
    from automl_mm.registry import SEARCH_SPACES

    calls = []

    class HxCountingNoAllSkip(LayerwiseSpace):
        def is_valid(self, path):
            calls.append(tuple(path))
            return super().is_valid(path) and not all(v == 'skip' for v in self.values(path))

    monkeypatch.setitem(SEARCH_SPACES._module_dict, 'HxCountingNoAllSkip', HxCountingNoAllSkip)
    loop = Runner.from_cfg(_cfg(str(tmp_path / 'own'), space=dict(type='HxCountingNoAllSkip'))).train_loop
    paths = math.prod(len(options) for options in loop.space.options)
    assert paths == 54 and len(calls) < paths


def test_a_backbone_of_one_architecture_is_refused(tmp_path):
    """model.backbone.arch (the retrain configs' key) on the search config built one stand-alone network: the
    search trained it for its 1800 iterations and exported it as found, silently."""
    cfg = _cfg(str(tmp_path / 'one'))
    cfg.model.backbone.arch = ['k5e6', 'k5e6', 'k5e6', 'k5e6']
    with pytest.raises(ValueError, match=r"train_cfg\.space: the supernet holds one architecture, \['k5e6', 'k5e6', "
                                         r"'k5e6', 'k5e6'\], so there is nothing to search; model\.backbone\.arch="):
        _ = Runner.from_cfg(cfg).train_loop


def test_a_latency_table_without_the_classifier_head_is_refused(tmp_path):
    """tools/measure_latency.py timed the backbone only: under latency_limit the search admitted networks slower than
    the limit by the classifier head's time. A table measured so (no head recorded) is refused at build, naming
    the key; the same table with the head builds."""
    net, table = _latency_table(repeats=1, warmup=0)
    legacy, timed = str(tmp_path / 'backbone_only.json'), str(tmp_path / 'lut.json')
    LatencyTable.from_dict({k: v for k, v in table.to_dict().items() if k not in ('head', 'head_ms')}).save(legacy)
    table.save(timed)
    limit = 10 * table.fixed + sum(table.entries.values())
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'legacy'), latency_table=legacy, latency_limit=limit,
                                  flops_limit=None))
    with pytest.raises(ValueError, match=r'^train_cfg\.latency_table .*backbone_only\.json: the latency table timed '
                                         r'no head .*tools/measure_latency\.py'):
        runner.build_train_loop(runner._train_loop)
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'timed'), latency_table=timed, latency_limit=limit,
                                  flops_limit=None))
    assert runner.build_train_loop(runner._train_loop).cost_table.meta['head_ms'] > 0
