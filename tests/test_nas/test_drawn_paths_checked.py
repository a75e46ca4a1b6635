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


def _bare_loop():
    from automl_mm.nas.loop import SearchLoopBase

    loop = object.__new__(SearchLoopBase)
    loop._iter, loop._advanced, loop.seed = 0, True, 0
    loop.dataloader_iterator = iter(range(10))
    loop._runner = SimpleNamespace(model=SimpleNamespace(path=None, train=lambda: None))
    loop.run_iter = lambda batch: setattr(loop, '_iter', loop._iter + 1)
    return loop


def test_a_training_phase_restricted_by_accept_refuses_a_draw_it_does_not_admit():
    """CR-NAS's stage supernet trains only the allocations within the FLOPs band (``accept``): a sampler of one's
    own that ignores ``accept`` is refused at its draw, not trained on."""
    class _LastSkip(_AllSkips):  # a valid path, whatever accept says
        def complete(self, prefix, generator, accept=None):
            return (0, 0, 1)

    space = _OneSkip()
    loop = _bare_loop()
    with pytest.raises(ValueError, match=r'^the single-path sampler \(_LastSkip\) drew \(0, 0, 1\), which its '
                                         r'accept \(the cost limit\) does not admit'):
        loop.train_until(3, space, _LastSkip(space), accept=lambda p: p == (0, 0, 0))
    assert loop.runner.model.path is None


def test_a_training_phase_restricted_by_accept_refuses_a_sampler_with_its_own_sample_at():
    class _Tied(_AllSkips):
        def sample_at(self, seed, iteration):
            return (0, 0, 0)

    space = _OneSkip()
    with pytest.raises(ValueError, match=r'sampler _Tied draws the path of an iteration its own way \(sample_at\)'):
        _bare_loop().train_until(3, space, _Tied(space), accept=lambda p: True)


def test_a_training_phase_restricted_by_accept_draws_only_admitted_paths():
    from automl_mm.nas.samplers import UniformPathSampler

    space = _OneSkip()
    loop = _bare_loop()
    drawn = []
    space.apply = lambda path, model: drawn.append(tuple(path))
    loop.train_until(10, space, UniformPathSampler(space), accept=lambda p: p[0] == 1)
    assert len(drawn) == 10 and {p[0] for p in drawn} == {1}
    assert set(drawn) == {(1, 0, 0)}  # the one valid path (at most one skip) starting with a skip
