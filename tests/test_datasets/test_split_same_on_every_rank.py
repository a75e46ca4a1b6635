"""A seeded split is the same on every rank: it depends on its seed and its data, never on the process's rank.

Each rank builds its own train / reward datasets; a split seeded by the rank (or by anything else per process) gave
rank 1 reward images that rank 0 trained on, so the reward read training images, without a word. The mutation audit
of the fifty-seventh session (``seed + get_rank()`` in ``stratified_split``) left every not-slow split test green:
they run in one process, rank 0. Here the process claims rank 1 of 2 (mmengine's ``get_rank`` /
``get_dist_info``, torch's ``get_rank``, the launcher's ``RANK`` / ``LOCAL_RANK``) and must split alike.
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.datasets import DigitsDataset, stratified_split
from automl_mm.datasets.splits import file_keys


def _as_rank(monkeypatch: pytest.MonkeyPatch, rank: int) -> None:
    import mmengine.dist
    import mmengine.dist.utils
    import torch.distributed

    for module in (mmengine.dist, mmengine.dist.utils):
        monkeypatch.setattr(module, 'get_rank', lambda group=None: rank)
        monkeypatch.setattr(module, 'get_dist_info', lambda group=None: (rank, 2))
    monkeypatch.setattr(torch.distributed, 'get_rank', lambda group=None: rank)
    monkeypatch.setenv('RANK', str(rank))
    monkeypatch.setenv('LOCAL_RANK', str(rank))
    monkeypatch.setenv('WORLD_SIZE', '2')


def _splits() -> dict:
    labels = np.repeat(np.arange(4), [9, 10, 11, 12])
    names = [f'class{label}/img{i}.png' for i, label in enumerate(labels)]
    return dict(permuted=[p.tolist() for p in stratified_split(labels, (0.7, 0.3), seed=5)],
                keyed=[p.tolist() for p in stratified_split(labels, (0.7, 0.3), seed=5, keys=file_keys(names, 5))],
                keys=file_keys(names, 5),
                digits=[d['source_idx'] for d in DigitsDataset(split='reward', img_size=8, seed=3).data_list])


def test_the_split_on_rank_1_is_rank_0s(monkeypatch):
    on_rank_0 = _splits()
    _as_rank(monkeypatch, 1)
    assert _splits() == on_rank_0
