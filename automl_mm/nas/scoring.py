"""Scoring architectures with inherited supernet weights, on a held-out split, rank-locally.

``PathEvaluator`` applies a path to the supernet, optionally re-estimates BatchNorm statistics for it on a few
training batches (shared BN statistics mix every path the supernet ran), and computes the search metric on the
whole search split or on a few mini-batches. ``potential`` is the PC-NAS score of a partial path: the mean metric
over sampled completions that satisfy the cost limit.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.engine.evaluate import cycle_batches, evaluate_locally, metric_value

from .samplers import UniformPathSampler
from .spaces import BasePathSpace


@contextlib.contextmanager
def _quiet():
    """Silence stdout and mmengine's INFO messages (warnings and errors still pass)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def recalibrate_bn(model: nn.Module, batches: Iterable) -> None:
    """Re-estimate every BatchNorm's running statistics for the current path from ``batches`` (no gradients).

    The statistics become the exact average over the batches (cumulative moving average), then the modules'
    momentum is restored. Uses ``model.extract_feat`` (mmdet detectors and automl_mm classifiers have it), so heads
    with their own BN keep theirs.
    """
    root = getattr(model, 'module', model)
    norms = [m for m in root.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = root.training
    root.train()
    try:
        with torch.no_grad():
            for data in batches:
                data = root.data_preprocessor(data, True)
                root.extract_feat(data['inputs'])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        root.train(was_training)


class PathEvaluator:
    """The search metric of one path with inherited weights.

    Args:
        model: The model holding the supernet.
        space: Applies paths to the supernet.
        loader: The search split (arch-val / reward split), in order, whole on every rank.
        evaluator: Metrics computed rank-locally.
        metric_key: The metric to maximise, e.g. ``'accuracy/top1'`` or ``'coco/bbox_mAP'``.
        batches_per_sample: ``None`` scores on the whole split; ``n`` on ``n`` mini-batches chosen by the caller's
            sample index (consecutive samples see consecutive batches, wrapping around).
        bn_batches: Training batches used to re-estimate BN statistics per path (0 keeps the supernet's).
        bn_loader: Where those batches come from (in order: the same batches for every path).
    """

    def __init__(self, model: nn.Module, space: BasePathSpace, loader: Sequence, evaluator: Evaluator,
                 metric_key: str, batches_per_sample: int | None = None, bn_batches: int = 0,
                 bn_loader: Iterable | None = None) -> None:
        if bn_batches and bn_loader is None:
            raise ValueError('bn_recalibration_batches > 0 needs a training dataloader')
        self.model = model
        self.space = space
        self.loader = loader
        self.evaluator = evaluator
        self.metric_key = metric_key
        self.batches_per_sample = batches_per_sample
        self.bn_batches = int(bn_batches)
        self.bn_loader = bn_loader
        self.evaluations = 0

    def __call__(self, path: Sequence[int], sample_index: int = 0) -> float:
        self.space.apply(path, self.model)
        if self.bn_batches:
            recalibrate_bn(self.model, cycle_batches(self.bn_loader, 0, self.bn_batches))
        if self.batches_per_sample is None:
            batches = self.loader
        else:
            batches = cycle_batches(self.loader, sample_index * self.batches_per_sample, self.batches_per_sample)
        with _quiet():  # COCO metrics print a 12-line summary per evaluation: thousands of lines per search
            metrics = evaluate_locally(self.model, batches, self.evaluator)
        self.evaluations += 1
        return metric_value(metrics, self.metric_key, 'metric_key')


def potential(prefix: Sequence[int], sampler: UniformPathSampler, evaluate: Callable[[tuple, int], float],
              num_samples: int, generator: np.random.Generator,
              accept: Callable[[tuple], bool] | None = None, first_sample: int = 0) -> float:
    """Mean score of ``num_samples`` uniform completions of ``prefix`` admitted by ``accept`` (PC-NAS potential).

    Completions over the cost limit are skipped and redrawn (uniform over admitted completions). A full path is
    evaluated once when every sample would see the same data. Returns ``-inf`` when no admitted completion exists.

    Args:
        first_sample: Index of the first sample (selects its mini-batches), so candidates see different batches.
    """
    space = sampler.space
    full = len(prefix) == space.num_decisions
    if full and getattr(evaluate, 'batches_per_sample', 0) is None:
        num_samples = 1
    scores = []
    for s in range(num_samples):
        path = sampler.complete(prefix, generator, accept)
        if path is None:
            return -math.inf
        scores.append(evaluate(path, first_sample + s))
    return float(np.mean(scores)) if scores else -math.inf
