"""torchvision's tuning-free augmentation policies (TrivialAugmentWide, RandAugment, AutoAugment) as a pipeline
transform on uint8 HWC images, for comparisons with OHL-Auto-Aug inside the same pipelines."""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from automl_mm.augment.op_base import extra_image_keys
from automl_mm.registry import TRANSFORMS

from .transforms import refuse_pixel_annotations

_POLICIES = ('TrivialAugmentWide', 'RandAugment', 'AutoAugment', 'AugMix')


@TRANSFORMS.register_module()
class TorchvisionAugment(BaseTransform):
    """Apply ``torchvision.transforms.v2.<policy>(**kwargs)`` to ``results['img']`` (uint8 (H, W) or (H, W, C)).

    The image goes to torchvision as a uint8 CHW tensor and comes back as uint8 HWC; randomness is torch's global
    generator (which the OHL engine seeds per copy and trunk). torchvision assumes RGB, and its contrast,
    saturation and hue weight the channels (contrast blends with the mean of 0.299 R + 0.587 G + 0.114 B): a
    3-channel image in mmcv's BGR order is given to it as RGB and turned back (``bgr=True``, the default; it used to
    go as it was, so those ops read blue as red); grey images are unaffected either way. A second image of the sample
    (mmseg's change-detection ``img2``, the keys of ``img_fields``: ``automl_mm.augment.op_base.extra_image_keys``)
    gets the torch draws ``img`` took (the same ops, magnitudes and signs, each image by itself), and the generator
    is left where one image leaves it.

    Args:
        policy: One of ``'TrivialAugmentWide'``, ``'RandAugment'``, ``'AutoAugment'``, ``'AugMix'``.
        bgr: 3-channel images are in BGR order (mmcv's ``LoadImageFromFile`` and the CIFAR datasets here);
            ``False`` for RGB images.
        **kwargs: Passed to the torchvision class (e.g. ``num_ops=2, magnitude=9`` for RandAugment, ``fill=0``);
            a per-channel ``fill`` of 3 values is in the images' channel order (BGR with ``bgr=True``).

    Raises:
        ValueError: an unknown ``policy`` or a ``bgr`` that is not a bool (torchvision raises its own errors for
            its arguments); in ``transform``, an image that is not uint8 ``(H, W)`` or ``(H, W, C)``, or a sample
            with boxes, masks, a per-pixel map (segmentation, edge, depth, any of mmseg's seg_fields) or
            keypoints, which torchvision's geometric ops would leave behind
            (:func:`~automl_mm.datasets.transforms.refuse_pixel_annotations`), or a second image that is not a
            uint8 (H, W) or (H, W, C) array of the image's height and width, naming its key.

    Examples:
        >>> t = TorchvisionAugment('RandAugment', num_ops=2, magnitude=9, fill=0)
        >>> t(dict(img=np.zeros((28, 28, 3), np.uint8)))['img'].shape
        (28, 28, 3)
    """

    def __init__(self, policy: str, bgr: bool = True, **kwargs) -> None:
        from torchvision.transforms import v2

        if policy not in _POLICIES:
            raise ValueError(f'TorchvisionAugment: policy must be one of {_POLICIES}, got {policy!r}')
        if not isinstance(bgr, bool):
            raise ValueError(f'TorchvisionAugment: bgr must be True or False, got bgr={bgr!r}')
        self.policy = policy
        self.bgr = bgr
        self.kwargs = kwargs
        fill = kwargs.get('fill')
        if bgr and isinstance(fill, (list, tuple)) and len(fill) == 3:
            # torchvision reads a per-channel fill in the order of the image it gets, RGB; it is given in the
            # image's own order (BGR), as mmdet's border values are: it came out reversed
            kwargs = {**kwargs, 'fill': type(fill)(reversed(fill))}
        self.op = getattr(v2, policy)(**kwargs)

    def transform(self, results: dict) -> dict:
        refuse_pixel_annotations(results, f'TorchvisionAugment({self.policy!r})',
                                 "mmdet's RandAugment / AutoAugment, or automl_mm.OHLAutoAugment(elements="
                                 "'randaugment'), whose elements move them",
                                 "automl_mm.OHLAutoAugment(elements='randaugment')")
        img = results['img']
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
            raise ValueError(f"TorchvisionAugment needs results['img'] as a uint8 (H, W) or (H, W, C) array, got "
                             f'{getattr(img, "dtype", type(img))} of shape {getattr(img, "shape", None)}')
        # a second image (mmseg's img2, img_fields): the draws img takes, each image by itself
        extra = extra_image_keys(results, img, f'TorchvisionAugment({self.policy!r})')
        state = torch.get_rng_state() if extra else None
        results['img'] = self._apply(img)
        if extra:
            after = torch.get_rng_state()
            for key in extra:
                torch.set_rng_state(state)  # the draws 'img' took
                results[key] = self._apply(results[key])
            torch.set_rng_state(after)  # where one image leaves the generator
        return results

    def _apply(self, img: np.ndarray) -> np.ndarray:
        """The policy on one uint8 (H, W) or (H, W, C) image, drawing from torch's global generator."""
        swap = self.bgr and img.ndim == 3 and img.shape[2] == 3
        hwc = img[:, :, ::-1] if swap else img if img.ndim == 3 else img[:, :, None]
        chw = torch.from_numpy(np.ascontiguousarray(hwc).transpose(2, 0, 1))
        out = self.op(chw.contiguous()).permute(1, 2, 0).numpy()
        out = out[:, :, ::-1] if swap else out if img.ndim == 3 else out[:, :, 0]
        return np.ascontiguousarray(out)

    def __repr__(self) -> str:
        args = ''.join(f', {k}={v!r}' for k, v in self.kwargs.items())
        return f'{type(self).__name__}({self.policy!r}{args})'
