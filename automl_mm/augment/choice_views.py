"""Where a choice transform (:mod:`automl_mm.augment.choice_base`) runs inside mmcv's view wrappers (``KeyMapper``,
``TransformBroadcaster``), and what they give back: the place of a call (:func:`_place`), the view read once per
place (:class:`_View`: the keys a choice watches per key set, what the wrappers drop per set of changed keys) and the
content compares of the values a view drops (:func:`_same_value`, :func:`_same_image`), moved from ``choice.py``
(``choice`` still names them); and what both choice transforms (``OHLAutoAugment``, ``OHLRandomChoice``) do with a
view that drops a ``homography_matrix`` recorded before them: refused where an enclosing pipeline packs it
(:func:`_packed_around`), said once otherwise (:func:`_say_homography_once`)."""
from __future__ import annotations

import logging
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from mmengine.logging import print_log

from . import op_base

if TYPE_CHECKING:
    from .choice_base import LiveChoiceTransform


def _place(frame: Any) -> tuple:
    """Where a choice transform is called from, as ``((code, id of the object), the object)``: the code and ``self``
    of ``frame``, its caller (mmengine's ``Compose`` of a dataset's pipeline, mmcv's ``Compose`` inside a
    ``KeyMapper``, mmdet's ``MultiImageMixDataset``): one transform object run in two pipelines (the Python API takes
    built transforms) is read in each (:meth:`LiveChoiceTransform._check_view_used`). About 0.5 us (one frame's
    locals).

    The caller alone, not the stack above it (3-10 us a sample): one built ``Compose`` (or ``RandomApply``, ...)
    holding the choice and itself run both outside any wrapper and inside one is one place, read at its first sample
    only. No config makes that: mmengine builds a new transform for each config entry, so one entry named in two
    places (a config file's variable, in or outside mmcv's ``KeyMapper`` / ``RandomApply`` / ``RandomChoice``, mmdet's
    ``MultiBranch`` branches, ``MultiImageMixDataset``'s pipeline) is two transforms, each read where it runs; a
    worker or a ``copy.deepcopy`` reads its own (the views are not pickled). In the Python API, build one ``Compose``
    per place."""
    owner = frame.f_locals.get('self')
    return (frame.f_code, id(owner)), owner


class _View:
    """What the mmcv ``KeyMapper`` / ``TransformBroadcaster`` wrappers around a choice transform at one place of a
    pipeline give back (``wrappers``, innermost first; empty outside any), with what is found once for it: the keys a
    choice watches on a sample of each key set (:meth:`watched`) and what the wrappers drop of each set of changed
    keys (:meth:`lost`; ``op_base.discarded_by``, 3-4 us a call)."""

    __slots__ = ('wrappers', 'owner', '_watched', '_lost', '_tried')

    def __init__(self, wrappers: tuple) -> None:
        self.wrappers = wrappers
        #: A weak reference to the caller the view was read for (:func:`_place`; None where it takes none): a
        #: caller made later at the same address is another place
        self.owner: weakref.ref | None = None
        self._watched: dict = {}
        self._lost: dict = {}
        self._tried: set = set()

    def read_for(self, owner: Any) -> bool:
        """Whether the view was read for the caller ``owner`` (not another one since freed at its address)."""
        return self.owner is None or self.owner() is owner

    def watched(self, results: dict, transform: LiveChoiceTransform, key: tuple | None = None) -> list[str]:
        """``transform.changed_keys(results)``, found once per key set (the keys whose values are not None, and the
        ``img_fields`` / ``seg_fields`` lists): the samples of one pipeline hold the same keys; one that holds other
        keys (masks on some images only) gets its own list."""
        if key is None:  # else the caller's _key_set(results)
            key = _key_set(results)
        try:
            found = self._watched.get(key)
        except TypeError:  # an unhashable img_fields / seg_fields (refused by changed_keys)
            return transform.changed_keys(results)
        if found is None:
            if len(self._watched) >= 256:
                self._watched.clear()
            found = self._watched[key] = transform.changed_keys(results)
        return found

    def first_of_key_set(self, key: tuple) -> bool:
        """Whether a sample of key set ``key`` (:func:`_key_set`, as :meth:`watched` tells samples apart) is the first
        seen here: ``OHLRandomChoice`` tries every choice on it (``_try_each_choice``). False for an unhashable
        ``img_fields`` / ``seg_fields`` (refused by ``changed_keys``)."""
        try:
            if key in self._tried:
                return False
        except TypeError:
            return False
        if len(self._tried) >= 256:
            self._tried.clear()
        self._tried.add(key)
        return True

    def lost(self, changed: tuple[str, ...]) -> frozenset[str]:
        """Those of ``changed`` (keys inside the view) that the wrappers do not give back."""
        found = self._lost.get(changed)
        if found is None:
            if len(self._lost) >= 256:
                self._lost.clear()
            found = self._lost[changed] = frozenset(op_base.discarded_by(self.wrappers, changed))
        return found


def _key_set(results: dict) -> tuple:
    """The keys of ``results`` whose values are not None, with its ``img_fields`` / ``seg_fields`` lists (as tuples):
    the samples of one pipeline share it; one that holds other keys (masks on some images only) has its own."""
    fields = results.get('img_fields'), results.get('seg_fields')
    fields = tuple(tuple(f) if isinstance(f, list) else f for f in fields)
    return tuple(name for name, value in results.items() if value is not None), fields


