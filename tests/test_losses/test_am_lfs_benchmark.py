"""benchmarks/am_lfs_fmnist.py: every arm changes only the head's loss of one config, on the same engine and data."""
from __future__ import annotations

import argparse
import importlib
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    module = importlib.import_module('am_lfs_fmnist')
    arms = importlib.import_module('_arms')
    monkeypatch.setattr(module, 'ARGS', argparse.Namespace(
        noise='pair40', train_per_class=7, reward_per_class=5, test_per_class=9, copies=4, std=0.1,
        controller_lr=0.01, trunk_epochs=None, trunk_iters=8))
    return module, arms


def test_arms_differ_only_in_the_loss_and_learn_only_in_am_lfs(bench):
    module, arms = bench
    expected = {'ce': 'CrossEntropyLoss', 'ls': 'LabelSmoothingLoss', 'gce': 'GeneralizedCrossEntropyLoss',
                'sce': 'SymmetricCrossEntropyLoss', 'poly1:0.5': 'Poly1CrossEntropyLoss', 'am-lfs': 'AMLFSLoss'}
    for arm, loss_type in expected.items():
        cfg = arms.run_config(module.CONFIG, 2, 3)
        module.configure(cfg, arm)
        assert cfg.model.head.type == 'CosineLinearClsHead', arm  # the same head in every arm
        assert cfg.model.head.loss.type == loss_type, arm
        train = cfg.train_dataloader.dataset
        assert (train.noise_ratio, train.noise_type, train.dataset.samples_per_class) == (0.4, 'pairflip', 7)
        assert cfg.reward_dataloader.dataset.samples_per_class == 5
        assert cfg.test_dataloader.dataset.samples_per_class == cfg.val_dataloader.dataset.samples_per_class == 9
        hook = cfg.custom_hooks[0]
        assert hook.num_copies == 4 and hook.seed == 2 and cfg.train_cfg.max_epochs == 3
        assert hook.trunk_iters == 8 and 'trunk_epochs' not in hook, arm  # --trunk-iters: the engine, every arm
        if arm == 'am-lfs':  # the learned loss: LossFunctionSpace at --std, the controller learns
            assert hook.spaces[0].type == 'LossFunctionSpace' and hook.spaces[0].std == 0.1
            assert hook.controller.optimizer.lr == 0.01  # --controller-lr
        else:  # fixed losses: a two-way choice between identical values, the controller frozen
            assert hook.spaces[0].choices == [1.0, 1.0] and hook.controller.type == 'FrozenController'
    cfg = arms.run_config(module.CONFIG, 0, 3)
    module.configure(cfg, 'poly1:0.5')
    assert cfg.model.head.loss.epsilon == 0.5


def test_unknown_arm_is_refused_before_training(bench):
    module, _ = bench
    assert module.fixed_loss('poly1') == dict(type='Poly1CrossEntropyLoss', epsilon=1.0)
    with pytest.raises(ValueError, match="unknown arm 'focal'"):
        module.fixed_loss('focal')
