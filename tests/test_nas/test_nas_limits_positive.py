"""The NAS loops' cost bounds are refused at build time, naming the key, where they admit no architecture at all or
are no band: CR-NAS's ``flops_tolerance`` < 0 (it is the half-width of the FLOPs band around the reference's FLOPs,
METHODS.md §5; a tolerance in (-1, 0) used to be an upper bound below the reference, a search for a cheaper network
than the one whose computation CR-NAS reallocates) and PC-NAS's ``latency_limit`` / ``flops_limit`` <= 0 (costs are
positive). They used to pass the constructor and fail only when the loop ran (CR-NAS: after counting every
allocation's FLOPs, as "no allocation fits the FLOPs budget -0.0123 GFLOPs"; PC-NAS: only an independent space's
reachable-range check saw it ("below every architecture"), a constrained space admitted no completion and the
search ended after the first stage's training)."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas.test_cr_nas_flops_budget import _loop
from test_nas.test_pc_nas_loop import _cfg


@pytest.mark.parametrize('tolerance', [-1, -1.5, -0.2, -1e-9])
def test_a_negative_flops_tolerance_is_refused_when_the_loop_is_built(tmp_path, tolerance):
    with pytest.raises(ValueError, match=rf'^train_cfg\.flops_tolerance={tolerance} must be >= 0: it is the relative '
                                         r'half-width of the FLOPs band'):
        _loop(str(tmp_path), flops_tolerance=tolerance)


def test_a_zero_flops_tolerance_is_a_band_of_the_reference_flops(tmp_path):
    loop = _loop(str(tmp_path), flops_tolerance=0)
    loop.flops = {loop.reference_path: 100.0}
    assert loop.flops_tolerance == 0.0 and loop.flops_band() == (100.0, 100.0)


@pytest.mark.parametrize('override, key', [(dict(flops_limit=0), 'flops_limit'), (dict(flops_limit=-5e6),
                                                                                   'flops_limit')])
def test_a_cost_limit_at_or_below_zero_is_refused_when_the_loop_is_built(tmp_path, override, key):
    runner = Runner.from_cfg(_cfg(str(tmp_path), **override))
    with pytest.raises(ValueError, match=rf'^train_cfg\.{key} must be > 0'):
        runner.build_train_loop(runner._train_loop)
