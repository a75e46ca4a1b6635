"""tests/conftest.py freezes the heap its imports made (``_freeze_the_imported_heap``): a full collection, which
mmengine's datasets run at every ``full_init``, no longer walks torch's, mmdet's and automl_mm's module objects, and
what a test makes is still collected."""
from __future__ import annotations

import gc
import weakref


def test_the_imported_heap_is_frozen_and_test_garbage_is_still_collected():
    import mmdet.models
    import torch

    assert gc.get_freeze_count() > 100_000  # the imported modules' objects (about 420k)
    assert not any(obj is torch.nn.Conv2d or obj is mmdet.models for obj in gc.get_objects())  # not scanned

    class Node:
        pass

    node = Node()
    node.cycle = node  # freed by the collector only
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None
