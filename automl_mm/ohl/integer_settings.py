"""Integer settings: where a written number that is not an integer is refused, and what to write instead.

A transform's ``num_ops`` or mmdet's ``CopyPaste.max_num_pasted`` written as 2.7 stopped deep inside the transform
(``range(2.7)``), or a factor silently changed meaning, while the sample was recorded and credited: a float over an
integer setting is refused (:func:`check_attribute_integer`, :func:`gaussian_on_integer` for a Gaussian space),
naming the path, what it holds and the advice (:data:`FLOAT_ADVICE`, or a setting's own:
:data:`FLOAT_ADVICE_BY_SETTING`). Settings known to take real numbers although their defaults are ints
(:data:`REAL_VALUED_ATTRIBUTES`) or with a known real range (:func:`~automl_mm.ohl.setting_ranges.attribute_range`) are
exempt, but not a count with a constructor range (:data:`~automl_mm.ohl.constructor_ranges.COUNTS`: ``topk >= 1``),
one holding None included (mmdet's ``level=None``); an element path (``border_val.0``, ``pad_val.img``) is judged
by the attribute that holds the element (:func:`~automl_mm.ohl.element_paths.element_attribute`). Re-exported by
:mod:`automl_mm.ohl.value_ranges`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from automl_mm.utils.wording import a_type

from .element_paths import Element, element_attribute
from .stored_forms import config_element


class _NoneCount:
    """What a count with a constructor range (:data:`~automl_mm.ohl.constructor_ranges.COUNTS`) holding None is
    compared as: an integer setting (mmdet's ``level=None``, a magnitude drawn at each call, whose constructor takes
    only an int level; a 5.5 written there was written)."""

    def __repr__(self) -> str:
        return 'None'


_NONE_COUNT = _NoneCount()


def _held_integers(current: Any) -> str | None:
    """What ``current`` holds where it is an integer setting: ``'a bool'``, ``'an int'`` (a NumPy integer and a
    one-element integer tensor too), ``'ints'`` (a non-empty list or tuple of ints, or an integer 1-D tensor),
    ``'None'`` (a count holding None, :class:`_NoneCount`), else ``None``."""
    if current is _NONE_COUNT:
        return 'None'
    if isinstance(current, (bool, np.bool_)):
        return 'a bool'
    if isinstance(current, (int, np.integer)):
        return 'an int'
    if isinstance(current, torch.Tensor):
        if current.dtype == torch.bool or current.dtype.is_floating_point or current.dtype.is_complex:
            return None
        return 'an int' if current.numel() == 1 else 'ints' if current.ndim == 1 else None
    if isinstance(current, (list, tuple)) and current and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in current):
        return 'ints'
    return None


def _not_integers(value: Any) -> list[Any]:
    """The numbers of ``value`` (one number, or the elements of a list, a tuple or a 1-D tensor) whose type is not
    an integer's (a float, a float tensor)."""
    if isinstance(value, torch.Tensor):
        return [] if not (value.dtype.is_floating_point or value.dtype.is_complex) or value.ndim > 1 else \
            value.flatten().tolist()
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _not_integers(item)] if all(
            not isinstance(item, (list, tuple)) for item in value) else []
    return [value] if isinstance(value, (float, complex, np.floating, np.complexfloating)) else []


def _shown(held: str, current: Any) -> str:
    """``held`` (:func:`_held_integers`) with ``current``, as the messages name what is held."""
    if held == 'ints':
        return f'ints ({a_type(current)}: {current!r})'
    return 'None, where a count goes' if current is _NONE_COUNT else f'{held} ({current!r})'


