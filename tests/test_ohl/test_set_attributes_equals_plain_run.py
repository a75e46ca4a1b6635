"""What OHL's exported fragments replay trains exactly as the plain run they stand for.

* A ``SetAttributesHook`` writing the base ``optim_wrapper.optimizer.weight_decay`` / ``.lr`` (``final_policy.py``
  of an ``AttributeSpace``) over ``paramwise_cfg`` multipliers equals a config with that base: every group, and
  the base that mmengine's wrapper keeps for several groups (``base_param_settings``: the group its schedulers step
  last and ``get_lr()`` reports as ``base_lr``), which the write used to leave at the config's value.
* ``schedule_policy.py`` (a ``TrunkScheduleHook``) exported by one copy searching the base lr and weight decay
  (``FrozenController``: the copy draws a new pair every trunk) retrains bit for bit as the search trained: the
  values per iteration, losses and final weights, for trunks of epochs and of iterations inside epochs.
"""
from __future__ import annotations

import copy
import os.path as osp

import pytest
from _equivalence import differences, record_run
from mmengine.config import Config

from conftest import tiny_ohl_cfg

PARAMWISE = dict(norm_decay_mult=0.0, bias_decay_mult=0.5, custom_keys={'head': dict(lr_mult=0.1, decay_mult=2.0)})


def _plain(cfg):
    cfg = copy.deepcopy(cfg)
    cfg.runner_type = 'Runner'
    cfg.custom_hooks = []
    cfg.pop('model_wrapper_cfg')
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    cfg.optim_wrapper.paramwise_cfg = PARAMWISE
    return cfg


@pytest.mark.parametrize('key, configured, written', [('weight_decay', 1e-3, 1e-2), ('lr', 0.05, 0.01)])
def test_a_written_base_trains_as_that_base_in_the_config(tmp_path, key, configured, written):
    base = _plain(tiny_ohl_cfg(str(tmp_path / 'config')))
    if key == 'lr':
        base.param_scheduler = []  # a scheduler of a written lr is refused
    base.optim_wrapper.optimizer[key] = written
    replay = copy.deepcopy(base)
    replay.work_dir = str(tmp_path / 'replay')
    replay.optim_wrapper.optimizer[key] = configured
    replay.custom_hooks = [dict(type='SetAttributesHook', values={f'optim_wrapper.optimizer.{key}': written})]
    plain, replayed = record_run(base), record_run(replay)
    assert differences(replayed, plain) == []
    assert replayed['runner'].optim_wrapper.get_lr()['base_lr'] == plain['runner'].optim_wrapper.get_lr()['base_lr']


@pytest.mark.parametrize('trunk', [dict(trunk_epochs=1), dict(trunk_iters=3)])
def test_the_exported_schedule_retrains_as_the_search_trained(tmp_path, trunk):
    search = tiny_ohl_cfg(str(tmp_path / 'search'), **trunk)
    search.train_dataloader.dataset.pipeline = [dict(type='OHLRandomChoice', key='aug', transforms=[[], []]),
                                                dict(type='PackClsInputs')]
    search.train_dataloader.sampler = dict(type='CopySampler', shuffle=False)
    search.optim_wrapper.paramwise_cfg = PARAMWISE
    search.custom_hooks[0].controller = dict(type='FrozenController')
    search.custom_hooks[0].spaces = [
        dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2)),
        dict(type='AttributeSpace', target='optim_wrapper.optimizer.lr', name='lr', choices=[0.05, 0.01, 0.2],
             distribution=dict(type='Categorical', num_choices=3)),
        dict(type='AttributeSpace', target='optim_wrapper.optimizer.weight_decay', name='wd', choices=[1e-4, 1e-2],
             distribution=dict(type='Categorical', num_choices=2))]
    searched = record_run(search)
    fragment = Config.fromfile(osp.join(search.work_dir, 'ohl', 'schedule_policy.py'))
    values = fragment.custom_hooks[0]['values']
    assert len(set(values['optim_wrapper.optimizer.lr'])) > 1  # the copy's draws changed between trunks
    replay = _plain(search)
    replay.work_dir = str(tmp_path / 'replay')
    replay.custom_hooks = fragment.custom_hooks
    assert differences(searched, record_run(replay)) == []
