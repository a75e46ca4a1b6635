"""AM-LFS at the θ that is cross-entropy trains exactly as a plain run with ``CrossEntropyLoss`` on the same
cosine head: the same loss at every iteration and the same weights, bit for bit. For a fixed ``AMLFSLoss`` (either
parametrisation, what ``final_policy.py`` retrains with) and for one OHL copy whose ``LossFunctionSpace`` samples
around μ₀ = cross-entropy with a σ too small to move any θ component off it in float64 (under
``FrozenController``). The plain ``AMLFSLoss()`` run starts with ``load_from`` a checkpoint whose θ is another
(a search's): load_from takes weights, not the learned loss (it trained with the checkpoint's θ). A CosFace margin
of 0.01 in the same run differs from the first iteration (the check can fail)."""
from __future__ import annotations

import copy

import pytest
import torch
from _equivalence import differences, record_run

from automl_mm.losses import cosface_theta

from conftest import tiny_ohl_cfg

KEYS = ('lr', 'weight_decay', 'loss', 'params', 'bn_statistics', 'checkpoint_at')


def _cfg(tmp_path, name: str, loss: dict, search: bool = False):
    cfg = tiny_ohl_cfg(str(tmp_path / name))
    cfg.model.head = dict(type='CosineLinearClsHead', num_classes=10, in_channels=16, loss=loss)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)]
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    if search:
        cfg.custom_hooks[0].spaces = [dict(type='LossFunctionSpace', std=1e-300)]
        cfg.custom_hooks[0].controller = dict(type='FrozenController')
        cfg.train_dataloader.sampler = dict(type='CopySampler', shuffle=False)
        return cfg
    cfg.runner_type = 'Runner'
    cfg.custom_hooks = []
    cfg.pop('model_wrapper_cfg')
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    return cfg


@pytest.fixture(scope='module')
def cross_entropy(tmp_path_factory):
    return record_run(_cfg(tmp_path_factory.mktemp('ce'), 'ce', dict(type='CrossEntropyLoss')))


@pytest.mark.parametrize('loss, search, searched_theta', [
    (dict(type='AMLFSLoss'), False, True),
    (dict(type='AMLFSLoss', parametrisation='piecewise'), False, False),
    (dict(type='AMLFSLoss'), True, False),
])
def test_cross_entropy_theta_trains_as_cross_entropy(tmp_path, cross_entropy, loss, search, searched_theta):
    cfg = _cfg(tmp_path, 'am_lfs', copy.deepcopy(loss), search)
    if searched_theta:
        # load_from a searched checkpoint (only its θ, so the weights stay the initialised ones the cross-entropy
        # run started from): a plain AMLFSLoss() trained with that θ, silently; load_from keeps the config's
        cfg.load_from = str(tmp_path / 'searched.pth')
        torch.save({'state_dict': {'head.loss_module._theta': torch.full((14,), 0.3, dtype=torch.float64)},
                    'meta': {}}, cfg.load_from)
    am_lfs = record_run(cfg)
    assert len(am_lfs['loss']) == 12
    if search:  # the space wrote its samples (each component within 1e-299 of 0)
        assert 0 < am_lfs['state_dict']['head.loss_module._theta'].abs().max() < 1e-299
    assert differences(am_lfs, cross_entropy, KEYS) == []


def test_a_small_margin_is_seen(tmp_path, cross_entropy):
    loss = dict(type='AMLFSLoss', parametrisation='piecewise', theta=cosface_theta(0.01).tolist())
    found = differences(record_run(_cfg(tmp_path, 'cosface', loss)), cross_entropy, KEYS)
    assert found and found[0].startswith('loss: first differs at 0')
