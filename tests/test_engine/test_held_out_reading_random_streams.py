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


class _RandomlyTransformed(torch.utils.data.Dataset):
    """A scored split whose pipeline draws (a random flip or crop left in it): from Python's, numpy's and torch's
    streams, in the main process or in a worker seeded from the loader iterator's base seed."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return dict(inputs=torch.full((3,), i + random.random() + float(np.random.rand()) + float(torch.rand(()))))


class _Mean(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return {'mean': sum(results) / len(results)}


def test_every_reading_of_a_randomly_transformed_split_reads_the_same_draws():
    """Each OHL copy reads its reward (and each NAS candidate its score) with the global streams of its own copy,
    trunk and rank, so a split whose pipeline draws was scored on another draw of its images for every copy and
    candidate (copies compared on other data; two candidates of one function scored differently). Every reading
    now draws as if the streams were seeded with 0: the copies and candidates read the same images."""
    def collate(items):
        return dict(inputs=torch.stack([i['inputs'] for i in items]))

    for workers in (0, 1):
        loader = DataLoader(_RandomlyTransformed(), batch_size=3, num_workers=workers, collate_fn=collate)
        scores = []
        for copy_seed in (1, 2):  # two copies' streams
            random.seed(copy_seed)
            np.random.seed(copy_seed)
            torch.manual_seed(copy_seed)
            scores.append(evaluate_locally(_Net(), loader, Evaluator([_Mean()]))['mean'])
        assert scores[0] == scores[1], workers


def test_a_scored_split_with_persistent_workers_reads_the_same_draws_at_every_reading():
    """Persistent workers are seeded once, at the first reading: a reward_dataloader / search_dataloader with
    persistent_workers=True read a random transform of its split on from where the last reading left off, so one
    copy's trunks and a NAS step's candidates (read one after another in one process) were scored on other draws of
    the images (means 11.574, 12.204, 12.098 for one model read thrice). The held-out loader starts its workers at
    every reading, from the base seed the seeded streams give."""
    from automl_mm.engine.evaluate import build_local_loader

    def collate(items):
        return dict(inputs=torch.stack([i['inputs'] for i in items]))

    loader = build_local_loader(dict(dataset=_RandomlyTransformed(), batch_size=3, num_workers=1,
                                     persistent_workers=True, collate_fn=dict(type=collate)), 'reward_dataloader')
    net = _Net()
    means = [evaluate_locally(net, loader, Evaluator([_Mean(prefix='m')]))['m/mean'] for _ in range(3)]
    assert means[0] == means[1] == means[2]


def test_every_bn_re_estimation_draws_the_same_dropout_masks():
    """The training-mode pass of a BN re-estimation draws dropout (and drop-path) masks: on the same fixed batches,
    two copies (or two candidates of one function) got other statistics from their own streams."""
    batches = list(_loader())
    means = []
    for copy_seed in (1, 2):
        torch.manual_seed(copy_seed)
        net = _Net()
        recalibrate_bn(net, batches)
        means.append(net.bn.running_mean.clone())
    assert torch.equal(means[0], means[1])
