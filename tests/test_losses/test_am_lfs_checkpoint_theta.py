"""θ is a buffer, saved in checkpoints: a resume continues it (inside a trunk each copy then draws its θ again from the
same seed, as the uninterrupted run did). It is a learned hyper-parameter, not a weight: a run started with
``load_from`` from a searched checkpoint into a config whose loss is a plain ``AMLFSLoss()`` trained with the
search's last θ, silently (and with a warning only where the config gave its own ``theta``). Now ``load_from`` keeps
the config's θ and names the key (``LearnedStateHook``, registered on every training runner); a resume keeps the
checkpoint's, and an edited ``theta`` is reported as replaced by it (``ResumeConfigHook``), not as taking effect.

Small objects and a stand-in runner; the whole path through a real Runner's ``load_from`` is asserted in
``test_am_lfs_equals_plain_run.py`` (a plain ``AMLFSLoss()`` loaded from a checkpoint with another θ trains exactly as
cross-entropy)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from automl_mm.engine import learned_state
from automl_mm.engine.learned_state import LearnedStateHook, learned_buffers
from automl_mm.engine.resume_config import ResumeConfigHook
from automl_mm.models import CosineLinearClsHead

SEARCHED = torch.linspace(-0.2, 0.3, 14, dtype=torch.float64)  # a copy's last sample


class _Model(nn.Module):
    def __init__(self, **loss):
        super().__init__()
        self.head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss', **loss))


@pytest.fixture
def warned(monkeypatch) -> list[str]:
    messages: list[str] = []
    monkeypatch.setattr(learned_state, 'print_log', lambda msg, **kw: messages.append(msg)
                        if kw.get('level', logging.INFO) >= logging.WARNING else None)
    return messages


def _checkpoint(prefix: str = '') -> dict:
    searched = _Model(theta=SEARCHED)
    return {'state_dict': {prefix + k: v for k, v in searched.state_dict().items()}, 'meta': {'iter': 12}}


def _load(model: nn.Module, checkpoint: dict, resume: bool) -> None:
    """What Runner.load_checkpoint does: after_load_checkpoint, then the weights (a DDP prefix stripped)."""
    runner = SimpleNamespace(model=model, _resume=resume, _load_from='search/iter_12.pth')
    LearnedStateHook().after_load_checkpoint(runner, checkpoint)
    model.load_state_dict({k.removeprefix('module.'): v for k, v in checkpoint['state_dict'].items()})


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_load_from_keeps_the_configs_cross_entropy_theta_and_names_the_key(warned, prefix):
    retrain = _Model()  # a plain AMLFSLoss(): the config sets no theta
    checkpoint = _checkpoint(prefix)
    weight = checkpoint['state_dict'][prefix + 'head.fc.weight']
    _load(retrain, checkpoint, resume=False)
    assert torch.equal(retrain.head.loss_module.theta, retrain.head.loss_module.cross_entropy_theta())
    assert torch.equal(retrain.head.fc.weight, weight)  # the weights are the checkpoint's
    assert len(warned) == 1
    assert 'head.loss_module._theta' in warned[0] and 'model.head.loss.theta' in warned[0]
    assert 'search/iter_12.pth' in warned[0] and str(round(float(SEARCHED[0]), 4)) in warned[0]


def test_load_from_keeps_a_configured_theta(warned):
    fixed = torch.full((14,), 0.05, dtype=torch.float64)  # final_policy.py's learned loss
    retrain = _Model(theta=fixed)
    _load(retrain, _checkpoint(), resume=False)
    assert torch.equal(retrain.head.loss_module.theta, fixed)
    assert len(warned) == 1


def test_load_from_with_the_same_theta_is_quiet(warned):
    retrain = _Model(theta=SEARCHED)
    _load(retrain, _checkpoint(), resume=False)
    assert torch.equal(retrain.head.loss_module.theta, SEARCHED) and warned == []


def test_resume_continues_the_checkpoints_theta(warned):
    resumed = _Model()
    _load(resumed, _checkpoint(), resume=True)
    assert torch.equal(resumed.head.loss_module.theta, SEARCHED) and warned == []


def test_learned_buffers_name_the_config_key():
    assert learned_buffers(_Model()) == [('head.loss_module._theta', 'model.head.loss.theta', '_theta')]


def test_a_resume_under_an_edited_theta_says_the_checkpoints_is_used(monkeypatch, tmp_path):
    """It was listed under 'This run's value is used from the resume on' while the resumed buffer replaced it."""
    from automl_mm.engine import resume_config

    messages: list[str] = []
    monkeypatch.setattr(resume_config, 'print_log', lambda msg, **kw: messages.append(msg)
                        if kw.get('level', logging.INFO) >= logging.WARNING else None)
    before = Config(dict(model=dict(head=dict(loss=dict(type='AMLFSLoss'))), train_cfg=dict(max_epochs=2)))
    now = Config(dict(model=dict(head=dict(loss=dict(type='AMLFSLoss', theta=[0.1] * 14))),
                      train_cfg=dict(max_epochs=2)))
    runner = SimpleNamespace(model=_Model(), _resume=True, _load_from='run/epoch_1.pth', cfg=now, hooks=[],
                             work_dir=str(tmp_path))
    hook = ResumeConfigHook()
    hook.after_load_checkpoint(runner, {'meta': {'cfg': before.pretty_text}, 'state_dict': {}})
    hook.before_train(runner)
    assert len(messages) == 1
    used, _, applied = messages[0].partition('This run\'s value is used')
    assert 'model.head.loss.theta' in used and 'The checkpoint\'s value is used' in used
    assert 'model.head.loss.theta' not in applied


@pytest.mark.parametrize('resume', [False, True])
def test_a_pretrained_init_of_a_searched_checkpoint_keeps_the_configs_theta(warned, tmp_path, resume):
    """init_cfg=dict(type='Pretrained') loads weights only, as load_from: the searched θ it loaded into the head
    is put back to the config's before training (recorded in before_run, before Runner.train initialises the
    weights), with a warning; a resume then loads the checkpoint's θ anyway and keeps it."""
    searched = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss', theta=SEARCHED))
    torch.save({'state_dict': searched.state_dict()}, tmp_path / 'search.pth')
    head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'),
                               init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'search.pth')))
    model = nn.Sequential()
    model.add_module('head', head)
    runner = SimpleNamespace(model=model, _resume=resume, _load_from=None)
    hook = LearnedStateHook()
    hook.before_run(runner)
    head.init_weights()  # what Runner.train does next: mmengine's PretrainedInit loads the file
    assert torch.equal(head.fc.weight, searched.fc.weight) and torch.equal(head.loss_module.theta, SEARCHED)
    hook.before_train(runner)
    expected = SEARCHED if resume else head.loss_module.cross_entropy_theta()
    assert torch.equal(head.loss_module.theta, expected)
    assert torch.equal(head.fc.weight, searched.fc.weight)  # the weights stay the loaded ones
    assert len(warned) == int(not resume)
    if not resume:
        assert 'head.loss_module._theta (config key model.head.loss.theta)' in warned[0] and 'Pretrained' in warned[0]
