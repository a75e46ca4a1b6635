"""benchmarks/reinforce_noise_drift.py: the controller settings it compares, on a planted optimum and on noise."""
from __future__ import annotations

import importlib
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_every_setting_moves_toward_the_planted_optimum_and_a_larger_step_drifts_more(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    bench = importlib.import_module('reinforce_noise_drift')
    rows = {(r['controller'], r['gain']): r for r in bench.main(['--seeds', '4', '--trunks', '20', '--gains', '0',
                                                                  '3'])}
    for name in bench.SETTINGS:
        assert rows[name, 3.0]['on_signal'] > 0.1, name  # toward θ* = 0.3 on the signal component
        assert rows[name, 3.0]['distance'] < rows[name, 0.0]['distance'], name
    # pure-noise rewards: Adam's drift grows with its learning rate
    assert rows['Adam lr 0.05 (default)', 0.0]['drift_rms'] > 3 * rows['Adam lr 0.01', 0.0]['drift_rms']
