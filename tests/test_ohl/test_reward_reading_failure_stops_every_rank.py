"""An exception on one rank at an OHL trunk end (its shard of the reward split holds a corrupt image, the lead's metric
or BN re-estimation fails, the main process's report write fails) stops every rank at once, each naming the rank
that failed and its error: the failing rank raises its own error, the others a ``RankFailure`` (a
``RuntimeError``). The other ranks of the copy used to wait in the results' gather (or the lead-buffer broadcast),
and the other copies at the trunk end's barrier, until the process group's timeout (30 minutes by default; here
15 s, so the unfixed code fails these tests instead of hanging them).

Real 2-rank gloo process groups, forked (``tests/_forked_ranks.py``), around ``OHLHook._end_trunk`` with a real
``RewardScorer`` reading a 6-item split in batches of 2 (one copy of 2 ranks: rank 0 reads items 0-1, rank 1
items 2-5; two copies of one rank: each reads all 6)."""
from __future__ import annotations

import contextlib
import os.path as osp
import threading
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, recording
from mmengine.evaluator import BaseMetric, Evaluator
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl.copies import init_copy_layout, reset_copy_layout
from automl_mm.ohl.hook import OHLHook
from automl_mm.ohl.reward import RewardScorer

TIMEOUT_S = 15  # the process groups' timeout: the unfixed code waits this long, then fails
PROMPT_S = 8  # a fixed run stops well within it


class _Split(Dataset):
    """6 items; item ``bad`` is a corrupt image (its read raises, as mmcv's LoadImageFromFile does)."""

    def __init__(self, bad: int | None) -> None:
        self.bad = bad

    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> dict:
        if i == self.bad:
            raise OSError(f'cannot identify image file data/reward/{i}.png')
        return {'x': float(i)}


class _Hits(BaseMetric):
    """``hits``: the mean of the items' ``x`` over 5 (the lead computes it); raises on the lead where ``fail``."""

    def __init__(self, fail: bool, unpicklable: bool = False) -> None:
        super().__init__()
        self.fail, self.unpicklable = fail, unpicklable

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)
        if self.unpicklable:  # a result holding a lock: pickle refuses it
            self.results.append(threading.Lock())

    def compute_metrics(self, results: list) -> dict:
        if self.fail:
            raise ValueError('planted metric error')
        return {'hits': sum(results) / 5 / len(results)}


class _Model(torch.nn.Module):
    """``val_step`` gives each item's ``x``; a BatchNorm layer for the re-estimation, whose pass (``extract_feat``)
    raises where ``fail_bn`` (the copy's lead alone runs it)."""

    def __init__(self, fail_bn: bool) -> None:
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(1)
        self.fail_bn = fail_bn
        self.data_preprocessor = lambda data, training: {'inputs': torch.tensor([[d['x']] for d in data])}

    def val_step(self, data: list) -> list:
        return [d['x'] for d in data]

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.fail_bn:
            raise RuntimeError('planted out of memory in the BN re-estimation')
        return self.bn(inputs)


def _join(rank: int, tmp: str, world_size: int = 2) -> None:
    """Start the gloo process group of ``world_size`` ranks (``tmp/init``) with the timeout :data:`TIMEOUT_S`."""
    join_gloo(rank, world_size, osp.join(tmp, 'init'), timeout=TIMEOUT_S)


def _hook(num_copies: int = 2, **kwargs) -> OHLHook:
    """An ``OHLHook`` of ``num_copies`` over one 2-way ``AttributeSpace`` (``lr``), trunks of one epoch, reward
    ``hits``."""
    return OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=num_copies, reward_key='hits', trunk_epochs=1, seed=0, **kwargs)


