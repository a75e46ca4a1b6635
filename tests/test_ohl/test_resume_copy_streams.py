"""Copy i of a resumed search goes on as copy i: its next trunk's sample and its training stream are those copy i of
the uninterrupted search draws (seed, copy, trunk), not another copy's.

Mutation audit (fifty-seventh session): a resume that handed copy i copy i + 1's streams (its space sample and its
global RNGs) left every not-slow test green: the resume tests of one process run one copy, where every copy index
is 0, and the two-copy resume runs are slow. Here the resume goes through ``OHLHook.after_load_checkpoint`` (the
checks and the restore of ``checkpoint['ohl']``) on a stand-in runner, then each copy starts its next trunk.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch

from automl_mm.ohl.copies import CopyLayout
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (_fresh_layout: autouse)
from tests.test_ohl.test_hook_random_streams import _Space as _Recorder  # records the draws it is handed
from tests.test_ohl.test_ohl_resume_checks import _choice_hook, _resuming_runner


def _next_trunk(hook, copy_id: int) -> tuple:
    """(the space's sample draws, the global torch stream's first draws) of copy ``copy_id`` of 2 (one rank each)
    at the start of the hook's next trunk (epoch 3, iteration 12: after 3 trunks of 4 iterations)."""
    hook.layout = CopyLayout(2, 1, copy_id, 2)
    hook.spaces = [_Recorder(name='aug')]
    hook._start_segment(SimpleNamespace(epoch=3, iter=12))
    return hook.spaces[0].draws, tuple(torch.randint(1000, (8,)).tolist())


def test_each_copy_of_a_resumed_search_draws_its_own_next_trunk():
    runner = _resuming_runner()
    saved = _choice_hook(2, trunk_iters=4, seed=7)
    saved.resolve_spaces(runner)
    saved.trunk = 3  # after trunks 0-2
    checkpoint: dict = {}
    saved.before_save_checkpoint(runner, checkpoint)
    uninterrupted, resumed = [], []
    for copy_id in (0, 1):
        going_on = _choice_hook(2, trunk_iters=4, seed=7)
        going_on.trunk = 3
        uninterrupted.append(_next_trunk(going_on, copy_id))
        hook = _choice_hook(2, trunk_iters=4, seed=7)
        hook.after_load_checkpoint(runner, checkpoint)
        assert hook.trunk == 3 and hook.seed == 7
        resumed.append(_next_trunk(hook, copy_id))
    assert uninterrupted[0] != uninterrupted[1]  # two copies: two samples, two training streams
    assert resumed == uninterrupted
