"""A base ``lr`` / ``weight_decay`` written into an optimiser built from a config (mmengine's constructor makes each
parameter group a ``ConfigDict``) keeps plain dicts in the groups, so that the optimiser's ``state_dict`` saved in a
checkpoint loads through automl_mm's checkpoint loader, which refuses classes other than plain containers."""
from __future__ import annotations

import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import build_optim_wrapper
from torch import nn

from automl_mm.engine.checkpoint import safe_torch_load
from automl_mm.ohl.optimizer_base import BASE_VALUE_KEY, RATIO_KEY, establish, write_base


def _types(obj, found):
    found.add(type(obj))
    if isinstance(obj, dict):
        for value in obj.values():
            _types(value, found)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _types(value, found)
    return found


def test_a_written_base_saves_plain_dicts_that_the_checkpoint_loader_reads(tmp_path):
    """Groups built from a Config are ConfigDicts: the kept rule and base became ConfigDicts too, and a checkpoint of
    a retrain's TrunkScheduleHook (one process, no broadcast to replace the groups) was refused at resume / test."""
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
                                         paramwise_cfg=dict(norm_decay_mult=0.0))))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(optim_wrapper.optimizer.param_groups[0], ConfigDict)  # the case this test is about
    path = 'optim_wrapper.optimizer.weight_decay'
    establish(optim_wrapper.optimizer, 'weight_decay', path)
    write_base(optim_wrapper.optimizer, 'weight_decay', 5e-4, path)
    write_base(optim_wrapper.optimizer, 'lr', 0.2, 'optim_wrapper.optimizer.lr')
    state = optim_wrapper.state_dict()
    assert ConfigDict not in _types(state, set())
    torch.save({'optimizer': state}, tmp_path / 'ckpt.pth')
    loaded = safe_torch_load(str(tmp_path / 'ckpt.pth'), map_location='cpu')['optimizer']
    groups = loaded['param_groups']
    assert [g['weight_decay'] for g in groups] == [5e-4, 5e-4, 0.0, 0.0]  # norm_decay_mult=0 keeps the norm at 0
    assert all(g[BASE_VALUE_KEY] == {'weight_decay': 5e-4, 'lr': 0.2} for g in groups)
    assert all(set(g[RATIO_KEY]) == {'weight_decay', 'lr'} for g in groups)
