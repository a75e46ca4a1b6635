"""A discrete OHL search space whose candidates list one value twice (``AttributeSpace(choices=[0.1, 0.1, 0.2])``)
gave that value two logits: the controller learned its probability split between them, and the history, the plots
and the exported mode misstated the policy (0.1, drawn at 2/3 under uniform logits, reported as two choices of 1/3
each). Refused before the first trunk under a controller that learns, naming the space and the value; kept under a
``FrozenController`` (a control arm writing one value)."""
from __future__ import annotations

import pytest

from automl_mm.ohl import AttributeSpace
from automl_mm.ohl.base import build_controller, check_repeated_choices
from automl_mm.utils.checks import repeated_candidates


def test_repeated_candidates_finds_equal_values_and_configs():
    assert repeated_candidates([0.1, 0.1, 0.2]) == [(0.1, [0, 1])]
    assert repeated_candidates([1, 2, 1.0]) == [(1, [0, 2])]  # one number, int or float
    assert repeated_candidates([True, 1]) == []  # a flag and a number are not one value
    assert repeated_candidates([dict(a=1, b=2), dict(b=2, a=1), dict(a=2)]) == [(dict(a=1, b=2), [0, 1])]
    assert repeated_candidates([0.1, 0.2, 0.3]) == []



def _space(choices, name='lr'):
    return AttributeSpace(dict(type='Categorical'), target='model.x', choices=choices, name=name)


def test_a_learning_controller_refuses_a_choice_listed_twice():
    space = _space([0.1, 0.1, 0.2])
    assert space.repeated_choices() == [(0.1, [0, 1])]
    controller = build_controller(dict(type='REINFORCE'), space.distribution)
    with pytest.raises(ValueError, match=r"OHL space 'lr' \(AttributeSpace\) lists the choice 0\.1 more than once "
                                         r'\(at indices \[0, 1\]\)'):
        check_repeated_choices([_space([0.1, 0.2], 'other'), space], [controller, controller])
    lists = _space([[(32, 32)], [(48, 48)], [(32, 32)]], 'scales')
    with pytest.raises(ValueError, match=r"'scales'.*choice \[\(32, 32\)\] more than once \(at indices \[0, 2\]\)"):
        check_repeated_choices([lists], [build_controller(dict(type='REINFORCE'), lists.distribution)])


def test_distinct_choices_and_a_frozen_control_arm_are_kept():
    space = _space([0.1, 0.2])
    check_repeated_choices([space], [build_controller(dict(type='REINFORCE'), space.distribution)])
    control = _space([1.0, 1.0], 'none')  # benchmarks/am_lfs_fmnist.py's fixed-loss arms: theta never moves
    check_repeated_choices([control], [build_controller(dict(type='FrozenController'), control.distribution)])


def test_the_hook_refuses_it_when_it_resolves_its_spaces():
    from types import SimpleNamespace

    from automl_mm.ohl import OHLHook

    hook = OHLHook(spaces=[dict(type='AttributeSpace', distribution=dict(type='Categorical'), target='model.x',
                                choices=[0.1, 0.1, 0.2], name='lr')], reward_key='accuracy/top1',
                   num_copies=2, trunk_epochs=1)
    runner = SimpleNamespace(model=SimpleNamespace(x=0.3))
    with pytest.raises(ValueError, match=r"OHL space 'lr' \(AttributeSpace\) lists the choice 0\.1 more than once"):
        hook.resolve_spaces(runner)
