"""PC-NAS's ``flops_limit`` / ``latency_limit`` <= 0 over a *constrained* space (``independent`` False): the
reachable-range check (``PCNASLoop._check_cost_limit``) reads only independent spaces, so over a constrained one only
the build-time "must be > 0" refusal stands between such a limit and a search that admits no completion and ends
after its first stage's training. Tested until now over the independent ``LayerwiseSpace`` only."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg

from automl_mm.nas import LatencyTable
from automl_mm.nas.spaces import LayerwiseSpace
from automl_mm.registry import SEARCH_SPACES


class _OneSkipAtMostSpace(LayerwiseSpace):
    """The digits supernet's layer-wise space with a constraint: at most one layer is ``skip``."""

    @property
    def independent(self) -> bool:
        return False

    def _skips(self, path) -> int:
        return sum(v == 'skip' for v in self.values(path))

    def is_valid(self, path) -> bool:
        return len(path) == self.num_decisions and self._skips(path) <= 1

    def can_complete(self, prefix) -> bool:
        return self._skips(prefix) <= 1


@pytest.fixture
def constrained_space():
    SEARCH_SPACES.register_module(module=_OneSkipAtMostSpace, force=True)
    try:
        yield dict(type='_OneSkipAtMostSpace')
    finally:
        SEARCH_SPACES.module_dict.pop('_OneSkipAtMostSpace')


def _build(tmp_path, **train_cfg):
    runner = Runner.from_cfg(_cfg(str(tmp_path), **train_cfg))
    return runner.build_train_loop(runner._train_loop)


def test_the_space_is_constrained_and_the_range_check_passes_a_limit_below_every_architecture(tmp_path,
                                                                                            constrained_space):
    """Why the build-time refusal matters here: 1 FLOP is below every architecture, and builds."""
    import math

    loop = _build(tmp_path, space=constrained_space, flops_limit=1.0)
    space = loop.space
    assert not space.independent
    assert 0 < sum(1 for _ in space.completions(())) < math.prod(len(o) for o in space.options)


@pytest.mark.parametrize('limit', [0, -5e6])
def test_a_flops_limit_at_or_below_zero_is_refused_over_a_constrained_space(tmp_path, constrained_space, limit):
    with pytest.raises(ValueError, match=rf'^train_cfg\.flops_limit must be > 0 .*got {limit!r}'):
        _build(tmp_path, space=constrained_space, flops_limit=limit)


@pytest.mark.parametrize('limit', [0, -1.5])
def test_a_latency_limit_at_or_below_zero_is_refused_over_a_constrained_space(tmp_path, constrained_space, limit):
    from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet

    table_file = str(tmp_path / 'lut.json')
    LatencyTable.measure(MBConvSupernet(space='digits'), (1, 3, 16, 16), repeats=1, warmup=0).save(table_file)
    with pytest.raises(ValueError, match=rf'^train_cfg\.latency_limit must be > 0 .*got {limit!r}'):
        _build(tmp_path, space=constrained_space, latency_table=table_file, latency_limit=limit, flops_limit=None)
