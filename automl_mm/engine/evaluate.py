"""Rank-local evaluation on a held-out split: used by OHL rewards and by NAS candidate scoring.

mmengine's ``Evaluator.evaluate`` gathers results from every rank, which deadlocks when ranks evaluate different
things (different model copies, different candidate architectures). These helpers build an in-order loader over
the *whole* split on every rank and compute metrics from the local results only.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import torch
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import FUNCTIONS as ROOT_FUNCTIONS
from torch.utils.data import DataLoader, SequentialSampler


def build_local_loader(loader_cfg: dict, key: str = 'dataloader') -> DataLoader:
    """An in-order ``DataLoader`` over the whole dataset of ``loader_cfg`` (no distributed sampler).

    Args:
        loader_cfg: An mmengine dataloader config (``dataset``, ``batch_size``, ``num_workers``, ``collate_fn``);
            its ``sampler`` / ``batch_sampler`` are ignored on purpose.
        key: The config key the loader came from, named in errors.
    """
    if not isinstance(loader_cfg, dict) or 'dataset' not in loader_cfg:
        raise ValueError(f'{key} must be a dataloader config dict with a `dataset`, got {loader_cfg!r}')
    cfg = dict(loader_cfg)
    dataset = cfg.pop('dataset')
    if isinstance(dataset, dict):
        dataset = ROOT_DATASETS.build(dataset)
    cfg.pop('sampler', None)
    cfg.pop('batch_sampler', None)
    if not cfg.get('num_workers'):
        cfg.pop('persistent_workers', None)  # torch refuses persistent workers without workers
    collate = cfg.pop('collate_fn', dict(type='pseudo_collate'))
    collate_fn = ROOT_FUNCTIONS.get(collate['type']) if isinstance(collate, dict) else (collate or pseudo_collate)
    return DataLoader(dataset, shuffle=False, collate_fn=collate_fn, **cfg)


def cycle_batches(loader: Iterable, start: int, count: int) -> Iterator:
    """``count`` batches of ``loader`` starting at batch ``start`` (modulo its length), wrapping around.

    For an in-order torch ``DataLoader`` (what :func:`build_local_loader` makes) only the requested batches are
    loaded: a search scores thousands of samples at increasing batch offsets, and skipping by iterating would load
    the split up to each offset again.
    """
    length = len(loader)  # type: ignore[arg-type]
    if length == 0:
        raise ValueError('the evaluation split is empty')
    batch_ids = [(start + j) % length for j in range(count)]
    if isinstance(loader, DataLoader) and loader.batch_size and isinstance(loader.sampler, SequentialSampler):
        size, n = loader.batch_size, len(loader.dataset)  # type: ignore[arg-type]
        batches = [list(range(b * size, min((b + 1) * size, n))) for b in batch_ids]
        yield from DataLoader(loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn,
                              num_workers=loader.num_workers)
        return
    start %= length
    taken = 0
    while taken < count:
        for batch in islice(loader, start, None):
            yield batch
            taken += 1
            if taken == count:
                return
        start = 0


def evaluate_locally(model: torch.nn.Module, batches: Iterable, evaluator: Evaluator) -> dict[str, float]:
    """Run ``model.val_step`` on ``batches`` and compute ``evaluator``'s metrics from this rank's results only.

    Returns:
        ``{'<prefix>/<name>': value}`` as mmengine's evaluator would report it.
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for data in batches:
            outputs = model.val_step(data)
            evaluator.process(data_samples=outputs, data_batch=data)
    metrics: dict[str, float] = {}
    for metric in evaluator.metrics:
        # COCO-style metrics score every image of their annotation file unless told otherwise; a subset of the
        # split (a few mini-batches) must be scored on the images it saw, or missed objects deflate AP.
        restrict = hasattr(metric, 'img_ids') and hasattr(metric, '_coco_api') and metric.results
        if restrict:
            metric.img_ids = sorted({int(r[0]['img_id']) if isinstance(r, tuple) else int(r['img_id'])
                                     for r in metric.results})
        values = metric.compute_metrics(metric.results)
        metric.results.clear()
        if restrict:
            metric.img_ids = None
        prefix = f'{metric.prefix}/' if metric.prefix else ''
        metrics.update({f'{prefix}{k}': v for k, v in values.items()})
    model.train(was_training)
    return metrics


def metric_value(metrics: dict, key: str, owner: str) -> float:
    """``metrics[key]`` as a float, or a ``KeyError`` naming ``owner``'s config key and the available metrics.

    No metrics at all is a score of 0: mmdet's ``CocoMetric`` returns nothing when the detector predicted no box
    (common for early OHL copies and NAS candidates), which is an AP of 0, not a configuration error.
    """
    if not metrics:
        return 0.0
    if key not in metrics:
        raise KeyError(f'{owner} {key!r} is not among the metrics {sorted(metrics)}')
    return float(metrics[key])
