"""The base lr (``optim_wrapper.optimizer.lr``) searched by OHL over two copies (gloo, ``tools/train.py``) of the
digits config under ``auto_scale_lr`` (a copy's batch is a quarter of ``base_batch_size``: each group's lr × 0.25)
and ``paramwise_cfg`` (a ``custom_keys`` lr set outright), killed after trunk 2 and resumed: at every trunk start,
after every broadcast and after ``--resume``, each group's lr is bit for bit mmengine's constructor at the base in
effect × 0.25 (the factor read before the checkpoint's values were loaded, in ``before_run``)."""
from __future__ import annotations

import os.path as osp

import pytest
from _base_form_recorder import add_recorder, run_killed_and_resumed
from mmengine.config import Config

from conftest import REPO_ROOT

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
BASE = 'optim_wrapper.optimizer.lr'
HEAD_LR = 0.0123  # custom_keys' lr set outright: every base keeps it (× the batch factor)


@pytest.mark.slow
def test_base_lr_under_auto_scale_lr_through_broadcast_and_resume(tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, OHL))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=100)
    cfg.param_scheduler = []  # a scheduler of the lr owns it: the base form is refused under one
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.reward_dataloader.dataset.max_samples = 120  # nothing learned is asserted: a narrow network, fewer rewards
    cfg.model.backbone.channels, cfg.model.head.in_channels = (8, 16), 16
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=cfg.train_dataloader.batch_size * 4)
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'head': dict(lr=HEAD_LR)})
    hook = cfg.custom_hooks[0]
    hook.update(num_copies=2, spaces=[dict(type='AttributeSpace', name='lr', target=BASE, choices=[0.03, 0.07, 0.11],
                                           distribution=dict(type='Categorical'))])
    add_recorder(cfg, tmp_path, 'lr', factor=0.25)
    history, recorded = run_killed_and_resumed(cfg, tmp_path)
    for rank, rows in recorded.items():
        for row in rows:
            assert row['differ'] == [], row  # bit for bit: constructor at the base, × 0.25
            assert HEAD_LR * 0.25 in row['values'] and len(row['values']) == 2
        assert rows[0]['base'] == cfg.optim_wrapper.optimizer.lr
        for trunk, h in enumerate(history):
            values = h['copy_values']['lr']
            start, broadcast = [r for r in rows if r['epoch'] == trunk and r['phase'] != 'start']
            assert start['base'] == values[rank][BASE] and broadcast['base'] == values[h['best']][BASE]
