"""A trunk start holds the constructor relations on the values its spaces are about to write, drawn aside
(``AttributeSpace.planned_values``), before any write: those values must be the very ones the trunk then writes
(same generator, same space index, every distribution) and the draw aside must consume no random stream. A space
whose writes cannot be planned (a subclass with its own ``apply``) leaves the trunk to the check after the writes:
held with what the objects held before, its write unseen, a legal pair was refused."""
from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.hook import OHLHook
from automl_mm.ohl.segments import space_generator

SPACES = {
    'categorical': lambda: AttributeSpace(dict(type='Categorical'), target='h.x', choices=[0.1, 0.2, 0.3]),
    'factorised': lambda: AttributeSpace(dict(type='FactorisedCategorical', factor_sizes=[2, 3]), target='h.x',
                                         choices=[1, 2, 3, 4, 5, 6]),
    'gaussian': lambda: AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=1.0), target='h.x'),
    'gaussian-exp': lambda: AttributeSpace(dict(type='DiagGaussian', mean=[-3.0], std=1.0), target='h.x',
                                           transform='exp'),
    'gaussian-2d-pow10': lambda: AttributeSpace(dict(type='DiagGaussian', mean=[-3.0, 0.0], std=1.0), target='h.x',
                                                transform='pow10'),
}


def _streams():
    return (torch.random.get_rng_state().clone(), repr(np.random.get_state()), random.getstate())


@pytest.mark.parametrize('kind', SPACES)
def test_the_planned_value_is_the_one_the_trunk_writes_and_no_stream_moves(kind):
    for copy_id, trunk, index in ((0, 0, 0), (1, 3, 2)):
        space = SPACES[kind]()
        before = _streams()
        planned = space.planned_values(space_generator(7, copy_id, trunk, index))
        after = _streams()
        assert torch.equal(before[0], after[0]) and before[1:] == after[1:], 'the draw aside moved a global stream'
        assert space.current is None and not space.trunk_stats().any(), 'the draw aside was recorded'
        runner = SimpleNamespace(h=SimpleNamespace(x=None))
        space.begin_trunk(runner, trunk, space_generator(7, copy_id, trunk, index))
        assert planned == {'h.x': runner.h.x}, kind


def _hook(spaces, copy_id, trunk):
    hook = OHLHook.__new__(OHLHook)
    hook.spaces, hook.seed, hook.trunk = spaces, 3, trunk
    hook.layout = SimpleNamespace(copy_id=copy_id)
    hook._merged_warned = set()
    return hook


def test_the_trunk_start_refuses_exactly_the_trunks_whose_draws_break_the_relation_before_writing():
    from mmdet.datasets.transforms import Brightness

    def spaces():  # uniform: about one trunk in four draws min 0.6 with max 0.4
        return [AttributeSpace(dict(type='Categorical'), target='t.min_mag', choices=[0.2, 0.6], name='low'),
                AttributeSpace(dict(type='Categorical'), target='t.max_mag', choices=[0.4, 0.8], name='high')]

    seen = set()
    for copy_id in range(2):
        for trunk in range(8):
            drawn = SimpleNamespace(t=SimpleNamespace(min_mag=None, max_mag=None))
            for i, space in enumerate(spaces()):  # what each space writes at this trunk, on its own
                space.begin_trunk(drawn, trunk, space_generator(3, copy_id, trunk, i))
            broken = drawn.t.min_mag > drawn.t.max_mag
            seen.add(broken)
            runner = SimpleNamespace(t=Brightness(min_mag=0.1, max_mag=0.5))
            if broken:
                with pytest.raises(ValueError, match=rf'OHL trunk {trunk} \(copy {copy_id}\): t\.min_mag=0\.6 and '
                                                     r't\.max_mag=0\.4 break min_mag <= max_mag'):
                    OHLHook._begin_trunk(_hook(spaces(), copy_id, trunk), runner)
                assert (runner.t.min_mag, runner.t.max_mag) == (0.1, 0.5), 'written before the refusal'
            else:
                OHLHook._begin_trunk(_hook(spaces(), copy_id, trunk), runner)
                assert (runner.t.min_mag, runner.t.max_mag) == (drawn.t.min_mag, drawn.t.max_mag)
    assert seen == {True, False}


class _OwnApply(AttributeSpace):
    """A user's subclass with its own ``apply``: its writes are not planned."""

    def apply(self, sample, runner=None):
        super().apply(sample, runner)


@pytest.mark.parametrize('low, refused', [(0.1, False), (0.35, True)])
def test_a_space_whose_writes_are_not_planned_is_held_with_what_it_wrote(low, refused):
    from mmdet.datasets.transforms import Brightness

    spaces = [_OwnApply(dict(type='Categorical', logits=[30.0, -30.0]), target='t.min_mag', choices=[low, 0.0],
                        name='low'),
              AttributeSpace(dict(type='Categorical', logits=[30.0, -30.0]), target='t.max_mag', choices=[0.3, 0.5],
                             name='high')]
    assert spaces[0].planned_values(space_generator(3, 0, 0, 0)) is None
    runner = SimpleNamespace(t=Brightness(min_mag=0.4, max_mag=0.5))  # 0.4 > 0.3: only the old min_mag breaks it
    if refused:
        with pytest.raises(ValueError, match=r't\.min_mag=0\.35 and t\.max_mag=0\.3 break min_mag <= max_mag'):
            OHLHook._begin_trunk(_hook(spaces, 0, 0), runner)
    else:
        OHLHook._begin_trunk(_hook(spaces, 0, 0), runner)
        assert (runner.t.min_mag, runner.t.max_mag) == (0.1, 0.3)


def test_a_pipeline_choice_space_plans_no_write_unless_it_begins_its_trunk_otherwise():
    from automl_mm.ohl.pipeline_space import PipelineChoiceSpace

    class OwnBegin(PipelineChoiceSpace):
        def begin_trunk(self, runner, trunk, generator):
            super().begin_trunk(runner, trunk, generator)

    distribution = dict(type='Categorical', num_choices=2)
    assert PipelineChoiceSpace(distribution, key='aug').planned_values(space_generator(3, 0, 0, 0)) == {}
    assert OwnBegin(distribution, key='aug').planned_values(space_generator(3, 0, 0, 0)) is None