def integer_mismatch(current: Any, value: Any) -> str | None:
    """A message where ``value`` puts a number that is not an integer (2.7, 3.0: a float, a float tensor) where
    ``current`` holds an integer (:func:`_held_integers`: an int, a bool, a tuple of ints), else ``None``. A
    transform's ``num_ops`` or mmdet's ``CopyPaste.max_num_pasted`` stopped deep inside the transform
    (``range(2.7)``, ``np.random.randint(0, 2.7)``), a factor silently changed meaning, while the sample was
    recorded and credited."""
    held = _held_integers(current)
    if held is None or not _not_integers(value):
        return None
    shown = _shown(held, current)
    what = 'not all integers' if isinstance(value, (list, tuple)) or (
        isinstance(value, torch.Tensor) and value.ndim == 1) else 'not an integer'
    return f'holds {shown}, and {value!r} is {what}'


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_held_float(current: Any, value: Any) -> Any:
    """``value`` with an int written as a float where ``current`` holds a float there (one number, or a list or
    tuple of numbers element by element, of the same length); else ``value`` as it is. A float setting searched
    with mixed choices (``choices=[0, 0.5]``, checked against the config's float at setup) held the int 0 after
    one write, and the next write of 0.5 (the next trunk, a ``TrunkScheduleHook`` value, the best copy's value
    broadcast after a trunk, on the ranks whose copy drew 0) was refused mid-run as a float over an integer
    setting (:func:`integer_mismatch`)."""
    if _is_int(value):
        return float(value) if isinstance(current, (float, np.floating)) else value
    if isinstance(value, (list, tuple)) and isinstance(current, (list, tuple)) and len(value) == len(current) and \
            any(_is_int(v) and isinstance(c, (float, np.floating)) for v, c in zip(value, current)):
        items = [float(v) if _is_int(v) and isinstance(c, (float, np.floating)) else v for v, c in zip(value, current)]
        return value._make(items) if hasattr(value, '_make') else type(value)(items)
    return value


