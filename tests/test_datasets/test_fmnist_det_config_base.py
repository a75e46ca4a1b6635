"""configs/_base_/datasets/fmnist_det.py takes its pipelines, loaders and evaluators from the shapes set's base
(synthcoco_detection.py) and rebuilds every value that names the set (mmengine resolves a base's names when it
reads the base): no root, class name or image scale of the shapes set may reach the Fashion-MNIST set."""
from __future__ import annotations

import os.path as osp
from collections.abc import Iterator
from typing import Any

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATASETS = osp.join(REPO_ROOT, 'configs/_base_/datasets')
LOADERS = ('train_dataloader', 'val_dataloader', 'reward_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'reward_evaluator', 'test_evaluator')


def _leaves(value: Any, key: str = '') -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f'{key}.{k}' if key else str(k))
    elif isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        for i, v in enumerate(value):
            yield from _leaves(v, f'{key}[{i}]')
    else:
        yield key, value


def set_leaks(folder: str = DATASETS) -> list[str]:
    """What of ``synthcoco_detection.py``'s set reaches ``fmnist_det.py`` in ``folder`` (``key: value``)."""
    shapes = Config.fromfile(osp.join(folder, 'synthcoco_detection.py')).to_dict()
    cfg = Config.fromfile(osp.join(folder, 'fmnist_det.py')).to_dict()
    leaks = [f'{k}: {v!r}' for k, v in _leaves(cfg) if isinstance(v, str) and shapes['data_root'] in v]
    leaks += [f'{k}: {v!r}' for k, v in _leaves(cfg) if v == shapes['metainfo']['classes']]
    for key in LOADERS:
        dataset = cfg[key]['dataset']
        if dataset['data_root'] != cfg['data_root'] or dataset['metainfo'] != cfg['metainfo']:
            leaks.append(f'{key}.dataset: data_root={dataset["data_root"]!r}, metainfo={dataset["metainfo"]!r}')
        leaks += [f'{key}.dataset.pipeline: {step!r}' for step in dataset['pipeline']
                  if step['type'] == 'Resize' and tuple(step['scale']) != tuple(cfg['img_scale'])]
    leaks += [f'{key}.ann_file: {cfg[key]["ann_file"]!r}' for key in EVALUATORS
              if not cfg[key]['ann_file'].startswith(cfg['data_root'])]
    return leaks


def test_fmnist_det_reads_its_own_set_everywhere():
    assert set_leaks() == []


def test_fmnist_det_keeps_its_splits_apart():
    cfg = Config.fromfile(osp.join(DATASETS, 'fmnist_det.py'))
    files = [cfg[key]['dataset']['ann_file'] for key in LOADERS] + [cfg[key]['ann_file'] for key in EVALUATORS]
    assert len(set(files)) == len(files)
    assert cfg.train_dataloader.dataset.pipeline[2] == dict(type='Resize', scale=(160, 160), keep_ratio=True)
    assert cfg.reward_dataloader.batch_size == cfg.test_dataloader.batch_size == 4
