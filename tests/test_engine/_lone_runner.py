"""What a lone runner (``Runner.from_cfg``: mmdet's own ``tools/train.py``, no automl_mm check before it) refuses, for
the test modules that name a config node's ``type`` in its error (``test_preflight_type_names.py``,
``test_lone_runner_hook_types.py``)."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner


def lone_runner_key_error(cfg) -> str:
    """The message (``args[0]``) of the ``KeyError`` that ``Runner.from_cfg(cfg)`` raises; the test fails where it
    raises none (``pytest.raises``) or another error (which propagates)."""
    with pytest.raises(KeyError) as info:
        Runner.from_cfg(cfg)
    return info.value.args[0]
