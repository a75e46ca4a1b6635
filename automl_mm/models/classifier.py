"""An image classifier on mmengine's ``BaseModel``: data preprocessor, backbone, head."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from automl_mm.registry import MODELS


def check_head_width(backbone: torch.nn.Module, head: torch.nn.Module) -> None:
    """Raise unless the head takes the width of the backbone's last feature map (the one it pools).

    Checked where both declare it (``backbone.out_channels``, a tuple, and ``head.in_channels``, as every automl_mm
    backbone and head do). A mismatch (``model.backbone.depth=50`` over a ResNet-18 config's
    ``head.in_channels=512``) failed only at the first forward, with torch's "mat1 and mat2 shapes cannot be
    multiplied (2x2048 and 512x10)", naming no key.

    Raises:
        ValueError: naming ``model.head.in_channels``, the backbone and the width it returns.
    """
    widths = getattr(backbone, 'out_channels', None)
    in_channels = getattr(head, 'in_channels', None)
    if not isinstance(widths, tuple) or not widths or not isinstance(in_channels, int):
        return
    if in_channels != widths[-1]:
        raise ValueError(f'model.head.in_channels={in_channels} but the backbone ({type(backbone).__name__}) '
                         f'returns {widths[-1]} channels in its last feature map (out_channels={widths}), the one '
                         f'the head pools: set model.head.in_channels={widths[-1]}')


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """Backbone + classification head, trained and evaluated by an mmengine ``Runner``.

    ``forward(inputs, data_samples, mode)`` follows mmengine: ``'loss'`` returns a dict of losses,
    ``'predict'`` returns the data samples with ``pred_score`` / ``pred_label``, ``'tensor'`` the logits.

    Args:
        backbone: Backbone config; it returns a tuple of feature maps.
        head: Head config (e.g. ``LinearClsHead``); its ``in_channels`` must be the width of the backbone's last map
            (:func:`check_head_width`).
        data_preprocessor: Defaults to mmengine's ``ImgDataPreprocessor`` with ImageNet mean/std.
        init_cfg: mmengine initialisation config.
        channels_last: Hand the backbone its ``(N, C, H, W)`` inputs in NHWC strides
            (``torch.channels_last``): PyTorch then runs the convolutions and pooling in that layout, which on CPU
            (oneDNN) trained the Fashion-MNIST demo's CNN about 1.5x and evaluated it about 2x faster on one
            thread (``benchmarks/channels_last_speed.py``). Shapes, weights (their layout included, so
            checkpoints and the copies' broadcasts are unchanged) and outputs are the same up to float rounding:
            other kernels, so a run is not bit-identical to one with the default ``False``.

    Raises:
        ValueError: a head whose ``in_channels`` is not the width of the backbone's last map, or any error of the
            backbone's or head's own config (named by them).
        TypeError: ``channels_last`` not a bool.

    Examples:
        >>> model = ImageClassifier(
        ...     backbone=dict(type='SimpleConvNet', channels=(8,)),
        ...     head=dict(type='LinearClsHead', num_classes=10, in_channels=8))
        >>> model(torch.zeros(2, 3, 8, 8), mode='tensor').shape
        torch.Size([2, 10])
    """

    def __init__(self, backbone: dict, head: dict, data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None, channels_last: bool = False) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                     std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        check_head_width(self.backbone, self.head)
        if not isinstance(channels_last, bool):
            raise TypeError(f'ImageClassifier: channels_last must be True or False, got {channels_last!r}')
        self.channels_last = channels_last

    def init_weights(self) -> None:
        """mmengine's, with a non-``Pretrained`` ``init_cfg`` reaching the ConvModules inside the backbone and head
        (:func:`~automl_mm.models.backbones.pretrained.init_cfg_over_own_inits`: ``MBConvSupernet``'s ``stem`` and
        ``final_conv`` re-drew their own init over the model's ``init_cfg``)."""
        from .backbones.pretrained import init_cfg_over_own_inits

        with init_cfg_over_own_inits(self):
            super().init_weights()

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.backbone(inputs)

    def forward(self, inputs: torch.Tensor, data_samples: Sequence[BaseDataElement] | None = None,
                mode: str = 'tensor'):
        feats = self.extract_feat(inputs)
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_label")
            return self.head.loss(feats, data_samples)
        if mode == 'predict':
            return self.head.predict(feats, data_samples)
        if mode == 'tensor':
            return self.head(feats)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
