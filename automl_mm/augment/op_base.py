"""The base of every augmentation op of :mod:`automl_mm.augment.ops` (:class:`BaseAugmentOp`: magnitude checks,
name, ``apply`` on an mmcv results dict) and the image checks the ops share.

The ops themselves are in :mod:`automl_mm.augment.geometric` (affine ops) and :mod:`automl_mm.augment.photometric`
(PIL-exact colour ops); :mod:`automl_mm.augment.ops` re-exports all of them.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from automl_mm.utils.wording import a_name


def cv2_max_channels() -> int:
    """The most channels of a uint8 image the installed OpenCV's Python bindings pass to a cv2 function: 128 under
    OpenCV 5 ("invalid count (129, must be in [1, 128])"), 512 (``CV_CN_MAX``) under OpenCV 4. Probed once, at import,
    with ``cv2.flip`` on 1 x 1 images, not read from a version string."""
    import cv2

    for channels in (512, 128):
        try:
            cv2.flip(np.zeros((1, 1, channels), np.uint8), 0)
        except cv2.error:
            continue
        return channels
    return 4  # an OpenCV that takes neither: at least the colour images every build takes


class BaseAugmentOp:
    """One augmentation element: an op with a fixed magnitude, applied to a results dict.

    Subclasses either implement ``transform_img`` (photometric ops) or subclass :class:`GeometricAugmentOp`.
    ``magnitude_range`` is the closed range of valid magnitudes, ``None`` for an op that takes none.

    Args:
        magnitude (float, optional): The op's strength, in the unit of the op. Required exactly when the op has
            a ``magnitude_range``.
        fill (int): Grey level of the pixels that geometric ops uncover. Defaults to 128, AutoAugment's grey.
        bgr (bool): Channel order of 3-channel images; only ops using a luminance (Contrast, ColorAdjust) read it.
            Defaults to True (mmcv loads BGR).

    Raises:
        ValueError: a ``magnitude`` given to an op that takes none, missing where it needs one, or not a finite
            number in its ``magnitude_range`` (Posterize: one that rounds to more than 8 bits); ``fill`` not an int
            in [0, 255]; ``bgr`` not a bool. ``apply`` raises it for an image that is not uint8 ``(H, W)`` or
            ``(H, W, C)``, and Contrast / ColorAdjust for one with neither 1 nor 3 channels. What else an op
            cannot transform (no pixels, more channels than OpenCV takes) is stated by :meth:`image_refusal`, which the
            policy asks on every sample.

    Examples:
        >>> from automl_mm.registry import AUGMENT_OPS
        >>> op = AUGMENT_OPS.get('Posterize')(4.4)
        >>> op.name, op.apply(dict(img=np.array([[255, 17]], np.uint8)), np.random.default_rng(0))['img'].tolist()
        ('Posterize(4.4)', [[240, 16]])
    """

    geometric: bool = False
    #: Whether an op that overrides :meth:`apply` transforms a sample's second images itself
    #: (:func:`extra_image_keys`); the policy refuses one that does not on a sample that has them.
    handles_extra_images: bool = False
    magnitude_range: tuple[float, float] | None = (-math.inf, math.inf)
    #: The channel counts (1 for an (H, W) image) of the images the op transforms; None for any up to
    #: :attr:`max_channels` (Contrast and ColorAdjust: (1, 3), a luminance needs a grey or a colour image).
    image_channels: tuple[int, ...] | None = None
    #: The most channels the op transforms: what the installed OpenCV's Python bindings pass to a cv2 function
    #: (:func:`cv2_max_channels`: 128 under OpenCV 5, "invalid count (129, must be in [1, 128])"; 512 under
    #: OpenCV 4); None for an op that calls no cv2 function (Identity).
    max_channels: int | None = cv2_max_channels()
    #: Whether the op transforms an image of zero height or width (its look-up tables do; min / max, filters and
    #: warps do not: AutoContrast's divides by zero, a floating-point exception that kills the process).
    empty_images: bool = False
    #: Whether :meth:`transform_img` may draw from its ``rng`` (a user op may; the ops of
    #: :mod:`automl_mm.augment.photometric` do not, and a subclass of one whose ``transform_img`` draws sets it
    #: True). The copy of a sample that mmdet's ``ProposalBroadcaster`` makes for the proposals (whose images it
    #: discards) is transformed only by an op that may draw, so that the later draws of that view (a geometric
    #: element's sign) stay those of the sample's view.
    transform_draws: bool = True

    def __init__(self, magnitude: float | None = None, fill: int = 128, *, bgr: bool = True) -> None:
        if isinstance(fill, bool) or not isinstance(fill, numbers.Integral) or not 0 <= fill <= 255:
            raise ValueError(f'{type(self).__name__}: fill must be an integer in [0, 255], got fill={fill!r}')
        if not isinstance(bgr, (bool, np.bool_)):  # bool('False') is True: the wrong channel weights, silently
            raise ValueError(f'{type(self).__name__}: bgr must be True or False, got bgr={bgr!r}')
        self.fill = int(fill)
        self.bgr = bool(bgr)
        self.magnitude = magnitude  # checked, then _setup()

    @property
    def magnitude(self) -> float | None:
        """The op's magnitude (units per class: degrees, pixels as a share of the side, enhancement factor ...).

        Writing it (an ``AttributeSpace`` or ``SetAttributesHook`` on an OHL-Auto-Aug element,
        ``train_dataloader.dataset.pipeline.transforms.<i>.elements.<j>.magnitude``) checks it as ``__init__`` does
        and rebuilds what was precomputed from it (the look-up tables of Posterize, Solarize, ...), so every later
        image uses it.

        Raises:
            ValueError: as ``__init__`` does for a bad magnitude.
        """
        return self._magnitude

    @magnitude.setter
    def magnitude(self, value: float | None) -> None:
        cls = type(self).__name__
        if self.magnitude_range is None:
            if value is not None:
                raise ValueError(f'{cls} takes no magnitude, got magnitude={value!r}')
        else:
            low, high = self.magnitude_range
            if value is None:
                raise ValueError(f'{cls} needs a magnitude in [{low}, {high}], got magnitude=None')
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not math.isfinite(value) or not low <= value <= high):
                raise ValueError(f'{cls}: magnitude must be a finite number in [{low}, {high}], '
                                 f'got magnitude={value!r}')
        previous = getattr(self, '_magnitude', None)
        self._magnitude = value
        try:
            self._setup()
        except ValueError:  # keep the op as it was: its magnitude and its tables agree
            if previous is not None:  # a write, not __init__
                self._magnitude = previous
                self._setup()
            raise

    def _setup(self) -> None:
        """Precompute what does not depend on the image (LUTs); may raise ValueError on a bad magnitude."""

    @property
    def name(self) -> str:
        """The element's name: class name and magnitude, e.g. ``'Rotate(20)'``, or the bare class name."""
        cls = type(self).__name__
        return cls if self.magnitude is None else f'{cls}({self.magnitude:g})'

    def _repr_fields(self) -> list[str]:
        return [] if self.magnitude_range is None else ['magnitude']

    def __repr__(self) -> str:
        args = ', '.join(f'{key}={getattr(self, key)!r}' for key in self._repr_fields())
        return f'{type(self).__name__}({args})'

    def apply(self, results: dict, rng: np.random.Generator) -> dict:
        """Transform ``results`` (an mmcv results dict with a uint8 ``'img'``) in place and return it; ``rng``
        draws the op's randomness (the sign of geometric ops).

        A second image of the sample (:func:`extra_image_keys`: mmseg's change-detection ``img2``, the keys of
        ``img_fields``) is transformed as ``'img'`` is, by itself (an op that reads the image's statistics reads
        its own, as mmcv's ``TransformBroadcaster`` applies a transform to each image), with the draws ``'img'``
        took from ``rng``. In the copy of the sample that mmdet's ``ProposalBroadcaster`` makes for the proposals
        (its ``gt_bboxes`` are its ``proposals``, and the broadcaster takes back only those boxes) the images are
        left alone by an op whose ``transform_img`` draws nothing (:attr:`transform_draws`), as a geometric op leaves
        that view's pixels (:func:`~automl_mm.augment.geometric.in_proposal_view`).

        Raises:
            ValueError: an ``'img'`` that is not a uint8 ``(H, W)`` or ``(H, W, C)`` array; those of
                :func:`extra_image_keys` (a second image of another size only from a geometric op); the op's own
                on a second image, naming its key.
        """
        img = _check_img(results, self)
        if (not self.transform_draws and results.get('proposals') is not None
                and results['proposals'] is results.get('gt_bboxes')):
            from .geometric import in_proposal_view  # mmdet's ProposalBroadcaster: its view for the proposals

            if in_proposal_view():  # discarded by the broadcaster: nothing of it to transform
                return results
        extra = extra_image_keys(results, img, self.name, same_size=False)  # each image by itself
        state = getattr(getattr(rng, 'bit_generator', None), 'state', None) if extra else None
        results['img'] = self.transform_img(img, rng)
        if extra:
            after = None if state is None else rng.bit_generator.state
            for key in extra:
                if state is not None:
                    rng.bit_generator.state = state  # the draws 'img' took
                try:
                    results[key] = self.transform_img(results[key], rng)
                except ValueError as err:
                    raise ValueError(f"{self.name}: results['{key}'] (a second image of the sample, transformed as "
                                     f"'img' is): {err}") from err
            if state is not None:
                rng.bit_generator.state = after
        return results

    def image_refusal(self, shape: tuple[int, ...], img_shape: tuple[int, ...] | None = None) -> str | None:
        """Why the op cannot transform a uint8 image of ``shape`` ((H, W) or (H, W, C)), or None if it can.

        The policy (``OHLAutoAugment``) asks every element of its set on every sample (once per distinct shapes),
        so that a sample one of them cannot transform is refused at the first image whatever pair is drawn, not
        mid-training at the first image whose drawn pair holds that element. The answer must depend on the
        shapes alone (not on the magnitude, nor the pixels). A user op that refuses other shapes overrides it.

        Args:
            shape (tuple[int, ...]): The image's shape, (H, W) or (H, W, C).
            img_shape (tuple[int, ...], optional): For a second image of the sample (mmseg's ``img2``), the
                shape of ``'img'``, which a geometric element warps it with. None for ``'img'`` itself.

        Returns:
            str | None: The reason, a predicate of the op (``'takes images of 1 or 3 channels only'``), or None.
        """
        channels = 1 if len(shape) == 2 else shape[2]
        if self.image_channels is not None and channels not in self.image_channels:
            return f'takes images of {" or ".join(map(str, self.image_channels))} channels only'
        if self.max_channels is not None and channels > self.max_channels:
            return f"takes images of at most {self.max_channels} channels (what cv2's Python bindings take)"
        if not self.empty_images and 0 in shape[:2]:
            return 'cannot transform an image of zero height or width'
        if img_shape is not None and self.geometric and tuple(shape[:2]) != tuple(img_shape[:2]):
            return (f"warps a second image with one matrix in the image's pixel frame, and this one is {shape[0]} x "
                    f'{shape[1]} but the image is {img_shape[0]} x {img_shape[1]}: the two would no longer line up '
                    '(put the augmentation before the transform that changed one of them)')
        return None

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return the transformed image (a new array of the same shape and dtype)."""
        raise NotImplementedError(f'{type(self).__name__} must implement transform_img or override apply')


def _check_img(results: dict, op: BaseAugmentOp) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        desc = f'{img.dtype} array of shape {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        hint = ''
        if isinstance(img, np.ndarray) and img.dtype.kind == 'f':  # mmcv/mmdet transforms that make it float
            hint = ('; put the augmentation transform (OHLAutoAugment, FixedAutoAugment) before the transforms '
                    'that make the image float (mmdet PhotoMetricDistortion, Normalize, '
                    'LoadImageFromFile(to_float32=True))')
        raise ValueError(f"{op.name}: results['img'] must be a uint8 (H, W) or (H, W, C) array, got {desc}{hint}")
    return img


#: The keys of a sample's second images besides those ``results['img_fields']`` lists: mmseg's change-detection
#: ``img2`` (``LoadMultipleRSImageFromFile`` loads the two co-registered images of a place as ``img`` and ``img2``;
#: ``ConcatCDInput`` stacks them at the end of the pipeline, and the label map marks the pixels that changed).
EXTRA_IMAGE_KEYS = ('img2', )


def second_image_candidates(results: dict, owner: str) -> list[str]:
    """The keys of :data:`EXTRA_IMAGE_KEYS` and of ``results['img_fields']`` (but ``'img'``) whose values are present
    and not None, in order, without repeats: :func:`extra_image_keys` before it leaves out what an enclosing
    wrapper discards and checks the values. Returns at once for a sample without ``img_fields`` or ``img2``.

    Raises:
        ValueError: ``img_fields`` that is not a list or tuple of str, naming it and ``owner``.
    """
    fields = results.get('img_fields')
    if fields is None:
        for key in EXTRA_IMAGE_KEYS:
            if results.get(key) is not None:
                break
        else:  # no second image (classification, mmdet 3.x, mmseg 1.x outside CD): asked 3 times per image
            return []
        fields = ()
    if not isinstance(fields, (list, tuple)) or not all(isinstance(key, str) for key in fields):
        raise ValueError(f"{owner}: results['img_fields'] must be a list of results keys (mmcv 1.x's list of the "
                         f"sample's images), got {fields!r}")
    keys: list[str] = []
    for key in (*EXTRA_IMAGE_KEYS, *fields):
        if key == 'img' or key in keys or results.get(key) is None:
            continue
        keys.append(key)
    return keys


def second_image_keys(results: dict, owner: str) -> list[str]:
    """:func:`second_image_candidates` less those an enclosing mmcv ``KeyMapper`` / ``TransformBroadcaster`` does
    not give back (:func:`view_discarded_keys`, or what :func:`known_view` holds for ``results``): the keys of the
    sample's second images that a transform moving ``'img'`` must move alike, values unchecked.

    Raises:
        ValueError: as :func:`second_image_candidates`.
    """
    keys = second_image_candidates(results, owner)
    if keys:  # inside mmcv's KeyMapper / TransformBroadcaster: only what its view gives back
        known = _KNOWN_VIEW[-1]
        discarded = known[1] if known is not None and known[0] is results else view_discarded_keys(keys)
        keys = [key for key in keys if key not in discarded]
    return keys


def extra_image_keys(results: dict, img: np.ndarray, owner: str, *, same_size: bool = True) -> list[str]:
    """The keys of the sample's images besides ``'img'`` that an element transforms with it, in order, without
    repeats: :data:`EXTRA_IMAGE_KEYS` (mmseg's ``img2``) and every key ``results['img_fields']`` lists (mmcv 1.x's
    list of a sample's images, which mmseg 0.x, mmdet 2.x and change-detection code built on them keep); of those,
    the ones present and not None, less those that an enclosing mmcv ``KeyMapper`` / ``TransformBroadcaster`` does
    not give back (:func:`view_discarded_keys`: the outer ``img2`` kept in each view of a broadcast over
    ``img`` and ``img2``, which is itself the other view). A geometric element warps each with the image's matrix
    and ``fill``, a photometric one transforms each as it does the image: left as they were, the two images of a
    change-detection pair no longer lined up (or differed in colour alone), and the change map marked pixels that had
    not changed.

    Args:
        results (dict): The sample.
        img (np.ndarray): Its ``'img'``, (H, W[, C]).
        owner (str): The element or transform, named in the errors.
        same_size (bool): Whether the second images must have the image's height and width (a geometric element
            warps them with its matrix); False for an element that transforms each image by itself (a photometric
            one). Defaults to True.

    Returns:
        list[str]: Keys of uint8 (H, W) or (H, W, C) arrays (any channel count; of the image's height and width
        with ``same_size``).

    Raises:
        ValueError: ``img_fields`` that is not a list or tuple of str; a second image that is not a uint8 (H, W) or
            (H, W, C) array (a list, as open-cd's ``MultiImgLoadImageFromFile`` keeps both images in ``'img'``, or
            float, as after ``to_float32=True``) or, with ``same_size``, not of the image's height and width, naming
            its key.
    """
    if results.get('img_fields') is None:  # asked 3 times per image: a sample without a second image returns here
        for key in EXTRA_IMAGE_KEYS:
            if results.get(key) is not None:
                break
        else:
            return []
    keys = second_image_keys(results, owner)
    for key in keys:
        value = results[key]
        if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim not in (2, 3):
            desc = f'{a_name(str(value.dtype))} array of shape {value.shape}' if isinstance(value, np.ndarray) else \
                type(value).__name__
            raise ValueError(f"{owner}: results['{key}'] must be a uint8 (H, W) or (H, W, C) array like "
                             f"results['img'], to be transformed with it (a second image of the sample), got {desc}; "
                             'put the augmentation before the transforms that make the images float or stack them '
                             "(mmseg's ConcatCDInput)")
        if same_size and value.shape[:2] != img.shape[:2]:
            raise ValueError(f"{owner}: results['{key}'] is {value.shape[0]} x {value.shape[1]} but the image is "
                             f'{img.shape[0]} x {img.shape[1]}: a geometric element warps both with one matrix in '
                             "the image's pixel frame, so the two images would no longer line up. Put the "
                             'augmentation before the transform that changed one of them')
    return keys


#: ``(results, the keys of it that the enclosing wrappers discard)`` while :func:`known_view` holds them (the policy,
#: around its two elements, so that a sample's call stack is read once, not three times); None outside.
_KNOWN_VIEW: list[tuple[dict, set[str]] | None] = [None]


@contextlib.contextmanager
def known_view(results: dict, discarded: set[str]):
    """Within it, :func:`extra_image_keys` on ``results`` (the same dict) takes ``discarded`` as
    :func:`view_discarded_keys` would give it (the policy computed it for this sample); other samples read theirs."""
    _KNOWN_VIEW.append((results, discarded))
    try:
        yield
    finally:
        _KNOWN_VIEW.pop()


def outer_keys(value: Any) -> list[str]:
    """The outer keys one entry of an mmcv ``KeyMapper`` (re)mapping names: a key, the keys of a list / tuple (a
    ``TransformBroadcaster``'s views) or of a dict's values, nested; none for ``...`` (mmcv's ignored key)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [name for entry in value for name in outer_keys(entry)]
    return []


def enclosing_key_mappers() -> list:
    """The mmcv ``KeyMapper`` / ``TransformBroadcaster`` instances whose wrapped transforms the caller runs in,
    innermost first: empty outside such a wrapper.

    A wrapper tells its transforms nothing about the view they get, so its frame is read from the call stack: each
    running ``_apply_transforms`` whose ``self`` is a ``KeyMapper`` (mmcv's own, or called through the draw
    counting of :func:`~automl_mm.augment.draw_counting.count_view_choices`). About 0.2 us a frame (Python 3.11
    builds a frame object for each), 3-10 us for a dataloader's stack: asked only for a sample that has a second
    image, by ``OHLAutoAugment`` with geometric elements for one holding an annotation they move (boxes, masks,
    keypoints, a per-pixel map) or a ``homography_matrix``, and by each choice transform at its first sample in
    each place it runs in (``LiveChoiceTransform._check_view_used``), not for a later classification sample.
    """
    from mmcv.transforms import KeyMapper

    found = []
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == '_apply_transforms':
            owner = frame.f_locals.get('self')
            if isinstance(owner, KeyMapper) and (not found or found[-1] is not owner):
                found.append(owner)
        frame = frame.f_back
    return found


def discarded_by(wrappers: Sequence, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` (results keys inside the innermost view of ``wrappers``, :func:`enclosing_key_mappers`)
    whose values the wrappers do not give back.

    mmcv's ``KeyMapper._map_input`` gives the wrapped transforms a copy of the whole sample with the mapped keys
    replaced (a ``TransformBroadcaster`` one such view per image), and ``_map_output`` takes back only the inner
    keys of its ``remapping`` (every key where it is None, as without a mapping). A key's names are followed
    outwards through each wrapper's ``remapping``; a key that one of them does not take back is discarded.
    """
    names = {key: {key} for key in keys}
    for owner in wrappers:
        remapping = owner.remapping
        if isinstance(remapping, dict):
            names = {key: {outer for name in inner if name in remapping for outer in outer_keys(remapping[name])}
                     for key, inner in names.items()}
    return {key for key, outer in names.items() if not outer}


def unused_view(wrappers: Sequence, keys: Sequence[str]) -> tuple | None:
    """``(wrapper, reaching)`` where ``wrappers`` (innermost first, :func:`enclosing_key_mappers`) give back none of
    ``keys`` (results keys inside the innermost view, :func:`discarded_by`): the wrapper at which the last of them is
    lost and those of ``keys`` that reach it (the others were dropped further in); ``None`` where one comes back or
    there is no wrapper. A choice transform whose changes all stay in such a view changes nothing of the sample."""
    if not wrappers or not keys or len(discarded_by(wrappers, keys)) < len(set(keys)):
        return None
    depth = next(i for i in range(len(wrappers)) if len(discarded_by(wrappers[:i + 1], keys)) == len(set(keys)))
    dropped = discarded_by(wrappers[:depth], keys)
    return wrappers[depth], [key for key in keys if key not in dropped]


def unused_view_message(owner: str, wrapper, reaching: Sequence[str], add: Sequence[str]) -> str:
    """Why a choice transform in ``wrapper``'s view (:func:`unused_view`) is refused, and the keys (``add``) to take
    back: where the wrapper's ``remapping`` is its ``mapping`` (mmcv's ``auto_remap``) they go in the mapping."""
    listed = ', '.join(f'results[{key!r}]' for key in reaching)
    where = 'mapping' if getattr(wrapper, 'auto_remap', False) else 'remapping'
    return (f"{owner} runs in mmcv's {type(wrapper).__name__}(mapping={wrapper.mapping!r}, "
            f"remapping={wrapper.remapping!r}), which gives back none of {listed}: what it changes stays in the "
            "wrapper's view and never reaches the sample, while each draw is still recorded in "
            "results['ohl_choice'] and credited to the policy, which would learn from (and export) choices that had "
            f"no effect. Take them back: add {', '.join(f'{key}={key!r}' for key in add)} to its {where}")


def renamed_view(wrappers: Sequence, keys: Sequence[str]) -> tuple | None:
    """``(wrapper, name, sources)`` where one of ``wrappers`` (innermost first, :func:`enclosing_key_mappers`) reads
    one of ``keys`` (results keys inside the innermost view, followed outwards) from other keys (``sources``) and gives
    it back, without a remapping, under its own ``name``: mmcv's ``KeyMapper`` with ``auto_remap=False`` and no
    ``remapping`` returns every key of its view under the name it has there, so ``mapping=dict(img='img2')`` writes
    what its transforms made of ``results['img2']`` over ``results['img']`` and leaves ``img2`` as it was. ``None``
    where none does (a remapping, given or ``auto_remap``'s inverse of the mapping, names where each key goes). A key
    gathered from several (a ``TransformBroadcaster``'s ``mapping=dict(img=['img', 'view2'])``) comes back as their
    list, or dict, under its own name: mmcv's documented way to collect the views, not refused."""
    names = {key: {key} for key in keys}
    for owner in wrappers:
        mapping, remapping = owner.mapping, owner.remapping
        if remapping is None and isinstance(mapping, dict):
            for inner in names.values():
                for name in sorted(inner):
                    source = mapping.get(name)
                    if isinstance(source, str) and source != name:
                        return owner, name, [source]
        elif isinstance(remapping, dict):
            names = {key: {outer for name in inner if name in remapping for outer in outer_keys(remapping[name])}
                     for key, inner in names.items()}
    return None


def renamed_view_message(owner: str, wrapper, name: str, sources: Sequence[str]) -> str:
    """Why a choice transform in ``wrapper``'s view (:func:`renamed_view`) is refused, and the remapping to give: the
    inverse of the mapping, or, for a pipeline that makes ``name`` from the other key on purpose (mmcv's documented
    ``auto_remap=False``), an explicit ``remapping=dict(name='name')``, which :func:`renamed_view` passes."""
    read = ', '.join(f'results[{key!r}]' for key in sources)
    back = sources[0] if len(sources) == 1 else list(sources)
    return (f"{owner} runs in mmcv's {type(wrapper).__name__}(mapping={wrapper.mapping!r}, auto_remap=False) with no "
            f"remapping, which reads {read} as its view's {name!r} and gives every key of the view back under its own "
            f"name: what {owner} makes of {read} would be written over results[{name!r}] (the sample's own value lost) "
            f"while {read} kept the old value, and the draw is still credited. Map it back: auto_remap=True, or "
            f'remapping=dict({name}={back!r}); or, to write what it makes of {read} over results[{name!r}] on '
            f'purpose, remapping=dict({name}={name!r})')


def view_discarded_keys(keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` (a sample's second images) that the mmcv ``KeyMapper`` / ``TransformBroadcaster`` the
    caller runs inside does not give back (:func:`discarded_by` of :func:`enclosing_key_mappers`): empty outside
    such a wrapper.

    In mmseg's change-detection broadcast ``TransformBroadcaster(mapping=dict(img=['img', 'img2']),
    share_random_params=True)`` each view keeps the outer ``img2`` beside its ``img`` (mmcv keeps the unmapped keys
    in a view), and the broadcaster takes back each view's ``img`` only: an element transformed that ``img2`` too,
    and the broadcaster threw it away (twice the policy's work per sample; an ``img2`` of another size than the
    view's image was even refused).

    Args:
        keys (Sequence[str]): Results keys as the calling transform sees them (inside the innermost view).

    Returns:
        set[str]: The keys whose values the enclosing wrappers discard.
    """
    return discarded_by(enclosing_key_mappers(), keys)


def _require_luma_channels(op: BaseAugmentOp, img: np.ndarray) -> int:
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels not in (1, 3):
        raise ValueError(f'{type(op).__name__} needs a 1- or 3-channel image, got shape {img.shape}')
    return channels

