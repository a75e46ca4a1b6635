"""``get_subset`` / ``get_subset_`` copies that share nothing with each other, for every mmengine ``BaseDataset``."""
from __future__ import annotations

import functools
from collections.abc import Callable


def copying_with_own_memo(copy_without_annotation: Callable) -> Callable:
    """Wrap ``BaseDataset._copy_without_annotation`` so that a call without ``memo`` deep-copies with a new dict.

    mmengine 0.10.7 declares ``_copy_without_annotation(self, memo=dict())``: one default dict for every call in the
    process, which ``copy.deepcopy`` fills with every object it copies. The second ``get_subset`` of a dataset (any
    ``BaseDataset``: mmdet's ``CocoDataset``, automl_mm's datasets) reused the first subset's copies, so two subsets
    held one pipeline (``a.pipeline.transforms[i].prob = 0.9`` changed ``b``'s) and one ``_metainfo``, and the memo
    kept every copied attribute alive for the life of the process. A ``memo`` the caller passes (a subclass that
    shares an object on purpose, as ``copy.deepcopy``'s memo) is used as given.

    Args:
        copy_without_annotation: mmengine's ``BaseDataset._copy_without_annotation``.

    Returns:
        The wrapper, marked ``own_memo = True`` (so a second install does not wrap it again).
    """
    @functools.wraps(copy_without_annotation)
    def wrapper(self, memo: dict | None = None):
        return copy_without_annotation(self, {} if memo is None else memo)

    wrapper.own_memo = True
    return wrapper


def install() -> None:
    """Wrap ``mmengine.dataset.BaseDataset._copy_without_annotation`` with :func:`copying_with_own_memo` (once)."""
    from mmengine.dataset import BaseDataset
    if not getattr(BaseDataset._copy_without_annotation, 'own_memo', False):
        BaseDataset._copy_without_annotation = copying_with_own_memo(BaseDataset._copy_without_annotation)


__all__ = ['copying_with_own_memo', 'install']
