"""A copy of several ranks reads its reward split sharded (``RewardScorer.score`` with the copy's process group): each
rank a block of the split's batches with the lead's buffers, the results collected on the lead, which alone
re-estimates BatchNorm statistics (``bn_recalibration_batches``) and alone loads the clean batches for it. The
reward is the one rank reading the whole split alone gets, bit for bit, and every rank keeps its own statistics. A
real 2-copy x 2-rank run: ``test_copies_of_two_ranks_run.py``."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _bn_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    return [b.clone() for b in model.buffers()]


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator

    from automl_mm.engine.evaluate import HeldOutEvaluator, build_local_loader, cycle_batches
    from automl_mm.ohl.reward import RewardScorer, clean_train_loader_cfg, copy_all_valid
    from automl_mm.registry import METRICS, MODELS
    from automl_mm.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    join_gloo(rank, 2, init_file)
    cfg = Config.fromfile(OHL)
    cfg.train_dataloader.dataset.max_samples = 48
    clean_cfg, _ = clean_train_loader_cfg(cfg, None)
    clean = build_local_loader(dict(clean_cfg, batch_size=16), 'clean', 'train')
    reward_loader = dict(cfg.reward_dataloader, batch_size=16)
    reward_loader['dataset'] = dict(reward_loader['dataset'], max_samples=60)  # batches of 16, 16 | 16, 12
    runner = SimpleNamespace(cfg=cfg, build_evaluator=lambda m: Evaluator([METRICS.build(m)]))
    scorer = RewardScorer('log_likelihood/mean', bn_recalibration_batches=2)
    scorer.held_out = HeldOutEvaluator('reward', 'log_likelihood/mean', 'OHLHook', reward_loader,
                                       dict(type='LogLikelihood')).build(runner)
    if rank == 0:  # the lead alone holds the clean batches (RewardScorer.build(is_lead=False) loads none)
        scorer.bn_batches = list(cycle_batches(clean, 0, 2))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # the same weights on both ranks, as DDP keeps them
    model.train()
    with torch.no_grad():  # each rank's own statistics, of its own ("augmented") shard, as plain DDP leaves them
        for data in cycle_batches(clean, 0, 3):
            model.extract_feat(model.data_preprocessor(data, True)['inputs'] * 3.0 + 2.0 + rank)
    own = _bn_buffers(model)
    out = {}
    if rank == 0:  # the lead reading the whole split alone, as every copy of one rank does
        out['alone'] = scorer.score(model)
        scorer.bn_recalibration_batches = 0
        out['alone_plain'] = scorer.score(model)
        scorer.bn_recalibration_batches = 2
    group = torch_dist.new_group([0, 1])
    # a copy reads only where all its ranks are valid: the reading is collective, and one rank of the copy that
    # skipped it while the other read would leave that one waiting
    out['valid'] = [copy_all_valid(rank == 0, group), copy_all_valid(True, group)]
    out['shared'] = scorer.score(model, group)
    out['own_kept'] = all(torch.equal(a, b) for a, b in zip(own, _bn_buffers(model)))
    scorer.bn_recalibration_batches = 0
    out['shared_plain'] = scorer.score(model, group)
    out['own_kept_plain'] = all(torch.equal(a, b) for a, b in zip(own, _bn_buffers(model)))
    # a split of one batch: the lead's block is empty, the other rank reads it all
    one_batch = dict(reward_loader, dataset=dict(reward_loader['dataset'], max_samples=10))
    scorer.held_out = HeldOutEvaluator('reward', 'log_likelihood/mean', 'OHLHook', one_batch,
                                       dict(type='LogLikelihood')).build(runner)
    if rank == 0:
        out['one_batch_alone'] = scorer.score(model)
    out['one_batch_shared'] = scorer.score(model, group)
    torch.save(out, osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


@pytest.mark.slow  # two gloo ranks forked from the preloaded forkserver
def test_a_copy_of_two_ranks_reads_its_reward_sharded_as_its_lead_alone_would(tmp_path):
    fork_ranks(_worker, args=(str(tmp_path / 'init'), str(tmp_path)))
    lead, other = (torch.load(str(tmp_path / f'rank{rank}.pth'), weights_only=False) for rank in range(2))
    # the lead's reward is the whole-split reading's, exactly: with the statistics it re-estimated alone, and with its
    # own statistics (the other rank read its block with the lead's, not its own)
    assert lead['shared'] == lead['alone'] and not lead['shared'][1]
    assert lead['shared_plain'] == lead['alone_plain']
    assert lead['shared'][0] != lead['shared_plain'][0]  # the re-estimation changed the reading
    assert other['shared'] is None and other['shared_plain'] is None  # the lead alone computes the reward
    assert lead['one_batch_shared'] == lead['one_batch_alone'] and other['one_batch_shared'] is None
    for out in (lead, other):  # each rank trains on with its own statistics
        assert out['own_kept'] and out['own_kept_plain']
        assert out['valid'] == [False, True]
