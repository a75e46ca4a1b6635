"""Random streams of the OHL engine: where a rank's randomness restarts, so that a resumed run draws exactly
what an uninterrupted one draws (the samples of METHODS.md §1, step 4).

A *segment* starts right before a batch is loaded at every trunk start, every epoch start (epoch loops) and every
iteration (iteration loops): the points where mmengine can resume. At each, a rank's Python, numpy and torch RNGs
are re-seeded from (seed, copy, rank, trunk, epoch, iteration); a space's per-trunk sample is drawn from its own
generator, seeded from (seed, copy, trunk, space index) in a stream domain of its own, so every rank of a copy draws
the same one.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from automl_mm.utils.seeding import stream_torch_generator


def segment_seeds(seed: int, copy_id: int, rank_in_copy: int, trunk: int, epoch: int, iteration: int) -> dict:
    """Seeds of this rank's Python, numpy and torch RNGs for the segment that starts at (trunk, epoch, iteration).

    Drawn as independent words of ``numpy.random.SeedSequence([seed, copy, rank, trunk, epoch, iteration])``: every
    coordinate is in the entropy, so no two segments, copies or ranks share a stream, and the three generators
    never get related seeds.
    """
    words = np.random.SeedSequence([seed, copy_id, rank_in_copy, trunk, epoch, iteration]).generate_state(4)
    # torch's CPU generator keeps the low 32 bits of its seed (words[3]): still a word of its own
    return dict(python=int(words[0]), numpy=int(words[1]), torch=int(words[2]) << 32 | int(words[3]))


def seed_global_rngs(seeds: dict) -> None:
    """Re-seed the process's Python, numpy and torch RNGs with :func:`segment_seeds`' output."""
    random.seed(seeds['python'])
    np.random.seed(seeds['numpy'])
    torch.manual_seed(seeds['torch'])


def space_generator(seed: int, copy_id: int, trunk: int, space_index: int) -> torch.Generator:
    """The generator a space draws its trunk's samples from: a function of (seed, copy, trunk, space index) only,
    never of the rank, so the ranks of one copy draw the same samples.

    Its own stream domain (:mod:`automl_mm.utils.seeding`): seeded from ``SeedSequence([seed, copy, trunk, 0])``
    it replayed the copy's data order of epoch ``trunk`` (``CopySampler``'s ``[seed, copy, epoch]``: numpy pads
    with zeros, torch keeps 32 bits), so a trunk's sample and the first images of that epoch came from the same
    numbers."""
    return stream_torch_generator(seed, 'ohl.space', copy_id, trunk, space_index)


class SegmentStart:
    """Wraps an iteration loop's data iterator: calls ``start`` right before each batch is loaded, except during
    the ``skip`` batches mmengine advances over when it resumes (they must not consume the fresh streams)."""

    def __init__(self, iterator: Any, skip: int, start: Any) -> None:
        self.iterator, self.skip, self.start = iterator, skip, start

    def __iter__(self) -> SegmentStart:
        return self

    def __next__(self) -> Any:
        if self.skip > 0:
            self.skip -= 1
        else:
            self.start()
        return next(self.iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.iterator, name)
