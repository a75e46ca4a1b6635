"""mmdet's ``loss_cls`` keys of the classification losses (:mod:`automl_mm.models.losses`): the reduction
(``reduction`` / ``reduction_override`` / ``avg_factor`` / per-row ``weight``, by mmdet's ``weight_reduce_loss``),
``class_weight``, ``ignore_index`` and ``avg_non_ignore``, each with mmdet's meaning
(``mmdet/models/losses/cross_entropy_loss.py``), checked when set (the attribute descriptors) and when a search writes
them (``check``)."""
from __future__ import annotations

import numbers
import os
import warnings
from typing import Any

import numpy as np
import torch
from mmdet.models.losses.utils import weight_reduce_loss

from automl_mm.utils.intervals import NON_NEGATIVE

REDUCTIONS = ('none', 'mean', 'sum')

def _check_reduction(name: str, reduction: str | None, key: str = 'reduction') -> None:
    if reduction not in REDUCTIONS and not (key == 'reduction_override' and reduction is None):
        raise ValueError(f'{name}: {key} must be one of {REDUCTIONS}, got {reduction!r}')


def check_use_sigmoid(name: str, use_sigmoid: Any) -> None:
    """Refuse mmdet's ``use_sigmoid=True`` for a softmax loss (``False`` / ``None`` are accepted: mmdet's configs
    spell ``use_sigmoid=False`` out, and a user swapping the loss's ``type`` keeps it).

    Raises:
        ValueError: ``use_sigmoid`` true, naming the key.
    """
    if use_sigmoid:
        # '<Class>: <key>' first: the build check names the config node from it (preflight_model_args)
        raise ValueError(f'{name}: use_sigmoid={use_sigmoid!r} is not supported: {name} is a softmax loss (mmdet: '
                         'C + 1 scores, the last one background); use mmdet\'s CrossEntropyLoss or FocalLoss for a '
                         'sigmoid head')


def reduce_loss(name: str, loss: torch.Tensor, weight: torch.Tensor | None = None, reduction: str = 'mean',
                avg_factor: float | torch.Tensor | None = None) -> torch.Tensor:
    """Weight and reduce a per-row loss ``(N,)`` as mmdet's losses do (``weight_reduce_loss``).

    Args:
        name: The loss's name, for errors.
        loss: ``(N,)`` loss of each row.
        weight: ``(N,)`` (or ``(N, 1)``) weight of each row, e.g. mmdet's ``label_weights``; ``None``: all 1.
        reduction: ``'none'`` (``(N,)``), ``'mean'`` or ``'sum'``.
        avg_factor: With ``'mean'``: the divisor of the weighted sum instead of ``N`` (mmdet adds float32's eps,
            so 0 gives 0 when every row has weight 0).

    Raises:
        ValueError: a weight that is not one value per row; ``avg_factor`` with ``'sum'`` (mmdet's error).
    """
    if weight is not None:
        if weight.numel() != loss.numel() or weight.dim() > 2 or (weight.dim() == 2 and weight.shape[1] != 1):
            raise ValueError(f'{name}: weight must have one value per row ({loss.numel()},), got shape '
                             f'{tuple(weight.shape)} (a per-class weight is a sigmoid head\'s; these losses are '
                             'softmax losses)')
        weight = weight.reshape(-1).to(loss.dtype)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def load_class_weight(name: str, value: Any) -> list[float] | None:
    """mmdet's ``class_weight`` as a list of floats (as mmdet's ``CrossEntropyLoss`` keeps it), checked.

    Args:
        name: The loss's name, for errors.
        value: ``None``; a list / tuple / 1-d array or tensor of ``C`` numbers >= 0 (mmdet's ``DETRHead`` passes a
            tensor of ``num_classes + 1``); or a file path: ``.npy`` (``numpy.load``), else ``mmengine.load``
            (``.json``, ``.yaml``, ``.pkl``), as mmseg's ``get_class_weight`` reads it (mmdet takes a list only).

    Raises:
        FileNotFoundError: a path that is no file.
        ValueError: a single number, not a flat non-empty list of numbers, a value < 0 or not finite, or a file
            that cannot be read; each naming ``class_weight`` (and the file).
    """
    if value is None:
        return None
    key, where = f'{name}: class_weight', ''
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{key}: no file {path!r} (a path is read as mmseg reads it: .npy by numpy, '
                                    '.json / .yaml / .pkl by mmengine.load)')
        try:
            import mmengine
            value = np.load(path) if path.endswith('.npy') else mmengine.load(path)
        except Exception as err:  # noqa: BLE001 - any reader's error, named with the file
            raise ValueError(f'{key}: cannot read {path!r}: {type(err).__name__}: {err}') from err
        where = f' (read from {path!r})'
    if torch.is_tensor(value):
        value = value.detach().cpu()
    if isinstance(value, (bool, numbers.Number)) or (hasattr(value, 'ndim') and value.ndim == 0):
        raise ValueError(f'{key} must be one weight per class (C numbers, C + 1 in an mmdet softmax head), got the '
                         f'single number {value!r}{where} (mmdet\'s DETRHead alone turns a number into its list)')
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{key} must be a list of numbers, one per class, or a file path, got {value!r}{where}') \
            from err
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f'{key} must be a flat non-empty list (one weight per class), got shape {array.shape}'
                         f'{where}')
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f'{key} must hold finite numbers >= 0, got {array.tolist()}{where}')
    return array.tolist()


