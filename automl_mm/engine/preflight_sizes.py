"""Config check: sizes that mmcv's / mmdet's constructors accept but the first image or forward cannot use.

The resize, pad and crop transforms and the anchor generators keep most of their size arguments as given and read
them only when the first image is transformed or the first batch reaches the head; a wrong shape then stopped the
run, after the model and the data had loaded, with an error that names no config key: ``Resize(scale=[1, 2, 3])``
with OpenCV's "Overload resolution failed" in ``cv2.resize``, ``RandomChoiceResize(scales=[])`` with numpy's
``high <= 0``, ``Pad(size_divisor=0)`` with a ``ZeroDivisionError``, ``anchor_generator.ratios=[]`` with torch's
"expected weight to be at least 1 at dimension 0" (a head convolution of 0 channels), ``anchor_generator.strides``
fewer than the neck's ``num_outs`` with the bare ``assert`` of ``AnchorGenerator.grid_priors``.
:func:`check_transform_sizes` and :func:`check_anchor_generators` refuse those values before anything is built,
naming the key (``train_dataloader.dataset.pipeline.2 (Resize).scale``,
``model.rpn_head.anchor_generator.ratios``). What mmcv and mmdet use as documented is left alone: an int ``scale``
(both edges), a float ``scale`` under ``keep_ratio=True`` (a scale factor), ``scale_factor``, ``keep_ratio``.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Any

from .preflight_walk import (
    ConfigCheckError,
    _loader_cfgs,
    bn_recalibration_loader_cfgs,
    config_scope,
    outside_split,
    scoped_datasets,
    scoped_nodes,
)


def _whole(value: Any, least: int) -> bool:
    """Whether ``value`` is a whole number (not a bool) of at least ``least``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least


