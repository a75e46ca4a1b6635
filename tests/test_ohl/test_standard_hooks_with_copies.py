"""What mmengine's standard hooks and loops see in a real 2-copy OHL run (``tools/train.py``, 2 processes over gloo):
an ``EMAHook``, a ``CheckpointHook(save_best=...)``, a validation after every trunk, a test after training, the
``DistSamplerSeedHook`` and ``LoggerHook``.

* Every validation runs, on every rank, the average (``EMAHook`` swaps it in) of the trunk's best copy, broadcast at
  the trunk end, and every rank reports the same metric.
* ``save_best`` keeps that model: the best checkpoint's ``state_dict`` is the validated average.
* After training every rank holds the last trunk's best copy and its average, which the final checkpoint saves;
  ``Runner.test()`` in the same runner tests that average on every rank (unpatched, mmengine's
  ``EMAHook.before_run``, which ``test()`` calls again, rebuilt the average from the model: the best copy's own
  weights were tested; automl_mm patch 17).
* Each copy's sampler is set to the runner's epoch (``DistSamplerSeedHook``) and draws its own order.
* ``LoggerHook``'s training loss is rank 0's, i.e. copy 0's, of that iteration (not the best copy's nor a mean).
"""
from __future__ import annotations

import glob
import json
import os.path as osp

import pytest
import torch
from _train_ranks import train_ranks

from conftest import read_scalars, tiny_ohl_cfg

PLUGIN = '''
import json
import os.path as osp

import torch
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper

import automl_mm.ohl.copies as copies
from automl_mm.ohl import get_copy_layout
from automl_mm.registry import HOOKS

_train = copies.CopyRunner.train


def train_then_test(self):
    model = _train(self)
    self.test()
    return model


copies.CopyRunner.train = train_then_test


def params(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def averaged(runner):
    ema = [h for h in runner.hooks if isinstance(h, EMAHook)][0].ema_model.module
    return {k: v.detach().clone() for k, v in ema.named_parameters()}


def save(runner, name, obj):
    torch.save(obj, osp.join(runner.work_dir, f'{name}_rank{get_copy_layout().rank}.pth'))


@HOOKS.register_module()
class KeepEMABefore(Hook):
    priority = 55  # after EMAHook's last update of the trunk, before OHLHook (60) broadcasts the best copy

    def after_train_epoch(self, runner):
        save(runner, f'ema_before_epoch{runner.epoch + 1}', averaged(runner))


@HOOKS.register_module()
class KeepSeen(Hook):
    priority = 'LOWEST'  # after EMAHook swapped the average in

    def __init__(self):
        self.iters = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append(dict(epoch=runner.epoch, sampler_epoch=runner.train_dataloader.sampler.epoch,
                               idx=[s.metainfo['sample_idx'] for s in data_batch['data_samples']]))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters[-1]['loss'] = float(outputs['loss'])
        save(runner, 'iters', self.iters)

    def before_val_epoch(self, runner):
        save(runner, f'validated_epoch{runner.epoch}', params(runner))

    def after_val_epoch(self, runner, metrics=None):
        save(runner, f'val_metrics_epoch{runner.epoch}', dict(metrics))

    def after_train(self, runner):
        save(runner, 'trained', dict(raw=params(runner), ema=averaged(runner)))

    def before_test_epoch(self, runner):
        save(runner, 'tested', params(runner))

    def after_test_epoch(self, runner, metrics=None):
        save(runner, 'test_metrics', dict(metrics))
'''


def _load(work: str, name: str, rank: int):
    return torch.load(osp.join(work, f'{name}_rank{rank}.pth'), weights_only=False)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow  # 2 ranks
