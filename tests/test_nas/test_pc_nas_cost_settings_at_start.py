"""PC-NAS's cost settings are checked before any training: an ``input_shape`` the supernet cannot run was read
only to report the final pool's FLOPs, after the whole search (without ``flops_limit``), and a NaN cost limit
admitted no completion, which ended the search after its first stage's training."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg


@pytest.mark.parametrize('override, match', [
    (dict(flops_limit=None, input_shape=(1, 3, 16)), r'^train_cfg\.input_shape must be \(N, C, H, W\)'),
    (dict(flops_limit=None, input_shape=(1, 1, 16, 16)),
     r'^train_cfg\.input_shape \[1, 1, 16, 16\]: .*1 channels but the network has in_channels=3'),
    (dict(flops_limit=None, input_shape=(1, 3, 0, 16)), r'^train_cfg\.input_shape \[1, 3, 0, 16\]: each size'),
    (dict(flops_limit=float('nan')), r'^train_cfg\.flops_limit must be a number, got nan'),
])
def test_cost_settings_are_refused_before_training(tmp_path, monkeypatch, override, match):
    from automl_mm.nas.pc_nas import PCNASLoop

    trained = []
    monkeypatch.setattr(PCNASLoop, 'train_until', lambda self, *a, **k: trained.append(a))
    with pytest.raises(ValueError, match=match):
        Runner.from_cfg(_cfg(str(tmp_path), **override)).train()
    assert trained == []


def test_the_final_pool_reports_flops_at_the_input_shape_without_a_limit(tmp_path):
    runner = Runner.from_cfg(_cfg(str(tmp_path), flops_limit=None, input_shape=(1, 3, 16, 16)))
    loop = runner.build_train_loop(runner._train_loop)
    assert loop.cost_limit is None and loop.flops_table.input_shape == [1, 3, 16, 16]
