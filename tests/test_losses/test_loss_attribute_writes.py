"""A loss's hyper-parameters are checked on every write, not only in ``__init__``: OHL's ``AttributeSpace`` and
``SetAttributesHook`` set them by attribute path, and a Gaussian sample out of range used to train silently with a
different loss (``label_smoothing=-0.1``: an unbounded-below loss; ``q=-0.5``: an unbounded one; a negative
``loss_weight``: gradient ascent)."""
from __future__ import annotations

import pytest
import torch

from automl_mm.losses import AMLFSLoss
from automl_mm.models import (
    CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)
from automl_mm.ohl.attributes import set_attribute

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], dtype=torch.float64)
TARGET = torch.tensor([0, 2])

# (loss, attribute, a good value, bad values)
CASES = [
    (CrossEntropyLoss, 'label_smoothing', 0.2, [-0.1, 1.0, float('nan')]),
    (LabelSmoothingLoss, 'label_smoothing', 0.2, [-0.1, 1.0]),
    (LabelSmoothingLoss, 'smoothing', 0.2, [-0.1, 1.0]),
    (GeneralizedCrossEntropyLoss, 'q', 0.5, [0.0, -0.5, 1.5, float('nan')]),
    (SymmetricCrossEntropyLoss, 'alpha', 0.5, [-0.1, float('inf')]),
    (SymmetricCrossEntropyLoss, 'beta', 0.5, [-0.1]),
    (SymmetricCrossEntropyLoss, 'log_zero', -2.0, [0.0, 1.0, float('-inf')]),
    (Poly1CrossEntropyLoss, 'epsilon', 2.0, [-1.5, float('nan')]),
    (CrossEntropyLoss, 'loss_weight', 2.0, [-1.0, float('nan')]),
    (GeneralizedCrossEntropyLoss, 'loss_weight', 2.0, [-1.0]),
]


def _call(loss):
    if isinstance(loss, AMLFSLoss):
        return loss(LOGITS, TARGET, torch.ones(3, dtype=torch.float64), torch.full((2,), 3.0, dtype=torch.float64))
    return loss(LOGITS, TARGET)


@pytest.mark.parametrize('cls, key, good, bad', CASES, ids=[f'{c.__name__}.{k}' for c, k, _, _ in CASES])
def test_writes_are_checked_and_reach_the_loss(cls, key, good, bad):
    loss = cls()
    before = _call(loss).item()
    holder = type('Runner', (), {'loss': loss})()
    for value in bad:
        with pytest.raises(ValueError, match=f'{key} must be'):
            set_attribute(holder, f'loss.{key}', value)
        assert _call(loss).item() == before  # a refused write changes nothing
    set_attribute(holder, f'loss.{key}', torch.tensor(good, dtype=torch.float64))  # a 0-d tensor sample
    assert getattr(loss, key) == good and isinstance(getattr(loss, key), float)
    init_key = 'smoothing' if cls is LabelSmoothingLoss else key  # its constructor's name for label_smoothing
    assert _call(loss).item() == pytest.approx(_call(cls(**{init_key: good})).item(), rel=1e-12)
    with pytest.raises(ValueError, match=f'{key} must be'):
        cls(**{init_key: bad[0]})  # the constructor says the same


@pytest.mark.parametrize('key, bad', [('scale', [0.0, -16.0, float('inf')]), ('eps', [0.0, 1.0, -1e-6]),
                                      ('loss_weight', [-1.0, float('nan')])])
def test_am_lfs_writes_are_checked(key, bad):
    loss = AMLFSLoss()
    for value in bad:
        with pytest.raises(ValueError, match=f'{key} must be'):
            setattr(loss, key, value)
    loss.scale = torch.tensor(16.0)
    assert loss.scale == 16.0 and isinstance(loss.scale, float)
    loss.scale = None
    assert loss.scale is None
