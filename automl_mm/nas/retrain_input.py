"""The image size a search's exported retrain config runs at, against the size the search ran and counted at.

A PC-NAS search exports ``pc_nas_final_config.py``, which inherits ``train_cfg.retrain_config`` and sets only the
searched ``arch``: the data, and so the image size, are the retrain config's. A digits search whose images were set
to 32 px (``train_cfg.input_shape=(1, 3, 32, 32)``, ``flops_limit=14e6``) exported a config that retrained at the
template's 16 px: the network kept under the FLOPs limit at 32 px was trained and tested at 16 px (a quarter of the
FLOPs the search reported), and the ranking it was chosen by was made at another size; nothing said so.

:func:`check_retrain_input` compares the two before the search trains. The retrain size is that of the first image of
the retrain config's ``test_dataloader`` (else ``val_dataloader``: the size it is scored and its costs quoted at),
through its model's ``data_preprocessor``, the same way the search's size is read from its search split.

CR-NAS (detection, images of many sizes) counts FLOPs at ``train_cfg.flops_input_shape``:
:func:`warn_flops_shape_not_trained` compares it with the resize scales the search config and its retrain config
train at (:func:`training_scales`), at the start and again at the export of an edited retrain config.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

from mmengine.logging import print_log

from automl_mm.engine.evaluate import kept_global_rngs


def retrain_input_chw(retrain_config: str, data_preprocessor: Any = None) -> tuple[tuple[int, ...], str] | None:
    """``((C, H, W), loader key)`` of the first image the retrain config's ``test_dataloader`` (else
    ``val_dataloader``) gives its network, or ``None`` when it has neither, or its batches are not one 4-D tensor
    (detection's lists of images of several sizes).

    Args:
        retrain_config: Path of the retrain config.
        data_preprocessor: Used when the retrain config's ``model`` sets no ``data_preprocessor`` (the search
            model's).

    Raises:
        Exception: whatever reading the config (:func:`~automl_mm.engine.config_read.read_config`: a ``_base_`` that
            names no file explained), building the loader, reading a batch or building the preprocessor raises.
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from automl_mm.engine.config_read import read_config
    from automl_mm.engine.preflight_walk import _built_in, runner_scope
    from automl_mm.registry import MODELS

    cfg = read_config(retrain_config)
    key = next((k for k in ('test_dataloader', 'val_dataloader') if isinstance(cfg.get(k), dict)), None)
    if key is None:
        return None
    loader_cfg = copy.deepcopy(cfg.get(key))
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader_cfg.pop('prefetch_factor', None)  # torch refuses it without workers
    # a look before training: the search's training must draw as if it had not looked (kept_global_rngs)
    # in the scope the retrain config's runner builds in (runner_scope: 'mmengine' without default_scope), the
    # preprocessor in its model's (which builds it: the model's _scope_, else the runner's)
    scope = runner_scope(cfg)
    with DefaultScope.overwrite_default_scope(scope), kept_global_rngs():
        batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
        model = cfg.get('model') or {}
        own = model.get('data_preprocessor')
        with DefaultScope.overwrite_default_scope(_built_in(model, scope)):
            preprocessor = MODELS.build(own) if isinstance(own, dict) else data_preprocessor
        inputs = preprocessor(batch, False)['inputs'] if preprocessor is not None else batch.get('inputs')
    if not hasattr(inputs, 'dim') or inputs.dim() != 4:
        return None
    return tuple(int(v) for v in inputs.shape[1:]), key


def check_retrain_input(retrain_config: str | None, searched_chw: Sequence[int] | None, costed: str | None,
                        data_preprocessor: Any = None) -> None:
    """Refuse (with costs) or warn about (without) a retrain config whose images reach the network at another
    ``(C, H, W)`` than the search's (see the module docstring).

    Args:
        retrain_config: Absolute path of ``train_cfg.retrain_config``, or ``None``: nothing to check.
        searched_chw: ``(C, H, W)`` the supernet ran at on the search split, or ``None``: not known (detection).
        costed: The key the search's FLOPs / latency were counted at (``'train_cfg.input_shape'``), or ``None``
            when the search counted no costs: then a different size only changes where the ranking was made, and is
            warned about.
        data_preprocessor: The search model's, for a retrain config whose model sets none.

    Raises:
        ValueError: ``costed`` and the sizes differ, naming ``train_cfg.retrain_config``, its loader key, both
            sizes and ``costed``.
    """
    if retrain_config is None or searched_chw is None:
        return
    try:
        found = retrain_input_chw(retrain_config, data_preprocessor)
    except Exception as err:  # noqa: BLE001  (the retrain is a later run; the search need not read its data)
        print_log(f'train_cfg.retrain_config {retrain_config}: its image size could not be read to compare with the '
                  f"search's ({type(err).__name__}: {err}); check that it retrains at (C, H, W) = "
                  f'{tuple(searched_chw)}', logger='current', level=logging.WARNING)
        return
    if found is None:
        return
    retrain, key = found
    searched = tuple(int(v) for v in searched_chw)
    if retrain == searched:
        return
    msg = (f'train_cfg.retrain_config {retrain_config}: its {key} gives the network images of (C, H, W) = '
           f"{retrain}, the search's split {searched}: the exported config inherits the retrain config's data, so "
           f'the searched architecture would be retrained and scored at another size than it was searched at')
    if costed is None:
        print_log(msg + '; set the retrain config\'s image size to the search\'s', logger='current',
                  level=logging.WARNING)
        return
    raise ValueError(msg + f', and its FLOPs / latency (counted at {costed}) and the cost limit would not hold for '
                     "it; give the retrain config the search's image size (or search at the retrain size)")


# --- detection: the Resize scales a config trains at, against CR-NAS's flops_input_shape ----------------------------
def _size(value: Any) -> tuple[int, int] | None:
    """``(w, h)`` of a resize scale (an int: square), or None where it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value), int(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and \
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    return None


def _resize_kind(cls: type | None) -> str | None:
    """Which resize ``cls`` is, by class as mmcv / mmdet define them (a user's subclass included): ``'FixShapeResize'``
    (mmdet's, before its base ``Resize``), ``'Resize'``, ``'RandomChoiceResize'``, ``'RandomResize'``, ``'Pad'``
    (mmcv's, mmdet's), or ``None`` (another transform, or no class: a type no registry holds, left to the build)."""
    from mmcv.transforms import Pad, RandomChoiceResize, RandomResize, Resize

    try:
        from mmdet.datasets.transforms import FixShapeResize
    except ImportError:  # without mmdet: its resize is in no pipeline
        FixShapeResize = None  # noqa: N806
    if cls is None:
        return None
    for kind, base in (('FixShapeResize', FixShapeResize), ('Resize', Resize),
                       ('RandomChoiceResize', RandomChoiceResize), ('RandomResize', RandomResize), ('Pad', Pad)):
        if base is not None and issubclass(cls, base):
            return kind
    return None


def _loader_transforms(cfg: Any, loader: str) -> list[tuple[dict, str, str | None]]:
    """``(transform config, its config key, which resize it is: :func:`_resize_kind`)`` of every transform in the
    pipelines of ``cfg[loader]``'s datasets (wrappers and nested transforms included), its class resolved as the runner
    builds it (:func:`~automl_mm.registry.config_class` in the scope mmengine builds it in: its ``_scope_``, else its
    wrapper's or dataset's, else the config's ``default_scope``,
    :func:`~automl_mm.engine.preflight_walk.scoped_loader_transforms`)."""
    from automl_mm.engine.preflight_walk import runner_scope, scoped_loader_transforms
    from automl_mm.registry import TRANSFORMS, config_class

    loader_cfg = cfg.get(loader) if hasattr(cfg, 'get') else None
    if not isinstance(loader_cfg, dict):
        return []
    return [(t, key, _resize_kind(config_class(TRANSFORMS, t, scope)))
            for t, key, scope in scoped_loader_transforms(loader_cfg.get('dataset'), f'{loader}.dataset',
                                                          runner_scope(cfg))]


def training_scales(cfg: Any, loader: str = 'train_dataloader'
                    ) -> list[tuple[str, tuple[int, int], tuple[int, int], bool]]:
    """``(config key, low (w, h), high (w, h), keep_ratio)`` of each resize in the pipelines of ``cfg[loader]``'s
    datasets (wrappers and nested transforms included, :func:`~automl_mm.engine.preflight_walk.pipeline_transforms`):
    the image sizes the detector trains at, as mmcv / mmdet resize them (``scale`` is ``(w, h)``, an int a square;
    with ``keep_ratio`` the bound the image is fitted into, mmcv ``rescale_size``). Each transform is known by its
    class as the runner builds it (:func:`_loader_transforms`: a user's subclass or registered alias of one of these
    is read, a class of another kind that shares a name is not, a type no registry holds is left to the build):

    - ``Resize(scale=s)`` (mmcv's, mmdet's): ``s`` (low = high); a ``scale_factor`` alone (relative) is not listed;
    - ``FixShapeResize(width, height)`` (mmdet's; the output size, padded: never ``keep_ratio`` here);
    - ``RandomChoiceResize(scales=[...])``: each scale;
    - ``RandomResize(scale=[s0, s1])``: each edge drawn between the two (mmcv ``RandomResize._random_sample``);
      ``RandomResize(scale=s, ratio_range=(r0, r1))``: ``s`` times a ratio drawn between ``r0`` and ``r1``.
    """
    found: list[tuple[str, tuple[int, int], tuple[int, int], bool]] = []
    for t, key, kind in _loader_transforms(cfg, loader):
        keep = bool(t.get('keep_ratio', False))
        if kind == 'Resize' and _size(t.get('scale')):
            found.append((f'{key}.scale', _size(t['scale']), _size(t['scale']), keep))
        elif kind == 'FixShapeResize' and _size((t.get('width'), t.get('height'))):
            size = _size((t['width'], t['height']))
            found.append((f'{key}.width/height', size, size, False))
        elif kind == 'RandomChoiceResize' and isinstance(t.get('scales'), (list, tuple)):
            found += [(f'{key}.scales[{i}]', _size(s), _size(s), keep)
                      for i, s in enumerate(t['scales']) if _size(s)]
        elif kind == 'RandomResize':
            scale, ratios = t.get('scale'), t.get('ratio_range')
            if isinstance(ratios, (list, tuple)) and len(ratios) == 2 and _size(scale):
                w, h = _size(scale)
                low, high = min(ratios), max(ratios)
                found.append((f'{key}.scale', (int(w * low), int(h * low)), (int(w * high), int(h * high)), keep))
            elif isinstance(scale, (list, tuple)) and len(scale) == 2 and all(_size(s) for s in scale):
                (w0, h0), (w1, h1) = map(_size, scale)
                found.append((f'{key}.scale', (min(w0, w1), min(h0, h1)), (max(w0, w1), max(h0, h1)), keep))
    return found


def pad_size_divisor(cfg: Any, loader: str = 'train_dataloader') -> int:
    """The multiple the detector's input edges are padded up to after the resize: the largest of
    ``model.data_preprocessor.pad_size_divisor`` (mmdet's ``DetDataPreprocessor``, 32 in its detectors) and the
    ``size_divisor`` of a ``Pad`` (mmcv's, mmdet's, a subclass: by class, :func:`_loader_transforms`) in
    ``cfg[loader]``'s pipelines; 1 without either."""
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') if hasattr(cfg, 'get') else None
    divisors = [(preprocessor or {}).get('pad_size_divisor') if isinstance(preprocessor, dict) else None]
    divisors += [t.get('size_divisor') for t, _, kind in _loader_transforms(cfg, loader) if kind == 'Pad']
    return max([int(d) for d in divisors if isinstance(d, int) and not isinstance(d, bool) and d > 0] or [1])


def _trains_at(scales: list[tuple[str, tuple[int, int], tuple[int, int], bool]], w: int, h: int,
               divisor: int = 1) -> bool:
    """Whether a resize of ``scales`` can give the backbone a ``(w, h)`` input, padded up to a multiple of
    ``divisor`` (:func:`pad_size_divisor`), in either orientation. Without ``keep_ratio`` the image is resized to
    the scale (within a multi-scale range); with it, mmcv's ``rescale_size`` fits the image into the scale's long
    and short edges, so its long edge is at most the long bound, its short edge at most the short bound, and one of
    them reaches its bound (e.g. under ``scale=(1333, 800)``: ``(1067, 800)`` for a 4:3 image, ``(1344, 800)``
    padded to 32)."""
    def padded(edge: int) -> int:
        return -(-edge // divisor) * divisor

    for _, low, high, keep in scales:
        if keep:
            long_, short = max(w, h), min(w, h)
            low_long, low_short = max(low), min(low)
            high_long, high_short = max(high), min(high)
            if long_ <= padded(high_long) and short <= padded(high_short) and \
                    (long_ >= low_long or short >= low_short):
                return True
        elif any(low[0] <= a <= padded(high[0]) and low[1] <= b <= padded(high[1]) for a, b in ((w, h), (h, w))):
            return True
    return False


def warn_flops_shape_not_trained(cfg: Any, flops_chw: Sequence[int], where: str) -> str | None:
    """Warn where the detector of ``cfg`` trains at no image size matching CR-NAS's ``train_cfg.flops_input_shape``.

    CR-NAS counts every allocation's backbone FLOPs at ``flops_input_shape`` (C, H, W): the FLOPs band and the GFLOPs
    of ``cr_nas_result.json`` describe the backbone at that size. A search at ``(3, 800, 1333)`` (the default, COCO)
    whose retrain config trains at ``Resize(scale=(640, 640))`` reported figures of another network than the one
    retrained, without a word. Warned about, not refused: mmdet sets the image size as a resize bound (``keep_ratio``
    fits each image into it, so no image need have exactly the counted size), and the band is relative (every
    allocation's FLOPs scale alike with the image area, up to the rounding of strided maps), so the allocation the
    search admits hardly depends on it; the absolute figures do. Nothing is said where ``cfg`` resizes nowhere
    (e.g. images already at their size) or one of its resizes can give the backbone ``(W, H)`` of ``flops_chw``
    (:func:`_trains_at`: either orientation; a multi-scale resize: within its range; with ``keep_ratio``, an image
    fitted into the scale, e.g. ``(1067, 800)`` under ``(1333, 800)``; padded to ``pad_size_divisor``, e.g. the
    ``(1344, 800)`` batches of mmdet's COCO detectors).

    Args:
        cfg: A config (the search's, or its ``retrain_config``).
        flops_chw: ``train_cfg.flops_input_shape``.
        where: What ``cfg`` is, for the message (``'the search config'``, ``'train_cfg.retrain_config <path>'``).

    Returns:
        The warning logged, or None.
    """
    scales = training_scales(cfg)
    h, w = int(flops_chw[1]), int(flops_chw[2])
    if not scales or _trains_at(scales, w, h, pad_size_divisor(cfg)):
        return None
    listed = ', '.join(f'{key}={low}' if low == high else f'{key}: {low} to {high}'
                       for key, low, high, _ in scales[:4])
    msg = (f'{where}: its train_dataloader trains the detector at (w, h) = {listed}, but train_cfg.flops_input_shape '
           f'(C, H, W) = {tuple(int(v) for v in flops_chw)} counts the backbone FLOPs at (w, h) = ({w}, {h}): the '
           'FLOPs band and the reported GFLOPs describe the backbone at another image size than it trains at; set '
           'train_cfg.flops_input_shape to (3, h, w) of the training scale (mmdet writes scale=(w, h))')
    print_log(msg, logger='current', level=logging.WARNING)
    return msg