#: ``{class name (matched along the owner's MRO): attribute names}`` that take real numbers although their defaults
#: and stock configs write ints (mmdet 3.3 / mmengine 0.10, each read where the object runs, not only at
#: ``__init__``): mmdet draws ``uniform(-delta, delta)`` / ``uniform(min_ratio, max_ratio)`` /
#: ``uniform(-max_rotate_degree, ...)`` from the augmentation ranges and fills ``pad_val`` / ``border_val`` /
#: ``fill_in`` / ``img_border_value`` / ``Expand``'s ``mean`` as a colour (``mmdet/datasets/transforms/transforms.py``);
#: the EMA models' ``gamma`` is a time constant in steps (``exp(-(1 + steps) / gamma)``, ``gamma / (gamma + steps)``),
#: a distillation ``T`` and the normed predictors' ``tempearture`` (mmdet's spelling) scale logits, a sine positional
#: encoding's ``temperature`` is the base of its frequencies, the samplers' ``floor_thr`` / ``floor_fraction`` /
#: ``bias``, the margin losses' margins, the match costs' ``weight`` and ``FocalLossCost``'s ``gamma`` are real
#: thresholds, fractions and weights (their docstrings say float), ``FilterAnnotations``' ``min_gt_bbox_wh`` a box
#: size in pixels compared with float widths, ``SegRescale``'s ``scale_factor`` a rescale factor, a data
#: preprocessor's ``pad_value`` (a batch augment's ``pad_value`` / ``img_pad_value``) a pixel value, the IoU
#: assigners' ``ignore_iof_thr=-1`` an IoF threshold (-1: none), ``CosineRestartLR``'s ``restart_weights``
#: factors and the keys of mmengine's ``OptimWrapper.clip_grad_kwargs`` (``clip_grad=dict(max_norm=35, norm_type=2)``,
#: which torch's ``clip_grad_norm_`` takes as real numbers; a dict attribute's key is named ``<attribute>.<key>``,
#: :attr:`~automl_mm.ohl.element_paths.Element.setting`). Left out:
#: attributes only read at ``__init__`` (``EQLV2Loss``'s ``gamma``, a partial built there), or whose int form means
#: something (``GHMC`` / ``GHMR``'s ``momentum=0`` builds no moving-average buffer, which a written 0.5 then misses;
#: mmcv's ``Pad`` spreads an int ``pad_val['img']`` over a colour image's channels, while cv2 fills only the first
#: channel with a float: ``pad_val.img`` stays an integer setting, with its own advice,
#: :data:`FLOAT_ADVICE_BY_SETTING`). ``Expand``'s ``mean`` is written in the config's order
#: (:mod:`automl_mm.ohl.stored_forms`).
REAL_VALUED_ATTRIBUTES: dict[str, frozenset[str]] = {
    'PhotoMetricDistortion': frozenset({'brightness_delta', 'hue_delta'}),
    'YOLOXHSVRandomAug': frozenset({'hue_delta', 'saturation_delta', 'value_delta'}),
    'Expand': frozenset({'min_ratio', 'max_ratio', 'mean'}),  # not ratio_range: read only at __init__
    'RandomAffine': frozenset({'max_rotate_degree', 'max_translate_ratio', 'scaling_ratio_range', 'max_shear_degree',
                               'border_val'}),
    'Mosaic': frozenset({'center_ratio_range', 'pad_val'}),
    'CachedMosaic': frozenset({'center_ratio_range', 'pad_val'}),
    'MixUp': frozenset({'ratio_range', 'pad_val'}),
    'CachedMixUp': frozenset({'ratio_range', 'pad_val'}),
    'CutOut': frozenset({'fill_in'}),
    'RandomErasing': frozenset({'img_border_value'}),
    'SegRescale': frozenset({'scale_factor'}),
    'FilterAnnotations': frozenset({'min_gt_bbox_wh'}),
    'ExpMomentumEMA': frozenset({'gamma'}),  # mmdet (YOLOX, RTMDet)
    'MomentumAnnealingEMA': frozenset({'gamma'}),  # mmengine
    'KnowledgeDistillationKLDivLoss': frozenset({'T'}),
    'NormedLinear': frozenset({'tempearture'}),
    'NormedConv2d': frozenset({'tempearture'}),
    'SinePositionalEncoding': frozenset({'temperature'}),
    'IoUBalancedNegSampler': frozenset({'floor_thr', 'floor_fraction'}),
    'ScoreHLRSampler': frozenset({'bias'}),
    'MarginL2Loss': frozenset({'pos_margin', 'neg_margin'}),
    'L2Loss': frozenset({'pos_margin', 'neg_margin'}),
    'BaseMatchCost': frozenset({'weight'}),
    'FocalLossCost': frozenset({'gamma'}),
    'ImgDataPreprocessor': frozenset({'pad_value'}),  # mmengine's; mmdet's DetDataPreprocessor is one
    'ReIDDataPreprocessor': frozenset({'pad_value'}),
    'BatchResize': frozenset({'pad_value'}),  # mmdet's batch augments pad the normalised float batch
    'BatchFixedSizePad': frozenset({'img_pad_value'}),
    'MaxIoUAssigner': frozenset({'ignore_iof_thr'}),  # -1: off; ApproxMaxIoUAssigner is one
    'ATSSAssigner': frozenset({'ignore_iof_thr'}),
    'CosineRestartParamScheduler': frozenset({'restart_weights'}),
    # a head's train_cfg.pos_weight (stock -1: 1.0 for every positive), the positives' label weight, read at every
    # step (AnchorHead._get_targets_single, BBoxHead._get_targets_single); Cascade's list: train_cfg.<i>.pos_weight
    'BaseDenseHead': frozenset({'train_cfg.pos_weight'}),
    'BaseRoIHead': frozenset({'train_cfg.pos_weight'}),
    # mmengine's clip_grad=dict(max_norm=35, norm_type=2), which torch's clip_grad_norm_ / clip_grad_value_ take as
    # real numbers: keys of a dict attribute (element_paths.Element.setting)
    'OptimWrapper': frozenset({'clip_grad_kwargs.max_norm', 'clip_grad_kwargs.norm_type',
                               'clip_grad_kwargs.clip_value'}),
}

