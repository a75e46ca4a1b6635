"""A resumed search (or a tested search checkpoint) whose ranks loaded different states is refused on every rank
(2 gloo ranks).

mmengine loads the checkpoint in every process from the path that process resolved. Without a work_dir shared by
the nodes, or with a stale copy of the file on one node, the ranks restored different search states (pools,
decisions, scores, iteration) and went on from different points of the search: one rank scored a stage the other
had finished (wrong results, or a hang in a collective that never matched). Now the ranks compare hashes of what
they loaded (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`) and refuse together, naming the
ranks, the checkpoint each loaded and the parts that differ; so does ``tools/test.py``'s ``SearchedArchitectureHook``
where the ranks' copies of a search checkpoint held different architectures (each tested its shard of the test set
on another network).
"""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, outcome

from automl_mm.engine.rank_agreement import loaded_states_differ, state_part_digests


def _rank(rank: int, loop_type: str, repo: str, tmp: str) -> None:
    from mmengine.runner import Runner
    from test_nas.test_search_start_checks_ranks import _cfg

    from automl_mm.engine.checkpoint import inner_model
    from automl_mm.nas.final_architecture import ARCHITECTURE_KEY, SearchedArchitectureHook
    from automl_mm.nas.hook import PathSamplingHook
    from automl_mm.nas.loop import _SearchStateHook

    # a short timeout: a rank that went on alone waited in the next collective (until 30 minutes)
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=60)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2', LOCAL_WORLD_SIZE='2')  # as torchrun
    runner = Runner.from_cfg(_cfg(loop_type, repo, tmp))
    os.chdir(osp.join(tmp, 'node0'))  # where the config's relative retrain_config is
    loop = runner.train_loop
    runner._resume = True

    def resume(state: dict, iteration: int) -> str | None:
        checkpoint = {'nas_search': dict(state, seed=loop.seed, scoring=loop.scoring_settings(), loop=loop_type),
                      'meta': {'iter': iteration}}
        return outcome(lambda: _SearchStateHook(loop).after_load_checkpoint(runner, checkpoint))

    found = {}
    state = loop.search_state_dict()
    # 1. the same state from the same file: resumed
    runner._load_from = osp.join(tmp, 'work', 'iter_4.pth')
    found['same'] = resume(state, 4)
    # 2. each node's own work_dir, rank 1's copy written before the first candidate of stage 1 was scored
    runner._load_from = osp.join(tmp, f'node{rank}', 'iter_4.pth')
    pool = 'pool' if loop_type == 'PCNASLoop' else 'stage_pool'  # the first step's: PC-NAS stage 1, CR-NAS's stages
    scored = dict(state, **{pool: dict(state[pool], scores=[[[0], 0.25]] if rank == 0 else [])})
    found['loop'] = resume(scored, 4)
    # 3. PathSamplingHook (a plain loop's path sampling; called here alone): one path, rank 1's copy is older
    runner._load_from = osp.join(tmp, 'work', 'iter_4.pth')
    hook = PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2)), seed=3)
    found['hook'] = outcome(lambda: hook.after_load_checkpoint(
        runner, {'path_sampling': {'seed': 3}, 'meta': {'iter': 4 if rank == 0 else 2}}))
    # 4. tools/test.py's SearchedArchitectureHook on the search's final checkpoint: the same file on both ranks
    # applies the same architecture; rank 1's stale copy, saved before the search ended, holds none (its shard of the
    # test set was tested on the supernet's configured path, the other's on the searched network)
    runner._resume = False
    calls = loop.architecture_calls()
    weights = inner_model(runner.model).state_dict()
    test = SearchedArchitectureHook()
    found['arch_same'] = outcome(lambda: test.after_load_checkpoint(
        runner, {'nas_search': {ARCHITECTURE_KEY: calls}, 'state_dict': weights}))
    found['arch'] = outcome(lambda: test.after_load_checkpoint(
        runner, {'nas_search': {ARCHITECTURE_KEY: calls} if rank == 0 else {}, 'state_dict': weights}))
    found['calls'] = calls
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    torch_dist.destroy_process_group()


@pytest.mark.slow  # two gloo ranks, each building a runner and a search loop (about 7 s each on 2 shared cores)
@pytest.mark.parametrize('loop_type', ['PCNASLoop', 'CRNASLoop'])
def test_ranks_that_loaded_different_search_states_refuse_together(tmp_path, loop_type):
    from conftest import REPO_ROOT

    fork_ranks(_rank, (loop_type, REPO_ROOT, str(tmp_path)), timeout=300)
    found = [json.load(open(tmp_path / f'rank{rank}.json')) for rank in range(2)]
    for rank in range(2):
        assert found[rank]['same'] is None, found[rank]['same']
        loop, hook = found[rank]['loop'], found[rank]['hook']
        # every rank refuses with the same message, naming each rank's file and the part that differs
        assert loop is not None and loop.startswith(f'RuntimeError: {loop_type}: the ranks loaded different '
                                                    'states from their checkpoints'), loop
        for said in ('ranks [0] (on ', f'loaded {tmp_path}/node0/iter_4.pth (iteration 4, 0 search steps '
                     'finished, 1 candidate of the current one scored)', 'ranks [1] (on ',
                     f'loaded {tmp_path}/node1/iter_4.pth (iteration 4, 0 search steps finished, 0 candidates',
                     f'they differ in {"pool" if loop_type == "PCNASLoop" else "stage_pool"}.scores.',
                     'a work_dir shared by every node'):
            assert said in loop, (said, loop)
        assert hook is not None and hook.startswith('RuntimeError: PathSamplingHook: the ranks loaded'), hook
        for said in (f'loaded {tmp_path}/work/iter_4.pth (iteration 4, seed 3)', '(iteration 2, seed 3)',
                     'they differ in iteration (one path, but the nodes\' copies of the file differ)'):
            assert said in hook, (said, hook)
        assert found[rank]['arch_same'] is None, found[rank]['arch_same']
        arch = found[rank]['arch']
        assert arch is not None and arch.startswith('RuntimeError: SearchedArchitectureHook: the ranks loaded'), arch
        architecture = ', '.join(f'{m} {list(a)}' for m, a in found[0]['calls'])
        for said in ('ranks [0] (on ', f'loaded {tmp_path}/work/iter_4.pth (the architecture {architecture})',
                     'ranks [1] (on ', '(no searched architecture)', 'they differ in the whole state'):
            assert said in arch, (said, arch)
    for check in ('loop', 'hook', 'arch'):
        assert found[0][check] == found[1][check]


def test_loaded_states_differ_names_parts_and_paths():
    """The refusal's wording without a process group: the groups of ranks, each one's file, the differing parts."""
    def record(path: str, state: dict) -> dict:
        return dict(host='n', path=path, summary='', parts=state_part_digests(state))

    same = {'pool': {'scores': [], 'history': [1]}, 'iteration': 4}
    assert loaded_states_differ([record('a', same), record('b', dict(same))], 'X') is None
    other = {'pool': {'scores': [[0, 0.5]], 'history': [1]}, 'iteration': 4}
    said = loaded_states_differ([record('a', same), record('a', same), record('b', other)], 'X')
    assert said.startswith('X: the ranks loaded different states from their checkpoints: ranks [0, 1] (on n) '
                           'loaded a; ranks [2] (on n) loaded b; they differ in pool.scores. '), said
    # the order of a dict's keys is no difference (a checkpoint written by another Python keeps the same state)
    assert state_part_digests({'a': {'x': 1, 'y': 2}}) == state_part_digests({'a': {'y': 2, 'x': 1}})
