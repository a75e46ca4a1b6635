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


def test_they_are_kept_with_workers():
    import automl_mm.datasets  # noqa: F401

    loader = build_local_loader(_cfg(num_workers=1, prefetch_factor=3, persistent_workers=True))
    assert loader.prefetch_factor == 3 and loader.persistent_workers