def check_ignore_index(name: str, value: Any) -> int | None:
    """``ignore_index`` as an int, or ``None`` (no label ignored).

    Raises:
        ValueError: a bool or a non-integer (e.g. ``-100.0``), naming ``ignore_index``.
    """
    if value is None:
        return None
    if torch.is_tensor(value) and value.dim() == 0 and not value.is_floating_point() and value.dtype != torch.bool:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{name}: ignore_index must be an int (the label whose rows are left out) or None, got '
                         f'{value!r}')
    return int(value)


class ClassWeightAttribute:
    """A loss's ``class_weight``, checked and converted (:func:`load_class_weight`) on every write: the
    constructor's and an attribute write (mmdet's ``DETRHead``, an OHL ``SetAttributesHook``).

    :meth:`check` is the same check without the write: an OHL space's start-of-run checks
    (:func:`~automl_mm.ohl.value_ranges.check_accepted`) give it each choice, and a whole list with one element
    replaced for an element path (``...loss.class_weight.3``). ``interval``: the range of each weight (>= 0), which
    a Gaussian's draws are compared with (:func:`~automl_mm.ohl.value_ranges.check_draws`)."""

    interval = NON_NEGATIVE

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f'_checked_{name}'

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else obj.__dict__.get(self.slot)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = self.check(obj, value)

    def check(self, obj: Any, value: Any) -> Any:
        """``value`` as a write to ``obj`` would keep it, without writing.

        Raises:
            ValueError: as :func:`load_class_weight` (``FileNotFoundError`` for a path that is no file).
        """
        return load_class_weight(type(obj).__name__, value)


class IgnoreIndexAttribute(ClassWeightAttribute):
    """A loss's ``ignore_index``, checked (:func:`check_ignore_index`) on every write."""

    interval = None

    def check(self, obj: Any, value: Any) -> Any:
        return check_ignore_index(type(obj).__name__, value)


class AvgNonIgnoreAttribute(ClassWeightAttribute):
    """A loss's ``avg_non_ignore``, checked (:func:`check_avg_non_ignore`) on every write: an attribute write of
    ``'no'`` (truthy) averaged over the rows not ignored, silently."""

    interval = None

    def check(self, obj: Any, value: Any) -> Any:
        return check_avg_non_ignore(type(obj).__name__, value)


class ReductionAttribute(ClassWeightAttribute):
    """A loss's ``reduction`` (mmdet's key), checked (:func:`_check_reduction`) on every write: an attribute write of
    ``'avg'`` (an OHL space's choice, a ``SetAttributesHook``) was taken and stopped the first forward after it
    inside mmdet's ``reduce_loss`` (``avg is not a valid value for reduction``), naming no key; an OHL space's
    choices are checked before the first trunk (:func:`~automl_mm.ohl.value_ranges.check_accepted`)."""

    interval = None

    def check(self, obj: Any, value: Any) -> Any:
        _check_reduction(type(obj).__name__, value)
        return value


def check_avg_non_ignore(name: str, value: Any) -> bool:
    """``avg_non_ignore`` (mmdet's key), which must be a bool (``'no'`` would be truthy).

    Raises:
        ValueError: a value that is not ``True`` or ``False``, naming ``avg_non_ignore``.
    """
    if not isinstance(value, bool):
        raise ValueError(f'{name}: avg_non_ignore must be True or False, got {value!r}')
    return value


def warn_ignored_in_mean(name: str, ignore_index: int | None, avg_non_ignore: bool, reduction: str) -> None:
    """mmdet's warning: with ``ignore_index`` and ``'mean'``, ignored rows still count in the mean's ``N``."""
    if ignore_index is not None and not avg_non_ignore and reduction == 'mean':
        warnings.warn(f'{name}: with ignore_index={ignore_index} and avg_non_ignore=False (mmdet\'s default) the '
                      'mean divides by every row, ignored ones too; set avg_non_ignore=True to average over the '
                      'rows not ignored, as torch\'s cross_entropy does', stacklevel=3)


def class_weight_tensor(name: str, class_weight: list[float] | None, logits: torch.Tensor) -> torch.Tensor | None:
    """``class_weight`` as a ``(C,)`` tensor of the logits' dtype and device (mmdet's ``new_tensor``).

    Raises:
        ValueError: not one weight per column of ``logits`` ``(N, C)``.
    """
    if class_weight is None:
        return None
    if len(class_weight) != logits.shape[-1]:
        raise ValueError(f'{name}: class_weight has {len(class_weight)} values, but the logits have '
                         f'{logits.shape[-1]} classes (an mmdet softmax head scores num_classes + 1: background '
                         'last)')
    return logits.new_tensor(class_weight)


def ignore_and_reduce(name: str, loss: torch.Tensor, keep: torch.Tensor | None, weight: torch.Tensor | None,
                      reduction: str, avg_factor: float | torch.Tensor | None,
                      avg_non_ignore: bool) -> torch.Tensor:
    """Zero the ignored rows of ``loss`` ``(N,)`` (``keep`` False), then weight and reduce as mmdet's
    ``cross_entropy`` does: with ``avg_non_ignore``, ``'mean'`` and no ``avg_factor``, divide by the number of rows
    kept (mmdet's ``label.numel() - ignored``, so ``N`` where nothing is ignored)."""
    if keep is not None:
        loss = torch.where(keep, loss, torch.zeros_like(loss))
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = loss.numel() if keep is None else int(keep.sum())
    return reduce_loss(name, loss, weight, reduction, avg_factor)
