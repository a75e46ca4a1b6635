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
#: One past the largest seed a user may give (``randomness.seed``, a dataset's or hook's ``seed``, a tool's
#: ``--seed``). numpy's ``SeedSequence`` reads a list of entropy such as ``[seed, k]`` as one integer of 32-bit words,
#: zero-padded: ``default_rng([seed, 1])`` draws what ``default_rng(seed + 2**32)`` draws, and ``[s + 2**32, k]`` is
#: ``[s, 1, k]``; the streams derived here keep a seed's low 32 bits. A seed of ``2**32`` or more would draw other
#: seeds' numbers (mmengine's ``np.random.seed`` refuses it too, with numpy's message).
SEED_LIMIT = 2 ** 32


def as_seed(value: Any, key: str, *, allow_none: bool = False) -> int | None:
    """``value`` as a seed, checked where the user gives it: an int in ``[0, 2**32)`` (:data:`SEED_LIMIT`; numpy's
    ``SeedSequence`` refuses a negative one, which failed at a run's first draw with numpy's message; the masked
    streams here read -1 as ``2**32 - 1``; 1.7 was read as 1 and ``True`` as 1; ``FashionMNISTDataset(seed=s + 2**32,
    samples_per_class=...)`` carved its train / reward split with the stream of seed ``s``'s per-class subset,
    ``default_rng([s, 1])``; ``CopySampler(seed=s + 2**32)``'s copy ``c`` at epoch 0 shuffled as seed ``s``'s copy 1
    at epoch ``c``; ``OHLHook(seed=s + 2**32)`` drew seed ``s``'s trunk samples, whose streams keep 32 bits).

    Args:
        value: The seed as configured.
        key: Its config key or option, named in the error (e.g. ``'OHLHook.seed'``, ``'--seed'``).
        allow_none: Pass ``None`` through (the caller then takes the run's seed).

    Returns:
        ``int(value)``, or ``None`` (``allow_none``).

    Raises:
        ValueError: ``value`` is a bool, not an integer, negative, ``2**32`` or more (the message names ``key``, the
            range and the seed whose numbers it would draw), or ``None`` where not allowed.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f'{key} must be {"None or " if allow_none else ""}a non-negative int, got {value!r}')
    if value >= SEED_LIMIT:
        raise ValueError(f'{key} must be an int in [0, 2**32), got {value}: {seed_range_reason(int(value))}')
    return int(value)


def seed_range_reason(seed: int) -> str:
    """Why a seed of ``2**32`` or more is refused, for the errors of :func:`as_seed` and of the tools' ``--seed``
    (an explanation, no key): the seeds whose numbers ``seed`` would draw."""
    low, high = seed % SEED_LIMIT, seed // SEED_LIMIT
    example = (f'[{seed}, k] is [{low}, {high}, k], seed {low}\'s list with other keys'
               if high < SEED_LIMIT else f'{seed} is a list of {(seed.bit_length() + 31) // 32} words')
    return ("numpy's SeedSequence reads a seed list such as [seed, k] (the splits, subsets and random streams are "
            f'drawn from such lists) as one integer of 32-bit words, so {example}')


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
