"""Runners started in the same second in one process get their own names (patch 16, automl_mm/engine/run_names.py).

mmengine named both by the second: the second took the first's ``MessageHub`` (runtime info included), and its
``CheckpointHook`` under ``max_keep_ckpts`` deleted this run's ``iter_3.pth`` by the first run's checkpoint ids
(test_search_resume_phases' CR-NAS run lost its ``iter_3.pth`` when started in the second of the test before)."""
from __future__ import annotations

import os
import os.path as osp
import time
from collections import Counter

import torch
from mmengine.runner import Runner
from mmengine.testing.runner_test_case import ToyDataset, ToyModel


def _runner(work_dir: str, max_iters: int = 4, runner_class: type = Runner) -> Runner:
    return runner_class(
        model=ToyModel(), work_dir=work_dir,
        train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=3, num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=100),
        optim_wrapper=dict(optimizer=dict(type=torch.optim.SGD, lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False, max_keep_ckpts=3)),
        default_scope='mmengine')


def _assert_own_checkpoints(first, second) -> None:
    """max_keep_ckpts=3: the first run (2 iterations) keeps both, the second (4) its last three. With one message
    hub the second run's ``CheckpointHook`` started from the first run's ``keep_ckpt_ids`` ``[1, 2]`` and deleted
    this run's ``iter_1.pth`` and ``iter_2.pth``."""
    for run, kept in ((first, [1, 2]), (second, [2, 3, 4])):
        assert sorted(f for f in os.listdir(run.work_dir) if f.endswith('.pth')) == \
            [f'iter_{i}.pth' for i in kept], run.work_dir
        assert osp.isdir(run.log_dir) and osp.basename(run.log_dir) == run.timestamp


def test_two_runners_in_one_second_keep_their_own_names_and_checkpoints(tmp_path, monkeypatch):
    frozen = time.time()
    monkeypatch.setattr(time, 'time', lambda: frozen)  # mmengine's setup_env reads the start from time.time()
    first = _runner(str(tmp_path / 'first'), max_iters=2)
    first.train()
    second = _runner(str(tmp_path / 'second'))
    # the same second (another runner of this process may have taken it already: then both carry a suffix)
    assert second.timestamp[:15] == first.timestamp[:15] and second.timestamp != first.timestamp
    assert second.message_hub is not first.message_hub
    assert second.experiment_name != first.experiment_name
    second.train()
    _assert_own_checkpoints(first, second)


def test_a_visualizer_named_in_the_config_is_each_runners_own(tmp_path):
    """mmdet's and automl_mm's ``default_runtime`` name the visualizer ``'visualizer'``, and mmengine's
    ``Visualizer.get_instance`` hands back an existing instance of that name with its own ``save_dir``: a second
    runner of the process wrote its config and scalars into the first run's ``vis_data`` (and, once pytest removed
    the first test's ``tmp_path``, stopped with ``FileNotFoundError: .../vis_data/config.py``)."""
    from mmengine.config import Config

    runners = []
    for name in ('first', 'second'):
        runner = Runner(model=ToyModel(), work_dir=str(tmp_path / name), default_scope='mmengine',
                        visualizer=dict(type='Visualizer', name='visualizer',
                                        vis_backends=[dict(type='LocalVisBackend')]),
                        cfg=Config(dict(work_dir=str(tmp_path / name))))
        runners.append(runner)
    first, second = runners
    assert second.visualizer is not first.visualizer
    for run in runners:
        assert osp.isfile(osp.join(run.log_dir, 'vis_data', 'config.py')), run.log_dir
    assert not osp.exists(osp.join(first.log_dir, 'vis_data', 'scalars.json'))
    second.visualizer.add_scalars({'loss': 1.0})
    assert osp.isfile(osp.join(second.log_dir, 'vis_data', 'scalars.json'))
    assert not osp.exists(osp.join(first.log_dir, 'vis_data', 'scalars.json'))


def _flexible_runner(work_dir: str, max_iters: int = 4):
    from mmengine.runner import FlexibleRunner

    return _runner(work_dir, max_iters, FlexibleRunner)


def test_two_flexible_runners_in_one_second_keep_their_own_names_and_checkpoints(tmp_path, monkeypatch):
    """``FlexibleRunner`` does not call ``Runner.setup_env``: its strategy names the run
    (``BaseStrategy._setup_env``), so two of them started in the same second shared the timestamp, message hub and
    log folder as two ``Runner`` s did."""
    frozen = time.time()
    monkeypatch.setattr(time, 'time', lambda: frozen)  # the strategy's _setup_env reads the start from time.time()
    first = _flexible_runner(str(tmp_path / 'first'), max_iters=2)
    first.train()
    second = _flexible_runner(str(tmp_path / 'second'))
    assert second.timestamp[:15] == first.timestamp[:15] and second.timestamp != first.timestamp
    assert second.message_hub is not first.message_hub
    assert second.logger is not first.logger
    assert second.experiment_name != first.experiment_name
    assert osp.basename(second.log_dir) != osp.basename(first.log_dir)
    second.train()
    _assert_own_checkpoints(first, second)


def test_a_runner_and_a_flexible_runner_in_one_second_have_their_own_names(tmp_path, monkeypatch):
    """Both kinds draw from one count per process: a ``Runner`` then a ``FlexibleRunner`` of the same second."""
    from automl_mm.engine import run_names

    frozen = time.time()
    monkeypatch.setattr(time, 'time', lambda: frozen)
    monkeypatch.setattr(run_names, '_started', Counter())  # a second no runner of this process has started in
    first = _runner(str(tmp_path / 'first'))
    second = _flexible_runner(str(tmp_path / 'second'))
    assert (first.timestamp, second.timestamp) == (time.strftime('%Y%m%d_%H%M%S', time.localtime(frozen)),
                                                   f'{first.timestamp}_1')
    assert second.message_hub is not first.message_hub
