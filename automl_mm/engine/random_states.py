"""The global random streams around a held-out reading or a BN re-estimation pass (OHL rewards, NAS scoring): kept
(:func:`kept_global_rngs`), seeded with one seed inside the block (:func:`seeded_global_rngs`, with
:data:`HELD_OUT_SEED` in every reading). Split from :mod:`automl_mm.engine.evaluate`, which re-exports them."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def kept_global_rngs() -> Iterator[None]:
    """Put Python's ``random``, numpy's and torch's global RNG states (and CUDA's, once initialised) back as they were
    on entry, on leaving the block (also after an error): what runs inside draws as it likes, and what runs after is
    as if the block had drawn nothing. A held-out reading inside training (an OHL reward, a NAS score, a BN
    re-estimation) draws from them without meaning to: each pass over a loader draws its iterator's base seed from
    torch's generator, and a random transform of the split, dropout or drop-path draw too, so the training after
    it (mmdet's proposal sampling, crops, dropout) drew other numbers than the plain run it stands for."""
    import random

    import numpy as np

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    # torch.manual_seed inside reseeds every CUDA generator too: put those back as well, or every later dropout mask
    # and on-device sampler of the run replays the draws of its start
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() \
        else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed Python's ``random``, numpy's and torch's global RNGs with ``seed`` inside the block and put their
    states back after it (:func:`kept_global_rngs`): what runs inside (a data pipeline's random transforms, which
    draw from these) is the same on every call and every rank, and what runs after is as if the block had not drawn
    anything."""
    import random

    import numpy as np

    with kept_global_rngs():
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        yield


#: The seed of the global random streams in every held-out reading and BN re-estimation pass
#: (:func:`~automl_mm.engine.evaluate.evaluate_locally`, :func:`~automl_mm.engine.bn_recalibration.recalibrate_bn`):
#: what they draw is the same for every OHL copy, NAS candidate, trunk and rank.
HELD_OUT_SEED = 0
