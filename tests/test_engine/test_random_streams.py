"""Streams of ``automl_mm.utils.seeding``: one per (seed, domain, keys), whatever the keys' lengths."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.utils.seeding import stream_rng, stream_seed_sequence, stream_torch_generator


def _state(*args):
    return tuple(stream_seed_sequence(*args).generate_state(4).tolist())


def test_keys_of_other_lengths_or_trailing_zeros_are_other_streams():
    # numpy.random.SeedSequence([5, 7, 0]) == SeedSequence([5, 7]): the kind of collision this module exists for
    assert np.array_equal(np.random.SeedSequence([5, 7, 0]).generate_state(4),
                          np.random.SeedSequence([5, 7]).generate_state(4))
    keys = [(), (0,), (0, 0), (7,), (7, 0), (7, 0, 0), (0, 7), (1, 2, 3), (1, 2, 3, 0), (3, 2, 1)]
    states = {_state(seed, domain, *k) for seed in (0, 5) for domain in ('a', 'b') for k in keys}
    assert len(states) == 2 * 2 * len(keys)
    assert _state(5, 'a', 1, 2) == _state(5, 'a', 1, 2)


def test_generators_follow_the_stream():
    assert stream_rng(3, 'a', 1).random() == stream_rng(3, 'a', 1).random() != stream_rng(3, 'a', 1, 0).random()
    draw = [torch.rand(2, generator=stream_torch_generator(3, d, 1)).tolist() for d in ('a', 'a', 'b')]
    assert draw[0] == draw[1] != draw[2]


@pytest.mark.parametrize('domain', ['', None, 3])
def test_a_domain_must_be_a_name(domain):
    with pytest.raises(ValueError, match='domain must be a non-empty str'):
        stream_seed_sequence(0, domain, 1)
