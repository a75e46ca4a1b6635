"""A path space of one's own that constrains its paths by overriding ``is_valid`` alone (a ``LayerwiseSpace``
subclass without the path that skips every layer): ``BasePathSpace`` still said ``independent=True``,
``size()`` the product of the option counts and ``can_complete`` ``True`` for every prefix, so
``UniformPathSampler`` drew each decision independently, drew the refused path now and then, and the search stopped
mid-run with "drew (2, 2), which NoAllSkip.is_valid refuses ... a sampler must draw valid paths of its space only"
(and ``check_path_space`` refused the space: ``size()=4 but 3 valid paths``). Now overriding ``is_valid`` makes a
space constrained: not independent, counted and completed by enumeration."""
from __future__ import annotations

import numpy as np

from automl_mm.nas.samplers import UniformPathSampler
from automl_mm.nas.spaces import LayerwiseSpace
from automl_mm.testing import check_path_space


class _NoAllSkip(LayerwiseSpace):
    """LayerwiseSpace without the path that skips every layer (only ``is_valid`` overridden)."""

    def is_valid(self, path):
        return super().is_valid(path) and not all(v == 'skip' for v in self.values(path))


def _space():
    return _NoAllSkip(options=[['k3e3', 'k5e3', 'skip'], ['k3e3', 'skip']])


def test_a_space_overriding_is_valid_alone_is_constrained_counted_and_completed_exactly():
    space = _space()
    assert space.constrained and not space.independent
    assert space.size() == 5  # 3 × 2 paths but (skip, skip)
    assert space.can_complete((2, )) and space.can_complete((2, 0)) and not space.can_complete((2, 1))
    assert list(space.completions((2, ))) == [(2, 0)]
    check_path_space(space)  # refused it: size()=6 but 5 valid paths


def test_the_uniform_sampler_never_draws_the_refused_path_and_draws_the_rest_uniformly():
    space = _space()
    sampler = UniformPathSampler(space=space)
    drawn = [sampler.sample(np.random.default_rng(i)) for i in range(500)]
    assert (2, 1) not in drawn
    counts = {p: drawn.count(p) for p in space.completions(())}
    assert min(counts.values()) > 500 / 5 * 0.6  # each of the 5 paths drawn, about 100 times


def test_an_unconstrained_subclass_stays_independent():
    space = LayerwiseSpace(options=[['k3e3', 'k5e3', 'skip'], ['k3e3', 'skip']])
    assert not space.constrained and space.independent and space.size() == 6
