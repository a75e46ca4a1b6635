"""A held-out loader (``reward_dataloader``, ``search_dataloader``) built by ``build_local_loader`` without workers
drops the worker-only options, as it already dropped ``persistent_workers``: ``prefetch_factor=2`` with
``num_workers=0`` ended in torch's ``ValueError: prefetch_factor option could only be specified in multiprocessing``,
naming no key."""
from __future__ import annotations

import pytest

from automl_mm.engine.evaluate import build_local_loader


def _cfg(**kwargs):
    return dict(dataset=dict(type='DigitsDataset', split='reward', img_size=8, pipeline=[]), batch_size=4, **kwargs)


@pytest.mark.parametrize('options', [dict(prefetch_factor=2), dict(persistent_workers=True, prefetch_factor=2),
                                     dict(num_workers=0, prefetch_factor=4)])
def test_worker_only_options_are_dropped_without_workers(options):
    import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)

    loader = build_local_loader(_cfg(**options), key='reward_dataloader')
    assert loader.num_workers == 0 and loader.prefetch_factor is None


def test_they_are_kept_with_workers_but_a_scored_split_starts_its_workers_at_every_reading():
    """A scored split's persistent workers drew a random transform on from the last reading
    (``test_held_out_reading_random_streams.py``): its workers start anew at every reading."""
    import automl_mm.datasets  # noqa: F401

    cfg = _cfg(num_workers=1, prefetch_factor=3, persistent_workers=True)
    scored = build_local_loader(cfg, key='reward_dataloader')
    assert scored.prefetch_factor == 3 and scored.num_workers == 1 and not scored.persistent_workers
    cfg.update(sampler=dict(type='DefaultSampler', shuffle=True))
    sampled = build_local_loader(cfg, key='OHLHook.bn_recalibration_dataloader', purpose='sample')
    assert sampled.prefetch_factor == 3 and sampled.persistent_workers
