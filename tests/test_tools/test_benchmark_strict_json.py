"""Every benchmark's JSON output is strict JSON (RFC 8259): a NaN or an infinity (an undefined Kendall tau-b, a
failed evaluation) is written as null with the reason stated, never as the bare ``NaN`` token that
``json.dump`` writes by default and that ``jq`` / ``JSON.parse`` refuse."""
from __future__ import annotations

import ast
import glob
import importlib
import json
import math
import os.path as osp

from automl_mm.utils.io import strict_json

BENCHMARKS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'benchmarks')
#: ``json.dump`` calls that need not be strict: (file, why).
NOT_OUTPUTS = {'ohl_report_cost.py': 'times json.dump itself on synthetic records',
               'ohl_vs_pbt.py': "a worker's result file, read back by the parent's json.load only"}


def test_strict_json_writes_non_finite_numbers_as_null_with_the_reason():
    value = {'tau': math.nan, 'pairs': [(0, 1, math.inf), (0, 2, 0.5)], 'low': -math.inf, 'n': 3}
    assert strict_json(value, 'tau undefined') == {
        'tau': None, 'pairs': [[0, 1, None], [0, 2, 0.5]], 'low': None, 'n': 3,
        'null_values': '3 non-finite numbers (NaN/inf) written as null: tau undefined'}
    assert strict_json({'tau': 0.5}, 'tau undefined') == {'tau': 0.5}  # nothing replaced: no note
    json.dumps(strict_json(value), allow_nan=False)


def test_cr_nas_ranking_agreement_of_a_constant_search_is_null_and_says_why(arms):
    """Search seed 1 scored all 3 allocations 0.5: tau-b is undefined (scipy's NaN was written into --out)."""
    bench = importlib.import_module('cr_nas_fmnist_det')
    blocks = ([2, 2, 2, 2], [1, 3, 1, 3], [3, 1, 3, 1])
    searches = [dict(seed=0, stage_ranking=[dict(stage_blocks=b, score=s) for b, s in zip(blocks, (0.3, 0.2, 0.1))]),
                dict(seed=1, stage_ranking=[dict(stage_blocks=b, score=0.5) for b in blocks])]
    pairs = bench.ranking_agreement(searches)
    assert pairs == [{'seeds': [0, 1], 'allocations': 3, 'kendall_tau': None,
                      'kendall_tau_undefined': 'search seed 1 scored all 3 common allocations the same'}]
    assert json.loads(json.dumps(pairs, allow_nan=False)) == pairs
    assert bench.tau_text(pairs[0]) == 'undefined (search seed 1 scored all 3 common allocations the same)'
    one = bench.ranking_agreement([searches[0], dict(seed=2, stage_ranking=searches[0]['stage_ranking'][:1])])
    assert one[0]['kendall_tau'] is None and one[0]['kendall_tau_undefined'].startswith('fewer than 2 allocations')


def test_every_benchmark_json_dump_is_strict():
    """Each ``json.dump`` of a benchmark refuses NaN (``allow_nan=False``) and is fed through ``strict_json``."""
    loose = []
    for path in sorted(glob.glob(osp.join(BENCHMARKS, '*.py'))):
        if osp.basename(path) in NOT_OUTPUTS:
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            if (isinstance(node, ast.Call) and ast.unparse(node.func) == 'json.dump'
                    and not (any(k.arg == 'allow_nan' and ast.unparse(k.value) == 'False' for k in node.keywords)
                             and ast.unparse(node.args[0]).startswith('strict_json('))):
                loose.append(f'{osp.basename(path)}:{node.lineno}')
    assert loose == []
