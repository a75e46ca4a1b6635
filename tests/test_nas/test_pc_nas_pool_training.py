"""PC-NAS trains stage i on paths whose first i - 1 decisions come from the pool kept by stage i - 1 (METHODS.md §4):
a loop that never handed its pool to the sampler trained every stage uniformly, and no test noticed."""
from __future__ import annotations

import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.nas import PoolPathSampler

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def _tiny_search(tmp_path, stage_iters: int, pool_size: int) -> Config:
    """The digits PC-NAS search at a few iterations per stage, one completion per partial model, no BN
    re-estimation, no validation."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'run')
    cfg.train_cfg.update(warmup_iters=2, stage_iters=stage_iters, pool_size=pool_size, num_samples=1,
                         batches_per_sample=1, bn_recalibration_batches=0, checkpoint_interval_s=1e9)
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def test_each_stage_trains_only_paths_through_the_previous_stages_pool(tmp_path, monkeypatch):
    # pool_size 1 of 3 operators: a uniform draw leaves the pool in 2 of 3 paths, so 6 paths per stage
    # all inside it by chance is (1/3)^6
    cfg = _tiny_search(tmp_path, stage_iters=6, pool_size=1)
    trained: dict[int, tuple] = {}
    original = PoolPathSampler.sample_at

    def spy(self, seed, iteration):
        path = original(self, seed, iteration)
        trained[int(iteration)] = tuple(path)
        return path

    monkeypatch.setattr(PoolPathSampler, 'sample_at', spy)
    Runner.from_cfg(cfg).train()
    with open(osp.join(cfg.work_dir, 'search', 'pc_nas_result.json')) as f:
        history = json.load(f)['history']
    assert len(history) >= 3
    assert sorted(trained) == list(range(2, 2 + 6 * len(history)))  # the pool sampler trained every stage
    for stage in range(1, len(history)):
        pool = [tuple(p) for p in history[stage - 1]['pool']]
        paths = [trained[it] for it in range(2 + 6 * stage, 2 + 6 * (stage + 1))]
        assert all(p[:stage] in pool for p in paths), (stage, pool, paths)


def test_each_stage_trains_from_every_entry_of_the_pool(tmp_path, monkeypatch):
    """The whole pool of K partial models is handed to the training sampler, and every entry is trained from:
    handing it the best entry alone (planted: ``set_pool(pool[:1])``) passed the test above, whose pool holds one."""
    cfg = _tiny_search(tmp_path, stage_iters=8, pool_size=2)
    handed, trained = [], {}
    set_pool, sample_at = PoolPathSampler.set_pool, PoolPathSampler.sample_at

    def spy_pool(self, pool):
        handed.append([tuple(p) for p in pool])
        return set_pool(self, pool)

    def spy_sample(self, seed, iteration):
        path = sample_at(self, seed, iteration)
        trained[int(iteration)] = tuple(path)
        return path

    monkeypatch.setattr(PoolPathSampler, 'set_pool', spy_pool)
    monkeypatch.setattr(PoolPathSampler, 'sample_at', spy_sample)
    Runner.from_cfg(cfg).train()
    with open(osp.join(cfg.work_dir, 'search', 'pc_nas_result.json')) as f:
        history = json.load(f)['history']
    pools = [[()]] + [[tuple(p) for p in step['pool']] for step in history[:-1]]
    assert handed[-len(pools):] == pools  # (the first call: the sampler's construction with no pool)
    for stage in range(1, len(history)):
        assert len(pools[stage]) == 2
        prefixes = {trained[it][:stage] for it in range(2 + 8 * stage, 2 + 8 * (stage + 1))}
        assert prefixes == set(pools[stage]), (stage, pools[stage], prefixes)
