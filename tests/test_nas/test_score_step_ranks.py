"""``score_step`` over 2 gloo ranks: each candidate scored once, every rank holds every score, and a candidate whose
scoring raises on one rank stops every rank with an error naming it (the other rank used to be left in the round's
gather, waiting for a score that never came)."""
import json
import math

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo

from automl_mm.engine.tool_errors import origin_output

SPACE = [[0, 1, 2], [0, 1]]


def _worker(rank: int, init_file: str, out_dir: str, fail: list | None) -> None:
    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool, score_step

    # a short timeout: without a fix a rank left waiting in a gather fails after it, not never
    join_gloo(rank, 2, init_file, timeout=20)
    scored_here = []

    def score(candidate):
        scored_here.append(list(candidate))
        if fail is not None and list(candidate) == fail:
            raise ValueError(f'planted failure of {candidate}')
        return 10.0 * candidate[0] + rank  # which rank scored it shows in the score

    pool = PartialArchitecturePool(LayerwiseSpace(SPACE), pool_size=2)
    pool.candidates()
    out = {'scored_here': scored_here}
    try:
        out['scores'] = sorted([list(c), s] for c, s in score_step(pool, score).items())
    except Exception as err:  # noqa: BLE001 (what each rank raised is the result)
        out['error'] = f'{type(err).__name__}: {err}'
    out['scored_here'] = scored_here
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(out, f)
    torch_dist.destroy_process_group()


def _run(tmp_path, fail):
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path), fail))
    return [json.load(open(tmp_path / f'rank{r}.json')) for r in range(2)]


@pytest.mark.parametrize('fail', [None, [2]])
def test_two_ranks_score_each_candidate_once_and_stop_together(tmp_path, fail):
    r0, r1 = _run(tmp_path, fail)
    if fail is None:
        # candidates (0,), (1,), (2,) dealt in rounds of 2: rank 0 scores (0,) and (2,), rank 1 (1,)
        assert (r0['scored_here'], r1['scored_here']) == ([[0], [2]], [[1]])
        assert r0['scores'] == r1['scores'] == [[[0], 0.0], [[1], 11.0], [[2], 20.0]]
        return
    # (2,) is rank 0's: it raises its own error, and rank 1, which scored nothing in that round, names it
    assert r0['error'] == 'ValueError: planted failure of (2,)'
    assert r1['error'].startswith('RankFailure: scoring candidate (2,) failed on rank 0 (ValueError: planted '
                                  'failure of (2,))')
    assert r1['error'].endswith(f'every rank stops here ({origin_output(0)})'), r1['error']  # not 'rank 0's log'
    assert 'scores' not in r0 and 'scores' not in r1


def _scoring_main(cfg_path: str) -> None:
    """What a local worker's ``main`` runs here: a step whose candidate (2,), rank 0's, raises."""
    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool, score_step

    def score(candidate):
        if list(candidate) == [2]:
            raise ValueError(f'planted failure of {candidate}')
        return float(candidate[0])

    pool = PartialArchitecturePool(LayerwiseSpace(SPACE), pool_size=2)
    pool.candidates()
    score_step(pool, score)


def _local_worker(rank: int, init_file: str, failures: str) -> None:
    from automl_mm.engine import launch

    join_gloo(rank, 2, init_file, timeout=20)
    try:  # as launch._worker runs a local launch's main: recording the failure in the launch's folder
        launch._run_main(_scoring_main, 'unused.py', rank, failures)
    except Exception:  # noqa: BLE001 (what it recorded is the result)
        pass
    torch_dist.destroy_process_group()


def test_a_local_launch_reports_the_scoring_rank_s_own_error(tmp_path):
    """Under ``tools/train.py``'s own workers the rank told of another's scoring failure records that rank, whose
    traceback the launcher prints: its plain ``RuntimeError`` was recorded as its own, and the launcher (torch saw
    rank 1 end first) printed it with its pointer at rank 0's output rewritten to 'rank 0 recorded none in time' --
    false, rank 0 had recorded its error and nobody waited for it."""
    from automl_mm.engine import launch

    failures = tmp_path / 'failures'
    failures.mkdir()
    fork_ranks(_local_worker, (str(tmp_path / 'init'), str(failures)))
    assert sorted(p.name for p in failures.iterdir()) == ['0.traceback', '1.told']
    rank, text = launch._reported_failure(str(failures), 2, 1)  # as the launcher reads it where rank 1 ended first
    # rank 0's own record (its refusal's line: the planted error is raised in a tests/ file, main's folder)
    assert rank == 0 and text.endswith('"ValueError", "message": "planted failure of (2,)"}'), text


class _NegativeSplit:
    """A built search split of a metric that reads negative values (a log-likelihood): path (0,) gets no metrics
    (mmdet's ``CocoMetric`` returns nothing when no box is predicted), path (1,) reads -0.5."""
    metric_key = 'log_likelihood/mean'
    loader = [0]
    path: tuple = ()

    def score(self, model, batches):
        return (0.0, True) if self.path == (0,) else (-0.5, False)


def _step_worker(rank: int, init_file: str, out_dir: str, world_size: int) -> None:
    from types import SimpleNamespace

    from torch import nn

    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool
    from automl_mm.nas.loop import SearchLoopBase
    from automl_mm.nas.scoring import PathEvaluator

    if world_size > 1:
        join_gloo(rank, world_size, init_file, timeout=20)
    split = _NegativeSplit()
    space = SimpleNamespace(apply=lambda path, model: setattr(split, 'path', tuple(path)))
    evaluate = PathEvaluator(nn.Identity(), space, split, batches_per_sample=1)
    loop = SimpleNamespace(runner=SimpleNamespace(model=nn.Identity(), cfg={}), metric_key=split.metric_key,
                           checkpoint_interval_s=1e9, _last_save=math.inf, save_search_checkpoint=lambda tag: None,
                           _iter=0)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=1)
    out = {}
    try:
        out['kept'] = [list(c) for c in SearchLoopBase.run_step(loop, 'stage1', pool, lambda c: evaluate(c, 0), str,
                                                                evaluate)]
    except RuntimeError as err:
        out['error'] = str(err)
    with open(f'{out_dir}/step{rank}.json', 'w') as f:
        json.dump(out, f)
    if world_size > 1:
        torch_dist.destroy_process_group()


def test_an_empty_candidate_beside_negative_readings_of_another_rank_is_refused_on_every_rank(tmp_path):
    """One process refuses the step (the empty (0,) would score 0, above (1,)'s -0.5); on 2 ranks (0,) was rank 0's
    and (1,) rank 1's, neither evaluator saw both, and every rank kept (0,), the candidate that read nothing."""
    _step_worker(0, '', str(tmp_path), 1)
    assert 'log_likelihood/mean reads negative values' in json.load(open(tmp_path / 'step0.json'))['error']
    fork_ranks(_step_worker, (str(tmp_path / 'init'), str(tmp_path), 2))
    for rank in range(2):
        out = json.load(open(tmp_path / f'step{rank}.json'))
        assert out.get('error', '').startswith('the search step scored across 2 ranks: log_likelihood/mean reads '
                                               'negative values (lowest -0.5) and an evaluation gave no metrics'), out
