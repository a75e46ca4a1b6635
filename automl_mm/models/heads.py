"""Classification heads: features -> logits, loss and predictions."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement

from automl_mm.registry import MODELS


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """Global average pooling of the last feature map, optional dropout, then a linear classifier.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the last backbone feature map.
        loss: Config of the loss module (any ``MODELS`` entry taking ``(logits, labels)``).
        dropout: Dropout before the linear layer.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, num_classes: int, in_channels: int, loss: dict | None = None, dropout: float = 0.0,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}')
        super().__init__(init_cfg=init_cfg or dict(type='Normal', layer='Linear', std=0.01))
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        self.loss_module = MODELS.build(loss or dict(type='CrossEntropyLoss'))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        if x.dim() == 4:
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(self.dropout(x))

    def loss(self, feats: Sequence[torch.Tensor], data_samples: Sequence[BaseDataElement]) -> dict:
        logits = self(feats)
        target = torch.cat([s.gt_label for s in data_samples]).to(logits.device)
        return {'loss': self.loss_module(logits, target)}

    def predict(self, feats: Sequence[torch.Tensor],
                data_samples: Sequence[BaseDataElement] | None = None) -> list[BaseDataElement]:
        scores = F.softmax(self(feats), dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(scores.size(0))]
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax(dim=0, keepdim=True)
        return list(data_samples)
