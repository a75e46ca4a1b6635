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


def _main_refuses(module, monkeypatch, capsys, argv: list[str]) -> str:
    """``main()`` with ``argv`` exits 2 before any run; its stderr."""
    monkeypatch.setattr(module, 'ARGS', argparse.Namespace())  # parse_args(namespace=ARGS) keeps earlier values
    monkeypatch.setattr(module, 'run_arms', lambda *a, **k: pytest.fail('a run started'))
    monkeypatch.setattr('sys.argv', ['am_lfs_fmnist.py', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize('arms, same', [(['poly1', 'poly1:1'], 'poly1 and poly1:1'),
                                        (['ce', 'poly1:0.5', 'poly1:.50'], 'poly1:0.5 and poly1:.50'),
                                        (['poly1:1.0', 'ce', 'poly1'], 'poly1:1.0 and poly1')])
def test_two_spellings_of_one_arm_are_refused_before_training(bench, monkeypatch, capsys, arms, same):
    """``--arms poly1 poly1:1`` trained Poly-1 at epsilon 1 twice, as two arms whose rows looked like two settings."""
    module, _ = bench
    err = _main_refuses(module, monkeypatch, capsys, ['--seeds', '0', '--arms', *arms])
    assert f'--arms {" ".join(arms)}: {same} name the same setting' in err


@pytest.mark.parametrize('arm, says', [('poly1x', "unknown arm 'poly1x'"), ('poly1:', "got ''"),
                                       ('poly1:abc', "got 'abc'"), ('poly1:nan', "got 'nan'")])
def test_a_malformed_poly1_arm_is_refused_before_training(bench, monkeypatch, capsys, arm, says):
    """``poly1x`` (any name starting with poly1) trained Poly-1 at epsilon 1 under that name; ``poly1:`` too."""
    module, _ = bench
    err = _main_refuses(module, monkeypatch, capsys, ['--seeds', '0', '--arms', 'ce', arm])
    assert f'--arms {arm}: ' in err and says in err


def test_distinct_poly1_epsilons_still_run(bench, monkeypatch):
    module, _ = bench
    seen = {}
    monkeypatch.setattr(module, 'ARGS', argparse.Namespace())
    monkeypatch.setattr(module, 'run_arms', lambda config, arms, *a, **k: seen.setdefault('arms', arms))
    monkeypatch.setattr('sys.argv', ['am_lfs_fmnist.py', '--seeds', '0', '--arms', 'poly1', 'poly1:-1', 'poly1:2'])
    module.main()
    assert seen['arms'] == ['poly1', 'poly1:-1', 'poly1:2']


def test_the_kept_reward_is_the_engine_best_copy_not_the_highest(bench, tmp_path, monkeypatch):
    """The reward of the copy the OHL engine chose (``best`` of its history, by its ``reward_rule``): the highest
    reward was kept, under a lower-is-better reward (a loss) the worst copy's."""
    import json

    module, _ = bench
    monkeypatch.setattr(module, 'DETAILS', [])
    (tmp_path / 'ohl').mkdir()
    (tmp_path / 'ohl' / 'history.json').write_text(json.dumps([
        {'rewards': [0.9, 0.2, 0.5, 0.7], 'best': 1, 'reward_rule': 'less'}]))
    assert module.describe('ce', str(tmp_path)) == '  reward 0.20'
    assert module.DETAILS == [{'arm': 'ce', 'reward': 0.2}]
