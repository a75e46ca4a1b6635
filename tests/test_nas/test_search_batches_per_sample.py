"""Sample ``s`` of a potential is scored on the ``batches_per_sample`` search mini-batches from batch
``s * batches_per_sample`` on (PathEvaluator): the S samples of a candidate see S different slices of the search
split, so a potential averages over images as well as completions. An evaluator that scored every sample on the
first slice passed every other test."""
from __future__ import annotations

from types import SimpleNamespace

from automl_mm.nas import LayerwiseSpace, PathEvaluator, UniformPathSampler, path_rng, potential


def test_each_sample_is_scored_on_its_own_slice_of_the_search_split():
    seen = []
    held_out = SimpleNamespace(loader=[f'batch{i}' for i in range(5)], metric_key='acc',
                               score=lambda model, batches: (seen.append(list(batches)) or 0.5, False))
    evaluate = PathEvaluator(None, SimpleNamespace(apply=lambda path, model: None), held_out, batches_per_sample=2)
    for index in range(4):
        evaluate((0, ), index)
    assert seen == [['batch0', 'batch1'], ['batch2', 'batch3'], ['batch4', 'batch0'], ['batch1', 'batch2']]


def test_a_potential_averages_over_different_search_batches():
    space = LayerwiseSpace([[0, 1]] * 2)
    seen = []
    held_out = SimpleNamespace(loader=list(range(6)), metric_key='acc',
                               score=lambda model, batches: (float(sum(seen.append(b) or b for b in batches)), False))
    evaluate = PathEvaluator(None, SimpleNamespace(apply=lambda path, model: None), held_out, batches_per_sample=1)
    value = potential((1, 0), UniformPathSampler(space), evaluate, 3, path_rng(0, 1), first_sample=3)
    assert seen == [3, 4, 5] and value == 4.0  # a full path too: three samples on three batches
