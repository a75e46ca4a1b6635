"""The base of pipeline transforms that apply one of several choices per sample, and what it samples from.

* :class:`LivePolicy`: the choice probabilities in shared memory, written by the trainer (an OHL
  ``PipelineChoiceSpace``) and read by every dataloader worker.
* :class:`LiveChoiceTransform`: the base of such transforms (``OHLRandomChoice``,
  :mod:`automl_mm.augment.random_choice`; ``OHLAutoAugment``, :mod:`automl_mm.augment.policy`): the per-sample draw
  from a live or a fixed distribution, its record in the sample's ``results['ohl_choice']``
  (:data:`~automl_mm.augment.draw_counting.CHOICE_META_KEY`), and the check of the mmcv view wrappers around it at
  the first sample of each place it runs in.
* :func:`check_choice_key`: the check of the key that links a choice transform to its space.

Moved unchanged from ``choice.py``, which still names them.
"""
from __future__ import annotations

import os
import sys
import weakref
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from . import op_base
from .choice_views import _place, _View
from .draw_counting import _DRAW_IDS, _OPEN_RUNS, CHOICE_META_KEY, _add_draws, _record, draw_id_key, version_key
from .geometric import _INSTANCE_KEYS, pixel_map_keys
from .op_base import unused_view, unused_view_message


class LivePolicy:
    """Choice probabilities in shared memory, written by the trainer and read by every dataloader worker.

    ``version`` is the trunk index the probabilities belong to (the θ they come from); ``segment`` is the training
    iteration at which the hook last re-derived the random streams (every epoch start, trunk start, and in
    iteration-based loops every iteration). Readers seed their sampling generator from (seed, copy, rank, version,
    segment, worker), so a stream never repeats and a resumed run draws what an uninterrupted one draws.
    ``stamp`` is a sequence lock: odd while a publication is being written, bumped to the next even number when it
    is complete, so a reader never mixes two publications.
    """

    def __init__(self, num_choices: int) -> None:
        self.probs = torch.full((num_choices,), 1.0 / num_choices, dtype=torch.float64).share_memory_()
        self.version = torch.full((1,), -1, dtype=torch.int64).share_memory_()
        self.segment = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.stamp = torch.zeros(1, dtype=torch.int64).share_memory_()

    def publish(self, probs: torch.Tensor | None, version: int, segment: int | None = None) -> None:
        """Publish new probabilities (``None`` keeps them), their trunk ``version`` and optionally a ``segment``."""
        self.stamp.add_(1)
        if probs is not None:
            self.probs.copy_(torch.as_tensor(probs).detach().to(torch.float64))
        self.version.fill_(int(version))
        if segment is not None:
            self.segment.fill_(int(segment))
        self.stamp.add_(1)

    def snapshot(self) -> tuple[int, int, int, np.ndarray]:
        """A consistent ``(stamp, version, segment, probs)`` (retries while a publication is being written)."""
        while True:
            stamp = int(self.stamp[0])
            if stamp % 2 == 0:
                version, segment, probs = int(self.version[0]), int(self.segment[0]), self.probs.numpy().copy()
                if int(self.stamp[0]) == stamp:
                    return stamp, version, segment, probs


