"""``benchmarks/am_lfs_fmnist.py``'s ``main()`` keeps its options and per-run details in module state
(``ARGS``, ``DETAILS``); a second call in the same process (a test suite, a notebook, a driver script) starts from
its own command line, not the first call's."""
from __future__ import annotations

import importlib
import json
import sys

from mmengine.config import Config


def _main(module, monkeypatch, argv, run_arms):
    monkeypatch.setattr(module, 'run_arms', run_arms)
    monkeypatch.setattr(sys, 'argv', ['am_lfs_fmnist.py', *argv])
    module.main()


def test_a_second_call_does_not_keep_the_first_calls_options(arms, monkeypatch):
    """argparse leaves an attribute that the namespace already has: after ``--controller-lr 0.1`` the next call
    without it trained the am-lfs arm at lr 0.1 (tests/test_tools/test_benchmark_arm_configs.py failed after
    test_benchmark_options.py for that reason)."""
    module = importlib.import_module('am_lfs_fmnist')
    seen = {}

    def fake_run_arms(config, arm_names, seeds, epochs, configure, *args, **kwargs):
        cfg = arms.run_config(config, 0, epochs)
        configure(cfg, 'am-lfs')
        seen['lr'] = cfg.custom_hooks[0].controller.optimizer.lr
        return {arm: [] for arm in arm_names}

    _main(module, monkeypatch, ['--arms', 'am-lfs', '--controller-lr', '0.1', '--seeds', '0'], fake_run_arms)
    assert seen['lr'] == 0.1
    _main(module, monkeypatch, ['--arms', 'am-lfs', '--seeds', '0'], fake_run_arms)
    default = Config.fromfile(module.CONFIG).custom_hooks[0].controller.optimizer.lr
    assert seen['lr'] == default


def test_a_second_call_writes_only_its_own_runs(arms, monkeypatch, tmp_path):
    """DETAILS grew across calls: the second call's --out listed the first call's runs too."""
    module = importlib.import_module('am_lfs_fmnist')

    def fake_run_arms(config, arm_names, seeds, epochs, configure, describe, *args, **kwargs):
        module.DETAILS.append(dict(arm=arm_names[0], reward=1.0))  # as describe() records each run
        return {arm: [1.0] for arm in arm_names}

    _main(module, monkeypatch, ['--arms', 'ce', '--seeds', '0', '--out', str(tmp_path / 'a.json')], fake_run_arms)
    _main(module, monkeypatch, ['--arms', 'ls', '--seeds', '0', '--out', str(tmp_path / 'b.json')], fake_run_arms)
    with open(tmp_path / 'b.json') as f:
        assert [d['arm'] for d in json.load(f)['details']] == ['ls']