def _positive(value: Any) -> bool:
    """Whether ``value`` is a number (not a bool) above 0."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0


def _default(cls: type, name: str, fallback: Any) -> Any:
    """The default of ``cls``'s constructor argument ``name`` (``keep_ratio``: ``False`` for mmcv's ``Resize``)."""
    try:
        param = inspect.signature(cls).parameters.get(name)
    except (TypeError, ValueError):
        return fallback
    return fallback if param is None or param.default is inspect.Parameter.empty else param.default


def _edges(scale: Any, keep_ratio: bool) -> str | None:
    """Why the ``(width, height)`` ``scale`` that mmcv's ``Resize`` hands to OpenCV (``keep_ratio=False``) or to
    ``mmcv.rescale_size`` (``keep_ratio=True``) fails there, or ``None``."""
    if not isinstance(scale, (list, tuple)) or len(scale) != 2:
        return 'is no (width, height) pair'
    if keep_ratio:
        if not isinstance(scale, tuple):
            return ("is a list: under keep_ratio=True mmcv's rescale_size takes a tuple and raised TypeError "
                    "'Scale must be a number or tuple of int' at the first image")
        if not all(_positive(v) for v in scale):
            return 'has an edge that is no number above 0'
        return None
    if not all(_whole(v, 1) for v in scale):
        return 'has an edge that is no whole number of at least 1 (OpenCV resizes to whole pixels)'
    return None


def _check_resize(node: dict, at: str, keep_ratio: bool) -> None:
    """mmcv's ``Resize`` (mmdet's subclasses): ``scale`` an int of at least 1, a ``(width, height)`` pair (a tuple of
    numbers above 0 under ``keep_ratio=True``, of whole numbers otherwise) or, under ``keep_ratio=True``, a float
    scale factor above 0; without ``scale``, a ``scale_factor`` above 0."""
    scale = node.get('scale')
    if scale is not None and not (isinstance(scale, (list, tuple)) and not scale):
        if isinstance(scale, numbers.Integral) and not isinstance(scale, bool):
            why = None if scale >= 1 else 'is below 1 pixel'
        elif isinstance(scale, numbers.Real) and not isinstance(scale, bool):
            why = None if keep_ratio and scale > 0 else (
                'is no scale factor above 0' if keep_ratio else
                'is a float: without keep_ratio=True OpenCV takes whole pixels (give an int, or keep_ratio=True for a '
                'scale factor)')
        else:
            why = _edges(scale, keep_ratio)
        if why is not None:
            raise ConfigCheckError(
                f'{at}.scale={scale!r} {why}; mmcv accepts it when built and fails at the first image. Give an int '
                '(both edges) or a (width, height) tuple of whole numbers, e.g. (1333, 800)')
        return
    factor = node.get('scale_factor')
    if isinstance(scale, (list, tuple)) and factor is None:  # empty: falsy, so mmcv reads scale_factor instead
        raise ConfigCheckError(f'{at}.scale={scale!r} is empty and no scale_factor is given (mmcv fails at the first '
                               'image): give an int or a (width, height) tuple')
    factors = factor if isinstance(factor, (list, tuple)) else (factor, )
    if factor is not None and not all(_positive(v) for v in factors):
        raise ConfigCheckError(f'{at}.scale_factor={factor!r} must be above 0 (OpenCV refuses an image of 0 pixels at '
                               'the first image)')


def _check_random_resize(node: dict, at: str) -> None:
    """mmcv's ``RandomResize``: a ``(width, height)`` tuple of whole numbers with a ``ratio_range=(low, high)``, or a
    list of two such tuples to sample each edge between (``_random_scale``)."""
    scale, ratio_range = node.get('scale'), node.get('ratio_range')
    pairs = 'give scale=(w, h) with ratio_range=(low, high), or scale=[(w0, h0), (w1, h1)] to sample between'
    if isinstance(scale, tuple) and scale and all(isinstance(v, int) for v in scale):  # mmengine's is_tuple_of
        if len(scale) != 2 or not all(_whole(v, 1) for v in scale):
            raise ConfigCheckError(f'{at}.scale={scale!r} is no (width, height) pair of whole numbers of at least 1 '
                                   f'(mmcv asserts it at the first image): {pairs}')
        if not (isinstance(ratio_range, (list, tuple)) and len(ratio_range) == 2
                and all(_positive(v) for v in ratio_range) and ratio_range[0] <= ratio_range[1]):
            raise ConfigCheckError(
                f'{at}.ratio_range={ratio_range!r}: a (width, height) scale is multiplied by a ratio drawn from '
                f'ratio_range=(low, high), 0 < low <= high (mmcv asserts it at the first image): {pairs}')
        if int(min(scale) * ratio_range[0]) < 1:
            raise ConfigCheckError(f'{at}.ratio_range={ratio_range!r} draws an edge of 0 pixels from scale={scale!r} '
                                   '(OpenCV refuses it at the first image): raise the low ratio')
        return
    if isinstance(scale, (list, tuple)) and scale and all(isinstance(v, tuple) for v in scale):
        if isinstance(scale, list) and len(scale) == 2 and all(len(v) == 2 and all(_whole(e, 1) for e in v)
                                                               for v in scale):
            return
    raise ConfigCheckError(f'{at}.scale={scale!r} is neither form mmcv samples from (it raises NotImplementedError, '
                           f'an assert or an IndexError at the first image): {pairs}, whole numbers of at least 1')


def _check_random_choice_resize(node: dict, at: str, keep_ratio: bool | None) -> None:
    """mmcv's ``RandomChoiceResize``: ``scales`` a non-empty list of ``(width, height)`` tuples (each handed to its
    ``Resize`` as ``scale`` unconverted, so an int is no size there). ``keep_ratio``: its resize's, ``None`` where
    it builds no mmcv ``Resize`` (only the list is checked then)."""
    scales = node.get('scales')
    entries = scales if isinstance(scales, list) else [scales]
    if not entries:
        raise ConfigCheckError(f'{at}.scales=[] gives no scale to choose from (numpy raises "high <= 0" at the first '
                               'image): give a list of (width, height) tuples')
    for i, entry in enumerate(entries if keep_ratio is not None else []):
        if isinstance(entry, numbers.Number) and not isinstance(entry, bool):
            why = ('is an int, which RandomChoiceResize hands to Resize.scale unconverted: '
                   + ('a scale factor under keep_ratio=True (the image made that many times larger)' if keep_ratio
                      else 'OpenCV refuses it at the first image'))
        else:
            why = _edges(entry, keep_ratio)
        if why is not None:
            where = f'{at}.scales.{i}' if isinstance(scales, list) else f'{at}.scales'
            raise ConfigCheckError(f'{where}={entry!r} {why}: give each scale as a (width, height) tuple of whole '
                                   'numbers, e.g. (1333, 800)')


def _check_pad(node: dict, at: str) -> None:
    """mmcv's ``Pad`` (mmdet's): ``size`` a ``(width, height)`` pair of whole numbers, ``size_divisor`` a whole
    number of at least 1."""
    size, divisor = node.get('size'), node.get('size_divisor')
    if size is not None and not (isinstance(size, (list, tuple)) and len(size) == 2
                                 and all(_whole(v, 0) for v in size)):
        raise ConfigCheckError(f'{at}.size={size!r} is no (width, height) pair of whole numbers (mmcv indexes and '
                               'reverses it at the first image: an int raised TypeError, a 1-tuple IndexError, a '
                               '3-tuple padded to another size): give e.g. (1333, 800)')
    if divisor is not None and not _whole(divisor, 1):
        raise ConfigCheckError(f'{at}.size_divisor={divisor!r} must be a whole number of at least 1 (mmcv divides the '
                               'image size by it at the first image: 0 raised ZeroDivisionError)')


def _check_crop(node: dict, at: str) -> None:
    """mmdet's ``RandomCrop``: ``crop_size`` a ``(height, width)`` pair (its constructor indexes it, raising a
    ``TypeError`` / ``IndexError`` naming neither the transform nor the key)."""
    size = node.get('crop_size')
    if 'crop_size' in node and not (isinstance(size, (list, tuple)) and len(size) >= 2):
        raise ConfigCheckError(f'{at}.crop_size={size!r} is no (height, width) pair: give e.g. (384, 600)')


def _transform_check(cls: type, node: dict, scope: str | None) -> Any:
    """The check of :func:`check_transform_sizes` for a transform of class ``cls`` (config ``node``, built in
    ``scope``: the resize a ``RandomChoiceResize`` builds in ``__init__`` is resolved there), or ``None``."""
    from mmcv.transforms import Pad, RandomChoiceResize, RandomResize, Resize

    from automl_mm.registry import TRANSFORMS, config_class

    if issubclass(cls, Resize):
        keep_ratio = bool(node.get('keep_ratio', _default(cls, 'keep_ratio', False)))
        return lambda at: _check_resize(node, at, keep_ratio)
    if issubclass(cls, RandomResize):
        return lambda at: _check_random_resize(node, at)
    if issubclass(cls, RandomChoiceResize):
        resize = config_class(TRANSFORMS, dict(type=node.get('resize_type', 'Resize')), scope)
        keep_ratio = bool(node.get('keep_ratio', _default(resize, 'keep_ratio', False))) \
            if resize is not None and issubclass(resize, Resize) else None
        return lambda at: _check_random_choice_resize(node, at, keep_ratio)
    if issubclass(cls, Pad):
        return lambda at: _check_pad(node, at)
    try:
        from mmdet.datasets.transforms import RandomCrop
    except ImportError:  # without mmdet: its crop is not in any pipeline
        return None
    return (lambda at: _check_crop(node, at)) if issubclass(cls, RandomCrop) else None


def check_transform_sizes(cfg: Any, scope: str, test_only: bool = False, split: str = 'test') -> None:
    """The size arguments of the resize, pad and crop transforms in every loader's pipelines (wrapped datasets and
    nested transform lists included; with ``test_only``, ``{split}_dataloader``'s alone) have the shapes mmcv /
    mmdet read at the first image: mmcv's ``Resize`` (mmdet's) ``scale`` / ``scale_factor``, ``RandomResize``
    ``scale`` / ``ratio_range``, ``RandomChoiceResize`` ``scales``, ``Pad`` ``size`` / ``size_divisor``, mmdet's
    ``RandomCrop`` ``crop_size``. Types are looked up as the runner builds them (a node's ``_scope_``, else its
    wrapper's or dataset's, else ``scope``: :func:`~automl_mm.engine.preflight_walk.scoped_nodes`); a type no
    registry holds is left to the build.

    Raises:
        ConfigCheckError: naming the transform's key and class and the argument
            (``train_dataloader.dataset.pipeline.2 (Resize).scale=[1, 2, 3] is no (width, height) pair; ...``).
    """
    from automl_mm.registry import TRANSFORMS, config_class

    for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]:
        if outside_split(key, test_only, split) or not isinstance(loader, dict):
            continue
        for dataset, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope):
            for node, at, node_scope in scoped_nodes(dataset.get('pipeline'), f'{where}.pipeline', built_in):
                cls = config_class(TRANSFORMS, node, node_scope)
                check = _transform_check(cls, node, node_scope) if cls is not None else None
                if check is not None:
                    check(f'{at} ({cls.__name__})')


#: The heads that take every map the neck returns, by the key of their prior generator.
_DENSE_GENERATORS = ('rpn_head.anchor_generator', 'bbox_head.anchor_generator', 'bbox_head.prior_generator')


def _neck_levels(model: dict) -> tuple[int, str] | None:
    """``(num_outs, its config key)`` of the model's neck (the last of a list of necks), or ``None``."""
    neck, key = model.get('neck'), 'model.neck'
    if isinstance(neck, (list, tuple)) and neck:
        neck, key = neck[-1], f'model.neck.{len(neck) - 1}'
    levels = neck.get('num_outs') if isinstance(neck, dict) else None
    return (levels, f'{key}.num_outs') if _whole(levels, 1) else None


