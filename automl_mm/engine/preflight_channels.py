"""Config check: grey images are not fed to a data preprocessor that swaps colour channels."""
from __future__ import annotations

from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _datasets, _loader_cfgs, outside_split

#: mmcv ``LoadImageFromFile`` ``color_type`` values that give a one-channel ``(H, W)`` image.
GREY = ('grayscale', 'grayscale_ignore_orientation')


def check_grey_channel_swap(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """No loader whose pipeline loads images with a grey ``color_type`` (one channel) feeds a model whose
    ``data_preprocessor`` swaps the colour channels (``bgr_to_rgb`` or ``rgb_to_bgr``): mmengine's
    ``ImgDataPreprocessor`` (and mmdet's ``DetDataPreprocessor``) index channel 2 of every image and stopped at the
    first batch with ``IndexError: index 2 is out of bounds for dimension 0 with size 1``, naming no key (the
    ImageNet configs swap; a grey set of one's own loaded with ``color_type='grayscale'`` met it).

    Raises:
        ConfigCheckError: names the pipeline step's key, its ``color_type`` and the preprocessor's key, and both
            ways out.
    """
    pre = (cfg.get('model') or {}).get('data_preprocessor') if isinstance(cfg.get('model'), dict) else None
    if not isinstance(pre, dict):
        return
    swap = next((k for k in ('bgr_to_rgb', 'rgb_to_bgr') if pre.get(k)), None)
    if swap is None:
        return
    for loader, key in _loader_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        for dataset, where in _datasets(loader.get('dataset'), f'{key}.dataset'):
            pipeline = dataset.get('pipeline')
            for i, step in enumerate(pipeline if isinstance(pipeline, (list, tuple)) else []):
                if isinstance(step, dict) and config_type_name(step).endswith('LoadImageFromFile') and \
                        step.get('color_type') in GREY:
                    raise ConfigCheckError(
                        f'{where}.pipeline.{i}.color_type={step["color_type"]!r} loads one-channel images, but '
                        f'model.data_preprocessor.{swap}=True swaps channels 0 and 2 of every image (an IndexError '
                        "at the first batch): load them with color_type='color' (three equal channels), or set "
                        f'model.data_preprocessor.{swap}=False with a one-value mean and std for a one-channel '
                        'model')


__all__ = ['GREY', 'check_grey_channel_swap']
