"""Pieces of the tests that build a real mmengine ``Runner`` around a tiny model in this process: an inductor cache
directory of each test's own, a one-layer model and four samples."""
from __future__ import annotations

import pytest
import torch
from mmengine.model import BaseModel
from torch import nn


@pytest.fixture(autouse=True)
def inductor_cache(monkeypatch, tmp_path):
    """``TORCHINDUCTOR_CACHE_DIR`` pointed at the test's own ``tmp_path / 'inductor'`` and restored after it (a
    module that imports this fixture gets it for each of its tests). conftest sets the variable before any test, as
    torch sets it at its first ``torch._dynamo`` import (torch's default directory, one for every xdist worker and
    every other run of the user), so a runner no longer changes it; what torch would compile during the test
    (``torch.compile``, a runner's ``compile`` option) is cached here instead of there. No test of this project
    compiles, so the directory is not created. Torch's ``DynamoCache`` took its directory at the import, in
    conftest: the default one."""
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))


class LinearNet(BaseModel):
    """``Linear(2, 1)`` then ``act`` (``nn.Identity`` when None); loss: the outputs' mean square; predict: one
    ``dict(out=...)`` per sample."""

    def __init__(self, act: nn.Module | None = None):
        super().__init__()
        self.fc, self.act = nn.Linear(2, 1), act if act is not None else nn.Identity()

    def forward(self, inputs, data_samples=None, mode='loss'):
        out = self.act(self.fc(inputs))
        return dict(loss=out.square().mean()) if mode == 'loss' else [dict(out=o) for o in out]


class FourSamples(torch.utils.data.Dataset):
    """Four samples ``dict(inputs=tensor([i, 1 - i]))``, i = 0..3."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0 - i]))
