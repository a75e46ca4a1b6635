"""A plain ``AttributeSpace`` on an ``AMLFSLoss``'s ``theta`` whose writes the loss projects is refused before the first
trunk, naming ``LossFunctionSpace`` (which records θ as the loss ran with it).

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[1, 1, 0, 0, 1, 1, 0, 0], std=0.5),
target='model.loss_module.theta')`` on ``AMLFSLoss(num_intervals=2, parametrisation='piecewise')``: a sample with a
negative slope (-0.5) was projected by the loss (its slopes clamped to 0), which trained with 0.0 while the history,
the log and ``final_policy.py`` recorded (and REINFORCE credited) -0.5. ``LossFunctionSpace`` reports the projected θ
(``reported``); a choice the loss keeps as it is, and the monotone parametrisation (nothing projected), pass."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from automl_mm.losses import AMLFSLoss, LossFunctionSpace
from automl_mm.ohl.attribute_space import AttributeSpace

PATH = 'model.loss_module.theta'
IDENTITY = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]  # piecewise, M = 2: [a_t, b_t, a_tau, b_tau]
NEGATIVE = [-0.5, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def _runner(parametrisation='piecewise'):
    model = nn.Module()
    model.loss_module = AMLFSLoss(num_intervals=2, parametrisation=parametrisation)
    return SimpleNamespace(model=model)


def test_a_gaussian_on_a_projected_theta_is_refused_naming_loss_function_space():
    runner = _runner()
    space = AttributeSpace(dict(type='DiagGaussian', mean=IDENTITY, std=0.5), target=PATH, name='t')
    match = (r"^OHL space 't': attribute path 'model\.loss_module\.theta' is the theta of an AMLFSLoss "
             r"\(parametrisation='piecewise'\), which projects what is written.*LossFunctionSpace\(target="
             r"'model\.loss_module\.theta', parametrisation='piecewise'\)")
    with pytest.raises(ValueError, match=match):
        space.resolve(runner)  # the launching process's config check
    with pytest.raises(ValueError, match=match):
        space.check_choices(runner, PATH)  # setup
    # what the refusal prevents: the loss trains with the projection of the sample that would be recorded
    runner.model.loss_module.theta = NEGATIVE
    assert runner.model.loss_module.theta.tolist()[0] == 0.0


def test_a_choice_the_loss_projects_is_refused_naming_what_it_runs_with():
    runner = _runner()
    space = AttributeSpace(dict(type='Categorical'), target=PATH, choices=[IDENTITY, NEGATIVE], name='c')
    with pytest.raises(ValueError, match=r"OHL space 'c': choice \[-0\.5, .*\]: attribute path 'model\.loss_module\."
                                         r"theta': the AMLFSLoss would run with \[0\.0, 1\.0, .*\]"):
        space.check_choices(runner, PATH)
    with pytest.raises(ValueError, match=r'would run with'):
        space.resolve(runner)


def test_what_the_loss_keeps_and_loss_function_space_pass():
    runner = _runner()
    AttributeSpace(dict(type='Categorical'), target=PATH, choices=[IDENTITY, [2.0] + IDENTITY[1:]],
                   name='c').check_choices(runner, PATH)
    space = LossFunctionSpace(target=PATH, parametrisation='piecewise')
    space.resolve(runner)
    space.check_choices(runner, PATH)
    assert space.reported(torch.tensor(NEGATIVE, dtype=torch.float64))[0] == 0.0  # it records the projection
    monotone = _runner('monotone')  # nothing projected: the written θ is the θ the loss runs with
    gaussian = AttributeSpace(dict(type='DiagGaussian', mean=[0.0] * 6, std=0.05), target=PATH, name='m')
    gaussian.resolve(monotone)
    gaussian.check_choices(monotone, PATH)


@pytest.mark.parametrize('parametrisation', ['piecewise', 'monotone'])
def test_a_space_on_the_private_theta_buffer_is_refused_naming_theta_and_loss_function_space(parametrisation):
    """``AttributeSpace(dict(type='DiagGaussian', ...), target='model.loss_module._theta')`` (AM-LFS's private
    buffer, the name its ``state_dict`` shows) passed every start check, then stopped the first trunk's write with
    torch's ``TypeError: cannot assign 'list' as buffer '_theta'``. Refused at the config check (``resolve``) and in
    ``setup`` (``check_choices``), naming the path, ``theta`` and ``LossFunctionSpace``; a choice and a
    LossFunctionSpace on the buffer too."""
    from automl_mm.ohl.attributes import set_attribute

    runner = _runner(parametrisation)
    path = 'model.loss_module._theta'
    width = len(runner.model.loss_module.theta)
    match = (r"OHL space 'b': attribute path 'model\.loss_module\._theta' is the buffer '_theta' of the module "
             r"AMLFSLoss \(a tensor\).*search the loss with LossFunctionSpace\(target='model\.loss_module\.theta'")
    spaces = [AttributeSpace(dict(type='DiagGaussian', mean=[0.0] * width, std=0.1), target=path, name='b'),
              AttributeSpace(dict(type='Categorical'), target=path, choices=[[0.0] * width, [0.1] * width], name='b')]
    for space in spaces:
        with pytest.raises(ValueError, match=match):
            space.resolve(runner)
        with pytest.raises(ValueError, match=match):
            space.check_choices(runner, path)
    with pytest.raises(ValueError, match=r"is the buffer '_theta' of the module AMLFSLoss"):
        LossFunctionSpace(target=path, parametrisation=parametrisation).resolve(runner)
    # the write itself, which stopped with torch's TypeError (cannot assign 'list' as buffer '_theta'), names it too
    with pytest.raises(ValueError, match=r"^attribute path 'model\.loss_module\._theta' is the buffer '_theta'"):
        set_attribute(runner, path, [0.0] * width)


def test_a_space_on_another_modules_tensor_is_refused_naming_it():
    """The same kind on any module: a BN layer's ``running_mean`` buffer or a layer's ``weight`` parameter took no
    number or list (torch's TypeError at the first write); a plain setting of the module (``momentum``) passes."""
    model = nn.Module()
    model.norm = nn.BatchNorm1d(2)
    runner = SimpleNamespace(model=model)
    for path, kind in (('model.norm.running_mean', 'buffer'), ('model.norm.weight', 'parameter')):
        space = AttributeSpace(dict(type='DiagGaussian', mean=[0.0, 0.0], std=0.1), target=path, name='n')
        with pytest.raises(ValueError, match=rf"attribute path '{path}' is the {kind} '{path.rsplit('.', 1)[1]}' of "
                                             r"the module BatchNorm1d \(a tensor\)"):
            space.resolve(runner)
    AttributeSpace(dict(type='Categorical'), target='model.norm.momentum', choices=[0.1, 0.01],
                   name='m').resolve(runner)
