"""After a trunk-end broadcast every copy continues from exactly the best copy's full training state, in a real
2-copy run (``tools/train.py``'s ``main`` in 2 ranks over gloo, started as torchrun starts them: tests/_train_ranks.py):
a hook just before the OHL hook keeps each rank's state, one just after it keeps it again, and every rank's state
after the broadcast must equal, bit for bit, the best copy's before it. The random streams and the data order stay
each copy's own.

The state compared: the model's parameters (a frozen one included, which each copy perturbs by its own amount at the
start) and buffers (BatchNorm running statistics and ``num_batches_tracked``, a non-persistent buffer), the
optimiser wrapper's ``state_dict`` (AdamW's moments and step counts, the parameter groups with the searched base
weight decay and ``paramwise_cfg``'s multipliers, mmengine's ``base_param_settings``), its accumulation counters and
the pending gradients, every parameter scheduler's state and ``EMAHook``'s averaged model (its ``steps`` buffer
included). The state after is taken right after the broadcast (the OHL hook's ``adopt_model_values``), before a
trunk ending inside an epoch writes the next trunk's samples.
"""
from __future__ import annotations

import glob
import itertools
import os.path as osp

import pytest
import torch
from _train_ranks import train_ranks

from conftest import tiny_ohl_cfg

PLUGIN = '''
import os.path as osp
import random

import numpy as np
import torch
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper

import automl_mm.ohl.trunk_end as ohl_trunk_end
from automl_mm.ohl import get_copy_layout
from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import HOOKS


def full_state(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    ow = runner.optim_wrapper
    ema = [h for h in runner.hooks if isinstance(h, EMAHook)][0].ema_model
    clone = lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t
    return dict(
        params={k: clone(v) for k, v in model.named_parameters()},
        buffers={k: clone(v) for k, v in model.named_buffers()},
        grads={k: clone(v.grad) for k, v in model.named_parameters()},
        optim=torch.utils._pytree.tree_map(clone, ow.state_dict()),
        counts=(ow._inner_count, ow._max_counts, ow._remainder_counts),
        schedulers=[torch.utils._pytree.tree_map(clone, s.state_dict()) for s in runner.param_schedulers],
        ema={k: clone(v) for k, v in [*ema.named_parameters(), *ema.named_buffers()]})


AFTER_BROADCAST = []
_adopt = ohl_trunk_end.adopt_model_values


def adopt_and_keep(runner, copy_values, best):
    """The OHL hook's last step of the broadcast; the state is kept right after it, before the next trunk's samples
    are written (a trunk ending inside an epoch begins the next one in the same after_train_iter)."""
    _adopt(runner, copy_values, best)
    AFTER_BROADCAST.append(full_state(runner))


ohl_trunk_end.adopt_model_values = adopt_and_keep


@HOOKS.register_module()
class FreezeAndScratch(Hook):
    """Freezes the backbone's first convolution and gives the backbone a non-persistent buffer."""

    priority = 'VERY_HIGH'  # before EMAHook copies the model

    def before_run(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.backbone.layers[0].weight.requires_grad_(False)
        model.backbone.register_buffer('scratch', torch.zeros(3), persistent=False)


@HOOKS.register_module()
class PerturbCopies(Hook):
    """Moves the frozen convolution, the non-persistent buffer and a scheduler's ``eta_min`` by the copy's own
    amount, after the OHL hook made the copies equal at the start: only a trunk-end broadcast makes them equal."""

    priority = 'LOW'  # after OHLHook's before_train

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        copy_id = get_copy_layout().copy_id
        model.backbone.layers[0].weight.data.add_(0.01 * (copy_id + 1))
        model.backbone.scratch.fill_(copy_id)
        runner.param_schedulers[1].eta_min = 1e-4 * copy_id


@HOOKS.register_module()
class KeepStateBefore(Hook):
    priority = 55  # after EMAHook (NORMAL, 50), before OHLHook (BELOW_NORMAL, 60)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.state = full_state(runner)


@HOOKS.register_module()
class KeepStateAfter(Hook):
    priority = 65  # right after OHLHook, before ParamSchedulerHook (LOW, 70)

    def __init__(self):
        self.trunks, self.pending = 0, None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        ohl = [h for h in runner.hooks if isinstance(h, OHLHook)][0]
        if len(ohl.history) == self.trunks:
            return
        self.trunks = len(ohl.history)
        before = [h for h in runner.hooks if isinstance(h, KeepStateBefore)][0].state
        assert len(AFTER_BROADCAST) == 1, len(AFTER_BROADCAST)
        self.pending = dict(trunk=self.trunks - 1, record=ohl.history[-1], before=before, after=AFTER_BROADCAST.pop())

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.pending is not None:
            self.pending['rng'] = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())


@HOOKS.register_module()
class KeepNextBatch(Hook):
    priority = 'VERY_LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        keep = [h for h in runner.hooks if isinstance(h, KeepStateAfter)][0]
        pending = keep.pending
        if pending is not None and 'rng' in pending:
            pending['next_batch'] = [s.metainfo['sample_idx'] for s in data_batch['data_samples']]
            name = f'state_trunk{pending["trunk"]}_rank{get_copy_layout().rank}.pth'
            torch.save(pending, osp.join(runner.work_dir, name))
            keep.pending = None
'''


