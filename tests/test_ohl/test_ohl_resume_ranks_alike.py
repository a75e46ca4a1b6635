"""An OHL search resumed on several ranks whose ranks loaded different search states is refused on every rank
(2 gloo ranks, forked).

mmengine loads the checkpoint in every process from the path that process resolved. Without a work_dir shared by
the nodes, or with a stale copy of the file on one node, the ranks restored different θ, controller states (optimiser
moments, baseline), trunk counters and histories: every rank steps its own θ from the gathered rewards, so the
ranks' θ diverged silently from then on (the copies drew from different distributions, and the exported policy was
rank 0's alone). ``OHLHook.after_load_checkpoint`` now compares what each rank loaded
(:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike` of
:func:`~automl_mm.ohl.resume.ranks_alike_state`) once every rank has passed its resume checks, and refuses on every
rank with one message naming each rank's file, the file each rank loaded: a path given to it, or, under a stock
launcher's auto-resume (``resume=True`` without ``load_from``), what its own ``work_dir``'s ``last_checkpoint``
picked (each rank's message part is that rank's own view, gathered). The normal resume (every rank reads the same
file) and copies that differ only in what each rank records for itself (its seconds per trunk) are not refused.
The same holds for the hooks that replay a search's values from a checkpoint: ``tools/test.py``'s
``SearchedValuesHook`` (the values along the final model's lineage in the checkpoint's history) and
``TrunkScheduleHook`` (the checkpoint's epoch and iteration, which pick the trunk whose values a test sets).
"""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, outcome


def _trained(trunk: int, theta: list[float], seconds: float):
    """The hook of a 2-copy search over one 3-way space after ``trunk`` trunks of 5 iterations, θ at ``theta``."""
    from tests.test_ohl.test_ohl_resume_checks import _choice_hook

    hook = _choice_hook(2, trunk_iters=5)
    with torch.no_grad():
        hook.spaces[0].distribution.logits.copy_(torch.tensor(theta))
    hook.trunk = trunk
    hook.history = [dict(trunk=t, iter=5 * (t + 1), partial=False, rewards=[0.5, 0.6], broadcast=True,
                         seconds=dict(train=seconds, reward=seconds / 10)) for t in range(trunk)]
    return hook


def _save(runner, hook, path: str, iteration: int) -> None:
    checkpoint = {'meta': {'iter': iteration}}
    hook.before_save_checkpoint(runner, checkpoint)
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(checkpoint, path)


def _rank(rank: int, tmp: str) -> None:
    from tests.test_ohl.test_ohl_resume_checks import _choice_hook, _resuming_runner

    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=60)  # a rank that went on alone: 60 s, not 30 min
    runner = _resuming_runner()
    runner.max_iters = 20

    def resume(path: str) -> str | None:
        runner._load_from = path  # what _resumed_file names
        checkpoint = torch.load(path, weights_only=False)
        return outcome(lambda: _choice_hook(2, trunk_iters=5).after_load_checkpoint(runner, checkpoint))

    def auto_resume(work_dir: str) -> str | None:
        # a stock launcher's `--resume` without a path (resume=True, load_from None): mmengine's load_or_resume
        # loads what find_latest_checkpoint (automl_mm's resolve_resume) picks in this rank's own work_dir
        from mmengine.runner import runner as mm_runner

        runner._load_from, runner.work_dir = None, work_dir
        checkpoint = torch.load(mm_runner.find_latest_checkpoint(work_dir), weights_only=False)
        return outcome(lambda: _choice_hook(2, trunk_iters=5).after_load_checkpoint(runner, checkpoint))

    shared = osp.join(tmp, 'work', 'iter_10.pth')
    if rank == 0:  # only rank 0 writes checkpoints
        _save(runner, _trained(2, [0.5, -0.2, 0.1], seconds=3.0), shared, 10)
    own = osp.join(tmp, f'node{rank}', 'iter_10.pth')
    if rank == 0:  # each node's own work_dir: rank 1's copy is stale, saved one trunk earlier (another theta)
        _save(runner, _trained(2, [0.5, -0.2, 0.1], seconds=3.0), own, 10)
    else:
        _save(runner, _trained(1, [0.2, -0.1, 0.0], seconds=3.0), own, 10)
    timed = osp.join(tmp, f'timed{rank}', 'iter_10.pth')  # the same search, each rank's own seconds per trunk
    _save(runner, _trained(2, [0.5, -0.2, 0.1], seconds=3.0 + rank), timed, 10)
    with open(osp.join(tmp, f'node{rank}', 'last_checkpoint'), 'w') as f:  # what each node's auto-resume picks
        f.write(own)
    torch_dist.barrier()  # every file written before any is read
    found = dict(same=resume(shared), timed=resume(timed), stale=resume(own), auto=auto_resume(osp.dirname(own)))
    found.update(_replay_hooks(rank, runner, tmp))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    torch_dist.destroy_process_group()


