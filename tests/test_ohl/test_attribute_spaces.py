"""AttributeSpace: attribute paths into the runner (get, set, fan out over ``*``; a part that does not exist is
a ValueError naming the path), a value sampled per copy and the mode exported, and choices that agree with the
distribution or are refused."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from automl_mm.ohl import AttributeSpace, CopyLayout, get_attribute, set_attribute
from automl_mm.ohl.distributions import Categorical
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (autouse)


def _runner():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    optim = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.0)
    return SimpleNamespace(model=model, optim_wrapper=SimpleNamespace(optimizer=optim))


def test_attribute_paths_get_set_and_fan_out():
    runner = _runner()
    set_attribute(runner, 'model.1.p', 0.25)
    assert runner.model[1].p == 0.25
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.weight_decay', 1e-3)
    assert get_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.weight_decay') == [1e-3]
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        get_attribute(runner, 'model.nope')
    with pytest.raises(ValueError, match='runner has no attribute'):
        get_attribute(runner, 'missing.x')


def test_attribute_path_with_a_missing_list_index_is_a_value_error_naming_the_path():
    """resolve_attribute promises a ValueError naming the path for a part that does not exist: an index out of
    range inside the path raised a bare ``IndexError: list index out of range``, and a name where the last part
    indexes a list ``ValueError: invalid literal for int()``, neither naming the path."""
    runner = _runner()  # one param group
    for path, part in (('optim_wrapper.optimizer.param_groups.3.lr', 'index 3'),
                       ('optim_wrapper.optimizer.param_groups.-2.lr', 'index -2'),
                       ('optim_wrapper.optimizer.param_groups.lr', "'lr' cannot index a list")):
        with pytest.raises(ValueError, match=f"attribute path '{path}': {part}"):
            get_attribute(runner, path)
        with pytest.raises(ValueError, match=f"attribute path '{path}'"):
            set_attribute(runner, path, 0.5)


def test_attribute_space_samples_per_copy_and_exports_the_mode():
    runner = _runner()
    space = AttributeSpace(dict(type='Categorical', num_choices=3), target='model.1.p', choices=[0.0, 0.1, 0.3])
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert runner.model[1].p in (0.0, 0.1, 0.3)
    stats = space.trunk_stats()
    assert stats.sum() == 1 and stats[[0.0, 0.1, 0.3].index(runner.model[1].p)] == 1
    space.distribution.load_state_dict({'logits': torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)})
    assert "'model.1.p': 0.3" in space.export_fragment()
    gauss = AttributeSpace(dict(type='DiagGaussian', mean=[-2.0], std=0.1), target='model.1.p', transform='pow10')
    gauss.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert 10**-2.5 < runner.model[1].p < 10**-1.5
    # REINFORCE's statistic is the Gaussian's own sample x (log10 of the value written), whose log-density θ
    # sampled it with: [count, Σx, Σx²], not the transformed value 10^x
    x = math.log10(runner.model[1].p)
    torch.testing.assert_close(gauss.trunk_stats(), torch.tensor([1.0, x, x * x], dtype=torch.float64))


def test_attribute_space_choices_and_distribution_agree_or_are_refused():
    """One choice per value: a categorical without num_choices takes len(choices); 3 choices over 4 values (0.5
    never searched) or 5 over 4 (index 4 has no value, failing mid-training) are refused when the space is built,
    as are choices with a Gaussian and a transform that choices would silently skip."""
    space = AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=[0.0, 0.1, 0.3, 0.5])
    assert len(space.distribution.probs()) == 4
    runner = _runner()
    seen = set()
    for seed in range(40):
        space.begin_trunk(runner, 0, torch.Generator().manual_seed(seed))
        seen.add(runner.model[1].p)
    assert seen == {0.0, 0.1, 0.3, 0.5}
    for num in (3, 5):
        with pytest.raises(ValueError, match=rf"AttributeSpace\('AttributeSpace', target='model.1.p'\): distribution "
                                             rf'has {num} choices but choices holds 4 values .*num_choices out'):
            AttributeSpace(dict(type='Categorical', num_choices=num), target='model.1.p', choices=[0.0, 0.1, 0.3, 0.5])
    with pytest.raises(ValueError, match='choices index a categorical distribution, got DiagGaussian'):
        AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=0.1), target='model.1.p', choices=[0.0, 0.1])
    with pytest.raises(ValueError, match="transform='exp' applies to Gaussian samples"):
        AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=[0.0, 0.1], transform='exp')
    for bad in ([0.1], 'abc'):
        with pytest.raises(ValueError, match='choices must be a list of at least 2 values'):
            AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=bad)
    with pytest.raises(ValueError, match='distribution has 3 choices .*build the distribution with 2 choices'):
        AttributeSpace(Categorical(3), target='model.1.p', choices=[0.0, 0.1])
    # without choices a categorical's index was written as the value (choice 2 set p = 2.0)
    with pytest.raises(ValueError, match='a categorical distribution needs choices'):
        AttributeSpace(dict(type='Categorical', num_choices=3), target='model.1.p')
    # the type as a class, and logits without num_choices: still one choice per value
    space = AttributeSpace(dict(type=Categorical, logits=[0.0, 0.0, 5.0]), target='model.1.p', choices=[1, 2, 3])
    assert space.value_of(space.distribution.mode()) == 3
