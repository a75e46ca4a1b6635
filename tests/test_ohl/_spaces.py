"""Shared pieces of the OHL space tests: the copy layout reset around every test (import ``_fresh_layout``: it is
autouse), and a stand-in runner whose training dataset has a given pipeline."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl_mm.ohl import reset_copy_layout


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _pipeline_runner(*transforms):
    from mmengine.dataset import Compose
    dataset = SimpleNamespace(pipeline=Compose(list(transforms)))
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))
