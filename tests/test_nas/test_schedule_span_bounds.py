"""A search's ``param_scheduler`` ``begin`` / ``end`` / ``T_max`` are refused naming the key when they are not whole
iteration numbers or ``end <= begin``: ``begin=2.5`` was truncated by ``int()`` in the span check (and compared as
2.5 by mmengine), ``end='12'`` failed in the check with a bare ``TypeError`` ('>' between str and int), ``end=nan``
passed both checks and the scheduler never stepped (``begin <= step < nan`` is always false), and ``end <= begin``
failed only when mmengine built the scheduler ("end should be larger than begin", no key)."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg

from automl_mm.nas.search_checks import check_schedule_span


def _cosine(**kw):
    return [dict(type='CosineAnnealingLR', by_epoch=False, **kw)]


@pytest.mark.parametrize('kw, match', [
    (dict(begin=2.5), r"param_scheduler\[0\]\.begin must be an int >= 0, got 2\.5"),
    (dict(begin='2'), r"param_scheduler\[0\]\.begin must be an int >= 0, got '2'"),
    (dict(end='12'), r"param_scheduler\[0\]\.end must be an int > begin \(0\), got '12'"),
    (dict(end=float('nan')), r"param_scheduler\[0\]\.end must be an int > begin \(0\), got nan"),
    (dict(end=7.5), r"param_scheduler\[0\]\.end must be an int > begin \(0\), got 7\.5"),
    (dict(begin=6, end=6), r"param_scheduler\[0\]\.end must be an int > begin \(6\), got 6"),
    (dict(T_max=6.5), r"param_scheduler\[0\]\.T_max must be an int >= 1, got 6\.5"),
])
def test_begin_end_and_t_max_must_be_whole_iterations_with_end_after_begin(kw, match):
    with pytest.raises(ValueError, match=match):
        check_schedule_span(_cosine(**kw), 12, 'derivation')


def test_a_linear_warm_up_is_checked_too():
    with pytest.raises(ValueError, match=r'param_scheduler\[0\]\.end must be an int > begin \(3\), got 2'):
        check_schedule_span([dict(type='LinearLR', by_epoch=False, begin=3, end=2)] + _cosine(), 12, '')


def test_whole_iterations_and_an_infinite_end_are_accepted():
    check_schedule_span(_cosine(begin=2, end=12, T_max=10), 12, '')
    check_schedule_span([dict(type='ConstantLR', by_epoch=False, end=float('inf'))], 12, '')


def test_the_search_loop_refuses_it_before_training(tmp_path):
    cfg = _cfg(str(tmp_path))
    cfg.param_scheduler[0].update(end=float('nan'))
    with pytest.raises(ValueError, match=r'param_scheduler\[0\]\.end must be'):
        Runner.from_cfg(cfg).train()
