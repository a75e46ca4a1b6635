"""Random streams derived from a run's seed, kept apart by a named domain.

``numpy.random.SeedSequence`` hashes a list of entropy words into a 4-word pool and treats a missing word as 0, so
key tuples of different lengths collide: ``[seed, 7919, 0]`` seeds exactly what ``[seed, 7919]`` seeds, and
``[seed, copy, trunk, 0]`` what ``[seed, copy, trunk]`` seeds. Two streams meant to be independent (a search step's
completion draws and a training iteration's path; a trunk's hyper-parameter sample and the same copy's data order)
then replay one another. A stream derived here puts its domain and keys in the ``spawn_key`` (numpy's mechanism
for independent child streams: the seed is padded to the whole pool first and every key word is mixed in
explicitly, trailing zeros included), so streams of different domains, or of one domain with different keys,
never share a state.

Torch's CPU generator keeps only the low 32 bits of a seed (``manual_seed(s)`` and ``manual_seed(s + 2**32)``
draw the same numbers); :func:`stream_torch_generator` seeds it with one 32-bit word of the stream.
"""
from __future__ import annotations

import numbers
import zlib
from typing import Any

import numpy as np
import torch

_MASK = 0xFFFFFFFF


def as_seed(value: Any, key: str, *, allow_none: bool = False) -> int | None:
    """``value`` as a seed, checked where the user gives it: a non-negative int (numpy's ``SeedSequence`` refuses a
    negative one, which failed at a run's first draw with numpy's message; the masked streams here read -1 as
    ``2**32 - 1``; 1.7 was read as 1 and ``True`` as 1).

    Args:
        value: The seed as configured.
        key: Its config key, named in the error (e.g. ``'OHLHook.seed'``).
        allow_none: Pass ``None`` through (the caller then takes the run's seed).

    Raises:
        ValueError: ``value`` is a bool, not an integer, negative, or ``None`` where not allowed.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f'{key} must be {"None or " if allow_none else ""}a non-negative int, got {value!r}')
    return int(value)


def _domain_word(domain: str) -> int:
    if not isinstance(domain, str) or not domain:
        raise ValueError(f'a random stream domain must be a non-empty str, got {domain!r}')
    return zlib.crc32(domain.encode())


def resumed_seed(saved: Any, configured: int | None, key: str) -> Any:
    """The seed a resumed search continues with: the checkpoint's ``saved``.

    Args:
        saved: The seed the checkpoint's search ran with.
        configured: The seed this run's config sets (``None``: unset, the checkpoint's is taken).
        key: Its config key, named in the error.

    Raises:
        ValueError: ``configured`` is set and differs from ``saved`` (every draw derives from the seed: the
            checkpoint's used to replace the configured one without a word).
    """
    if configured is not None and saved != configured:
        raise ValueError(f'the checkpoint\'s search has seed {saved}, this run sets {key}={configured}: a resume '
                         f'continues the same search with its seed. Leave {key} unset (or set it to the '
                         'checkpoint\'s), or start a new search from its weights with load_from')
    return saved


def stream_seed_sequence(seed: int, domain: str, *keys: int) -> np.random.SeedSequence:
    """The seed sequence of stream ``domain`` at ``keys`` (e.g. ``'nas.score'``, method stream, step).

    Args:
        seed: The run's seed (its low 32 bits are used, as everywhere in the project).
        domain: Names the kind of stream; each place that derives streams uses its own.
        keys: Non-negative integers locating the stream within its domain (low 32 bits each).

    Returns:
        ``SeedSequence(seed, spawn_key=(crc32(domain), *keys))``: a function of its arguments only, the same in
        every process.
    """
    return np.random.SeedSequence(int(seed) & _MASK,
                                  spawn_key=(_domain_word(domain), *(int(k) & _MASK for k in keys)))


def stream_rng(seed: int, domain: str, *keys: int) -> np.random.Generator:
    """A numpy generator on :func:`stream_seed_sequence` ``(seed, domain, *keys)``."""
    return np.random.default_rng(stream_seed_sequence(seed, domain, *keys))


def stream_torch_generator(seed: int, domain: str, *keys: int) -> torch.Generator:
    """A CPU torch generator seeded by the first 32-bit word of :func:`stream_seed_sequence` ``(seed, domain,
    *keys)`` (torch uses no more than 32 bits of a CPU seed)."""
    word = int(stream_seed_sequence(seed, domain, *keys).generate_state(1, np.uint32)[0])
    return torch.Generator().manual_seed(word)
