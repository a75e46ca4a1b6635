"""``optim_wrapper.accumulative_counts=m`` under the NAS search loops. A PC-NAS digits search with
``warmup_iters=4, stage_iters=3`` and m = 2 scored stage 1's candidates on a supernet that had applied 2 of its 3
iterations (the third path's gradient pending), and applied that gradient with stage 2's first update, silently:
refused when the loop is built, naming both keys."""
from __future__ import annotations

import pytest
import torch
from mmengine.runner import Runner
from test_nas.test_cr_nas_loop import _cfg as _cr_cfg
from test_nas.test_cr_nas_loop import arch_split  # noqa: F401  (fixture)
from test_nas.test_pc_nas_loop import _cfg


def test_pc_nas_phases_that_the_accumulation_does_not_divide_are_refused(tmp_path):
    cfg = _cfg(str(tmp_path / 'bad'), warmup_iters=4, stage_iters=3)
    cfg.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match=r'^optim_wrapper\.accumulative_counts=2 does not divide '
                                         r'train_cfg\.stage_iters=3: the phase would end with the gradients of its '
                                         r'last 1 iteration\(s\) not applied'):
        _ = Runner.from_cfg(cfg).train_loop


def test_cr_nas_phases_that_the_accumulation_does_not_divide_are_refused(arch_split, tmp_path):  # noqa: F811
    cfg = _cr_cfg(arch_split, str(tmp_path / 'bad'), stage_iters=4, spatial_iters=3)
    cfg.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match=r'^optim_wrapper\.accumulative_counts=2 does not divide '
                                         r'train_cfg\.spatial_iters=3'):
        _ = Runner.from_cfg(cfg).train_loop


def test_every_pc_nas_scoring_reads_a_supernet_with_no_gradient_pending(tmp_path, monkeypatch):
    from automl_mm.nas.pc_nas import PCNASLoop

    cfg = _cfg(str(tmp_path / 'ok'), warmup_iters=4, stage_iters=2)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.default_hooks.checkpoint.interval = 2  # a multiple of it (3 is refused: test_search_resume_accumulation)
    runner = Runner.from_cfg(cfg)
    steps, scored = [], []
    step = torch.optim.SGD.step

    def counted_step(self, *args, **kwargs):
        steps.append(runner.train_loop._iter + 1)  # iterations trained when it stepped
        return step(self, *args, **kwargs)

    run_step = PCNASLoop.run_step

    def scoring(self, name, *args, **kwargs):
        pending = any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in self.runner.model.parameters())
        scored.append((self._iter, pending))
        return run_step(self, name, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, 'step', counted_step)
    monkeypatch.setattr(PCNASLoop, 'run_step', scoring)
    runner.train()
    assert steps == [2, 4, 6, 8, 10, 12]  # every update averages 2 paths, none left out
    assert scored == [(6, False), (8, False), (10, False), (12, False)]