def _real_valued(owner: Any, setting: str) -> bool:
    """Whether the setting ``setting`` (an attribute, or an attribute and dict keys:
    :attr:`~automl_mm.ohl.element_paths.Element.setting`) of ``owner`` is known to take real numbers whatever it
    holds (:data:`REAL_VALUED_ATTRIBUTES`)."""
    return any(setting in REAL_VALUED_ATTRIBUTES.get(c.__name__, ()) for c in type(owner).__mro__)


#: The advice on writing a real number where an integer is held, unless :data:`FLOAT_ADVICE_BY_SETTING` gives
#: another.
FLOAT_ADVICE = 'if it takes real numbers, write its config value as a float (e.g. 2.0)'

#: ``{class name (matched along the owner's MRO): {setting: advice}}`` where :data:`FLOAT_ADVICE` is not true. mmcv
#: 2.1's ``Pad`` (mmdet's subclasses it) spreads an int ``pad_val['img']`` over a colour image's channels and hands
#: anything else to ``impad`` as it is, whose ``cv2.copyMakeBorder`` fills only the first channel with one float; a
#: tuple of one value per channel fills each.
FLOAT_ADVICE_BY_SETTING: dict[str, dict[str, str]] = {
    'Pad': {'pad_val.img': "mmcv's Pad spreads an int pad_val['img'] over a colour image's channels but fills only "
                           "the first channel with a float (cv2.copyMakeBorder), so its config value as a float "
                           "would leave the other channels 0: for a fill colour that is not an integer, give one "
                           "float per channel in the config, e.g. pad_val=dict(img=(114.0, 114.0, 114.0)), and write "
                           "that tuple or its elements (pad_val.img.0, ...)"},
}


def _float_advice(owner: Any, setting: str) -> str:
    """What to do to write real numbers at the integer setting ``setting`` of ``owner`` (:data:`FLOAT_ADVICE`,
    :data:`FLOAT_ADVICE_BY_SETTING`)."""
    for cls in type(owner).__mro__:
        found = FLOAT_ADVICE_BY_SETTING.get(cls.__name__, {}).get(setting)
        if found is not None:
            return found
    return FLOAT_ADVICE


def _element_owners(runner: Any, path: str) -> dict[tuple[int, str], Element]:
    """``{(id(container), index or key): element}`` of each chain of ``path`` that ends at an element
    (:func:`~automl_mm.ohl.element_paths.element_attribute`), keyed as
    :func:`~automl_mm.ohl.attributes.resolve_attribute` gives the pair."""
    from .setting_ranges import _chains

    found = {}
    for chain in _chains(runner, path) if runner is not None else ():
        held = element_attribute(chain)
        if held is not None:
            parent, part = chain[-2][1], chain[-1][0]
            found[(id(parent), str(int(part)) if isinstance(parent, (list, tuple)) else part)] = held
    return found


def held_value(node: Any, name: Any, owners: dict[tuple[int, str], Element]) -> Any:
    """What the pair ``(node, name)`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`) holds, as a written
    value is compared with it: an element of a setting kept in another form (``RandomCenterCropPad``'s ``mean``,
    reversed under ``to_rgb``) in the config's form (:func:`~automl_mm.ohl.stored_forms.config_element`;
    ``owners``: :func:`_element_owners`), where the write puts the value; else the stored value."""
    if not isinstance(node, (dict, list, tuple)):
        return getattr(node, name, None)
    found = owners.get((id(node), str(name)))
    if found is None:
        return node[name]
    return config_element(found.owner, found.attribute, found.held, found.keys)


