"""A misspelled OHL ``AttributeSpace`` target was refused without the config key that sets it.

Input that showed the fault (a new user's trial of the README):
``configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py`` with
``--cfg-options custom_hooks.0.spaces.0.target=optim_wrapper.optimizer.param_groups.*.lrr`` stopped with
``custom_hooks[0] (OHLHook): OHL space 'lr': attribute path ...: key 'lrr' not found`` (the hook entry, not which
of its spaces), and ``custom_hooks.0.spaces.1.target=train_dataloader.batch_sizee`` (a path the config check leaves
to the workers) stopped after starting the copies with ``worker rank 2 of 4 (...): attribute path
'train_dataloader.batch_sizee': DataLoader has no attribute 'batch_sizee'`` (neither the hook nor the space), while
a misspelled ``model.`` target was named ``custom_hooks[0].spaces[1]: OHL space 'x': ...``. Every target refusal
now names the space at its config key, at start (``build_check``) and in the workers (``OHLHook.setup_spaces``).
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from torch import nn
from torch.utils.data import DataLoader

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl.hook import OHLHook

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _with_space(target: str) -> Config:
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='x', target=target, choices=[1, 2],
                                           distribution=dict(type='Categorical')))
    return cfg


@pytest.mark.parametrize('target, says', [
    ('optim_wrapper.optimizer.param_groups.*.lrr', r"key 'lrr' not found; did you mean 'lr'\?"),
    ('optim_wraper.optimizer.lr', r"the runner \(CopyRunner\) has no attribute 'optim_wraper' "
                                  r"\(did you mean 'optim_wrapper'\?\)"),
    ('param_schedulers.0.eta_minn', r"did you mean 'eta_min'\?"),
    ('train_loop.val_intervall', r"did you mean 'val_interval'\?"),
    ('train_dataloader.dataset.pipeline.transforms.0.transformm', r"did you mean 'transform'\?"),
])
def test_a_misspelled_target_is_refused_at_start_naming_the_spaces_key(target, says):
    with pytest.raises(ConfigCheckError) as info:
        build_check(_with_space(target))
    message = str(info.value)
    assert message.startswith(f"custom_hooks[0].spaces[1]: OHL space 'x': attribute path '{target}': "), message
    assert re.search(says, message), message


def _hook(target: str, key: str | None = None) -> OHLHook:
    hook = OHLHook(spaces=[dict(type='AttributeSpace', name='lr', target='model.gain', choices=[1.0, 2.0],
                                distribution=dict(type='Categorical')),
                           dict(type='AttributeSpace', name='bs', target=target, choices=[4, 8],
                                distribution=dict(type='Categorical'))],
                   num_copies=2, trunk_epochs=1, reward_key='accuracy/top1')
    if key is not None:
        hook.config_key = key
    return hook


def _runner() -> SimpleNamespace:
    model = nn.Linear(2, 2)
    model.gain = 1.0  # a plain setting (a tensor slot such as the weight is refused: test_theta_attribute_space)
    return SimpleNamespace(model=model, train_dataloader=DataLoader(list(range(8)), batch_size=4))


@pytest.mark.parametrize('key', ['custom_hooks[0]', None])
def test_a_target_the_workers_refuse_names_the_spaces_key(key):
    hook = _hook('train_dataloader.batch_sizee', key)
    with pytest.raises(ValueError) as info:
        hook.setup_spaces(_runner())
    where = key or 'OHLHook'
    assert str(info.value).startswith(f"{where}.spaces[1]: attribute path 'train_dataloader.batch_sizee': "
                                      "DataLoader has no attribute 'batch_sizee'"), info.value


def test_spaces_that_set_up_are_left_as_they_are():
    hook = _hook('train_dataloader.batch_size', 'custom_hooks[0]')
    hook.setup_spaces(_runner())  # no refusal
