"""``OHLRandomChoice``: one of several sub-pipelines per sample, drawn from a live (OHL-learned) or a fixed
distribution (a :class:`~automl_mm.augment.choice_base.LiveChoiceTransform`), with the checks of what the drawn
sub-pipeline did inside mmcv's view wrappers and to a sample's second image, and the config text that replays a
learned policy (each sub-transform under its scoped registered name: :func:`_scoped_like`).

The trial of every choice at a place's first sample (:meth:`OHLRandomChoice._try_each_choice`) keeps what it
restores in :mod:`automl_mm.augment.choice_trial`; the view of the wrappers around a call is
:mod:`automl_mm.augment.choice_views`. Moved unchanged from ``choice.py``, which still names them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS

from automl_mm.registry import TRANSFORMS, registered_name
from automl_mm.utils.checks import config_repr, repeated_candidates
from automl_mm.utils.wording import a_type

from . import op_base
from .choice_base import LiveChoiceTransform, check_choice_key
from .choice_trial import (
    _ChoiceRefused,
    _nested,
    _put_back,
    _random_states,
    _set_random_states,
    _transform_states,
    _trial_copy,
)
from .choice_views import _key_set, _packed_around, _same_image, _same_value, _say_homography_once, _View
from .op_base import second_image_keys


def _scoped_types(cfg: Any) -> Any:
    """``cfg`` with every class under a ``type`` key (mmengine accepts classes) replaced by its scoped registered
    name in mmengine's transform registries (``'mmengine.RandomFlip'`` for mmcv's, ``'mmdet.RandomFlip'``), which
    any default scope resolves, so that the config can be written as text; a class registered nowhere keeps its
    class name (building it then names it)."""
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_scoped_types(c) for c in cfg)
    if not isinstance(cfg, dict):
        return cfg
    out = {key: _scoped_types(value) for key, value in cfg.items()}
    if isinstance(cfg.get('type'), type):
        out['type'] = registered_name(ROOT_TRANSFORMS, cfg['type'], scoped=True)
    return out


def _scoped_like(cfgs: list, built: list) -> list:
    """``cfgs`` (one sub-pipeline's configs) through :func:`_scoped_types`, each top-level ``type`` given by name
    replaced by the scoped registered name of the transform built from it (``built``, in order: mmengine's
    ``Compose`` builds one per entry); a name already scoped, or a class registered nowhere, is kept."""
    cfgs = _scoped_types(cfgs)
    if len(cfgs) != len(built):
        return cfgs
    out = []
    for cfg, transform in zip(cfgs, built):
        if isinstance(cfg, dict) and isinstance(cfg.get('type'), str) and '.' not in cfg['type']:
            name = registered_name(ROOT_TRANSFORMS, type(transform), scoped=True)
            if '.' in name:
                cfg = {**cfg, 'type': name}
        out.append(cfg)
    return out


@TRANSFORMS.register_module()
class OHLRandomChoice(LiveChoiceTransform):
    """Apply one of several sub-pipelines per sample, chosen from an OHL-learned (or a fixed) distribution.

    Args:
        transforms: One entry per choice: a transform config or a list of them (an empty list is identity).
        key: Name that links the transform to its ``PipelineChoiceSpace``.
        probs: Fixed probabilities, used when no space is bound (replaying an exported policy); uniform if None.

    A sample with a second image (mmseg's change-detection ``img2``, the keys of ``img_fields``:
    ``op_base.second_image_keys``) is handed to the drawn sub-pipeline as it is; mmcv's and mmdet 3.x's transforms
    move ``img`` alone, so a sub-pipeline that changed ``img`` (a new array, or the same one changed in place, as
    mmdet's ``CutOut`` writes its holes: the images are compared by content with a copy taken before the draw, for
    samples with a second image only) and left a second image (the same array, unchanged) as it was is refused.
    Inside mmcv's ``TransformBroadcaster(mapping=dict(img=['img', 'img2']), share_random_params=True)`` every view
    applies the first view's choice and its transforms' random parameters, and the pair stays lined up.

    Raises:
        ValueError: ``transforms`` not a list, or with fewer than 2 entries; ``probs`` that are not one finite
            non-negative number per entry with a positive sum; when applied, a drawn sub-pipeline that changed
            ``img`` and left a second image behind, naming the choice, the key and the broadcaster that moves both;
            at the first sample of each place it runs in, an mmcv ``KeyMapper`` / ``TransformBroadcaster`` around it
            that gives back none of the image and annotations (``remapping=dict(other='other')``: the drawn
            sub-pipeline would change nothing of the sample while its draw is credited), or that reads the image
            under another name and gives it back, without a remapping, under its own (``mapping=dict(img='img2'),
            auto_remap=False``: the augmented ``img2`` written over ``img``; ``LiveChoiceTransform._check_view_used``),
            naming the wrapper, its mapping and remapping and the keys to take back; on a draw, such a view that does
            not give back a new value the drawn sub-pipeline made of the image, a second image or an annotation
            (changes made in place reach the sample whatever the view: ``KeyMapper(mapping=dict(img='img'))`` around
            mmcv's ``RandomFlip`` kept the flipped boxes in the view, ``mapping=dict(gt_bboxes='gt_bboxes')`` around
            mmdet's, which flips the boxes in place, the flipped image), naming the sub-pipeline, the wrapper and the
            keys to add to its mapping (:meth:`_apply_in_view`). A ``homography_matrix`` the sample held before (mmdet's
            ``Resize`` / ``RandomFlip`` record one) that the view alone does not give back is refused only where a
            pipeline it runs in packs it (``PackDetInputs(meta_keys=(..., 'homography_matrix'))``, mmdet's
            semi-supervised configs, whose detectors project pseudo-boxes with it); elsewhere the mapping to add is
            logged once a process, as ``OHLAutoAugment`` answers the same view. Both refusals of what a sub-pipeline
            did (a second image left behind, a view that drops its new values) are made for every choice that can be
            drawn at the first sample of each place and key set, where a wrapper or a second image makes them
            possible, on a copy of the sample (:meth:`_try_each_choice`), so a config fails there on every rank
            whatever is drawn; what a transform changes only on some of its own draws (``RandomFlip(prob=0.5)``) and
            did not change in that trial is refused where it is drawn.
    """

    #: Whether :meth:`_try_each_choice` is running (the choices it applies are not tried again).
    _trying = False

    def __init__(self, transforms: Sequence[dict | Sequence[dict]], key: str = 'choice',
                 probs: Sequence[float] | None = None) -> None:
        check_choice_key(key, 'OHLRandomChoice')
        if isinstance(transforms, (dict, str, bytes)) or not isinstance(transforms, Sequence):
            # one config given bare was iterated by its keys: "transform must be a callable object or dict, but
            # got <class 'str'>"
            raise ValueError(f'OHLRandomChoice(key={key!r}).transforms must be a list with one entry per choice (a '
                             f'transform config or a list of them), got {a_type(transforms)}')
        super().__init__(len(transforms), key, probs)
        self.transform_cfgs = [list(t) if isinstance(t, (list, tuple)) else [t] for t in transforms]
        self.pipelines = [Compose(cfg) for cfg in self.transform_cfgs]

    def __iter__(self):
        """The sub-pipelines' transforms, for mmcv's ``cache_random_params``: inside a broadcasting wrapper their
        random draws are shared by every view too (as mmcv's ``RandomChoice`` exposes its transforms)."""
        return iter([t for pipeline in self.pipelines for t in pipeline.transforms])

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        view = self._view
        key_set = None
        if view is not None and isinstance(results, dict) and not self._trying and (
                view.wrappers or results.get('img_fields') is not None
                or any(results.get(key) is not None for key in op_base.EXTRA_IMAGE_KEYS)):
            key_set = _key_set(results)  # found once a sample: the view's watched keys are looked up by it too
            if view.first_of_key_set(key_set):
                self._try_each_choice(results, index, view)
        if view is not None and view.wrappers and isinstance(results, dict) and self.pipelines[index].transforms:
            return self._apply_in_view(results, index, view, key_set)
        return self._apply_drawn(results, index)

    def _try_each_choice(self, results: dict, drawn: int, view: _View) -> None:
        """Apply every other choice that can be drawn (bound: all; unbound: those of positive probability) to a deep
        copy of ``results`` and refuse what :meth:`_apply_in_view` / :meth:`_apply_drawn` refuse of it, so that a
        view or a second image that some choice cannot keep lined up fails the run at the first sample of each place
        (and of each key set there, :meth:`_View.first_of_key_set`) whatever is drawn, on every rank alike, not at the
        rank and sample that first draws it (the others waiting in the next collective until its timeout). Called
        only where such a refusal is possible: inside an mmcv ``KeyMapper`` / ``TransformBroadcaster``, or on a
        sample with a second image or ``img_fields``.

        The trial leaves the run as it found it: numpy's, Python's and torch's random states are restored before
        each choice and after the last, so the draws of the sample and of the run are those of a run without it; the
        drawn choice is not tried (it is checked right after, on the sample itself), so the random parameters the
        tried ones cache inside mmcv's ``cache_random_params`` (a broadcast with ``share_random_params=True``, whose
        every view applies the drawn choice) are read by no view (and dropped after the trial, below). Not tried
        either (left to their draw, checked there): the identity, a choice holding a choice transform (its draws would
        be recorded and its stream moved), a sample ``copy.deepcopy`` cannot copy (the data sets it refers to are
        shared, not copied: :func:`_trial_copy`), and a choice that fails by itself
        on the copy (that error is its own, met where it is drawn). A transform that changes a key
        only on some of its own draws (mmcv's ``RandomFlip(prob=0.5)``) is tried on one draw: a change it did not
        make there is still refused where it is drawn. The tried choices' transforms are given back the attributes
        they held (:func:`_transform_states`, :func:`_put_back`): the items of their lists, dicts, sets and deques
        (mmdet's ``CachedMosaic`` / ``CachedMixUp`` cached the copy and mixed it into later images, under the first
        sample's draws), counters, generators of their own, mmcv's cached random parameters; a choice whose
        transforms hold an iterator (a trial's ``next`` cannot be undone) is left to its draw; state held deeper (an
        attribute's own attributes) or outside the transforms is not put back. Cost: one deep copy of the sample and
        one run of each choice, once per place and key set per process (``benchmarks/augment_check_cost.py``,
        ``start``).

        Raises:
            ValueError: as :meth:`_apply_in_view` and :meth:`_apply_drawn`, naming the tried choice.
        """
        if self.live is None:
            indices = [i for i, p in enumerate(self.fixed_probs.tolist()) if p > 0 and i != drawn]
        else:
            indices = [i for i in range(self.num_choices) if i != drawn]
        indices = [i for i in indices if self.pipelines[i].transforms and not any(
            isinstance(t, LiveChoiceTransform) for t in _nested(self.pipelines[i]))]
        if not indices:
            return
        states = _random_states()
        self._trying = True
        try:
            for i in indices:
                held = _transform_states(self.pipelines[i])
                if held is None:  # an iterator: left to its draw
                    continue
                try:
                    trial = _trial_copy(results)
                except Exception:  # noqa: BLE001 (a value deepcopy cannot copy: left to the draws)
                    return
                _set_random_states(states)
                try:
                    if view.wrappers:
                        self._apply_in_view(trial, i, view)
                    else:
                        self._apply_drawn(trial, i)
                except _ChoiceRefused:
                    raise
                except Exception:  # noqa: BLE001 (the choice's own failure: met where it is drawn)
                    pass
                finally:
                    _put_back(held)
                    trial = None  # freed before the next choice's copy is made
        finally:
            _set_random_states(states)
            self._trying = False

    def _apply_in_view(self, results: dict, index: int, view: _View, key_set: tuple | None = None) -> dict | None:
        """The drawn sub-pipeline inside an mmcv ``KeyMapper`` / ``TransformBroadcaster`` view, refusing a view that
        does not give back a new value the sub-pipeline made of the image, a second image or an annotation
        (:meth:`changed_keys`, compared by identity): ``KeyMapper(mapping=dict(img='img'))`` around a choice of
        mmcv's ``RandomFlip`` took the flipped image back and left the flipped boxes in the view, so the sample kept
        boxes of other pixels; ``KeyMapper(mapping=dict(gt_bboxes='gt_bboxes'))`` around mmdet's ``RandomFlip``,
        which flips the boxes in their own tensor (a change made in place reaches the sample whatever the wrapper
        gives back: mmcv's views share the sample's values), left the image unflipped. A value the wrapper drops is
        compared by content only then: a sub-pipeline that replaces it by an equal copy changed nothing. A choice of
        photometric transforms in a view that gives back the image passes.

        A view out of step in a held ``homography_matrix`` alone is refused only where an enclosing pipeline packs it
        (:func:`~automl_mm.augment.choice_views._packed_around`), else said once
        (:func:`~automl_mm.augment.choice_views._say_homography_once`), as ``OHLAutoAugment._check_view`` answers it.

        The keys to watch are found once per key set of the samples (:meth:`_View.watched`; ``key_set``, the sample's
        :func:`~automl_mm.augment.choice_views._key_set` where :meth:`apply_choice` found it), what the wrappers drop
        of them once per set of changed keys (:meth:`_View.lost`): no call stack is read past the first sample.

        Raises:
            ValueError: Such a view, naming the sub-pipeline, the wrapper and the keys it drops.
        """
        keys = view.watched(results, self, key_set)
        before = [results.get(key) for key in keys]
        out = self._apply_drawn(results, index)
        if not isinstance(out, dict):
            return out
        changed = tuple(key for key, value in zip(keys, before) if value is not None and out.get(key) is not value)
        lost = view.lost(changed) if changed else ()
        if lost:  # a value replaced by an equal one changed nothing (neither lost nor given back)
            held = dict(zip(keys, before))
            same = {key for key in lost if _same_value(out.get(key), held[key])}
            lost = [key for key in changed if key in lost and key not in same]
            if lost:
                changed = tuple(key for key in changed if key not in same)
                if lost != ['homography_matrix'] or _packed_around(view.wrappers[-1]):
                    raise _ChoiceRefused(self._partial_view_message(index, view.wrappers, changed, lost))
                # the homography alone, which no enclosing pipeline packs (a supervised run: nothing reads it), is
                # said once and not refused, as OHLAutoAugment says it
                _say_homography_once((view.wrappers[0], changed, tuple(lost)),
                                     lambda: self._partial_view_message(index, view.wrappers, changed, lost))
        return out

    def _partial_view_message(self, index: int, wrappers: tuple, changed: tuple, lost: list[str]) -> str:
        """Why sub-pipeline ``index`` is refused in the view of ``wrappers`` (innermost first), which drops the new
        values ``lost`` of the ``changed`` keys; names the innermost wrapper that loses them."""
        lost_set = set(lost)
        depth = next(i for i in range(len(wrappers)) if op_base.discarded_by(wrappers[:i + 1], lost))
        inner = wrappers[depth]
        here = op_base.discarded_by(wrappers[:depth + 1], lost)
        kept = ', '.join(f'results[{key!r}]' for key in changed if key not in lost_set)
        dropped = ', '.join(f'results[{key!r}]' for key in lost)
        where = 'mapping' if getattr(inner, 'auto_remap', False) else 'remapping'
        head = (f"{self.choices_config_key()}[{index}] ({config_repr(self.transform_cfgs[index])}) runs in mmcv's "
                f'{type(inner).__name__}(mapping={inner.mapping!r}, remapping={inner.remapping!r}), which gives back ')
        fix = f"add {', '.join(f'{key}={key!r}' for key in lost if key in here) or ', '.join(lost)} to its {where}"
        if kept:
            why = ''
            if 'homography_matrix' in lost_set:
                why = (" (and the homography_matrix recorded before the choice, without the drawn transforms' moves: "
                       "mmdet's semi-supervised detectors project pseudo-boxes from one view of an image into another "
                       'with it)')
            return (f'{head}{kept} but not {dropped}: the sample would keep what the drawn transforms moved in part, '
                    f'and its annotations would no longer describe its image{why}. Take them back too: {fix}')
        return (f'{head}none of {dropped}, which the drawn transforms replaced: the sample would keep the old '
                'value while the draw is credited, and what they changed in place (mmdet\'s RandomFlip flips the boxes '
                'in their own tensor; mmcv\'s views share the sample\'s values) would reach it, so its annotations '
                f'would no longer describe its image. Take them back: {fix}')

    def _apply_drawn(self, results: dict, index: int) -> dict | None:
        owner = f'{self.choices_config_key()}[{index}]'
        keys = second_image_keys(results, owner) if isinstance(results, dict) else []
        if not keys:  # no second image (classification, detection, a broadcaster's other view)
            return self.pipelines[index](results)
        pipeline = self.pipelines[index]
        if not pipeline.transforms:  # the identity choice: nothing to compare
            return pipeline(results)
        # what the images hold before the draw: a transform may change an array in place (mmdet's CutOut writes
        # its holes into results['img']), so the same array after it is not the same image
        img, before = results.get('img'), {key: results[key] for key in keys}
        held = self._held(dict(img=img, **before))
        out = pipeline(results)
        if not isinstance(out, dict):  # dropped by the sub-pipeline
            return out
        # a second image left as it was (the same array, unchanged) first: a replaced one (a transform that moves
        # both) needs no comparison, and the image is compared (a full read: 5 ms for a flipped 1333 x 800 view)
        # only beside one left
        left = [key for key in keys if out.get(key) is before[key]
                and (key not in held or _same_image(before[key], held[key]))]
        new = out.get('img')
        if left and ('img' in held and _same_image(new, held['img']) or 'img' not in held and new is img):
            left = []  # the image did not change either
        if left:
            raise _ChoiceRefused(
                f"{owner} ({config_repr(self.transform_cfgs[index])}) changed results['img'] and left "
                f"results['{left[0]}'] (a second image of the sample: mmseg's change-detection img2, a key of "
                "img_fields) as it was: its transforms move 'img' alone (mmcv's and mmdet 3.x's know one image), "
                'so the two images would no longer line up (or match in colour). Wrap the OHLRandomChoice in mmcv\'s '
                'TransformBroadcaster('
                f"mapping=dict(img=['img', '{left[0]}']), share_random_params=True) (with gt_seg_map=['gt_seg_map', "
                '...] if the sample has a change map), which applies the drawn choice to each image with the same '
                'random parameters, or choose among transforms that move the second image too (OHLAutoAugment)')
        return out

    def _held(self, values: dict) -> dict[str, np.ndarray]:
        """Copies of the numpy arrays of ``values`` (a pair's images before the draw), written into buffers the
        transform keeps (one per key, as large as the largest image seen; not pickled): a fresh copy of a 1333 x 800
        image cost 1-3 ms a draw in a pipeline (its pages faulted in anew), the copy into a buffer 0.1-0.3 ms."""
        buffers = self.__dict__.setdefault('_buffers', {})
        held = {}
        for key, value in values.items():
            if not isinstance(value, np.ndarray):
                continue
            buffer = buffers.get(key)
            if buffer is None or buffer.nbytes < value.nbytes:
                buffer = buffers[key] = np.empty(value.nbytes, np.uint8)
            copy = buffer[:value.nbytes].view(value.dtype).reshape(value.shape)
            np.copyto(copy, value)
            held[key] = copy
        return held

    def repeated_choices(self) -> list[tuple[Any, list[int]]]:
        """The sub-pipelines ``transforms`` lists more than once (``[[flip], [], [flip]]``: ``[([flip], [0, 2])]``),
        compared by config text (dict keys in any order, :func:`~automl_mm.utils.checks.repeated_candidates`) with
        each top-level ``type`` replaced by the class it built (``'RandomFlip'``, ``'mmcv.RandomFlip'`` and the
        class itself are one transform); each given as first listed."""
        def built(cfgs: list, pipeline: Compose) -> list:
            if len(cfgs) != len(pipeline.transforms):
                return cfgs
            return [{**cfg, 'type': f'{type(t).__module__}.{type(t).__qualname__}'} if isinstance(cfg, dict) else cfg
                    for cfg, t in zip(cfgs, pipeline.transforms)]

        same = [built(cfgs, pipeline) for cfgs, pipeline in zip(self.transform_cfgs, self.pipelines)]
        return [(self.transform_cfgs[indices[0]], indices) for _, indices in repeated_candidates(same)]

    def choices_config_key(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}).transforms'

    def choice_signature(self) -> tuple:
        # the sub-pipelines' configs: two OHLRandomChoice with one key and swapped sub-pipelines differ; keys sorted
        # (config_repr): a config read back from Config.dump (the local launcher's copy) had them sorted, the
        # user's file not, and a resume of the same config was refused as another space
        return type(self).__name__, config_repr(self.transform_cfgs)

    def export_cfg(self, probs: Sequence[float]) -> dict:
        # each sub-transform named by the scoped name of the class the search built, so the text builds the same
        # class in any default scope: a classifier's 'RandomFlip' (mmcv's) read in an mmdet config was mmdet's
        transforms = [_scoped_like(cfgs, pipeline.transforms)
                      for cfgs, pipeline in zip(self.transform_cfgs, self.pipelines)]
        return dict(type='OHLRandomChoice', key=self.key, transforms=transforms, probs=[float(p) for p in probs])

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, choices={len(self.pipelines)})'