def check_anchor_generators(cfg: Any) -> None:
    """The anchor / point generators of ``model`` (mmdet's ``AnchorGenerator``, ``MlvlPointGenerator`` and their
    subclasses, by ``type`` in the task-utils registry, resolved in the scope mmengine builds it in: its ``_scope_``,
    else the model's, else ``default_scope``) have what the head's first forward reads: ``ratios`` and
    ``scales`` (or ``scales_per_octave``) that give at least one anchor, each above 0 (0 made anchors of 0 or
    infinite size, silently), ``strides`` above 0; and a dense head's generator (``model.rpn_head``,
    ``model.bbox_head``) one stride per map of the neck (``model.neck.num_outs``), which ``grid_priors`` asserts.

    Raises:
        ConfigCheckError: naming the generator's key and argument (``model.rpn_head.anchor_generator.ratios=[]``),
            and the neck's ``num_outs`` for a count of strides.
    """
    from automl_mm.registry import TASK_UTILS, config_class

    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    try:
        from mmdet.models.task_modules.prior_generators import AnchorGenerator, MlvlPointGenerator
    except ImportError:  # no mmdet: no generator of its
        return
    scope = config_scope(cfg)
    levels = _neck_levels(model)
    for node, at, built_in in scoped_nodes(model, 'model', scope):
        cls = config_class(TASK_UTILS, node, built_in)
        if cls is None or not issubclass(cls, (AnchorGenerator, MlvlPointGenerator)):
            continue
        name = f'{at} ({cls.__name__})'
        for arg in ('ratios', 'scales'):
            values = node.get(arg)
            if values is None or not isinstance(values, (list, tuple)) or \
                    any(isinstance(v, (list, tuple)) for v in values):  # SSD's ratios: a list per level
                continue
            if not values:
                raise ConfigCheckError(
                    f'{name}.{arg}={values!r} gives no anchor: mmdet builds it, then the head\'s first forward fails '
                    'with a convolution of 0 channels ("expected weight to be at least 1 at dimension 0"). Give at '
                    + ('least one height / width ratio, e.g. [0.5, 1.0, 2.0]' if arg == 'ratios' else
                       'least one scale (anchor size / stride), e.g. [8]'))
            if not all(_positive(v) for v in values):
                raise ConfigCheckError(f'{name}.{arg}={values!r}: each must be a number above 0 (0 gives anchors of '
                                       '0 or infinite size, which no box matches)')
        per_octave = node.get('scales_per_octave')
        if node.get('scales') is None and per_octave is not None and not _whole(per_octave, 1):
            raise ConfigCheckError(f'{name}.scales_per_octave={per_octave!r} gives no anchor: it must be a whole '
                                   'number of at least 1')
        strides = node.get('strides')
        if not isinstance(strides, (list, tuple)):
            continue
        for stride in strides:
            edges = stride if isinstance(stride, (list, tuple)) else (stride, )
            if not all(_positive(v) for v in edges):
                raise ConfigCheckError(f'{name}.strides={strides!r}: each stride must be above 0 (mmdet divides by '
                                       'it at the first forward)')
        if levels is not None and any(at == f'model.{g}' for g in _DENSE_GENERATORS) and len(strides) != levels[0]:
            raise ConfigCheckError(
                f'{name}.strides={strides!r} gives {len(strides)} levels of priors, but {levels[1]}={levels[0]} '
                'feature maps reach the head: mmdet asserts the counts are equal at the first forward (a bare '
                f'AssertionError in grid_priors). Give one stride per map ({levels[0]}), or set {levels[1]}='
                f'{len(strides)}')


__all__ = ['check_anchor_generators', 'check_transform_sizes']
