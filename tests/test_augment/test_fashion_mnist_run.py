"""The Fashion-MNIST OHL-Auto-Aug config end to end (tiny): progress lines, plots, the exported policy."""
from __future__ import annotations

import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from conftest import run_tool

CONFIG = 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py'


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir('/usr/share/datasets/fashion-mnist'),
                    reason='the Debian package dataset-fashion-mnist is not installed')
def test_tiny_fashion_mnist_run_reports_each_trunk_and_exports_the_policy(tmp_path):
    work = str(tmp_path / 'fm')
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', 'custom_hooks.0.num_copies=2',
                    'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', 'param_scheduler.0.T_max=2',
                    'train_dataloader.dataset.samples_per_class=6', 'reward_dataloader.dataset.max_samples=60',
                    'val_dataloader.dataset.max_samples=60', 'test_dataloader.dataset.max_samples=60')
    progress = [line for line in proc.stdout.splitlines() if 'OHL progress' in line]
    assert [line.split('OHL progress ')[1].split(' |')[0] for line in progress] == ['trunk 0 (1/2)', 'trunk 1 (2/2)']
    assert 'entropy autoaug' in progress[-1] and 'ETA' in progress[-1]
    for name in ('distribution_autoaug.png', 'rewards.png', 'probs_autoaug.npz'):
        assert osp.getsize(osp.join(work, 'ohl', name)) > 0
    with np.load(osp.join(work, 'ohl', 'probs_autoaug.npz')) as rec:
        assert rec['probs'].shape == (2, 324)  # RandAugment's 18 elements, 18 x 18 pairs
    fixed = Config.fromfile(osp.join(work, 'ohl', 'final_policy.py')).ohl_fixed_autoaug
    assert fixed['type'] == 'automl_mm.FixedAutoAugment' and fixed['fill'] == 0 and len(fixed['probs']) == 324
    assert fixed['elements'] == 'randaugment'
