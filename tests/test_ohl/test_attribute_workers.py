"""Attribute writes into the training data pipeline reach the dataloader workers.

A path through ``train_dataloader`` (here a transform's attribute) is written in the main process; dataloader
workers hold copies of the dataset made when they started. Each run below stamps, per image, the value its
transform held in the worker that loaded it, and checks every iteration's batch against the value written for
that iteration's trunk: ``SetAttributesHook``, ``TrunkScheduleHook`` and an ``AttributeSpace`` of a one-copy
``OHLHook``, in epoch and iteration loops, with persistent and non-persistent workers. Restarted workers must
also continue the sampler's pass where it was: every run loads the images in the sampler's order, each once per
pass. Then: how many restarts a run costs, a plain DataLoader restarted inside passes (in and out of order), and
the loaders that are refused.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset, IterableDataset, RandomSampler

from automl_mm.ohl import data_writes, set_attribute
from automl_mm.registry import HOOKS, TRANSFORMS

from conftest import tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner

PATH = 'train_dataloader.dataset.pipeline.transforms.0.value'
ITERS = 4  # 64 images in batches of 16


@TRANSFORMS.register_module(force=True)
class _Stamp(BaseTransform):
    """Writes its ``value`` and the loading process's id into the results."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def transform(self, results: dict) -> dict:
        results['stamp'] = self.value
        results['pid'] = os.getpid()
        return results


@HOOKS.register_module(force=True)
class _ProbeStamps(Hook):
    """Per iteration: the stamps of its batch (one value when the whole batch was loaded with it); the images in
    the order they were trained on."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.seen: list[list[float]] = []
        self.order: list[int] = []
        self.pids: set[int] = set()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        samples = data_batch['data_samples']
        self.seen.append(sorted({s.metainfo['stamp'] for s in samples}))
        self.order.extend(s.metainfo['sample_idx'] for s in samples)
        self.pids.update(s.metainfo['pid'] for s in samples)


def _check(runner, probe: _ProbeStamps, values: list) -> None:
    """Iteration i trained on a batch loaded with ``values[i]`` only, the images in the sampler's order."""
    assert len(probe.seen) == len(values), 'iterations trained'
    assert [s[0] if len(s) == 1 else s for s in probe.seen] == values
    sampler, expected, epoch = runner.train_dataloader.sampler, [], 0
    while len(expected) < len(probe.order):
        sampler.set_epoch(epoch)
        expected += list(sampler)
        epoch += 1
    assert probe.order == expected[:len(probe.order)]


def _stop_workers(runner) -> None:
    """Shut down the workers a finished run left (an iteration loop's pass in progress, persistent ones): left to
    the garbage collector, their shutdown stalled a later test for 10-20 s."""
    loader = runner.train_dataloader
    infinite = getattr(runner.train_loop, 'dataloader_iterator', None)
    for it in (getattr(getattr(infinite, 'iterator', infinite), '_iterator', None), loader._iterator):
        if hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()


def _data(cfg, workers: int, persistent: bool, iters: int | None, epochs: int) -> None:
    cfg.train_dataloader.dataset.pipeline = [dict(type='_Stamp'),
                                             dict(type='PackClsInputs', meta_keys=('stamp', 'pid', 'sample_idx'))]
    cfg.train_dataloader.update(num_workers=workers, persistent_workers=persistent and workers > 0, batch_size=16)
    cfg.param_scheduler = []
    if iters is None:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=1000)
    else:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
        cfg.log_processor = dict(by_epoch=False)