def _worker(rank: int, tmp: str, num_copies: int, ranks_per_copy: int, fail: dict) -> None:
    _join(rank, tmp, num_copies * ranks_per_copy)
    out: dict = {}
    try:
        layout = init_copy_layout(num_copies, ranks_per_copy, TIMEOUT_S)
        hook = _hook(num_copies, ranks_per_copy=ranks_per_copy, verify_sync=False)
        hook.layout = layout
        bn = fail.get('bn_rank') is not None
        scorer = RewardScorer('hits', bn_recalibration_batches=1 if bn else 0)
        scorer.held_out.loader = DataLoader(_Split(fail.get('item') if rank == fail.get('item_rank') else None),
                                            batch_size=2, collate_fn=list)
        scorer.held_out.evaluator = Evaluator([_Hits(rank == fail.get('metric_rank'),
                                                     rank == fail.get('unpicklable_rank'))])
        scorer.bn_batches = [[{'x': 1.0}, {'x': 2.0}]] if bn and layout.is_lead else None
        hook.scorer = scorer
        report = mock.Mock()
        if rank == fail.get('report_rank'):
            report.write.side_effect = OSError('[Errno 28] No space left on device: work_dirs/run/ohl/history.json')
        hook._report = report
        hook.spaces[0].record(torch.tensor([0]))
        space = hook.spaces[0]
        if rank == fail.get('stats_rank'):  # a space plugin's statistics fail on one rank
            space.trunk_stats = mock.Mock(side_effect=ZeroDivisionError('planted: no choices counted'))
        if rank == fail.get('values_rank'):  # a space plugin's applied values fail on one rank
            space.applied_values = mock.Mock(side_effect=LookupError('planted: no value applied at x'))
        hook._in_trunk, hook._trunk_iters = True, 4
        runner = SimpleNamespace(model=_Model(rank == fail.get('bn_rank')), logger=mock.Mock(), max_iters=100)
        # a rank that cannot tell whether its copy is valid (copy_is_valid raising on it alone)
        unreadable = mock.patch('automl_mm.ohl.trunk_end.copy_is_valid', side_effect=RuntimeError(
            'planted: CUDA error: an illegal memory access was encountered')) \
            if rank == fail.get('valid_rank') else contextlib.nullcontext()
        no_block = mock.patch('automl_mm.engine.evaluate.batch_block', side_effect=TypeError(
            'planted: batch_block needs an in-order DataLoader')) \
            if rank == fail.get('block_rank') else contextlib.nullcontext()
        with recording(out), mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'), unreadable, no_block:
            hook._end_trunk(runner, epoch=1, iters=4, partial=False)
            out['rewards'] = hook.history[-1]['rewards']
    finally:
        torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
        reset_copy_layout()
        torch_dist.destroy_process_group()


def _forked_outs(tmp_path, worker, args: tuple, world_size: int = 2) -> list[dict]:
    """What each rank of ``worker`` (forked, ``args`` after its rank) saved as ``rank<r>.pth`` in ``tmp_path``."""
    fork_ranks(worker, args, nprocs=world_size)
    return [torch.load(str(tmp_path / f'rank{r}.pth')) for r in range(world_size)]


def _run(tmp_path, num_copies: int, ranks_per_copy: int, **fail) -> list[dict]:
    return _forked_outs(tmp_path, _worker, (str(tmp_path), num_copies, ranks_per_copy, fail),
                        num_copies * ranks_per_copy)


@pytest.mark.parametrize('layout', [(1, 2), (2, 1)], ids=['sharded', 'lead-only'])
def test_the_harness_reads_the_reward_without_failures(tmp_path, layout):
    """The same harness without a failure: every copy's reward is the whole split's (mean x of items 0-5 over 5)."""
    for out in _run(tmp_path, *layout):
        assert 'error' not in out, out
        assert out['rewards'] == pytest.approx([0.5] * layout[0])


