"""Mutation audit of CR-NAS's two searches (METHODS.md §5): with planted scores, the stage search must choose the
best-scoring allocation within the FLOPs band and the greedy spatial search the planted dilations. Two mutants lived
the non-slow tests: the stage search choosing the lowest-scoring allocation (its tests replace ``run_step`` and
never see the score the loop hands it) and the spatial search scoring candidates at random (the end-to-end tests
check that the pool holds the best of the scores recorded, whatever they were)."""
from __future__ import annotations

from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg

TARGET = (1, 2, 3)  # planted best dilation of block j: TARGET[j % 3]


class _Planted:
    """A search-split evaluator with planted scores: an allocation's from a table, dilations' by how many blocks
    carry their planted dilation (``evaluations`` / ``empty_evaluations``: what ``run_step`` reads)."""

    def __init__(self, loop, space, stage_scores: dict) -> None:
        self.loop, self.space, self.stage_scores = loop, space, stage_scores
        self.evaluations = self.empty_evaluations = 0
        self.batches_per_sample = 1

    def __call__(self, path: tuple, sample: int) -> float:
        self.evaluations += 1
        if self.space is self.loop.stage_space:
            return self.stage_scores[tuple(path)]
        return float(sum(d == TARGET[j % 3] for j, d in enumerate(self.space.values(path))))


def _search(tmp_path):
    runner = Runner.from_cfg(digits_cr_cfg(str(tmp_path / 'run'), stage_pool_size=1, pool_size=2, num_samples=2))
    loop = runner.build_train_loop(runner._train_loop)
    allocations = list(loop.stage_space.completions(()))
    assert len(allocations) == 6 and loop.reference_path in allocations
    others = [a for a in allocations if a != loop.reference_path]
    # FLOPs band 95 to 105 around the reference's 100: others[1] (110) and others[2] (89) lie outside it and score
    # best; within it others[3] (95) scores 6, others[0] (104) 5, others[4] (105) 4, the reference 3
    loop.flops = {loop.reference_path: 100.0, others[0]: 104.0, others[1]: 110.0, others[2]: 89.0, others[3]: 95.0,
                  others[4]: 105.0}
    scores = {others[2]: 10.0, others[1]: 9.0, others[3]: 6.0, others[0]: 5.0, others[4]: 4.0,
              loop.reference_path: 3.0}

    def run_iter(data_batch):  # no training: the planted scores decide
        loop._iter += 1

    loop.run_iter = run_iter
    loop.path_evaluator = lambda space, batches_per_sample: _Planted(loop, space, scores)
    loop.save_search_checkpoint = lambda tag: None
    loop._export = lambda: None
    loop.run()
    return loop, loop.stage_space.values(others[3])


def test_the_searches_choose_the_planted_allocation_and_dilations(tmp_path):
    """The stage search keeps the best-scoring allocation within the band (not the lowest-scoring one, not the
    better-scoring ones outside it); the greedy spatial search then finds every block's planted dilation (a
    random choice hits all 6 with probability 3^-6), and the loop ends on both."""
    loop, best_in_band = _search(tmp_path)
    assert loop.result['stage_blocks'] == list(best_in_band) == list(loop.backbone.active_stage_blocks)
    assert loop.result['stage_search_score'] == 6.0
    planted = [TARGET[j % 3] for j in range(6)]
    assert loop.result['dilations_per_block'] == planted == list(loop.backbone.active_dilations)
    assert loop.result['spatial_search_score'] == 6.0