def test_ema_validation_best_checkpoint_test_sampler_and_log_with_two_copies(tmp_path):
    from mmengine.config import Config

    (tmp_path / 'standard_hooks_plugin.py').write_text(PLUGIN)
    work = str(tmp_path / 'work')
    cfg = tiny_ohl_cfg(work, trunk_epochs=1)
    cfg.train_cfg.val_interval = 1  # a validation after every trunk
    digits = Config.fromfile('configs/_base_/datasets/digits.py')
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'] = digits[f'{split}_dataloader']
        cfg[f'{split}_dataloader'].dataset.max_samples = 64
        cfg[f'{split}_evaluator'] = dict(type='Accuracy', topk=(1,))
        cfg[f'{split}_cfg'] = dict()
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, max_keep_ckpts=4,
                                        save_best='accuracy/top1')
    cfg.log_processor = dict(window_size=1)  # the logged loss is the iteration's, not a running mean
    cfg.custom_hooks[0].update(num_copies=2, seed=0)
    cfg.custom_hooks += [dict(type='EMAHook', momentum=0.5), dict(type='KeepEMABefore'), dict(type='KeepSeen')]
    cfg.custom_imports = dict(imports=['standard_hooks_plugin'], allow_failed_imports=False)
    cfg.train_dataloader.dataset.pipeline[-1]['meta_keys'] = ('sample_idx',)
    cfg.pop('launcher')
    cfg.dump(str(tmp_path / 'cfg.py'))
    # tools/train.py's main in 2 gloo ranks forked as torchrun starts them (tests/_train_ranks.py): a subprocess of the
    # tool imported everything again in its launcher and in its fork server, most of the run
    train_ranks([str(tmp_path / 'cfg.py'), '--work-dir', work], 2, sys_path=[str(tmp_path)])

    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert [h['epoch'] for h in history] == [1, 2, 3] and all(h['broadcast'] for h in history)
    val_metrics = []
    for epoch, record in enumerate(history, 1):
        best, other = record['best'], 1 - record['best']
        ema = [_load(work, f'ema_before_epoch{epoch}', r) for r in range(2)]
        assert not _same(ema[best], ema[other])  # the copies' averages differed before the broadcast
        for rank in range(2):  # every rank validates the best copy's average
            assert _same(_load(work, f'validated_epoch{epoch}', rank), ema[best]), (epoch, rank)
        metrics = [_load(work, f'val_metrics_epoch{epoch}', r) for r in range(2)]
        assert metrics[0] == metrics[1]
        val_metrics.append(metrics[0]['accuracy/top1'])

    # save_best keeps the validated average of the epoch with the best metric (the first of equal ones)
    first_best = val_metrics.index(max(val_metrics)) + 1
    [path] = glob.glob(osp.join(work, 'best_accuracy_top1_epoch_*.pth'))
    assert path.endswith(f'_epoch_{first_best}.pth')
    saved = torch.load(path, weights_only=False)['state_dict']
    validated = _load(work, f'validated_epoch{first_best}', 0)
    assert _same({k: saved[k] for k in validated}, validated)

    # after training every rank holds the last trunk's best copy and its average; Runner.test() in the same runner
    # tests that average on every rank, as tools/test.py on the final checkpoint does (unpatched, EMAHook's
    # before_run, which test() calls again, rebuilt the average from the model: the raw weights were tested)
    trained = [_load(work, 'trained', r) for r in range(2)]
    assert _same(trained[0]['ema'], _load(work, 'ema_before_epoch3', history[-1]['best']))
    for rank in range(2):
        assert _same(trained[rank]['raw'], trained[0]['raw']) and _same(trained[rank]['ema'], trained[0]['ema'])
        assert _same(_load(work, 'tested', rank), trained[0]['ema'])
    assert not _same(trained[0]['raw'], trained[0]['ema'])
    final = torch.load(osp.join(work, 'epoch_3.pth'), weights_only=False)['state_dict']
    assert _same({k: final[k] for k in trained[0]['ema']}, trained[0]['ema'])  # the final checkpoint: the average
    assert _load(work, 'test_metrics', 0) == _load(work, 'test_metrics', 1)

    iters = [_load(work, 'iters', r) for r in range(2)]
    assert len(iters[0]) == len(iters[1]) == 12
    for rank in range(2):  # DistSamplerSeedHook set each copy's sampler to the runner's epoch
        epochs = [0] * 4 + [1] * 4 + [2] * 4
        assert [i['sampler_epoch'] for i in iters[rank]] == [i['epoch'] for i in iters[rank]] == epochs
    for epoch in range(3):  # each copy reads the training set in its own order, another one each epoch
        orders = [sum((i['idx'] for i in iters[r][4 * epoch:4 * epoch + 4]), []) for r in range(2)]
        assert sorted(orders[0]) == sorted(orders[1]) == list(range(64)) and orders[0] != orders[1]
    assert sum((i['idx'] for i in iters[0][:4]), []) != sum((i['idx'] for i in iters[0][4:8]), [])

    # LoggerHook's training loss: rank 0's (copy 0's) of each iteration
    logged = [r['loss'] for r in read_scalars(work) if 'loss' in r]
    assert logged == pytest.approx([i['loss'] for i in iters[0]], rel=1e-6)
    assert logged != pytest.approx([i['loss'] for i in iters[1]], rel=1e-6)
