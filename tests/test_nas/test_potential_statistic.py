"""PC-NAS's potential of a partial model is the *mean* score of its S sampled completions (METHODS.md §4): a
potential read as the min (or the max, or the first) of them passed every other test, whose scorers gave every
completion of a prefix the same score."""
from __future__ import annotations

import numpy as np

from automl_mm.nas import LayerwiseSpace, UniformPathSampler, path_rng, potential
from automl_mm.nas.scoring import candidate_scorer


def test_potential_is_the_mean_of_the_scored_completions():
    space = LayerwiseSpace([[0, 1, 2]] * 4)
    sampler = UniformPathSampler(space)
    scored = []

    def evaluate(path, sample_index):
        score = float(sum(path[1:]))  # completions of one prefix score differently
        scored.append(score)
        return score

    for limit in (None, lambda p: sum(p) <= 7):
        for seed in range(3):
            scored.clear()
            value = potential((1,), sampler, evaluate, 8, path_rng(seed, 1), accept=limit)
            assert len(scored) == 8 and len(set(scored)) > 1  # not trivially equal to any order statistic
            assert value == np.mean(scored)


def test_the_candidate_of_better_completions_on_average_ranks_first():
    """Planted: prefix 0 has one excellent completion among poor ones (mean 2.5, max 10), prefix 1 only good ones
    (mean 3.5, min 3). The mean ranks 1 first, the max would rank 0 first; the values rule out the min."""
    space = LayerwiseSpace([[0, 1], [0, 1, 2, 3]])
    table = {(0, 0): 10.0, (0, 1): 0.0, (0, 2): 0.0, (0, 3): 0.0, (1, 0): 4.0, (1, 1): 4.0, (1, 2): 3.0, (1, 3): 3.0}
    score = candidate_scorer(UniformPathSampler(space), lambda p, s: table[tuple(p)], num_samples=200, seed=0,
                             stream=1, step=0)
    a, b = score((0,)), score((1,))
    assert 1.5 < a < 3.5 and 3.0 < b < 4.0  # the means (2.5 and 3.5) within sampling noise
    assert b > a
