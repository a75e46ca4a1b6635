"""Mutation audit of PC-NAS's final choice (METHODS.md §4: "after L stages the pool holds K full models; the best
is the result"): a mutant listing the final pool in candidate order instead of best first lived the non-slow tests
(the loop tests' runs happened to rank their final pool in candidate order too), so the search ended on, and
exported, the first candidate instead of the one of highest potential."""
from __future__ import annotations

from types import SimpleNamespace

from automl_mm.nas import PartialArchitecturePool
from automl_mm.nas.pc_nas import PCNASLoop
from automl_mm.nas.spaces import LayerwiseSpace


def test_the_final_result_is_the_full_model_of_highest_potential_whatever_its_candidate_order():
    """Last stage's candidates (0,), (1,), (2,) with potentials 0.1, 0.5, 0.9 and K = 2: the result is (2,) at
    0.9 first, then (1,) at 0.5 (candidate order would put (1,) first)."""
    space = LayerwiseSpace([['a', 'b', 'c']])
    pool = PartialArchitecturePool(space, pool_size=2)
    for candidate, score in zip(pool.candidates(), (0.1, 0.5, 0.9)):
        pool.record(candidate, score)
    pool.select()
    loop = PCNASLoop.__new__(PCNASLoop)  # the result is read from the pool alone: no runner needed
    loop.pool, loop.latency_table, loop.flops_table = pool, None, None
    loop.supernet = SimpleNamespace(arch_names=lambda path: [space.values(path)[0]])
    results = loop._final_results()
    assert [(r['path'], r['potential'], r['arch']) for r in results] == [([2], 0.9, ['c']), ([1], 0.5, ['b'])]