def _replay(tmp_path, hooks: list[dict], workers=2, persistent=False, iters=None, epochs=3):
    """A plain digits run (no OHLHook) with ``hooks``; 4 iterations per epoch. Returns the runner and its probe."""
    cfg = tiny_digits_cfg(str(tmp_path / 'replay'), max_epochs=epochs)
    _data(cfg, workers, persistent, iters, epochs)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [*hooks, dict(type='_ProbeStamps')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    _stop_workers(runner)
    return runner, next(h for h in runner.hooks if isinstance(h, _ProbeStamps))


LOOPS = {'epochs': (dict(iters=None, epochs=3), 12), 'iters': (dict(iters=10), 10)}


@pytest.mark.parametrize('persistent', [False, True], ids=['fresh', 'persistent'])
@pytest.mark.parametrize('loop', sorted(LOOPS))
def test_set_attributes_hook_reaches_the_workers(tmp_path, loop, persistent):
    """mmengine's IterBasedTrainLoop starts its workers when it is built, before before_train: they loaded every
    batch of the first pass (persistent workers: the whole run) with the value before the hook's."""
    kwargs, iterations = LOOPS[loop]
    runner, probe = _replay(tmp_path, [dict(type='SetAttributesHook', values={PATH: 7.0})], persistent=persistent,
                            **kwargs)
    _check(runner, probe, [7.0] * iterations)
    assert os.getpid() not in probe.pids  # loaded by worker processes


SCHEDULES = {
    # trunks of one epoch: the values change where a new pass over the data starts
    'epochs-per-epoch': (dict(trunk_epochs=1), dict(iters=None, epochs=3), 4, 12),
    # trunks of 3 iterations inside 4-iteration epochs: the values change mid-pass
    'epochs-per-3-iters': (dict(trunk_iters=3), dict(iters=None, epochs=3), 3, 12),
    'iters-per-3-iters': (dict(trunk_iters=3), dict(iters=11), 3, 11),
}


@pytest.mark.parametrize('persistent', [False, True], ids=['fresh', 'persistent'])
@pytest.mark.parametrize('schedule', sorted(SCHEDULES))
def test_trunk_schedule_hook_reaches_the_workers(tmp_path, schedule, persistent):
    trunk, loop, length, iterations = SCHEDULES[schedule]
    values = [1.0, 2.0, 3.0, 4.0]
    runner, probe = _replay(tmp_path, [dict(type='TrunkScheduleHook', values={PATH: values}, **trunk)],
                            persistent=persistent, **loop)
    _check(runner, probe, [values[min(i // length, 3)] for i in range(iterations)])


def test_trunk_schedule_hook_writes_before_the_trunks_first_batch_is_loaded(tmp_path):
    """Without workers too: a value set in before_train_iter came after the batch of that iteration was loaded,
    so each trunk's first batch had the previous trunk's value."""
    values = [1.0, 2.0, 3.0, 4.0]
    runner, probe = _replay(tmp_path, [dict(type='TrunkScheduleHook', values={PATH: values}, trunk_iters=3)],
                            workers=0)
    _check(runner, probe, [values[i // 3] for i in range(12)])


def _ohl(tmp_path, trunk: dict, workers=2, persistent=False, iters=None, epochs=3):
    """One copy learning the stamp's value; returns the runner, its probe and the values the history records the
    copy trained with per trunk."""
    cfg = tiny_ohl_cfg(str(tmp_path / 'ohl'), **trunk)
    _data(cfg, workers, persistent, iters, epochs)
    cfg.reward_dataloader.num_workers = 0
    choices = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    cfg.custom_hooks[0].update(seed=0, spaces=[dict(type='AttributeSpace', name='stamp', target=PATH,
                                                    choices=choices, distribution=dict(type='Categorical'))])
    cfg.custom_hooks.append(dict(type='_ProbeStamps'))
    runner = train_copy_runner(cfg, after_train=_stop_workers)
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    applied = [h['copy_values']['stamp'][0][PATH] for h in history]
    return runner, next(h for h in runner.hooks if isinstance(h, _ProbeStamps)), applied


OHL = {
    'epochs-per-epoch': (dict(trunk_epochs=1), dict(iters=None, epochs=3), 12),
    'epochs-per-3-iters': (dict(trunk_iters=3), dict(iters=None, epochs=3), 12),
    'iters-per-3-iters': (dict(trunk_iters=3), dict(iters=12), 12),
}


@pytest.mark.parametrize('persistent', [False, True], ids=['fresh', 'persistent'])
@pytest.mark.parametrize('schedule', sorted(OHL))
def test_an_attribute_space_trains_each_copy_on_the_value_it_records(tmp_path, schedule, persistent):
    """The history's copy_values (what the controller learns from and the exported schedule replays) are the
    values the copy's batches were loaded with."""
    trunk, loop, iterations = OHL[schedule]
    runner, probe, applied = _ohl(tmp_path, trunk, persistent=persistent, **loop)
    assert len(set(applied)) > 1  # the trunks drew different values (seed 0)
    length = trunk.get('trunk_iters', ITERS)
    _check(runner, probe, [applied[i // length] for i in range(iterations)])


@pytest.mark.parametrize('case', ['data-persistent', 'data-fresh', 'data-no-workers', 'model-persistent'])
def test_workers_restart_only_where_a_data_path_was_written(tmp_path, monkeypatch, case):
    """Restarts cost a worker start each: one per trunk start that a new pass does not already make, none for
    paths outside the data or loaders without workers."""
    restarts = []
    restart = data_writes._RestartableIter._dw_restart
    monkeypatch.setattr(data_writes._RestartableIter, '_dw_restart',
                        lambda it, source: (restarts.append(source), restart(it, source)))
    kind, workers = case.split('-', 1)
    path = PATH if kind == 'data' else 'optim_wrapper.optimizer.param_groups.*.lr'
    runner, probe = _replay(tmp_path, [dict(type='TrunkScheduleHook', values={path: [0.1, 0.2, 0.3]}, trunk_epochs=1)],
                            workers=0 if workers == 'no-workers' else 2, persistent=workers == 'persistent')
    watched = hasattr(runner.train_dataloader, data_writes._STATE)
    assert (watched, len(restarts)) == {'data-persistent': (True, 2), 'data-fresh': (True, 0),
                                        'data-no-workers': (False, 0), 'model-persistent': (False, 0)}[case]
    _check(runner, probe, [[0.1, 0.2, 0.3][i // ITERS] if kind == 'data' else 0.0 for i in range(12)])


class _Live(Dataset):
    """Item ``i``: ``(i, value)``, the value as the loading process holds it."""

    value = 0

    def __len__(self) -> int:
        return 24

    def __getitem__(self, i: int) -> tuple[int, int]:
        return i, self.value


@pytest.mark.parametrize('in_order', [True, False], ids=['in-order', 'out-of-order'])
@pytest.mark.parametrize('persistent', [False, True], ids=['fresh', 'persistent'])
def test_a_restart_continues_the_pass_with_the_batches_in_flight(persistent, in_order):
    """Writes at the start, inside and at the end of passes of a shuffled sampler: every batch after a write has its
    value, each pass yields each item once, in the order of a loader without writes, and the main process's
    torch RNG is where it would be without the restarts."""
    def loader(workers, seed=0):
        return DataLoader(_Live(), batch_size=2, num_workers=workers, prefetch_factor=2 if workers else None,
                          persistent_workers=persistent and workers > 0, in_order=in_order,
                          sampler=RandomSampler(range(24), generator=torch.Generator().manual_seed(seed)))

    torch.manual_seed(0)
    unwritten = loader(2)
    reference = [batch[0].tolist() for _ in range(3) for batch in unwritten]
    rng = torch.get_rng_state()

    torch.manual_seed(0)
    written = loader(2)
    runner = SimpleNamespace(train_dataloader=written, train_loop=SimpleNamespace(dataloader=written))
    writes = {(0, -1): 1, (0, 0): 2, (0, 3): 3, (0, 4): 4, (0, 11): 5, (1, 7): 6, (2, -1): 7, (2, 10): 8}
    value, seen, order = 0, [], []
    for epoch in range(3):
        if (epoch, -1) in writes:
            value = writes[epoch, -1]
            set_attribute(runner, 'train_dataloader.dataset.value', value)
        for b, (indices, values) in enumerate(written):
            seen.append((values.tolist(), [value] * 2))
            order.append(indices.tolist())
            if (epoch, b) in writes:
                value = writes[epoch, b]
                set_attribute(runner, 'train_dataloader.dataset.value', value)
    assert [s for s, _ in seen] == [v for _, v in seen]
    assert len(order) == 36
    for epoch in range(3):
        assert sorted(i for batch in order[epoch * 12:(epoch + 1) * 12] for i in batch) == list(range(24))
    if in_order:
        assert order == reference
        assert torch.equal(torch.get_rng_state(), rng)


class _Stream(IterableDataset):

    def __iter__(self):
        return iter(range(4))


class _OwnIterators(DataLoader):

    def _get_iterator(self):
        return super()._get_iterator()


@pytest.mark.parametrize('loader', [DataLoader(_Stream(), num_workers=2),
                                    _OwnIterators(list(range(4)), num_workers=2)], ids=['iterable', 'subclass'])
def test_a_data_path_on_workers_that_cannot_restart_is_refused(loader):
    runner = SimpleNamespace(train_dataloader=loader)
    with pytest.raises(ValueError, match=r"OHL space 'p' writes train_dataloader.dataset.x into the training data "
                                         r'pipeline, but .*train_dataloader.num_workers.*num_workers=0'):
        data_writes.watch_data_writes(runner, ['model.x', 'train_dataloader.dataset.x'], "OHL space 'p'")
    assert data_writes.watch_data_writes(runner, ['model.x'], "OHL space 'p'") is False
