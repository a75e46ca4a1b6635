"""Seeded, stratified splits of a labelled set into train / reward / test parts."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ('train', 'reward', 'test')


def stratified_split(labels: Sequence[int], sizes: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split indices into parts whose class proportions follow ``labels``.

    Args:
        labels: Class label of every item.
        sizes: Fraction of the items in each part; must be positive and sum to 1.
        seed: Seed of the permutation; the same seed always gives the same parts.

    Returns:
        One sorted index array per part. Every index is in exactly one part.

    Examples:
        >>> parts = stratified_split([0, 0, 1, 1, 0, 1], (0.5, 0.5), seed=0)
        >>> sorted(np.concatenate(parts).tolist())
        [0, 1, 2, 3, 4, 5]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.ndim != 1 or (sizes <= 0).any() or not np.isclose(sizes.sum(), 1.0):
        raise ValueError(f'split sizes must be positive fractions summing to 1, got {sizes.tolist()}')
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        # Largest-remainder rounding keeps each class's part sizes summing to its count.
        exact = sizes * len(idx)
        counts = np.floor(exact).astype(int)
        for j in np.argsort(-(exact - counts), kind='stable')[:len(idx) - counts.sum()]:
            counts[j] += 1
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for p in range(len(sizes)):
            parts[p].append(idx[bounds[p]:bounds[p + 1]])
    return [np.sort(np.concatenate(p)) for p in parts]


def check_split(split: str, allowed: Sequence[str] = SPLITS) -> str:
    if split not in allowed:
        raise ValueError(f'split must be one of {tuple(allowed)}, got {split!r}')
    return split
