"""Classification losses (registered in MODELS, used as a head's ``loss``)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from automl_mm.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy on logits, with optional label smoothing and a loss weight.

    Examples:
        >>> loss = CrossEntropyLoss()
        >>> round(loss(torch.zeros(1, 4), torch.tensor([2])).item(), 4)  # log(4)
        1.3863
    """

    def __init__(self, label_smoothing: float = 0.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f'label_smoothing must be in [0, 1), got {label_smoothing}')
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