CASES = {
    # a corrupt image in rank 1's block (items 2-5) of a copy of 2 ranks: its lead waited in the results' gather
    'sharded-image': ((1, 2), dict(item_rank=1, item=3), 1, 'OSError: cannot identify image file data/reward/3.png'),
    # the lead's metric fails after the gather: the copy's other rank waited at the trunk end
    'sharded-metric': ((1, 2), dict(metric_rank=0), 0, 'ValueError: planted metric error'),
    # rank 1 of a copy of 2 ranks cannot tell whether the copy is valid (before the copy's validity all-reduce): its
    # lead, in that all-reduce, would wait for it while it met the other copies at the trunk end
    'sharded-validity': ((1, 2), dict(valid_rank=1), 1,
                         'RuntimeError: planted: CUDA error: an illegal memory access was encountered'),
    # rank 1's metric result cannot be pickled (pickle raised inside gather_object on rank 1 alone): its lead waited
    # in the gather
    'sharded-unpicklable': ((1, 2), dict(unpicklable_rank=1), 1, "TypeError: cannot pickle '_thread.lock' object"),
    # rank 1's block of the split cannot be built (batch_block ran before the reading's agreement)
    'sharded-block': ((1, 2), dict(block_rank=1), 1, 'TypeError: planted: batch_block needs an in-order DataLoader'),
    # the lead's BN re-estimation fails: the other rank waited in the lead-buffer broadcast
    'sharded-bn': ((1, 2), dict(bn_rank=0), 0, 'RuntimeError: planted out of memory in the BN re-estimation'),
    # two copies of one rank, copy 1 reads a corrupt image: copy 0 waited at the trunk end
    'lead-only-image': ((2, 1), dict(item_rank=1, item=3), 1,
                        'OSError: cannot identify image file data/reward/3.png'),
    # a space's statistics (before the rows' all-gather) or applied values (before their all_gather_object) fail
    # on one rank: the other waited in that gather
    'stats': ((2, 1), dict(stats_rank=1), 1, 'ZeroDivisionError: planted: no choices counted'),
    'applied-values': ((2, 1), dict(values_rank=1), 1, 'LookupError: planted: no value applied at x'),
    # the main process's report write fails: the other copy went on and waited at the next trunk end
    'report': ((2, 1), dict(report_rank=0), 0,
               'OSError: [Errno 28] No space left on device: work_dirs/run/ohl/history.json'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_one_ranks_failure_stops_every_rank_at_once_naming_it(tmp_path, case):
    layout, fail, failing, cause = CASES[case]
    outs = _run(tmp_path, *layout, **fail)
    assert outs[failing]['error'] == cause  # the failing rank raises its own error
    other = outs[1 - failing]
    assert other['error'].startswith('RankFailure: '), other
    assert f'failed on rank {failing} ({cause}); every rank stops here' in other['error'], other
    for out in outs:  # at once, not after the process group's timeout
        assert out['seconds'] < PROMPT_S, out


class _Space(SimpleNamespace):
    def resolve(self, runner):
        pass

    def setup(self, runner, layout, seed):
        if self.fail:
            raise FileNotFoundError('planted: data/policy_start.json not found')


def _start_worker(rank: int, tmp: str, step: str) -> None:
    """``before_train`` of two copies of one rank whose copy 1's lead fails in ``step``: loading its clean BN batches
    (``'build'``: the lead alone loads them) or a space's ``setup`` (``'setup'``: plugin code), before the copies'
    first broadcast."""
    _join(rank, tmp)
    out: dict = {}
    checks = ('check_train_setup', 'check_accumulation', 'check_trunk_fits', 'check_checkpoint_schedule',
              'check_val_schedule', 'check_plugin_returns', 'OHLReport', 'broadcast_copy_state')
    patches = [mock.patch(f'automl_mm.ohl.hook.{name}') for name in checks]
    patches.append(mock.patch('automl_mm.ohl.hook.CopyDataParallel', torch.nn.Module))
    try:
        hook = _hook()
        hook.spaces = [_Space(name='lr', fail=step == 'setup' and rank == 1)]

        def build(*args):
            if step == 'build' and rank == 1:
                raise OSError('cannot identify image file data/train/17.png')

        hook.scorer = SimpleNamespace(build=build, held_out=SimpleNamespace(dataloader_cfg=None))
        runner = SimpleNamespace(copy_layout=init_copy_layout(2, 1, TIMEOUT_S), model=torch.nn.Linear(2, 2),
                                 train_loop=object(), optim_wrapper=None, logger=mock.Mock())
        for patch in patches:
            patch.start()
        with recording(out):
            hook.before_train(runner)
    finally:
        for patch in patches:
            patch.stop()
        torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
        reset_copy_layout()
        torch_dist.destroy_process_group()


@pytest.mark.parametrize('step, cause', [('build', 'OSError: cannot identify image file data/train/17.png'),
                                         ('setup', 'FileNotFoundError: planted: data/policy_start.json not found')])
def test_a_leads_failure_in_the_setup_stops_every_rank_before_the_first_broadcast(tmp_path, step, cause):
    """Copy 1's lead fails in ``RewardScorer.build`` or a space's ``setup``; copy 0 went on to the copies' first
    broadcast (mocked here: it returned, where the real one waits for rank 1 until the timeout)."""
    outs = _forked_outs(tmp_path, _start_worker, (str(tmp_path), step))
    assert outs[1]['error'] == cause
    assert outs[0].get('error', '').startswith('RankFailure: OHL: setting up the search (the reward split, the clean '
                                               f'BN batches, the spaces) failed on rank 1 ({cause})'), outs[0]
    assert all(out['seconds'] < PROMPT_S for out in outs), outs


def test_a_corrupt_image_in_one_copys_shard_stops_the_other_copies_naming_its_rank(tmp_path):
    """Two copies of two ranks; rank 3 (copy 1's second rank) reads a corrupt image: its lead (rank 2) stops in the
    copy's agreement before the results' gather, and copy 0 (ranks 0 and 1) at the trunk end's, all naming rank 3 and
    its error (not rank 2, which only relayed it)."""
    outs = _run(tmp_path, 2, 2, item_rank=3, item=3)
    cause = 'OSError: cannot identify image file data/reward/3.png'
    assert outs[3]['error'] == cause
    assert outs[2]['error'].startswith('RankFailure: OHLHook: reading the reward split failed on rank 3 '
                                       f'({cause})'), outs[2]
    for out in outs[:2]:
        assert out['error'].startswith(f'RankFailure: OHL trunk 0: the reward reading failed on rank 3 ({cause})'), out
    assert all(out['seconds'] < PROMPT_S for out in outs), outs


def _load_worker(rank: int, tmp: str) -> None:
    """``after_load_checkpoint`` of two copies of one rank whose rank 1 refuses the checkpoint's search state (e.g. a
    file its node reads differently); rank 0 accepted it and went on toward the first collective of the run."""
    _join(rank, tmp)
    out: dict = {}
    try:
        hook = _hook()
        refusal = RuntimeError('planted: the reward split read on this node differs from the checkpoint\'s')
        with recording(out), mock.patch('automl_mm.ohl.resume.load_search_state',
                                        side_effect=refusal if rank == 1 else None):
            hook.after_load_checkpoint(SimpleNamespace(), {})
    finally:
        torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
        torch_dist.destroy_process_group()


def test_one_ranks_refusal_of_the_checkpoints_search_state_stops_every_rank(tmp_path):
    outs = _forked_outs(tmp_path, _load_worker, (str(tmp_path),))
    cause = "RuntimeError: planted: the reward split read on this node differs from the checkpoint's"
    assert outs[1]['error'] == cause
    assert outs[0].get('error', '').startswith("RankFailure: OHL: loading the checkpoint's search state failed on "
                                               f'rank 1 ({cause})'), outs[0]
    assert all(out['seconds'] < PROMPT_S for out in outs), outs


def _begin_worker(rank: int, tmp: str) -> None:
    """A trunk's start on two copies of one rank whose copy 1's space fails to draw (plugin code in ``begin_trunk``);
    copy 0 began training and met it next at the trunk end."""
    _join(rank, tmp)
    out: dict = {}
    try:
        hook = _hook()
        hook.layout = init_copy_layout(2, 1, TIMEOUT_S)
        space = SimpleNamespace(reset_stats=lambda: None, begin_trunk=mock.Mock(), name='lr')
        if rank == 1:
            space.begin_trunk.side_effect = IndexError('planted: no choice left to draw')
        hook.spaces = [space]
        with recording(out), mock.patch('automl_mm.ohl.trunk_start.check_declared_writes'), \
                mock.patch('automl_mm.ohl.trunk_start.warn_merged_choices'):
            hook._begin_trunk(SimpleNamespace())
    finally:
        torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
        reset_copy_layout()
        torch_dist.destroy_process_group()


def test_one_ranks_failure_to_begin_a_trunk_stops_every_rank(tmp_path):
    outs = _forked_outs(tmp_path, _begin_worker, (str(tmp_path),))
    cause = 'IndexError: planted: no choice left to draw'
    assert outs[1]['error'] == cause
    assert outs[0].get('error', '').startswith(f'RankFailure: OHL trunk 0: the spaces\' draws failed on rank 1 '
                                               f'({cause})'), outs[0]
    assert all(out['seconds'] < PROMPT_S for out in outs), outs