def check_choice_key(key: Any, owner: str) -> str:
    """``key`` if it is a non-empty string: the name that links choice transforms to their ``PipelineChoiceSpace``
    (a ``5`` or ``''`` used to be accepted and matched, or not, only when training started).

    Raises:
        ValueError: naming ``<owner>.key`` and the value.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f'{owner}.key must be a non-empty string (the name that links the pipeline\'s choice '
                         f'transforms to their PipelineChoiceSpace), got {key!r}')
    return key


def _cdf(probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, dtype=np.float64)
    return cdf / cdf[-1]


class LiveChoiceTransform(BaseTransform):
    """Base of pipeline transforms that apply one of ``num_choices`` choices per sample.

    Unbound, it samples from fixed probabilities (replaying an exported policy; uniform when none are given). Bound to a
    ``PipelineChoiceSpace`` (``bind``), it samples from the space's live distribution. Either way it records the applied
    index as ``results['ohl_choice'][key]``, when bound the policy version (trunk) it was drawn from as
    ``results['ohl_choice'][f'{key}@version']``, and the draw's identity (unique in its process: an image that holds one
    draw twice counts it once) as ``f'{key}@draw'`` (lists of each, in pipeline order, where several transforms of one
    key process the same image: :func:`~automl_mm.augment.draw_counting.recorded_draws` reads either). A
    ``PipelineChoiceSpace`` adds ``ohl_choice`` to the ``meta_keys`` of every packing transform of the pipeline
    (``PackClsInputs`` has it by default, mmdet's ``PackDetInputs`` does not), so the choice reaches the hook in the
    data samples' metainfo.
    Inside mmcv's ``cache_random_params`` (mmdet's ``ProposalBroadcaster``, mmcv's ``TransformBroadcaster`` with
    ``share_random_params=True``) every view of a sample gets the same choice and the same draws within it; the space
    makes a ``KeyMapper`` / ``TransformBroadcaster`` around the transform record that draw once on the sample
    (:func:`~automl_mm.augment.draw_counting.count_view_choices`); one whose view gives back none of what the choice
    changes is refused at the first sample (:meth:`_check_view_used`). Subclasses implement ``apply_choice`` and
    ``export_cfg``.
    """

    bindable = True
    #: The views of mmcv ``KeyMapper`` / ``TransformBroadcaster`` the transform ran in (:class:`_View`), one per place
    #: it is called from (:func:`_place`), read at the first sample there (:meth:`_check_view_used`); not pickled (a
    #: dataloader worker reads its own) nor copied.
    _views: dict | None = None
    #: The view of the sample being transformed (set by :meth:`_apply_and_record` around :meth:`apply_choice`).
    _view: _View | None = None

    def __init__(self, num_choices: int, key: str, probs: Sequence[float] | None = None) -> None:
        check_choice_key(key, type(self).__name__)
        if num_choices < 2:
            raise ValueError(f'{type(self).__name__} needs at least 2 choices, got {num_choices}')
        self.num_choices = num_choices
        self.key = key
        if probs is None:
            probs = [1.0 / num_choices] * num_choices
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (num_choices,) or not np.isfinite(probs).all() or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError(f'probs must be {num_choices} finite non-negative numbers with a positive sum, got '
                             f'{len(probs) if probs.ndim else probs} values')
        self.fixed_probs = probs / probs.sum()
        self._fixed_cdf = _cdf(self.fixed_probs)
        self.live: LivePolicy | None = None
        self._seed_key: tuple[int, ...] = ()
        self._version: int | None = None
        self._stream: tuple | None = None
        self._stamp: int | None = None
        self._cdf_live: np.ndarray | None = None
        self._rng: np.random.Generator | None = None
        self._rng_owner: int | None = None

    @property
    def choice_factors(self) -> tuple[int, ...]:
        """Sizes of the factors whose row-major product indexes the choices (``(num_choices,)``: one factor).

        A ``PipelineChoiceSpace`` with ``FactorisedCategorical`` and no ``factor_sizes`` takes these.
        """
        return (self.num_choices,)

    def bind(self, live: LivePolicy, seed: int, copy_id: int, rank_in_copy: int, index: int = 0) -> None:
        """Sample from ``live`` from now on, with per-image draws seeded by (``seed``, ``copy_id``,
        ``rank_in_copy``), this transform's ``key`` and its ``index`` among its space's transforms, so that two
        spaces (or two transforms of one space) in a pipeline draw independently."""
        if not self.bindable:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) replays a fixed policy and cannot be '
                             'bound to a search space')
        if len(live.probs) != self.num_choices:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) has {self.num_choices} choices but its '
                             f'space has {len(live.probs)}')
        self.live = live
        # the key as a stable number (Python's hash of a str differs between processes)
        self._seed_key = (int(seed), int(copy_id), int(rank_in_copy), zlib.crc32(str(self.key).encode()),
                          int(index))
        self._stream = self._stamp = None
        self._version = None

    def _cdf_and_rng(self) -> tuple[np.ndarray, np.random.Generator]:
        # Called per sample: the CDF is rebuilt only when a publication changed it, the generator only when the
        # process, the policy version or the segment changed.
        if self.live is None:
            # Fixed policy: each sample's generator is seeded by one draw from the process's numpy RNG, as mmcv's
            # random transforms draw from it, so whoever re-seeds that RNG (mmengine per worker, the OHL engine per
            # trunk and segment, which is what makes a resumed run draw what an uninterrupted one drew) re-seeds
            # these draws too. A generator seeded once per process ignored later re-seeding: a resumed run drew
            # other choices, and its first-call draw shifted every later numpy transform's.
            return self._fixed_cdf, np.random.default_rng(np.random.randint(0, 2**31))
        if int(self.live.stamp[0]) != self._stamp or self._rng_owner != os.getpid():
            self._stamp, version, segment, probs = self.live.snapshot()
            self._cdf_live = _cdf(probs)
            self._version = version
            info = torch.utils.data.get_worker_info()
            stream = (version, segment, -1 if info is None else info.id)
            if stream != self._stream or self._rng_owner != os.getpid():
                # Every coordinate of the stream is in its seed: no two (copy, rank, space key, transform, trunk,
                # segment, worker) draw the same sequence, and a resumed run re-derives the one an uninterrupted
                # run used.
                self._rng = np.random.default_rng([*self._seed_key, stream[0] + 1, stream[1] + 1, stream[2] + 1])
                self._stream, self._rng_owner = stream, os.getpid()
        return self._cdf_live, self._rng

    @cache_randomness
    def _draw(self) -> tuple[int, int | None, np.random.Generator, dict, int]:
        """One sample's random parameters: the choice index, the policy version it comes from (``None`` unbound),
        the generator the choice draws the rest from (the signs of geometric elements), that generator's state
        after the index draw and the draw's identity (:data:`_DRAW_IDS`, taken from no generator). Inside mmcv's
        ``cache_random_params`` (mmdet's ``ProposalBroadcaster``, mmcv's ``TransformBroadcaster``) every view of
        the sample gets these same values, and :meth:`transform` rewinds the generator to the state, so each view
        also repeats the choice's own draws."""
        cdf, rng = self._cdf_and_rng()
        index = min(int(np.searchsorted(cdf, rng.random(), side='right')), self.num_choices - 1)
        return (index, self._version if self.live is not None else None, rng, rng.bit_generator.state,
                next(_DRAW_IDS))

    def transform(self, results: dict) -> dict | None:
        index, version, rng, state, draw = self._draw()
        rng.bit_generator.state = state  # a no-op for the first view; a later view replays the first's draws
        # two frames up (past BaseTransform.__call__), or as far as the stack goes (a call from a script's top level)
        caller = sys._getframe()
        caller = caller.f_back or caller
        return self._apply_and_record(results, index, rng, version, draw, _place(caller.f_back or caller))

    def __getstate__(self) -> dict:
        # the views read in this process hold the wrappers around the transform: a worker (or a copy) reads its own
        state = self.__dict__.copy()
        for key in ('_views', '_view', '_buffers'):  # OHLRandomChoice's copies of a pair's images (_held)
            state.pop(key, None)
        return state

    def transform_with(self, results: dict, rng: np.random.Generator) -> dict | None:
        """Draw a choice from the fixed probabilities with ``rng`` and apply it (recorded as :meth:`transform`
        records it), for a caller that keeps a stream of its own apart from numpy's global RNG (a benchmark that
        branches off a training trajectory and must not move its draws).

        Raises:
            ValueError: The transform is bound to a space (its draws belong to the live policy's streams).
        """
        if self.live is not None:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) is bound to a search space: its draws come '
                             'from the live policy')
        index = min(int(np.searchsorted(self._fixed_cdf, rng.random(), side='right')), self.num_choices - 1)
        here = sys._getframe()
        return self._apply_and_record(results, index, rng, None, next(_DRAW_IDS), _place(here.f_back or here))

    def _apply_and_record(self, results: dict, index: int, rng: np.random.Generator,
                          version: int | None, draw: int, place: tuple) -> dict | None:
        views = self._views
        if views is None:
            views = self._views = {}
        key, owner = place
        view = views.get(key)
        if view is None or not view.read_for(owner):  # the first sample at this place: read the wrappers around it
            view = self._check_view_used(results)
            try:
                view.owner = weakref.ref(owner)
            except TypeError:  # None (a function calls it), an object without weak references
                pass
            if len(views) >= 64:  # places made and dropped again and again (pipelines built in a loop): bounded
                views.clear()
            views[key] = view
        this = (self.key, index, version if self.live is not None else None, draw)
        if _OPEN_RUNS:  # kept by the dataset's pipeline if the image is dropped (_CountsDroppedDraws)
            _OPEN_RUNS[-1].append(this)
        self._view = view
        try:
            results = self.apply_choice(results, index, rng)
        finally:
            self._view = None
        if results is None and not _OPEN_RUNS:
            # dropped by the choice itself outside a dataset pipeline run (mmdet's MultiImageMixDataset runs its
            # own pipeline list and retries the transform that returned None): the retry's result carries it
            vars(self).setdefault('_dropped', []).append(this)
        if results is not None:
            record = results.setdefault(CHOICE_META_KEY, {})
            _record(record, self.key, index)
            if self.live is not None:
                _record(record, version_key(self.key), version)  # the θ it was drawn from (trunk index)
            _record(record, draw_id_key(self.key), draw)
            if vars(self).get('_dropped'):
                dropped, self._dropped = self._dropped, []
                _add_draws(results, dropped)
        return results

    def _check_view_used(self, results: dict) -> _View:
        """The view of the mmcv ``KeyMapper`` / ``TransformBroadcaster`` wrappers around the transform, read at the
        first sample of each place it runs in (:func:`_place`: a transform object run outside any wrapper in one
        pipeline and in a wrapper in another is read in each), refusing one that gives back none of what it may
        change (:meth:`changed_keys`): ``KeyMapper(mapping=dict(img='img'), remapping=dict(other='other'))`` threw
        the augmented image away, while the draw was recorded and credited; or one that reads a key under another
        name and gives it back, without a remapping, under that name (``op_base.renamed_view``:
        ``KeyMapper(mapping=dict(img='img2'), auto_remap=False)`` wrote the augmented ``img2`` over the sample's
        ``img`` and left ``img2`` as it was). The call stack is read once per place (about 3-10 us), not every sample.

        Raises:
            ValueError: Such a view, naming the wrapper, its mapping and remapping, and the keys to take back.
        """
        if not isinstance(results, dict):
            return _View(())
        wrappers = op_base.enclosing_key_mappers()
        if not wrappers:
            return _View(())
        owner = f'{type(self).__name__}(key={self.key!r})'
        keys = self.changed_keys(results)
        found = unused_view(wrappers, keys)
        if found is not None:
            raise ValueError(unused_view_message(owner, *found, self.keys_to_take_back(results, found[1])))
        renamed = op_base.renamed_view(wrappers, keys)
        if renamed is not None:
            raise ValueError(op_base.renamed_view_message(owner, *renamed))
        return _View(tuple(wrappers))

    def changed_keys(self, results: dict) -> list[str]:
        """The keys of ``results`` (a sample, before the choice is applied) that an image transform changes: ``img``,
        its second images (``op_base.second_image_candidates``) and the annotations held (boxes and what a dropped
        box takes along, masks, keypoints, per-pixel maps, a ``homography_matrix``), not bookkeeping (``img_path``,
        ``img_shape``); a view that gives back none of them takes no change of the sample's back."""
        owner = f'{type(self).__name__}(key={self.key!r})'
        keys = ['img', *op_base.second_image_candidates(results, owner)]
        keys += [key for key in ('gt_bboxes', *_INSTANCE_KEYS, 'gt_seg_map', 'homography_matrix')
                 if key not in keys and results.get(key) is not None]
        return keys + [key for key in pixel_map_keys(results, owner) if key not in keys]

    def keys_to_take_back(self, results: dict, reaching: list[str]) -> list[str]:
        """Of ``reaching`` (:meth:`changed_keys` that reach a wrapper that gives none back), those its message tells
        the user to take back: all but the second images (a pair's broadcast takes those back as its views' img)."""
        second = set(op_base.second_image_candidates(results, f'{type(self).__name__}(key={self.key!r})'))
        return [key for key in reaching if key not in second] or reaching

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        raise NotImplementedError

    def choice_names(self) -> list[str] | None:
        """Readable names of the choices, if the transform has them."""
        return None

    def repeated_choices(self) -> list[tuple[Any, list[int]]]:
        """The choices its config lists more than once, each as ``(the entry, [its indices])``: one choice under
        two indices, whose probability a learning controller splits between them (a ``PipelineChoiceSpace``
        refuses them under one, :func:`automl_mm.ohl.base.check_repeated_choices`). Default: none."""
        return []

    def choices_config_key(self) -> str:
        """Where the config lists the choices, for messages (``OHLRandomChoice(key='aug').transforms``)."""
        return f'{type(self).__name__}(key={self.key!r})'

    def choice_signature(self) -> tuple:
        """What each choice does, for the check that the transforms sharing one space's key mean the same by each
        choice (a ``PipelineChoiceSpace`` learns one probability per choice index for all of them). Equal
        signatures mean equal choices; the default is the class name and :meth:`choice_names`. For
        ``OHLAutoAugment`` that is each element's class and magnitude: the fill colour of geometric elements and
        the channel order are how an element is rendered for an image set, not which element it is, so two
        transforms differing only in them (e.g. ``fill=0`` for black-background images) share a space."""
        names = self.choice_names()
        return type(self).__name__, None if names is None else tuple(names)

    def export_cfg(self, probs: Sequence[float]) -> dict:
        """Config of a transform that replays ``probs`` without learning."""
        raise NotImplementedError
