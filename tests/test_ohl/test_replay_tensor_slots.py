"""Every writer of attribute paths refuses a path that names a module's buffer or parameter (a tensor slot), before
anything is written, naming the writer and the path (:mod:`automl_mm.ohl.tensor_slots`).

Input that showed the fault: ``custom_hooks=[dict(type='SetAttributesHook', values={'model.backbone.layers.1.momentum':
0.05, 'model.backbone.layers.1.running_mean': 0.0})]`` passed ``tools/train.py``'s config check and every start
check; ``before_train`` wrote the momentum, then stopped the run with torch's bare ``TypeError: cannot assign 'float'
as buffer 'running_mean' (torch.Tensor or None expected)``, naming neither the hook nor the path. ``TrunkScheduleHook``
stopped at its first trunk the same way, and the model paths set before a test (``before_test``, also
``SearchedValuesHook``'s) too. The OHL spaces refused such a target already (``AttributeSpace.check_tensor_slot``)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from torch import nn

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.losses import AMLFSLoss
from automl_mm.ohl.attributes import check_written_value, set_attribute
from automl_mm.ohl.replay_hooks import SearchedValuesHook, SetAttributesHook, TrunkScheduleHook

from conftest import REPO_ROOT

BUFFER = 'model.norm.running_mean'
ZEROS = [0.0, 0.0]  # as many numbers as the tensor holds: the shape check passes it on to torch


def _runner():
    model = nn.Module()
    model.norm = nn.BatchNorm1d(2)
    model.loss_module = AMLFSLoss(num_intervals=2)
    return SimpleNamespace(model=model, cfg=None, hooks=[], epoch=0, iter=0, param_schedulers=[],
                           train_loop=SimpleNamespace())


def _unchanged(runner):
    return runner.model.norm.momentum == 0.1 and runner.model.norm.running_mean.tolist() == [0.0, 0.0]


@pytest.mark.parametrize('path, kind, name, module', [
    (BUFFER, 'buffer', 'running_mean', 'BatchNorm1d'), ('model.norm.weight', 'parameter', 'weight', 'BatchNorm1d')])
def test_the_replay_hooks_refuse_a_tensor_slot_before_any_write(path, kind, name, module):
    problem = (rf"attribute path '{path}' is the {kind} '{name}' of the module {module} \(a tensor\), where torch "
               r'takes no number or list.*write a setting the module reads instead')
    match = '^{}: ' + problem
    runner = _runner()
    hook = SetAttributesHook({'model.norm.momentum': 0.05, path: ZEROS})
    with pytest.raises(ValueError, match=match.format('SetAttributesHook')):
        hook.before_train(runner)
    assert _unchanged(runner)  # the momentum before it is not written either
    hook = TrunkScheduleHook({'model.norm.momentum': [0.05], path: [ZEROS, [1.0, 1.0]]}, trunk_epochs=1)
    with pytest.raises(ValueError, match=match.format('TrunkScheduleHook')):
        hook.before_train(runner)
    assert _unchanged(runner)
    # before a test or a validation-only run, where they set the model's paths (SearchedValuesHook too)
    for hook in (SetAttributesHook({'model.norm.momentum': 0.05, path: ZEROS}),
                 TrunkScheduleHook({'model.norm.momentum': [0.05], path: [ZEROS]}, trunk_epochs=1)):
        for stage in (hook.before_test, hook.before_val):
            with pytest.raises(ValueError, match=match.format(type(hook).__name__)):
                stage(runner)
            assert _unchanged(runner)
    searched = SearchedValuesHook()
    searched.values = {'model.norm.momentum': 0.05, path: ZEROS}
    with pytest.raises(ValueError, match=match.format('SearchedValuesHook')):
        searched.before_test(runner)
    assert _unchanged(runner)
    # the one writer they all use: a ValueError naming the path, not torch's TypeError
    for write in (set_attribute, check_written_value):
        for value in (ZEROS, 0.0):  # one number: the slot, not the shape check's advice of a list of two
            with pytest.raises(ValueError, match='^' + problem):
                write(runner, path, value)
    assert _unchanged(runner)


def test_am_lfs_private_theta_names_the_theta_property():
    runner = _runner()
    theta = runner.model.loss_module.theta.tolist()
    hook = SetAttributesHook({'model.loss_module._theta': theta})
    with pytest.raises(ValueError, match=r"^SetAttributesHook: attribute path 'model\.loss_module\._theta' is the "
                                         r"buffer '_theta' of the module AMLFSLoss \(a tensor\).*write the whole θ to "
                                         r"the loss's theta property \(model\.loss_module\.theta\)"):
        hook.before_train(runner)
    SetAttributesHook({'model.loss_module.theta': theta}).before_train(runner)  # the property takes it


def test_a_replay_hooks_tensor_slot_is_refused_by_the_config_check_naming_its_key():
    """``tools/train.py``'s check (``build_check``, with the model built) names the hook's config key: the path was
    refused only in every worker's ``before_train``, after start-up."""
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py')
    path = 'model.backbone.layers.1.running_var'  # a BN layer's
    cfg.custom_hooks = [dict(type='SetAttributesHook', values={'model.backbone.layers.1.momentum': 0.05}),
                        dict(type='TrunkScheduleHook', trunk_epochs=1, values={path: [1.0, 0.5]})]
    with pytest.raises(ConfigCheckError, match=rf"^custom_hooks\[1\] \(TrunkScheduleHook\): attribute path "
                                               rf"'{path}' is the buffer 'running_var' of the module BatchNorm2d"):
        build_check(cfg)
    cfg.custom_hooks[1]['values'] = {'model.backbone.layers.1.eps': [1e-5, 1e-4]}
    build_check(cfg)


@pytest.mark.parametrize('path, value', [('model.norm.weight.data', ZEROS), ('model.norm.running_mean.data', ZEROS),
                                         ('model.norm.weight.grad', ZEROS)])
def test_a_path_to_a_slots_data_is_refused_as_the_slot(path, value):
    """``weight.data`` (PyTorch's way to overwrite weights) passed every check and stopped the run with torch's bare
    ``TypeError: Variable data has to be a tensor, but got list``, after the momentum before it was written; another
    attribute of the tensor (``requires_grad``) is not its values and is written."""
    runner = _runner()
    kind, name = ('parameter', 'weight') if '.weight.' in path else ('buffer', 'running_mean')
    with pytest.raises(ValueError, match=rf"^SetAttributesHook: attribute path '{re.escape(path)}' writes the "
                                         rf"{path.rsplit('.', 1)[1]} of the {kind} '{name}' of the module BatchNorm1d"):
        SetAttributesHook({'model.norm.momentum': 0.05, path: value}).before_train(runner)
    assert _unchanged(runner)
    SetAttributesHook({'model.norm.weight.requires_grad': False}).before_train(runner)
    assert not runner.model.norm.weight.requires_grad
