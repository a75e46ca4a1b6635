"""A held-out reading inside training (an OHL reward, a NAS score, a BN re-estimation) leaves the process's global
random streams as it found them: each pass over a loader drew its iterator's seed from torch's generator, and a
training-mode pass with dropout drew its masks, so every draw of the training after it (mmdet's proposal samples,
crops, dropout) differed from the plain run's (``tests/test_nas/test_cr_nas_equals_plain_run.py`` end to end)."""
from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from torch.utils.data import DataLoader

from automl_mm.engine.evaluate import evaluate_locally, recalibrate_bn


class _Net(BaseModel):
    """Dropout then BN: a training-mode pass draws from torch's generator."""

    def __init__(self):
        super().__init__()
        self.drop, self.bn = torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(3)

    def extract_feat(self, x):
        return self.bn(self.drop(x))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return [float(v) for v in self.extract_feat(inputs).sum(dim=1)]


class _Count(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return {'n': len(results)}


def _states():
    return random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist()


def _loader():
    return DataLoader([dict(inputs=torch.full((3,), float(i))) for i in range(8)], batch_size=4,
                      collate_fn=lambda items: dict(inputs=torch.stack([i['inputs'] for i in items])))


def test_a_held_out_score_draws_nothing_the_training_would_see():
    torch.manual_seed(0)
    before = _states()
    assert evaluate_locally(_Net(), _loader(), Evaluator([_Count()])) == {'n': 8}
    assert _states() == before


def test_a_bn_re_estimation_draws_nothing_the_training_would_see():
    torch.manual_seed(0)
    net, batches = _Net(), list(_loader())
    before = _states()
    assert recalibrate_bn(net, batches) == [net.bn]
    assert _states() == before