def _same_value(new: Any, old: Any) -> bool:
    """Whether ``new`` holds what ``old`` holds: numpy arrays or torch tensors of one shape, dtype and values, two
    objects of one class whose ``tensor`` (mmdet's boxes) or ``masks`` (mmdet's ``BitmapMasks``) do, or two mmdet
    ``PolygonMasks`` (``masks``: per instance, a list of polygons, each a flat array of coordinates) of one
    ``height`` and ``width`` and the same polygons. False for other values (a change is assumed)."""
    if type(new) is not type(old):
        return False
    if isinstance(new, np.ndarray):
        return new.shape == old.shape and new.dtype == old.dtype and np.array_equal(new, old)
    if isinstance(new, torch.Tensor):
        return new.shape == old.shape and new.dtype == old.dtype and bool(torch.equal(new, old))
    for attr in ('tensor', 'masks'):
        inner = getattr(new, attr, None)
        if isinstance(inner, (np.ndarray, torch.Tensor)):
            return _same_value(inner, getattr(old, attr, None))
    polygons, held = getattr(new, 'masks', None), getattr(old, 'masks', None)
    if isinstance(polygons, list) and isinstance(held, list) and len(polygons) == len(held):
        return ((getattr(new, 'height', None), getattr(new, 'width', None))
                == (getattr(old, 'height', None), getattr(old, 'width', None))
                and all(isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                        and all(_same_value(p, q) for p, q in zip(a, b)) for a, b in zip(polygons, held)))
    return False


def _same_image(value: Any, held: np.ndarray) -> bool:
    """Whether ``value`` is an array of ``held``'s shape, dtype and values."""
    return (isinstance(value, np.ndarray) and value.shape == held.shape and value.dtype == held.dtype
            and np.array_equal(value, held))


#: The homography-only views said (:func:`_say_homography_once`: ``OHLAutoAugment._check_view``,
#: ``OHLRandomChoice._apply_in_view``), once a process: ``(wrapper, kept, left)``.
_VIEW_WARNED: set[tuple] = set()
#: Whether a pipeline around the outermost wrapper packs ``homography_matrix`` (:func:`_packed_around`).
_PACKED_AROUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _packed_around(wrapper) -> bool:
    """:func:`_packed_by_enclosing_pipeline` of ``homography_matrix`` for the pipeline that runs ``wrapper`` (the
    outermost mmcv wrapper around a choice transform; a wrapper a config builds belongs to one pipeline), read from
    the call stack once per wrapper: about 20 us a sample otherwise, on every sample of a supervised pipeline whose
    view leaves the matrix out."""
    packed = _PACKED_AROUND.get(wrapper)
    if packed is None:
        packed = _PACKED_AROUND[wrapper] = _packed_by_enclosing_pipeline('homography_matrix')
    return packed


#: Why a view out of step in ``homography_matrix`` alone is said, not refused, where no enclosing pipeline packs it.
HOMOGRAPHY_NOT_PACKED = ("Not refused: no enclosing pipeline packs homography_matrix (PackDetInputs' default "
                         "meta_keys leave it out) and only mmdet's semi-supervised detectors read it, from "
                         "meta_keys=(..., 'homography_matrix')")


def _say_homography_once(said: tuple, message: Callable[[], str]) -> None:
    """Log (mmengine's ``print_log``, ``WARNING``), once a process per ``said`` (``(wrapper, kept, left)``), that a
    view gives back what a choice transform changed but ``homography_matrix`` (recorded before it), which no enclosing
    pipeline packs: ``message()`` (what the view drops and the mapping to add) and :data:`HOMOGRAPHY_NOT_PACKED`.
    ``OHLAutoAugment`` and ``OHLRandomChoice`` answer such a view alike (refused only where a pipeline packs the
    matrix, :func:`_packed_around`)."""
    if said not in _VIEW_WARNED:
        _VIEW_WARNED.add(said)
        print_log(f'{message()}. {HOMOGRAPHY_NOT_PACKED}', logger='current', level=logging.WARNING)


def _packed_by_enclosing_pipeline(key: str) -> bool:
    """Whether a pipeline the caller runs in packs ``key`` into the data sample: a running transform on the call stack
    (mmengine's / mmcv's ``Compose``, mmdet's ``MultiBranch`` branch) whose ``transforms`` hold, themselves or nested
    in a wrapper's ``transforms`` or a ``MultiBranch``'s ``branch_pipelines`` (:func:`_packs`), one with ``key`` in
    its ``meta_keys`` (mmdet's ``PackDetInputs(meta_keys=(..., 'homography_matrix'))`` of its semi-supervised
    configs). Read from the call stack as :func:`~automl_mm.augment.op_base.enclosing_key_mappers` reads it."""
    frame = sys._getframe(1)
    while frame is not None:
        transforms = getattr(frame.f_locals.get('self'), 'transforms', None)
        if isinstance(transforms, (list, tuple)) and any(_packs(transform, key) for transform in transforms):
            return True
        frame = frame.f_back
    return False


def _packs(transform, key: str, depth: int = 0) -> bool:
    """Whether ``transform`` or one nested in it (mmcv's wrappers' ``transforms``, a ``Compose``'s list, mmdet's
    ``MultiBranch.branch_pipelines``) has ``key`` in its ``meta_keys``."""
    if key in (getattr(transform, 'meta_keys', None) or ()):
        return True
    if depth > 8:
        return False
    nested = getattr(transform, 'transforms', None)
    nested = [nested] if nested is not None and not isinstance(nested, (list, tuple)) else list(nested or ())
    branches = getattr(transform, 'branch_pipelines', None)
    nested += list(branches.values()) if isinstance(branches, dict) else []
    return any(_packs(inner, key, depth + 1) for inner in nested)