def _replay_hooks(rank: int, runner, tmp: str) -> dict:
    """tools/test.py's SearchedValuesHook and a retrain's TrunkScheduleHook on each rank's copy of a checkpoint: the
    same file, then rank 1's copy saved a trunk earlier (it set trunk 0's values, the others trunk 1's)."""
    from automl_mm.ohl.replay_hooks import SearchedValuesHook, TrunkScheduleHook

    path = 'model.layers.1.negative_slope'
    history = [dict(trunk=0, best=1, broadcast=True, copy_values={'slope': [{path: 0.05}, {path: 0.2}]}),
               dict(trunk=1, best=0, broadcast=True, copy_values={'slope': [{path: 0.3}, {path: 0.1}]})]

    def searched(records: list) -> str | None:
        checkpoint = dict(ohl=dict(history=records, copies_apart=False, in_trunk=False), meta=dict(epoch=4, iter=40))
        return outcome(lambda: SearchedValuesHook().after_load_checkpoint(runner, checkpoint))

    def schedule(epoch: int) -> str | None:
        hook = TrunkScheduleHook({path: [0.1, 0.2, 0.3]}, trunk_epochs=2)
        return outcome(lambda: hook.after_load_checkpoint(runner, dict(meta=dict(epoch=epoch, iter=10 * epoch))))

    runner._load_from = osp.join(tmp, 'work', 'epoch_4.pth')
    found = dict(values_same=searched(history), schedule_same=schedule(4))
    runner._load_from = osp.join(tmp, f'node{rank}', 'epoch_4.pth')
    found.update(values_stale=searched(history if rank == 0 else history[:1]),
                 schedule_stale=schedule(4 if rank == 0 else 2))
    return found


@pytest.mark.slow  # two gloo ranks (a few seconds on 2 shared cores)
def test_ranks_that_loaded_different_ohl_states_refuse_together(tmp_path):
    fork_ranks(_rank, (str(tmp_path),), timeout=300)
    found = [json.load(open(tmp_path / f'rank{rank}.json')) for rank in range(2)]
    for rank in range(2):
        # the normal multi-rank resume: every rank reads the one file rank 0 wrote
        assert found[rank]['same'] is None, found[rank]['same']
        # what each rank records for itself (its seconds per trunk in the history) is no difference
        assert found[rank]['timed'] is None, found[rank]['timed']
        stale = found[rank]['stale']
        assert stale is not None and stale.startswith('RuntimeError: OHL (OHLHook): the ranks loaded different '
                                                      'states from their checkpoints'), stale
        for said in ('ranks [0] (on ', f'loaded {tmp_path}/node0/iter_10.pth (iteration 10, trunk 2 next)',
                     'ranks [1] (on ', f'loaded {tmp_path}/node1/iter_10.pth (iteration 10, trunk 1 next)',
                     'they differ in trunk, history, controllers.aug', 'a work_dir shared by every node'):
            assert said in stale, (said, stale)
    assert found[0]['stale'] == found[1]['stale']
    # the same stale copies picked by each node's auto-resume (no path: work_dir's last_checkpoint): each rank names
    # the file it loaded, its own work_dir's (the message is the one of the explicit paths above)
    assert found[0]['auto'] == found[1]['auto'] == found[0]['stale']
    # the same kind at a test (tools/test.py on each node's copy) and in a retrain: each rank tested or trained its
    # shard with other values of the searched attributes, and the gathered metrics mixed them without a word
    for rank in range(2):
        assert found[rank]['values_same'] is None, found[rank]['values_same']
        assert found[rank]['schedule_same'] is None, found[rank]['schedule_same']
        values, schedule = found[rank]['values_stale'], found[rank]['schedule_stale']
        assert values is not None and values.startswith('RuntimeError: SearchedValuesHook: the ranks loaded '
                                                        'different states'), values
        for said in (f'loaded {tmp_path}/node0/epoch_4.pth (sets model.layers.1.negative_slope=0.3)',
                     f'loaded {tmp_path}/node1/epoch_4.pth (sets model.layers.1.negative_slope=0.2)',
                     'they differ in model.layers.1.negative_slope'):
            assert said in values, (said, values)
        assert schedule is not None and schedule.startswith('RuntimeError: TrunkScheduleHook: the ranks loaded '
                                                            'different states'), schedule
        for said in (f'loaded {tmp_path}/node0/epoch_4.pth (epoch 4, iteration 40)',
                     f'loaded {tmp_path}/node1/epoch_4.pth (epoch 2, iteration 20)', 'they differ in epoch, iter'):
            assert said in schedule, (said, schedule)
    for check in ('values_stale', 'schedule_stale'):
        assert found[0][check] == found[1][check]
