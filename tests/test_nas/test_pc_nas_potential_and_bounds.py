"""What a PC-NAS potential averages, which paths a cost limit admits, and what the final pool reports, pinned where
the other tests left room (each test names the mutation it was written against and saw fail):

* a partial path scored on the whole search split (``batches_per_sample=None``, the digits and Fashion-MNIST
  configs) averages all S completions; only a full path, whose S evaluations would be identical, is read once
  (planted: the read-once shortcut for every prefix, so a potential was one completion's score);
* ``latency_limit`` / ``flops_limit`` is the maximum cost of a completion: a path costing exactly the limit is
  admitted, and a limit equal to the cheapest architecture's cost is accepted at start (planted: ``<`` for ``<=``
  and ``>=`` for ``>``);
* every entry of the final pool reports its own potential, the score its path got in the last step (planted: every
  entry given the first's, which the end-to-end tests' ``pool[0] >= pool[1]`` and ``pool[0] == max`` passed).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas import FlopsTable, LayerwiseSpace, PartialArchitecturePool, PCNASLoop, UniformPathSampler, potential
from automl_mm.nas.samplers import path_rng


def _whole_split_evaluator(calls: list):
    def evaluate(path, sample_index):
        calls.append(tuple(path))
        return float(sum(path))  # completions of one prefix score differently

    evaluate.batches_per_sample = None  # as PathEvaluator on the whole search split
    return evaluate


@pytest.mark.parametrize('limited', [False, True])
def test_a_prefix_on_the_whole_split_averages_all_its_completions(limited):
    space = LayerwiseSpace([[0, 1, 2]] * 4)
    sampler = UniformPathSampler(space)
    accept = (lambda p: sum(p) <= 6) if limited else None
    calls: list = []
    value = potential((1, ), sampler, _whole_split_evaluator(calls), 6, path_rng(0, 3), accept)
    assert len(calls) == 6 and len({c[1:] for c in calls}) > 1  # six completions, not one read six times
    assert value == pytest.approx(sum(sum(c) for c in calls) / 6)
    calls.clear()  # a full path: its six evaluations on the whole split would be the same one
    assert potential((1, 2, 0, 1), sampler, _whole_split_evaluator(calls), 6, path_rng(0, 3), accept) == 4.0
    assert calls == [(1, 2, 0, 1)]


@pytest.fixture(scope='module')
def flops_loop():
    net = MBConvSupernet(space='digits')
    space = LayerwiseSpace()
    space.bind(net)
    table = FlopsTable.from_supernet(net, (1, 3, 16, 16))
    loop = SimpleNamespace(supernet=net, space=space, cost_table=table, cost_name='flops', cost_limit=None)
    loop.cost_range = lambda: PCNASLoop.cost_range(loop)
    return loop


def test_a_path_costing_exactly_the_limit_is_admitted(flops_loop):
    path = (1, 2, 0, 1)
    cost = flops_loop.cost_table.cost(flops_loop.supernet, path)
    flops_loop.cost_limit = cost
    assert PCNASLoop.admits(flops_loop, path)
    flops_loop.cost_limit = cost * (1 - 1e-9)
    assert not PCNASLoop.admits(flops_loop, path)


def test_a_limit_equal_to_the_cheapest_architecture_is_accepted(flops_loop):
    costs = [flops_loop.cost_table.cost(flops_loop.supernet, p) for p in flops_loop.space.completions(())]
    assert flops_loop.cost_range() == (min(costs), max(costs))
    flops_loop.cost_limit = min(costs)
    PCNASLoop._check_cost_limit(flops_loop, 'flops_limit')  # one architecture fits: no error
    flops_loop.cost_limit = min(costs) * (1 - 1e-9)
    with pytest.raises(ValueError, match='flops_limit=.* is below every architecture'):
        PCNASLoop._check_cost_limit(flops_loop, 'flops_limit')


def test_each_final_pool_entry_reports_its_own_potential(flops_loop):
    space = flops_loop.space
    pool = PartialArchitecturePool(space, pool_size=3)
    while not pool.done:  # every candidate scores the sum of its option indices
        for c in pool.candidates():
            pool.record(c, float(sum(c)))
        pool.select()
    loop = SimpleNamespace(pool=pool, supernet=flops_loop.supernet, flops_table=flops_loop.cost_table,
                           latency_table=None)
    results = PCNASLoop._final_results(loop)
    assert [tuple(r['path']) for r in results] == pool.pool
    assert [r['potential'] for r in results] == [float(sum(p)) for p in pool.pool]
    assert len({r['potential'] for r in results}) > 1  # not trivially equal
    assert [r['flops'] for r in results] == [flops_loop.cost_table.cost(flops_loop.supernet, p) for p in pool.pool]
    assert [r['arch'] for r in results] == [flops_loop.supernet.arch_names(p) for p in pool.pool]