def _equal(a, b, where: str) -> list[str]:
    """The places where ``a`` and ``b`` differ (tensors bit for bit, with their dtypes)."""
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f'{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}']
        return [d for k in a for d in _equal(a[k], b[k], f'{where}.{k}')]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f'{where}: length {len(a)} != {len(b)}']
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _equal(x, y, f'{where}.{i}')]
    if isinstance(a, torch.Tensor):
        ok = isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
        return [] if ok else [where]
    return [] if a == b else [f'{where}: {a!r} != {b!r}']


@pytest.mark.slow  # 2 copies of 1 rank: about 60 s on 2 busy cores; of 2 ranks (DDP in a copy): about 2 minutes
@pytest.mark.parametrize('ranks_per_copy', [1, 2])
def test_every_copy_continues_from_the_best_copys_full_state(tmp_path, ranks_per_copy):
    """With 2 ranks per copy (DDP over the copy's ranks, ``broadcast_buffers=False``) the ranks of a copy hold BatchNorm
    statistics of their own shards; after the broadcast every rank holds the best copy's lead rank's."""
    (tmp_path / 'state_plugin.py').write_text(PLUGIN)
    work = str(tmp_path / 'work')
    cfg = tiny_ohl_cfg(work, trunk_iters=2)
    cfg.train_cfg.max_epochs = 1 + ranks_per_copy  # epochs of 4 // ranks_per_copy iterations: at least 2 trunks
    cfg.custom_imports = dict(imports=['state_plugin'], allow_failed_imports=False)
    cfg.optim_wrapper = dict(type='OptimWrapper', accumulative_counts=2,
                             optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05),
                             paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=3),
                           dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)]
    cfg.custom_hooks[0].update(num_copies=2, ranks_per_copy=ranks_per_copy, seed=0, spaces=[
        cfg.custom_hooks[0].spaces[0],
        dict(type='AttributeSpace', name='wd', target='optim_wrapper.optimizer.weight_decay', choices=[0.01, 0.1, 1.0],
             distribution=dict(type='Categorical'))])
    cfg.custom_hooks += [dict(type='EMAHook', momentum=0.5), dict(type='FreezeAndScratch'), dict(type='PerturbCopies'),
                         dict(type='KeepStateBefore'), dict(type='KeepStateAfter'), dict(type='KeepNextBatch')]
    cfg.train_dataloader.dataset.pipeline[-1]['meta_keys'] = ('sample_idx',)
    cfg.default_hooks.checkpoint.interval = 2 if ranks_per_copy == 1 else 1
    cfg.pop('launcher')
    cfg.dump(str(tmp_path / 'cfg.py'))
    train_ranks([str(tmp_path / 'cfg.py'), '--work-dir', work], 2 * ranks_per_copy, sys_path=[str(tmp_path)])
    files = sorted(glob.glob(osp.join(work, 'state_trunk*_rank0.pth')))
    assert len(files) >= 2  # the trunks before the last (whose next batch is in the next epoch or none)
    for path in files:
        ranks = [torch.load(path.replace('rank0', f'rank{r}'), weights_only=False) for r in range(2 * ranks_per_copy)]
        record, best = ranks[0]['record'], ranks[0]['record']['best']
        assert record['broadcast']
        source = ranks[best * ranks_per_copy]['before']
        loser = ranks[(1 - best) * ranks_per_copy]['before']
        if ranks_per_copy == 2:  # the best copy's second rank: its own BN statistics, the lead's weights
            assert _equal(source['buffers'], ranks[best * 2 + 1]['before']['buffers'], 'buffers')
            assert _equal(source['params'], ranks[best * 2 + 1]['before']['params'], 'params') == []
        # the copies differed before it (the schedulers by the start's perturbation only: until the first broadcast)
        for key in ('params', 'buffers', 'optim', 'ema') + (('schedulers',) if record['trunk'] == 0 else ()):
            assert _equal(source[key], loser[key], key), f'{path}: {key}'
        for rank in ranks:
            assert _equal(rank['after'], source, 'state') == [], path
        # each copy (and each rank of a copy) keeps its own random streams and data
        for a, b in itertools.combinations(ranks, 2):
            assert not torch.equal(a['rng'][0], b['rng'][0])
            assert (a['rng'][1] != b['rng'][1]).any()
            assert a['rng'][2] != b['rng'][2]
            assert a['next_batch'] != b['next_batch']
