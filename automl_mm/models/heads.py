"""Classification heads: features -> logits, loss and predictions (``LinearClsHead``; ``CosineLinearClsHead``, the
bias-free head that feeds AM-LFS's loss the weight and feature norms)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count


def loss_target(data_samples: Sequence[BaseDataElement], device: torch.device) -> torch.Tensor:
    """The target the head's loss is given, as mmpretrain's ``ClsHead`` builds it.

    ``gt_score`` stacked to ``(N, C)`` class probabilities where the samples have one (mmpretrain's batch augments,
    Mixup and CutMix, write the mixed one-hot targets there and leave ``gt_label`` the unmixed class), else the
    ``gt_label`` class indices ``(N,)``: the head trained on the unmixed labels of mixed images, silently.
    ``CrossEntropyLoss`` / ``LabelSmoothingLoss`` take such probabilities; the other losses refuse them, naming them.
    """
    if len(data_samples) and 'gt_score' in data_samples[0]:
        return torch.stack([s.gt_score for s in data_samples]).to(device)
    return torch.cat([s.gt_label for s in data_samples]).to(device)


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """Global average pooling of the last feature map, optional dropout, then a linear classifier.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the last backbone feature map.
        loss: Config of the loss module (any ``MODELS`` entry taking ``(logits, labels)``); ``labels`` are the
            samples' ``gt_score`` probabilities ``(N, C)`` where they have one (Mixup / CutMix), else their
            ``gt_label`` indices ``(N,)`` (:func:`loss_target`).
        dropout: Dropout before the linear layer.
        init_cfg: mmengine initialisation config.

    Raises:
        ValueError: ``num_classes`` not an int >= 2, ``in_channels`` not an int >= 1, ``dropout`` not a number in
            [0, 1), or a loss that needs the weight and feature norms (``uses_norms``, e.g. ``AMLFSLoss``) in a head
            that does not pass them (``passes_norms``: only ``CosineLinearClsHead``).
    """

    # calls a ``uses_norms`` loss with ``weight_norm`` and ``feat_norm`` (LossFunctionSpace checks it of the head
    # that holds the loss it searches)
    passes_norms = False

    def __init__(self, num_classes: int, in_channels: int, loss: dict | None = None, dropout: float = 0.0,
                 init_cfg: dict | list[dict] | None = None) -> None:
        name = type(self).__name__
        # 2.5 or '10' failed inside torch naming no key; in_channels=0 at the first forward, True built 1 input
        num_classes = as_count(num_classes, f'{name} num_classes', 2)
        in_channels = as_count(in_channels, f'{name} in_channels', 1)
        super().__init__(init_cfg=init_cfg or dict(type='Normal', layer='Linear', std=0.01))
        self.num_classes = num_classes
        self.in_channels = in_channels
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f'{type(self).__name__}: dropout must be in [0, 1), got {dropout!r}')
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        self.loss_module = MODELS.build(loss or dict(type='CrossEntropyLoss'))
        if getattr(self.loss_module, 'uses_norms', False) and not self.passes_norms:
            # the first training iteration used to stop with "needs weight_norm and feat_norm"
            raise ValueError(f'{type(self).__name__}: the loss {type(self.loss_module).__name__} needs the class '
                             "weight and feature norms, which this head does not pass: set model.head.type="
                             "'CosineLinearClsHead'")

    def pool(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """The classifier's input ``(N, C)``: the last feature map ``(N, C, H, W)`` average-pooled (or ``(N, C)`` as
        given), after dropout."""
        x = feats[-1]
        if x.dim() == 4:
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.dropout(x)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.pool(feats))

    def loss(self, feats: Sequence[torch.Tensor], data_samples: Sequence[BaseDataElement]) -> dict:
        logits = self(feats)
        target = loss_target(data_samples, logits.device)
        return {'loss': self.loss_module(logits, target)}

    def predict(self, feats: Sequence[torch.Tensor],
                data_samples: Sequence[BaseDataElement] | None = None) -> list[BaseDataElement]:
        """The data samples with ``pred_score`` (softmax probabilities ``(C,)``, float32 also for a float16 /
        bfloat16 head), ``pred_label`` (``(1,)``, their argmax) and ``pred_logit`` (the logits ``(C,)`` in the
        head's dtype, for ranking).

        Raises:
            ValueError: ``data_samples`` not one per row of logits.
        """
        logits = self(feats)
        # float32 probabilities of half logits, as the losses evaluate them: in float16 a probability below 6e-8
        # read 0 (LogLikelihood took its floor, -27.6 nats), in bfloat16 logits 0.001 apart tied in probability and
        # pred_label named the first of them
        scores = F.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(scores.size(0))]
        if len(data_samples) != scores.size(0):
            raise ValueError(f'{type(self).__name__}.predict: {scores.size(0)} rows of logits for '
                             f'{len(data_samples)} data samples')
        # each sample gets its own rows (clone), not views of the batch: a view pickles the whole batch's storage,
        # so tools/test.py --out wrote every image with its batch's scores (5.6 MB for 357 digits images at batch
        # 128) and mmengine's collect_results sent them so across ranks
        for sample, score, logit in zip(data_samples, scores, logits):
            score, logit = score.clone(), logit.clone()
            sample.pred_score = score
            sample.pred_label = score.argmax(dim=0, keepdim=True)
            # the ranking without softmax's underflow: in float32 every class ~104 below the top logit has
            # probability 0, and those ties cost a confident model top-k credit (Accuracy ranks by this)
            sample.pred_logit = logit
        return list(data_samples)


@MODELS.register_module()
class CosineLinearClsHead(LinearClsHead):
    """:class:`LinearClsHead` without bias, passing ``||W_j||`` and ``||x||`` to losses that use them.

    Logits are ``W x = ||W_j|| ||x|| cos(theta_j)``, the form AM-LFS's loss is written in. If the loss module has
    ``uses_norms`` (:class:`~automl_mm.losses.AMLFSLoss`), ``loss()`` calls it with ``weight_norm=||W_j||`` and
    ``feat_norm=||x||`` (``x``: pooled features after dropout); any other loss gets ``(logits, target)`` as in
    ``LinearClsHead``.
    ``forward`` (so ``mode='tensor'`` and prediction, its softmax) gives the logits the loss is written on:
    ``W x``, or ``scale * cos(theta_j)`` when the loss has a ``scale`` (normalised logits, where ``||W_j||`` takes
    no part in training and so must not rank the classes: scaling one class's weights used to change the
    predictions but not the loss), evaluated as the loss does, in float32 for half features.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the last backbone feature map.
        loss: Loss config, e.g. ``dict(type='AMLFSLoss')``; defaults to ``CrossEntropyLoss`` (then this is a
            ``LinearClsHead`` without bias).
        dropout: Dropout before the linear layer.
        init_cfg: mmengine initialisation config.

    Examples:
        >>> head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'))
        >>> sample = BaseDataElement(gt_label=torch.tensor([2]))
        >>> loss = head.loss([torch.randn(1, 4, 2, 2)], [sample])['loss']
        >>> head.fc.bias is None, bool(loss > 0)
        (True, True)
    """

    passes_norms = True

    def __init__(self, num_classes: int, in_channels: int, loss: dict | None = None, dropout: float = 0.0,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(num_classes, in_channels, loss=loss, dropout=dropout, init_cfg=init_cfg)
        self.fc = nn.Linear(in_channels, num_classes, bias=False)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.pool(feats)
        logits = self.fc(x)
        scale = getattr(self.loss_module, 'scale', None) if getattr(self.loss_module, 'uses_norms', False) else None
        if scale is None:
            return logits
        # cos as AMLFSLoss computes it: half features in float32 (in float16 the floor 1e-12 was 0, and a zero
        # feature got NaN logits where the loss has cos = 0)
        dtype = torch.promote_types(logits.dtype, torch.float32)
        norms = x.norm(dim=1).to(dtype)[:, None] * self.fc.weight.norm(dim=1).to(dtype)[None, :]
        return scale * (logits.to(dtype) / norms.clamp(min=1e-12)).clamp(-1.0, 1.0)

    def loss(self, feats: Sequence[torch.Tensor], data_samples: Sequence[BaseDataElement]) -> dict:
        x = self.pool(feats)
        logits = self.fc(x)
        target = loss_target(data_samples, logits.device)
        if getattr(self.loss_module, 'uses_norms', False):
            loss = self.loss_module(logits, target, weight_norm=self.fc.weight.norm(dim=1), feat_norm=x.norm(dim=1))
        else:
            loss = self.loss_module(logits, target)
        return {'loss': loss}
