"""With ``bn_recalibration_batches`` > 0 every scored path reads BatchNorm statistics re-estimated *for that path*
(the supernet's shared statistics mix every path it ran: automl_mm/nas/scoring.py). Mutation audit: an evaluator
that re-estimated before applying the path (the statistics of the path scored before it), and search loops that
built their evaluator without the setting, passed every non-slow test of tests/test_nas: their evaluators' models
had one path or applied paths as a no-op, and the loop tests checked the re-estimation batches, not that a reading
used them."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from automl_mm.nas import PathEvaluator


class _ScaledBN(nn.Module):
    """A one-layer supernet whose path scales the input before its BN: path ``(j,)`` feeds ``(j + 1) * x``, so on
    images of ones the statistics re-estimated for it have running mean exactly ``j + 1``."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(1)
        self.scale = 1.0
        self.data_preprocessor = lambda data, training: dict(inputs=data)

    def extract_feat(self, x):
        return self.bn(x * self.scale)


def test_each_path_is_scored_with_the_statistics_re_estimated_for_it():
    """Planted: the reading is the BN running mean, ``j + 1`` for path ``(j,)`` when re-estimated for that path; the
    supernet's own statistics (0) for a reading without re-estimation; the previous path's for one re-estimated
    before the path is applied. Scored in the order 0, 2, 1, 0 (every path after another one)."""
    model = _ScaledBN()
    space = SimpleNamespace(apply=lambda path, m: setattr(m, 'scale', float(path[0] + 1)))
    held_out = SimpleNamespace(loader=[None], metric_key='bn_mean',
                               score=lambda m, batches: (float(m.bn.running_mean.item()), False))
    evaluate = PathEvaluator(model, space, held_out, bn_batches=2, bn_loader=[torch.ones(2, 1, 2, 2)] * 2)
    assert [evaluate((j, ), 0) for j in (0, 2, 1, 0)] == [1.0, 3.0, 2.0, 1.0]
    assert model.bn.running_mean.item() == 0.0  # the supernet's own statistics are back after each reading
    without = PathEvaluator(model, space, held_out)  # bn_batches=0: the supernet's statistics, as configured
    assert [without((j, ), 0) for j in (0, 2)] == [0.0, 0.0]


def test_the_search_loops_evaluator_re_estimates_for_each_path_as_configured(tmp_path, monkeypatch):
    """``train_cfg.bn_recalibration_batches=2`` reaches the evaluator the search scores with: each reading
    re-estimates on those 2 training batches with the scored path applied (a loop building its evaluator without the
    setting scored every path with the supernet's mixed statistics)."""
    from mmengine.runner import Runner
    from test_nas.test_pc_nas_loop import _cfg

    from automl_mm.nas import scoring

    runner = Runner.from_cfg(_cfg(str(tmp_path / 'run'), bn_recalibration_batches=2))
    loop = runner.build_train_loop(runner._train_loop)
    supernet, recalibrated = loop.supernet, []

    def spy(model, batches):
        recalibrated.append((supernet.path, len(list(batches))))
        return []

    monkeypatch.setattr(scoring, 'recalibrate_bn', spy)
    monkeypatch.setattr(loop.held_out, 'score', lambda model, batches: (0.5, False))  # the reading is not the point
    evaluate = loop.path_evaluator(loop.space, 1)
    paths = [(1, 0, 1, 1), (0, 1, 0, 0)]
    for path in paths:
        evaluate(path, 0)
    assert recalibrated == [(path, 2) for path in paths]