def _integer_pairs(pairs: list[tuple[Any, Any]], path: str, runner: Any = None) -> list[tuple[Any, str]]:
    """``(what it holds, advice)`` of each of ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`) where
    an integer held there is an integer setting, with the advice on writing a real number there
    (:func:`_float_advice`): not an optimiser group's (:func:`group_key`; torch's settings are real numbers,
    ``weight_decay=0`` too), an attribute with a known real range (:func:`attribute_range`: a loss's
    ``loss_weight=1``, a scheduler's ``eta_min=0``; a count with a range, ``TaskAlignedAssigner``'s ``topk >= 1``,
    stays: :data:`~automl_mm.ohl.constructor_ranges.COUNTS`) nor one known to take real numbers (:func:`_real_valued`:
    ``PhotoMetricDistortion``'s ``brightness_delta=32``, ``clip_grad_kwargs``' ``max_norm=35``). An element of a
    list, tuple or dict (``RandomAffine``'s ``border_val.0``, a loss's ``class_weight.1``, ``clip_grad_kwargs``'
    ``max_norm``) is judged by the attribute that holds it
    (:func:`~automl_mm.ohl.element_paths.element_attribute`; with ``runner``, which the chains are read from)."""
    from .constructor_ranges import is_count
    from .setting_ranges import attribute_range, group_key

    if group_key(path) is not None:
        return []
    owners = _element_owners(runner, path)
    found = []
    for node, name in pairs:
        current = held_value(node, name, owners)  # RandomCenterCropPad's mean.0: the config's channel 0
        held = owners.get((id(node), str(name))) if isinstance(node, (dict, list, tuple)) else None
        owner, attribute, setting = (held.owner, held.attribute, held.setting) if held is not None else \
            (node, name, name)
        if isinstance(owner, (dict, list, tuple)) or not isinstance(attribute, str):
            found.append((current, FLOAT_ADVICE))  # a container at the root: nothing known of it
            continue
        count = setting == attribute and is_count(owner, attribute)
        if (setting == attribute and attribute_range(owner, attribute) is not None
                and not count) or _real_valued(owner, setting):
            continue  # a real range (a loss_weight's), not a count's (topk >= 1: constructor_ranges.COUNTS)
        if count:  # its config value as a float is no way out: the constructor (or the call) takes integers
            found.append((_NONE_COUNT if current is None else current,
                          f'{type(owner).__name__}.{attribute} is a count, an integer in its constructor'))
            continue
        found.append((current, _float_advice(owner, setting)))
    return found


def check_attribute_integer(pairs: list[tuple[Any, Any]], path: str, value: Any, runner: Any = None) -> None:
    """Refuse writing ``value`` to the attributes ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`)
    where it puts a number that is not an integer over an integer setting (:func:`integer_mismatch`,
    :func:`_integer_pairs`; ``runner``: where an element path's attribute is read).

    Raises:
        ValueError: ``attribute path '<path>' holds <what> (<value>), and <value> is not an integer``, with the fix.
    """
    for current, advice in _integer_pairs(pairs, path, runner):
        found = integer_mismatch(current, value)
        if found is not None:
            raise ValueError(f'attribute path {path!r} {found}: the attribute would get a float where it holds an '
                             f'integer (a count, a size, an index or a flag); write an integer ({advice})')


def gaussian_on_integer(runner: Any, path: str) -> str | None:
    """``"holds <what> (<value>)"`` where ``path`` reaches an integer setting (:func:`_integer_pairs`), which a
    Gaussian's samples (never integers) must not be written to; else ``None``.

    Raises:
        ValueError: as :func:`~automl_mm.ohl.attributes.resolve_attribute` for a path that does not resolve.
    """
    found = _integer_setting(runner, path)
    return None if found is None else found[0]


def integer_advice(runner: Any, path: str) -> str:
    """The advice on writing real numbers at the integer setting ``path`` reaches (:func:`gaussian_on_integer`):
    :data:`FLOAT_ADVICE`, or the setting's own (:data:`FLOAT_ADVICE_BY_SETTING`: mmcv's ``Pad``'s
    ``pad_val.img``)."""
    found = _integer_setting(runner, path)
    return FLOAT_ADVICE if found is None else found[1]


def _integer_setting(runner: Any, path: str) -> tuple[str, str] | None:
    from .attribute_paths import resolve_attribute

    for current, advice in _integer_pairs(resolve_attribute(runner, path), path, runner):
        held = _held_integers(current)
        if held is not None:
            return f'holds {_shown(held, current)}', advice
    return None
