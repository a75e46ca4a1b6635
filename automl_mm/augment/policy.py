"""OHL-Auto-Aug's pipeline transforms: an ordered pair of augmentation elements per image.

With the 36 default elements (METHODS.md §2) there are 36² = 1,296 ordered pairs; pair ``i`` applies element
``i // E`` then element ``i % E`` (E elements). :class:`OHLAutoAugment` samples the pair from the live
distribution of a ``PipelineChoiceSpace`` (``Categorical(1296)`` or ``FactorisedCategorical((36, 36))``, whose
flat index is the same row-major pair index); :class:`FixedAutoAugment` replays an exported distribution, or the
uniform one (the uniform-random baseline).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl_mm.registry import AUGMENT_OPS, TRANSFORMS, registered_name

from .choice import LiveChoiceTransform, check_choice_key
from .choice_views import (  # noqa: F401 (_VIEW_WARNED, _packed_by_enclosing_pipeline, _packs: also named here)
    _PACKED_AROUND,
    _VIEW_WARNED,
    _packed_around,
    _packed_by_enclosing_pipeline,
    _packs,
    _say_homography_once,
)
from .elements import DEFAULT_ELEMENTS, ELEMENT_SETS, build_elements
from .geometric import (
    _INSTANCE_KEYS,
    MMSEG_MAP_KEYS,
    GeometricAugmentOp,
    check_annotation_sizes,
    pixel_map_keys,
)
from .op_base import (
    EXTRA_IMAGE_KEYS,
    BaseAugmentOp,
    discarded_by,
    enclosing_key_mappers,
    extra_image_keys,
    known_view,
    outer_keys,
    second_image_candidates,
    unused_view,
    unused_view_message,
)


@TRANSFORMS.register_module()
class OHLAutoAugment(LiveChoiceTransform):
    """Apply one ordered pair of augmentation elements per image, sampled from a learned distribution.

    Works on classification results (``img``) and on mmdet / mmseg results: geometric elements also move
    ``gt_bboxes``, ``gt_masks``, ``gt_keypoints`` and every per-pixel map (``gt_seg_map``, the keys mmseg lists in
    ``seg_fields``, ``gt_edge_map``, ``gt_depth_map``: ``geometric.pixel_map_keys``) and drop boxes that leave the
    image. A second image (mmseg's change-detection ``img2``, the keys of ``img_fields``:
    ``op_base.extra_image_keys``) is warped and colour-transformed as ``img`` is, so the pair keeps lining up with
    its change map (in an mmseg change-detection pipeline: after ``LoadAnnotations``, before ``ConcatCDInput``).
    Inside mmcv's ``KeyMapper`` / ``TransformBroadcaster`` a second image that the wrapper does not give back is
    left alone (``op_base.view_discarded_keys``: in a broadcast over the pair,
    ``TransformBroadcaster(mapping=dict(img=['img', 'img2'], gt_seg_map=['gt_seg_map', ...]),
    share_random_params=True)``, each view's outer ``img2``, which is the other view).
    In an mmdet pipeline it goes after ``LoadAnnotations`` (e.g. between ``RandomFlip`` and
    ``PackDetInputs``), in an mmseg one after ``LoadAnnotations`` / ``LoadDepthAnnotation``: with geometric
    elements, results that hold a data set's ``instances`` with boxes but nothing ``LoadAnnotations`` loads
    (``gt_bboxes``, ``gt_masks``, ``gt_bboxes_labels``, ``gt_seg_map``, ...), a ``seg_map_path`` but no
    ``gt_seg_map``, or a ``depth_map_path`` but no ``gt_depth_map``, are refused, since the annotations loaded
    after it would not move with the image. With geometric elements it records
    ``homography_matrix`` whichever pair is drawn (the identity, float32 (3, 3), where neither element moves the
    image and none was recorded before), so that the results' keys do not depend on the draw (mmcv's
    ``TransformBroadcaster`` collates per-frame draws by key).

    Args:
        elements: The elements, as ``(name, magnitude)`` tuples or ``dict(type=..., magnitude=...)``, or the name
            of a set in ``automl_mm.augment.elements.ELEMENT_SETS``: ``'ohl'`` (the 36 of METHODS.md §2, the
            default), ``'randaugment'`` (RandAugment's 14 operations at torchvision's magnitude 9 as 18
            elements, with ``Identity``; see ``randaugment_elements``), ``'ohl+randaugment'`` (both, 52
            elements) or ``'randaugment-3bins'`` (RandAugment's operations at bins 4, 9 and 14: 47 elements).
            The space's distribution needs E² choices: ``Categorical`` or ``FactorisedCategorical`` without a size
            take them from the transform (``FactorisedCategorical`` as ``factor_sizes=(E, E)``,
            :attr:`choice_factors`). Register your own ops with ``@AUGMENT_OPS.register_module()``.
        key: Links the transform to its ``PipelineChoiceSpace``.
        probs: Fixed pair probabilities (E² values) used when no space is bound; uniform if None.
        fill: Border value of geometric elements.
        bgr: Channel order of 3-channel images, for the elements that use a luminance (Contrast, ColorAdjust):
            True (the default) for BGR as mmcv's ``LoadImageFromFile`` and automl_mm's datasets give, False for
            RGB (mmpretrain's and torchvision's CIFAR-10, for one). An element dict with its own ``bgr`` keeps it.

    Raises:
        ValueError: an unknown element set, op or magnitude (named by the op), fewer than 2 pairs, ``probs`` that are
            not E² finite non-negative numbers with a positive sum, ``fill`` not an int in [0, 255], ``bgr`` not a bool;
            when applied with geometric elements, results whose annotations are not loaded yet, or whose ``gt_masks`` or
            a per-pixel map is not the image's size, or a ``seg_fields`` that is not a list of keys of (H, W[, ...])
            arrays (``geometric.check_annotation_sizes``); whichever pair is drawn, a second image that is not a uint8
            array (``op_base.extra_image_keys``), or one beside an element that overrides ``apply`` without
            ``handles_extra_images``, and an image or second image that an element of the set (unbound: one that some
            pair of positive probability holds) cannot transform (``BaseAugmentOp.image_refusal``: Contrast and
            ColorAdjust take 1 or 3 channels, most elements none of zero height or width, every element but Identity at
            most the channels OpenCV takes (128 under OpenCV 5), a geometric element no second image of another size
            than ``img``), naming the key and the elements; with geometric elements, on a sample with a second image or
            an annotation they move (where the enclosing wrappers are read from the call stack; past the first sample a
            classification sample reads none), in a ``TransformBroadcaster`` whose views are the two images of a pair
            without ``share_random_params`` (each view would draw its own pair), or in a ``KeyMapper`` /
            ``TransformBroadcaster`` that gives back the image but not boxes (with the labels, ignore flags, instance
            ids a dropped box takes along), masks, keypoints or a per-pixel map that the elements move (the sample would
            keep them unmoved), or a ``homography_matrix`` the sample held before the policy where a pipeline it runs in
            packs it (``PackDetInputs(meta_keys=(..., 'homography_matrix'))``, as mmdet's semi-supervised configs do,
            whose detectors project pseudo-boxes with it: the sample would keep it without the elements' moves; where
            none packs it, as in a supervised pipeline, whose Resize / RandomFlip record one that nothing reads, the
            mapping to add is logged once a process instead; a sample that holds none is not refused for it), or gives
            those back but not the image, naming the wrapper, the keys and the mapping to add; whatever the elements, at
            the first sample of each place it runs in (and on each such sample after it), a ``KeyMapper`` /
            ``TransformBroadcaster`` that gives back none of what the pair changes (``remapping=dict(other='other')``:
            the sample would keep its image while the draw is credited), or that reads the image under another name
            and gives it back, without a remapping, under its own (``mapping=dict(img='img2'), auto_remap=False``: the
            augmented ``img2`` written over ``img``; ``LiveChoiceTransform._check_view_used``), naming the wrapper, its
            mapping and remapping and the keys to take back.

    Examples:
        >>> import numpy as np
        >>> t = OHLAutoAugment(key='autoaug')
        >>> out = t({'img': np.zeros((8, 8, 3), np.uint8)})
        >>> 0 <= out['ohl_choice']['autoaug'] < 1296
        True
    """

    def __init__(self, elements: Sequence[tuple | dict] | str | None = None, key: str = 'autoaug',
                 probs: Sequence[float] | None = None, fill: int = 128, bgr: bool = True) -> None:
        check_choice_key(key, type(self).__name__)
        if not isinstance(bgr, (bool, np.bool_)):  # bool('rgb') is True: BGR weights for RGB images, silently
            raise ValueError(f'{type(self).__name__}(key={key!r}): bgr must be True or False, got bgr={bgr!r}')
        self.element_cfgs = elements if elements is None or isinstance(elements, str) else \
            [tuple(e) if isinstance(e, list) else e for e in elements]
        self.elements = build_elements(self.element_cfgs, fill=fill, bgr=bgr)
        self.fill = fill
        self.bgr = bool(bgr)
        self._geometric = any(e.geometric for e in self.elements)
        # the elements as built: which element a choice index is, for the whole run (choice_signature)
        self._built_names = [e.name for e in self.elements]
        super().__init__(len(self.elements) ** 2, key, probs)

    @property
    def choice_factors(self) -> tuple[int, int]:
        """``(E, E)``: first element x second element (pair ``i`` is ``(i // E, i % E)``)."""
        return len(self.elements), len(self.elements)

    def pair(self, index: int) -> tuple:
        """The two elements of pair ``index``."""
        num = len(self.elements)
        return self.elements[index // num], self.elements[index % num]

    def choice_names(self) -> list[str]:
        return [f'{a.name} + {b.name}' for a in self.elements for b in self.elements]

    def choice_signature(self) -> tuple:
        """The class and the pairs' names of the elements as built (the config's magnitudes): an OHL space that
        writes an element's magnitude (per copy and trunk) does not change which element a choice index is. Read
        from the live ops, the signature a checkpoint saved held a copy's last written magnitude (``Rotate(30)``)
        and the resumed run's the config's (``Rotate(10)``): the resume was refused as another space."""
        return type(self).__name__, tuple(f'{a} + {b}' for a in self._built_names for b in self._built_names)

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict:
        owner = f'{type(self).__name__}(key={self.key!r})'
        if results.get('img_fields') is None:  # a sample without a second image returns here (no generator: 0.4 us)
            for key in EXTRA_IMAGE_KEYS:
                if results.get(key) is not None:
                    break
            else:
                return self._apply_single(results, index, rng, owner)
        candidates = second_image_candidates(results, owner)
        if not candidates:
            return self._apply_single(results, index, rng, owner)
        # which second images an enclosing mmcv KeyMapper / TransformBroadcaster discards: read from the call stack
        # once per sample, for the policy's checks and both elements
        wrappers = enclosing_key_mappers()
        if wrappers and self._geometric:
            self._check_view(results, wrappers, candidates, owner)
        with known_view(results, discarded_by(wrappers, candidates)):
            return self._apply_pair(results, index, rng, owner)

    def changed_keys(self, results: dict) -> list[str]:
        """``img`` and its second images; with geometric elements also what they move with it (the base's list)."""
        if self._geometric:
            return super().changed_keys(results)
        return ['img', *second_image_candidates(results, f'{type(self).__name__}(key={self.key!r})')]

    def _apply_single(self, results: dict, index: int, rng: np.random.Generator, owner: str) -> dict:
        """The pair on a sample without a second image. With geometric elements, one that holds an annotation they
        move (boxes, masks, keypoints, a per-pixel map) or a ``homography_matrix`` recorded before is checked against
        the enclosing mmcv ``KeyMapper`` / ``TransformBroadcaster`` first (:meth:`_check_view`: the call stack is read
        for those samples only, 3-10 us beside a warp; past the first sample, a classification sample reads none)."""
        if self._geometric and _holds_moved_annotations(results):
            wrappers = enclosing_key_mappers()
            if wrappers:
                self._check_view(results, wrappers, [], owner)
        return self._apply_pair(results, index, rng, owner)

    def _check_view(self, results: dict, wrappers: list, candidates: list[str], owner: str) -> None:
        """Refuse a view of mmcv's ``KeyMapper`` / ``TransformBroadcaster`` (``wrappers``, innermost first) in which
        the geometric elements cannot keep a sample lined up: a broadcast over a change-detection pair's images
        (``candidates``, its second images; empty for a sample without one) without ``share_random_params`` (each
        view draws its own pair: the two images turned by different angles), or one that gives back the image but
        not an annotation the elements move with it, or the annotations but not the image (mmcv takes back only the
        keys of the remapping: ``mapping=dict(img=['img', 'img2'])`` kept the sample's ``gt_seg_map`` as it was while
        both images turned, a change map of other pixels; ``mapping=dict(img='img')`` a detection sample's boxes).
        A ``homography_matrix`` the sample held when the policy ran (mmdet's Resize / RandomFlip before it recorded
        one, which the elements compose theirs onto) counts as such an annotation where a pipeline on the call stack
        packs it (:func:`_packed_by_enclosing_pipeline`: a ``PackDetInputs`` with it in ``meta_keys``, as mmdet's
        semi-supervised configs have, whose detectors project pseudo-boxes between views with it): a view that does
        not give it back left the sample the matrix without the elements' moves. Where none packs it (a supervised
        pipeline: ``PackDetInputs``' default ``meta_keys`` leave it out, and no supervised detector, TTA merge or
        visualiser of mmdet reads it) a view out of step in it alone is logged once a process (mmengine's
        ``print_log``, ``WARNING``) with the mapping to add, not refused, and the other keys are checked without it.
        One the policy creates (the identity, where none was held) is not required back: nothing before it tracks
        the moves.
        The message names the wrapper at which keys are first lost and what that one gives back and drops. Checked
        whichever pair is drawn, on every sample with a second image, an annotation the elements move or a
        ``homography_matrix`` (the wrappers are looked up for those only: 3-10 us of call stack a sample)."""
        from mmcv.transforms import TransformBroadcaster

        # the names of the view's img and second images, followed outwards through each wrapper's mapping (mmcv keeps
        # an unmapped key under its own name): the broadcaster over the pair may enclose a KeyMapper around the policy
        img_names, second_names = {'img'}, set(candidates)
        for wrapper in wrappers:
            mapping = wrapper.mapping if isinstance(wrapper.mapping, dict) else {}
            scattered = [outer for name in img_names if isinstance(mapping.get(name), (list, tuple))
                         for outer in outer_keys(mapping[name])]
            views = [name for name in sorted(second_names) if name not in mapping and name in scattered]
            if views and isinstance(wrapper, TransformBroadcaster) and not wrapper.share_random_params:
                raise ValueError(
                    f"{owner} runs in mmcv's TransformBroadcaster(mapping={wrapper.mapping!r}, "
                    f"share_random_params=False), whose views are results[{scattered[0]!r}] and "
                    f"results[{views[0]!r}], the two images of a pair: each view draws its own pair of elements and "
                    'signs, so its geometric elements would move the two images differently and they would no longer '
                    'line up. Set share_random_params=True (every view then applies the first view\'s pair)')
            img_names = {outer for name in img_names for outer in (outer_keys(mapping[name]) if name in mapping
                                                                   else [name])}
            second_names = {outer for name in second_names for outer in (outer_keys(mapping[name])
                                                                         if name in mapping else [name])}
        moved = [key for key in _MOVED_KEYS[:3] if results.get(key) is not None]
        if results.get('gt_bboxes') is not None:  # what a box that leaves the image is dropped with
            moved += [key for key in _INSTANCE_KEYS if key not in moved and results.get(key) is not None]
        moved += pixel_map_keys(results, owner)
        if results.get('homography_matrix') is not None:  # recorded before the policy: someone tracks the moves
            found = _lost_at(wrappers, [*moved, 'homography_matrix'])
            if found is not None and found[0] is None:  # none of them comes back
                self._refuse_unused_view(results, wrappers, ['img', *candidates, *moved, 'homography_matrix'], owner)
                return
            if found is None:
                return
            kept, left = ([key for key in keys if key != 'homography_matrix'] for keys in found[1:])
            if kept and left or _packed_around(wrappers[-1]):  # others out of step too, or a semi-supervised
                raise ValueError(_view_message(owner, *found, candidates))  # detector will read it
            # only the homography is out of step (the view gives back all else, or nothing else), and no enclosing
            # pipeline packs it: nothing reads it (a supervised run). Said once; the other keys are checked without it
            # (a wrapper further out may drop them)
            _say_homography_once((found[0], tuple(found[1]), tuple(found[2])),
                                 lambda: _view_message(owner, *found, candidates))
        found = _lost_at(wrappers, moved)
        if found is not None and found[0] is None:  # none comes back (but a homography_matrix nothing reads)
            self._refuse_unused_view(results, wrappers, ['img', *candidates, *moved], owner)
        elif found is not None:
            raise ValueError(_view_message(owner, *found, candidates))

    def _refuse_unused_view(self, results: dict, wrappers: list, keys: list[str], owner: str) -> None:
        """Refuse a view that gives back none of ``keys`` (what the pair changes; second images included): the
        policy would change nothing of the sample while its draws are credited (:func:`unused_view`)."""
        found = unused_view(wrappers, keys)
        if found is not None:
            raise ValueError(unused_view_message(owner, *found, self.keys_to_take_back(results, found[1])))

    def _apply_pair(self, results: dict, index: int, rng: np.random.Generator, owner: str) -> dict:
        img = results.get('img')
        if isinstance(img, np.ndarray) and img.ndim >= 2:
            # a second image (mmseg's img2) that cannot follow, an image an element of the set cannot transform:
            # on every call, whichever pair is drawn (its size is checked against 'img' by the geometric elements'
            # image_refusal, so not by a set that has none)
            extra = extra_image_keys(results, img, owner, same_size=False)
            self._check_extra_images(extra)
            if img.dtype == np.uint8 and img.ndim <= 3:  # otherwise the first element names the fix
                self._check_shapes(results, img, extra, owner)
        if self._geometric:
            self._check_annotations_loaded(results)
            if isinstance(img, np.ndarray) and img.ndim >= 2:  # a map of another size: on every call, as above
                check_annotation_sizes(results, *img.shape[:2], owner)
            if results.get('homography_matrix') is None:
                # recorded whichever pair is drawn (the identity where it moves nothing, as mmdet's RandomFlip
                # records it unflipped): the results' keys must not depend on the draw, or mmcv's
                # TransformBroadcaster (share_random_params=False) cannot collate a clip whose frames drew a moving
                # and a still pair (KeyError 'homography_matrix')
                results['homography_matrix'] = np.eye(3, dtype=np.float32)
        first, second = self.pair(index)
        return second.apply(first.apply(results, rng), rng)

    def _check_shapes(self, results: dict, img: np.ndarray, extra: list[str], owner: str) -> None:
        """Refuse an image (``'img'`` or a second one, ``extra``) that an element of the set cannot transform
        (``BaseAugmentOp.image_refusal``: a channel count, no pixels, a second image of another size beside a
        geometric element), naming the key and those elements: asked of every element on every sample (once per
        distinct shapes, then a set look-up), so a run fails at its first such image whatever pair is drawn. Unbound,
        only the elements some pair of positive probability holds are asked: a replayed policy whose ``probs`` give
        an element's pairs 0 never applies it, and the images it transformed before are not refused for it."""
        shapes = (img.shape, *(results[key].shape for key in extra))
        checked = vars(self).setdefault('_shapes_checked', set())
        if (self.live is None, shapes) in checked:  # bound: every element asked (a live policy may draw any pair)
            return
        drawn = self.elements
        if self.live is None:  # the elements some pair of positive probability holds: found once per probs
            cached = vars(self).get('_drawn_unbound')
            if cached is None or cached[0] is not self.fixed_probs:
                # two reductions over the E x E pairs, not 2 E (72 numpy calls, 40 us per new shape at E = 36)
                held = self.fixed_probs.reshape(len(self.elements), len(self.elements)) > 0
                cached = self._drawn_unbound = (self.fixed_probs, [
                    op for op, kept in zip(self.elements, (held.any(1) | held.any(0)).tolist()) if kept])
            drawn = cached[1]
        for key, shape in zip(('img', *extra), shapes):
            reasons: dict[str, list[str]] = {}
            for op in drawn:
                reason = op.image_refusal(shape, None if key == 'img' else img.shape)
                if reason is not None:
                    reasons.setdefault(reason, []).append(op.name)
            if reasons:
                reason, names = next(iter(reasons.items()))
                raise ValueError(
                    f"{owner}: results['{key}'] (shape {shape}) cannot be transformed by element"
                    f"{'s' if len(names) > 1 else ''} {', '.join(names)}: {'each' if len(names) > 1 else 'it'} "
                    f'{reason}. Refused whatever pair is drawn, '
                    'so that the run fails at its first such image, not mid-training at the first whose pair holds '
                    'one of them: give images they take, or leave them out of the elements')
        if len(checked) >= 1024:  # a detection set's many sizes: keep the look-up bounded
            checked.clear()
        checked.add((self.live is None, shapes))

    def _check_extra_images(self, keys: list[str]) -> None:
        """Refuse a sample with second images (``keys``: mmseg's ``img2``, ...) when an element overrides ``apply``
        without declaring ``handles_extra_images``: it would change ``img`` and leave the others as they were."""
        if not keys:
            return
        own = [op.name for op in self.elements if not op.handles_extra_images
               and type(op).apply not in (BaseAugmentOp.apply, GeometricAugmentOp.apply)]
        if own:
            listed = ', '.join(f"results['{key}']" for key in keys)
            raise ValueError(
                f'{type(self).__name__}(key={self.key!r}): element {own[0]} overrides apply, which transforms what '
                f'it transforms, and the sample has a second image ({listed}) that the elements transform with '
                "'img'. Implement transform_img (a photometric op) or affine_matrix (a GeometricAugmentOp) instead, "
                'or transform every key of automl_mm.augment.op_base.extra_image_keys(results, img, owner) in '
                'apply and set handles_extra_images = True on the op')

    def _check_annotations_loaded(self, results: dict) -> None:
        """Refuse results whose annotations are not loaded yet (the transform placed before mmdet's / mmcv's
        ``LoadAnnotations`` or mmseg's ``LoadDepthAnnotation``, which the message names): a geometric element would
        move the image and not the boxes, masks, segmentation or depth map loaded after it, which then describe
        other pixels (silently: every image of the pipeline, whichever pair is drawn, so this is checked on every
        call, not only when a geometric pair is drawn)."""
        instances = results.get('instances')
        unloaded = []
        loaders = []  # the transforms that would load them after the policy, named in the refusal
        # any of LoadAnnotations' outputs: it loads all it is asked for at once (with_bbox=False: masks, labels,
        # mmcv's keypoints or only the segmentation map)
        loaded = ('gt_bboxes', 'gt_masks', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_seg_map', 'gt_keypoints',
                  'gt_depth_map')
        if not any(key in results for key in loaded) and isinstance(instances, (list, tuple)) and \
                any(isinstance(i, dict) and 'bbox' in i for i in instances):
            unloaded.append("the data set's 'instances' but no 'gt_bboxes'")
            loaders.append('LoadAnnotations')
        # a map's path without the map: mmdet's / mmseg's LoadAnnotations (seg_map_path), mmseg's
        # LoadDepthAnnotation (depth_map_path) load it after the policy
        for path, key, loader in (('seg_map_path', 'gt_seg_map', 'LoadAnnotations'),
                                  ('depth_map_path', 'gt_depth_map', "mmseg's LoadDepthAnnotation")):
            if key not in results and results.get(path) is not None:
                unloaded.append(f"a '{path}' but no '{key}'")
                loaders.append(loader)
        if unloaded:
            # the elements' names now: an OHL space may have written a magnitude since __init__
            geometric = [e.name for e in self.elements if e.geometric]
            loaders = list(dict.fromkeys(loaders))
            names = ' and '.join(loaders)
            where = ' (mmdet: between RandomFlip and PackDetInputs)' if loaders == ['LoadAnnotations'] else ''
            raise ValueError(
                f'{type(self).__name__}(key={self.key!r}) runs before the annotations are loaded: its results hold '
                f'{" and ".join(unloaded)}, so its geometric elements ({", ".join(geometric[:3])}, ...) would '
                f'move the image but not the annotations {names} load{"s" if len(loaders) == 1 else ""} after it. '
                f'Put it after {names} in the pipeline{where}; it is a training augmentation, so not in a val / '
                'test pipeline (which loads its annotations after Resize)')

    def export_cfg(self, probs: Sequence[float], magnitudes: dict[int, float] | None = None) -> dict:
        """Config of a ``FixedAutoAugment`` that replays ``probs`` (E² pair probabilities) with these elements.

        ``magnitudes`` (``{element index: magnitude}``, from ``PipelineChoiceSpace.export_fragment``: the values
        the exported ``SetAttributesHook`` of another OHL space writes to ``elements.<j>.magnitude``) replaces the
        config's magnitude of those elements in the exported list, so that it names the element the replay trains
        with; the element set's name (``'ohl'``) is then written out as its list.

        Raises:
            ValueError: a ``magnitudes`` index outside the E elements.
        """
        cfg = dict(type='FixedAutoAugment', key=self.key, probs=[float(p) for p in probs], fill=self.fill)
        if not self.bgr:
            cfg['bgr'] = False
        entries = self.element_cfgs
        if magnitudes:
            if not all(0 <= j < len(self.elements) for j in magnitudes):
                raise ValueError(f'{type(self).__name__}(key={self.key!r}): magnitudes {magnitudes} index elements '
                                 f'outside the {len(self.elements)} elements')
            if entries is None or isinstance(entries, str):
                entries = DEFAULT_ELEMENTS if entries is None else ELEMENT_SETS[entries]
            entries = [_with_magnitude(entry, magnitudes[j]) if j in magnitudes else entry
                       for j, entry in enumerate(entries)]
        if entries is not None:
            cfg['elements'] = entries if isinstance(entries, str) else [_exportable(entry) for entry in entries]
        return cfg

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, elements={len(self.elements)}, pairs={self.num_choices})'


#: What a geometric element moves with the image, besides the per-pixel maps of ``seg_fields``: boxes, masks,
#: keypoints, then the maps it moves whether listed or not (``geometric.pixel_map_keys``).
_MOVED_KEYS = ('gt_bboxes', 'gt_masks', 'gt_keypoints', 'gt_seg_map', *MMSEG_MAP_KEYS)


def _holds_moved_annotations(results: dict) -> bool:
    """Whether ``results`` holds something a geometric element moves with the image (:data:`_MOVED_KEYS`, a
    non-empty ``seg_fields``) or a ``homography_matrix`` (recorded before the policy: the elements compose theirs
    onto it): a few dict look-ups, asked of every sample without a second image."""
    for key in _MOVED_KEYS:
        if results.get(key) is not None:
            return True
    return results.get('homography_matrix') is not None or bool(results.get('seg_fields'))

def _lost_at(wrappers: list, moved: list[str]) -> tuple | None:
    """``(wrapper, kept, left)``: the wrapper of ``wrappers`` (innermost first) at which ``'img'`` or a key of
    ``moved`` is first lost, where the view gives back some but not all of them, with the keys its view gives back and
    drops (a key a wrapper further out drops is not its to map); ``None`` where all come back;
    ``(None, [], ['img', *moved])`` where none does (the policy would change nothing of the sample:
    :func:`~automl_mm.augment.op_base.unused_view` names the wrapper)."""
    lost = discarded_by(wrappers, ['img', *moved])
    if not lost:
        return None
    if len(lost) == len(moved) + 1:  # none comes back: :func:`unused_view` names the wrapper
        return None, [], ['img', *moved]
    depth = next(i for i in range(len(wrappers)) if discarded_by(wrappers[:i + 1], list(lost)))
    inner, lost = wrappers[depth], discarded_by(wrappers[:depth + 1], list(lost))
    return (inner, [key for key in ('img', *moved) if key not in lost],
            [key for key in ('img', *moved) if key in lost])


def _view_message(owner: str, inner, kept: list[str], left: list[str], candidates: list[str]) -> str:
    """What is wrong with ``inner``'s view (:func:`_lost_at`) and the mapping to add."""
    from mmcv.transforms import TransformBroadcaster

    listed = ', '.join(f'results[{key!r}]' for key in kept)
    if 'img' in left:
        effect = 'would move the annotations, and the sample would keep the unmoved image, which they then no ' \
            'longer describe' if kept != ['homography_matrix'] else \
            "would record a move in results['homography_matrix'] that the sample's image, kept unmoved, did not " \
            'make'
        return (f"{owner} runs in mmcv's {type(inner).__name__}(mapping={inner.mapping!r}), which gives back "
                f"{listed} but not results['img']: its geometric elements {effect}. Map 'img' too (img='img')")
    if candidates:  # a pair's broadcast: the annotations come from its first view
        example = ', '.join(f'{key}=[{key!r}, ...]' for key in left)
        how = f"Map them too, from the first view only (mmcv's ... marks a view without one): {example}"
    else:
        how = f"Map them too: {', '.join(f'{key}={key!r}' for key in left)}"
        if 'homography_matrix' in left and isinstance(inner, TransformBroadcaster):
            # mmcv scatters every mapped key as one value per view: a matrix of the whole sample is no list
            how += (" (a TransformBroadcaster maps one value per view: a list of the views' matrices; for one "
                    "matrix of the whole sample, homography_matrix=['homography_matrix', ...] with "
                    'share_random_params=True takes back the first view\'s, one ... per further view)')
    effects = []
    if left != ['homography_matrix']:
        effects.append('the unmoved annotations, which then describe other pixels')
    if 'homography_matrix' in left:
        effects.append("the homography_matrix recorded before the policy, which leaves out "
                       "the elements' moves (mmdet's semi-supervised detectors project pseudo-boxes from one "
                       'view of an image into another with it)')
    return (f"{owner} runs in mmcv's {type(inner).__name__}(mapping={inner.mapping!r}), which gives back "
            f"{listed} but not {', '.join(f'results[{key!r}]' for key in left)}: its geometric elements "
            f"would move the image, and the sample would keep {', and '.join(effects)}. {how}")


def _with_magnitude(entry: tuple | dict, magnitude: float) -> tuple | dict:
    """An element config (``(name, magnitude)`` or ``dict(type=..., magnitude=...)``) with another magnitude."""
    return {**entry, 'magnitude': magnitude} if isinstance(entry, dict) else (entry[0], magnitude)


def _exportable(entry: tuple | dict) -> tuple | dict:
    """An element config as config text can hold it: an op class (the Python API accepts one) by its name in
    ``AUGMENT_OPS`` (its class name when unregistered: replaying it then names the missing op)."""
    if isinstance(entry, dict) and isinstance(entry.get('type'), type):
        return {**entry, 'type': registered_name(AUGMENT_OPS, entry['type'])}
    if isinstance(entry, tuple) and entry and isinstance(entry[0], type):
        return (registered_name(AUGMENT_OPS, entry[0]), *entry[1:])
    return entry


@TRANSFORMS.register_module()
class FixedAutoAugment(OHLAutoAugment):
    """Replay a fixed pair distribution without learning: retraining with an exported OHL policy, or (with
    ``probs=None``) the uniform-random-pair baseline. It cannot be bound to a search space.

    Args and Raises: as :class:`OHLAutoAugment` (``probs``: the E² pair probabilities to replay; binding it to a
    ``PipelineChoiceSpace`` raises ``ValueError``).
    """

    bindable = False
