"""Paths a sampler of one's own draws are checked where they are used: ``PathSamplingHook`` trained, and the
completion scoring scored, whatever ``sample_at`` / ``complete`` returned, so a sampler that ignored the space's
constraint (``is_valid``: at most one ``skip`` below) trained paths outside the space without a word."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from automl_mm.nas.base import BasePathSampler, BasePathSpace, drawn_path
from automl_mm.nas.hook import PathSamplingHook
from automl_mm.registry import SAMPLERS, SEARCH_SPACES


class _OneSkip(BasePathSpace):
    """Three decisions, at most one 'skip'."""

    def __init__(self):
        super().__init__([['a', 'skip']] * 3)

    @property
    def independent(self):
        return False

    def is_valid(self, path):
        return len(path) == 3 and sum(self.options[i][j] == 'skip' for i, j in enumerate(path)) <= 1

    def apply(self, path, model):
        model.path = tuple(path)

    def current_path(self, model):
        return model.path


class _AllSkips(BasePathSampler):
    """Ignores the constraint: every decision 'skip'."""

    def complete(self, prefix, generator, accept=None):
        return tuple(prefix) + (1, ) * (self.space.num_decisions - len(prefix))

    def sample(self, generator=None):
        return self.complete((), generator)


@pytest.fixture
def registered():
    SEARCH_SPACES.register_module(module=_OneSkip, force=True)
    SAMPLERS.register_module(module=_AllSkips, force=True)
    yield
    SEARCH_SPACES.module_dict.pop('_OneSkip', None)
    SAMPLERS.module_dict.pop('_AllSkips', None)


def test_path_sampling_hook_refuses_a_path_outside_the_space(registered):
    hook = PathSamplingHook(space=dict(type='_OneSkip'), sampler=dict(type='_AllSkips'), seed=0)
    runner = SimpleNamespace(iter=0, model=SimpleNamespace(path=None))
    with pytest.raises(ValueError, match=r"PathSamplingHook.sampler \(_AllSkips\) drew \(1, 1, 1\), which "
                                         r"_OneSkip.is_valid refuses \(values \['skip', 'skip', 'skip'\]\)"):
        hook.before_train_iter(runner, 0)
    assert runner.model.path is None  # not applied


def test_completion_scoring_refuses_a_completion_outside_the_space():
    from automl_mm.nas.scoring import potential

    sampler = _AllSkips(_OneSkip())
    with pytest.raises(ValueError, match=r'the completion sampler \(_AllSkips\) drew \(1, 1, 1\)'):
        potential((1, ), sampler, lambda path, s: 1.0, 2, np.random.default_rng(0))


def test_drawn_path_checks_prefix_accept_and_form():
    sampler = _AllSkips(_OneSkip())
    assert drawn_path(sampler, [0, 0, 1], 'X') == (0, 0, 1)
    with pytest.raises(ValueError, match=r'X \(_AllSkips\) was asked to complete \(1,\) and drew \(0, 0, 1\)'):
        drawn_path(sampler, (0, 0, 1), 'X', prefix=(1, ))
    with pytest.raises(ValueError, match='which its accept'):
        drawn_path(sampler, (0, 0, 1), 'X', accept=lambda p: False)
    with pytest.raises(ValueError, match=r'X \(_AllSkips\) drew \(0, 0\), not a path of _OneSkip'):
        drawn_path(sampler, (0, 0), 'X')
