"""The five geometric ops of OHL-Auto-Aug (METHODS.md §2): shears, whole-pixel translations and rotation, which
warp image, boxes, masks, keypoints and every per-pixel map (segmentation, mmseg's ``seg_fields``, edge and depth
maps) with one affine matrix (see :class:`GeometricAugmentOp`).
"""
from __future__ import annotations

import math
import sys

import cv2
import numpy as np

from automl_mm.registry import AUGMENT_OPS
from automl_mm.utils.wording import a_name

from .annotations import _move_keypoints, _warp, _warp_boxes, _warp_masks, pixel_index_matrix, warp_group
from .op_base import BaseAugmentOp, _check_img, extra_image_keys

# The instance-aligned annotations that are dropped together with a box that leaves the image (the keys mmdet's
# RandomCrop drops with its boxes; gt_instances_ids: mmdet's tracking pipelines; gt_keypoints: mmcv's
# LoadAnnotations(with_keypoints=True)).
_INSTANCE_KEYS = ('gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks', 'gt_instances_ids', 'gt_keypoints')


class GeometricAugmentOp(BaseAugmentOp):
    """Base of the affine ops: subclasses give the forward 2x3 matrix for a random sign.

    **Coordinates.** ``affine_matrix`` is in *continuous* image coordinates, those of mmdet boxes, polygons and
    ``homography_matrix``: pixel (column i, row j) covers [i, i + 1) x [j, j + 1), its centre is (i + 0.5, j + 0.5),
    and the image spans [0, W] x [0, H]. Boxes, polygons and the homography use that matrix as it is; the image,
    bitmap masks and segmentation maps are warped by its pixel-index form ``T(-0.5) @ M @ T(+0.5)`` (cv2 samples at
    integer pixel indices), so content and annotations move together: a translation by an integer number of
    pixels moves both by it, and a 180-degree rotation, or a 90-degree one of an image whose W - H is even, maps a
    box onto the tight box of its rotated mask exactly. When W - H is odd, a quarter turn about the image centre
    puts the pixel centres on half-pixel positions: nearest sampling then moves the content by half a pixel from
    the box on each side (an 11 x 14 image: box [5.5, 5.5, 10.5, 9.5], mask's tight box [5, 6, 10, 10]).

    The image is warped by one ``cv2.warpAffine`` with **nearest** interpolation (as AutoAugment and torchvision's
    AutoAugment: no new pixel values) and border ``fill``, keeping its size; every image, mask and map is warped
    as its uint8 bytes in the image's cv2 layout (a uint8 image of 1, 3 or 4 channels as it is, its masks and
    maps in groups of as many planes; otherwise groups of 4 planes), so that all of them take the same pixels (cv2
    breaks ties otherwise for other channel counts and dtypes; :func:`~automl_mm.augment.annotations._warp`).
    ``gt_bboxes`` (mmdet ``HorizontalBoxes`` or an (N, 4) xyxy array) become the enclosing boxes of the parts of
    their moved rectangles inside the image (:func:`~automl_mm.augment.annotations.clip_polygon`; mmdet's
    transforms clamp the moved corners instead, a looser box when a rotated or sheared box crosses the border);
    boxes that the border cuts to less than 1 px wide or high (or to nothing) are dropped with their
    ``gt_bboxes_labels``, ``gt_ignore_flags``, ``gt_masks``, ``gt_instances_ids`` and ``gt_keypoints``; a box
    already under 1 px (zero-width too) that stays inside keeps them (as under a photometric element). Proposals
    (inside mmdet's ``ProposalBroadcaster``, which passes them as ``gt_bboxes``) are moved and clipped, never
    dropped: their ``proposals_scores`` stay theirs, as under mmdet's own transforms there; that view's image, masks
    and maps, which the broadcaster discards, are not warped (:func:`in_proposal_view`).
    A second image of the sample (:func:`~automl_mm.augment.op_base.extra_image_keys`: mmseg's change-detection
    ``img2``, the keys of mmcv 1.x's ``img_fields``) is warped exactly as the image (same matrix, ``fill`` and
    layout), so that the pair still lines up with its change map; one of another size or not uint8 is refused.
    ``gt_masks`` (BitmapMasks: nearest, border 0; PolygonMasks: moved points, each polygon clipped to the image,
    a zero-area placeholder when none of it is left, as mmdet's crop does) and every per-pixel map
    (:func:`pixel_map_keys`: ``gt_seg_map``, each key mmseg lists in ``results['seg_fields']``, and mmseg's
    ``gt_edge_map`` and ``gt_depth_map`` whether listed or not; nearest, as mmseg's own geometric transforms warp
    them) follow, bitmaps and maps keeping their shape, dtype and values. What a warp uncovers is 0 in a depth map
    (``gt_depth_map``: no measurement, left out by mmseg's ``SiLogLoss`` and ``DepthMetric``; mmseg's
    ``RandomRotate`` fills it with its ``seg_pad_val`` 255, a depth its loss trains on) and in a bool map (no
    ignore label: background), else 255, the ignore label of mmdet and mmseg (mmseg's ``RandomRotate`` fills
    every ``seg_fields`` map with it, a float map of one's own too: mmseg declares no fill per map, only one
    ``seg_pad_val`` for all); an integer label map that cannot hold 255 (int8) is refused. Integer
    coordinates (boxes, polygons, keypoints: mmdet loads a polygon of integer COCO coordinates as int64) come back
    as floats, not truncated (numpy's promotion with float32 for arrays, torch's for tensors: float32, mmdet's box
    dtype), a tensor as a tensor; ``gt_keypoints``
    ((N, K, 3) x, y, visibility, as mmcv loads them) move by the matrix, and one that leaves the image is made
    invisible (visibility 0) and clamped to it, as mmcv's ``CenterCrop`` does; ``homography_matrix`` records the
    op's matrix (composed with an existing one, created when absent, as mmdet's geometric transforms do). A map
    or ``gt_masks`` of another size than the image is refused (:func:`check_annotation_sizes`).
    """

    geometric = True
    magnitude_range = (0.0, math.inf)

    def _repr_fields(self) -> list[str]:
        return super()._repr_fields() + ['fill']

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        """The forward (2, 3) float64 matrix mapping an input point (x, y) to its output point, in continuous
        image coordinates (see the class docstring), for sign +1 or -1."""
        raise NotImplementedError

    def apply(self, results: dict, rng: np.random.Generator) -> dict:
        img = _check_img(results, self)
        height, width = img.shape[:2]
        check_annotation_sizes(results, height, width, self.name)
        extra = extra_image_keys(results, img, self.name)  # mmseg's img2: the pair must still line up
        matrix = self.affine_matrix(height, width, 1.0 if rng.random() < 0.5 else -1.0)
        pixel_matrix = pixel_index_matrix(matrix)
        group = warp_group(img)  # every array in the image's cv2 layout: the pixels the image takes
        # mmdet's ProposalBroadcaster: a view whose gt_bboxes are its proposals (the other keys the boxes' copies),
        # of which only they come back; proposals are kept, clipped, beside their proposals_scores, and the view's
        # pixels (image, second images, masks, maps), which the broadcaster discards, are not warped
        proposals = results.get('gt_bboxes') is not None and results['gt_bboxes'] is results.get('proposals')
        pixels = not (proposals and in_proposal_view())
        for key in ('img', *extra) if pixels else ():
            results[key] = _warp(results[key], pixel_matrix, self.fill, group)
        if results.get('gt_bboxes') is not None:
            boxes, keep = _warp_boxes(results['gt_bboxes'], matrix, height, width, drop=not proposals)
            results['gt_bboxes'] = boxes
            if proposals:
                results['proposals'] = boxes  # still the view's proposals for the pair's second element
            elif not keep.all():
                for key in _INSTANCE_KEYS:
                    if results.get(key) is not None:
                        results[key] = results[key][keep]
        if results.get('gt_masks') is not None and pixels:
            results['gt_masks'] = _warp_masks(results['gt_masks'], matrix, pixel_matrix, height, width, group)
        for key in pixel_map_keys(results, self.name) if pixels else ():  # gt_seg_map, seg_fields, edge, depth
            results[key] = _warp(results[key], pixel_matrix, _map_border(results[key], key, self.name), group)
        if results.get('gt_keypoints') is not None:
            results['gt_keypoints'] = _move_keypoints(results['gt_keypoints'], matrix, height, width)
        homography = np.vstack([matrix, [0, 0, 1]]).astype(np.float32)
        # as mmdet's geometric transforms: created when absent, else composed (a later flip composes with ours)
        results['homography_matrix'] = homography if results.get('homography_matrix') is None else \
            homography @ results['homography_matrix']
        return results


def in_proposal_view() -> bool:
    """Whether the caller runs inside mmdet's ``ProposalBroadcaster`` (a running ``_apply_transforms`` of one on
    the call stack). Asked only of a view whose ``gt_bboxes`` are its ``proposals`` (the same object, as the
    broadcaster's copy for the proposals has them): outside the broadcaster a sample that happened to hold one
    object under both keys would otherwise lose its image's warp."""
    try:
        from mmdet.datasets.transforms import ProposalBroadcaster
    except ImportError:  # mmdet not installed: no such broadcaster
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == '_apply_transforms' and isinstance(frame.f_locals.get('self'), ProposalBroadcaster):
            return True
        frame = frame.f_back
    return False


#: mmseg's per-pixel maps besides ``gt_seg_map`` that its ``PackSegInputs`` packs: ``gt_edge_map`` (``GenerateEdge``,
#: which does not list it in ``seg_fields``) and ``gt_depth_map`` (``LoadDepthAnnotation``). They are warped whether
#: ``seg_fields`` lists them or not.
MMSEG_MAP_KEYS = ('gt_edge_map', 'gt_depth_map')

#: The maps whose values are measurements, not labels: what a warp uncovers is 0, "no measurement" (mmseg's
#: ``SiLogLoss`` trains on depths > eps only and ``DepthMetric`` scores those > ``min_depth_eval``, so 0 is left out
#: of both, where 255 was a depth of 255 m that the loss trained on).
DEPTH_MAP_KEYS = ('gt_depth_map', )


def pixel_map_keys(results: dict, owner: str) -> list[str]:
    """The keys of the per-pixel maps a geometric element warps with the image, in order, without repeats:
    ``gt_seg_map``, every key ``results['seg_fields']`` lists (mmseg 1.x: ``LoadAnnotations`` appends
    ``'gt_seg_map'``, ``LoadDepthAnnotation`` ``'gt_depth_map'``; mmseg's ``RandomRotate``, ``RandomFlip``,
    ``RandomCrop`` and ``Resize`` warp each of them) and :data:`MMSEG_MAP_KEYS`; of those, the ones present and not
    None (as mmseg's ``Resize`` and ``RandomFlip`` skip a listed key that is None). ``'img'`` is never among them.

    Args:
        results (dict): The sample.
        owner (str): The element or transform, named in the errors.

    Returns:
        list[str]: Keys whose values are numpy arrays of at least 2 dims, (H, W[, ...]).

    Raises:
        ValueError: ``seg_fields`` that is not a list or tuple of str (a bare string, a set); a listed or known
            key whose value is not a numpy array of at least 2 dims (naming the key).
    """
    fields = results.get('seg_fields', ())
    if fields is None:
        fields = ()
    if not isinstance(fields, (list, tuple)) or not all(isinstance(key, str) for key in fields):
        raise ValueError(f"{owner}: results['seg_fields'] must be a list of results keys (mmseg's LoadAnnotations "
                         f"appends 'gt_seg_map' to it), got {fields!r}")
    keys: list[str] = []
    for key in ('gt_seg_map', *fields, *MMSEG_MAP_KEYS):
        if key == 'img' or key in keys or results.get(key) is None:
            continue
        value = results[key]
        if not isinstance(value, np.ndarray) or value.ndim < 2:
            listed = " (listed in results['seg_fields'])" if key in fields else ''
            desc = f'an array of shape {value.shape}' if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{owner}: results['{key}']{listed} must be a numpy array of the image's height and "
                             f'width, (H, W[, ...]), to be warped with the image, got {desc}')
        keys.append(key)
    return keys


def check_annotation_sizes(results: dict, height: int, width: int, owner: str) -> None:
    """Refuse a per-pixel map (:func:`pixel_map_keys`: ``gt_seg_map``, the keys of mmseg's ``seg_fields``,
    ``gt_edge_map``, ``gt_depth_map``) or ``gt_masks`` whose size is not the image's (``height`` x ``width``).

    A geometric element warps every map with one matrix in the image's pixel frame; a map of another size (mmdet's
    ``SegRescale``, which scales only ``gt_seg_map``, or mmseg's, which scales every ``seg_fields`` map, run before
    the policy) was warped in its own frame by it, silently: a 40 x 60 image translated by 18 px moved its 5 x 8
    map by 18 of its 8 columns. Bitmap masks alike; ``PolygonMasks`` declared for another size hold coordinates
    in that image's frame, which the element would move and clip as if they were in this image's.

    Raises:
        ValueError: naming ``owner``, the key, its size and the image's; those of :func:`pixel_map_keys`.
    """
    image = f'{height} x {width}'
    for key in pixel_map_keys(results, owner):
        map_height, map_width = results[key].shape[:2]
        if (map_height, map_width) != (height, width):
            raise ValueError(
                f"{owner}: results['{key}'] is {map_height} x {map_width} but the image is {image}: a geometric "
                "element warps both with one matrix in the image's pixel frame, so the map would not move with the "
                "image. Put the augmentation before the transform that changed one of them (mmdet's SegRescale "
                "scales only gt_seg_map, mmseg's every map in seg_fields: keep it after the policy, as mmdet keeps "
                'it after its geometric transforms)')
    masks = results.get('gt_masks')
    if masks is None or not hasattr(masks, 'height') or not hasattr(masks, 'width'):
        return
    array = getattr(masks, 'masks', None)
    if isinstance(array, list):  # PolygonMasks: coordinates, no pixels
        if (masks.height, masks.width) != (height, width):
            raise ValueError(
                f"{owner}: results['gt_masks'] are PolygonMasks of {a_name(str(masks.height))} x {masks.width} "
                "image but the "
                f'image is {image}: their polygon coordinates are in the frame of that other image, and a '
                "geometric element would move them with the image's matrix and clip them to the image as if they "
                "were in its frame, so they would not outline the image's objects. Put the augmentation before the "
                "transform that resized the image or the polygons alone (mmdet's Resize rescales both together), "
                'or rescale the polygons to the image (PolygonMasks.rescale / resize)')
        return
    sizes = [(masks.height, masks.width)]
    if isinstance(array, np.ndarray) and array.ndim == 3 and len(array):
        sizes.append(array.shape[1:])
    for map_height, map_width in sizes:
        if (map_height, map_width) != (height, width):
            raise ValueError(
                f"{owner}: results['gt_masks'] (bitmaps) are {map_height} x {map_width} but the image is {image}: "
                "a geometric element warps both with one matrix in the image's pixel frame, so the masks would not "
                'move with the image. Put the augmentation before the transform that changed one of them')


def _map_border(arr: np.ndarray, key: str, owner: str):
    """The value of the band a warp uncovers in the map ``results[key]``: 0 in a depth map (:data:`DEPTH_MAP_KEYS`:
    no measurement), else the label rule of :func:`_seg_border`."""
    return 0 if key in DEPTH_MAP_KEYS else _seg_border(arr, key, owner)


def _seg_border(seg: np.ndarray, key: str, owner: str) -> int:
    """The value of the band a warp uncovers in a label map (``gt_seg_map``, ``gt_edge_map``, a ``seg_fields`` map):
    the ignore label 255 (mmdet's and mmseg's; mmseg's ``RandomRotate`` and ``RandomMosaic`` fill every
    ``seg_fields`` map with it, and its ``BoundaryLoss`` weighs an edge label that is neither 0 nor 1 by 0), or
    background 0 in a bool map (which has no ignore label: 255 was cast to True, the foreground).

    Raises:
        ValueError: a map whose integer dtype cannot hold 255 (int8: it was cast to 127, a class).
    """
    if seg.dtype == np.bool_:
        return 0
    if seg.dtype.kind in 'iu' and np.iinfo(seg.dtype).max < 255:
        raise ValueError(f"{owner}: results['{key}'] is {seg.dtype}, which cannot hold the ignore label 255 "
                         'that fills the pixels a geometric element uncovers; load it as uint8 (mmdet / mmseg '
                         'LoadAnnotations do)')
    return 255


@AUGMENT_OPS.register_module()
class HorizontalShear(GeometricAugmentOp):
    """Shear along x about the image's top-left corner (as AutoAugment with PIL): x' = x ± magnitude * y.

    Examples:
        >>> HorizontalShear(0.3).affine_matrix(height=8, width=8, sign=-1.0).tolist()
        [[1.0, -0.3, 0.0], [0.0, 1.0, 0.0]]
    """

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, sign * self.magnitude, 0], [0, 1, 0]], np.float64)


@AUGMENT_OPS.register_module()
class VerticalShear(GeometricAugmentOp):
    """Shear along y about the image's top-left corner (as AutoAugment with PIL): y' = y ± magnitude * x.

    Examples:
        >>> VerticalShear(0.3).affine_matrix(height=8, width=8, sign=1.0).tolist()
        [[1.0, 0.0, 0.0], [0.3, 1.0, 0.0]]
    """

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, 0], [sign * self.magnitude, 1, 0]], np.float64)


def translate_pixels(magnitude: float, size: int) -> int:
    """The whole-pixel shift of a translation by ``magnitude`` (a fraction of ``size`` pixels): magnitude * size
    rounded half up. A fractional shift would make nearest sampling drop or repeat columns (at x.5 every other
    one) and move boxes by a different amount than the content.

    Examples:
        >>> [translate_pixels(m, 28) for m in (0.15, 0.3, 0.45)]
        [4, 8, 13]
    """
    return int(math.floor(magnitude * size + 0.5))


@AUGMENT_OPS.register_module()
class HorizontalTranslate(GeometricAugmentOp):
    """Shift along x by ± round(magnitude * width) whole pixels (magnitude: fraction of the width, in [0, 1];
    rounded half up, see :func:`translate_pixels`), so the content keeps every column and boxes move with it.

    Examples:
        >>> HorizontalTranslate(0.15).affine_matrix(height=8, width=10, sign=-1.0).tolist()  # 1.5 px -> 2 px
        [[1.0, 0.0, -2.0], [0.0, 1.0, 0.0]]
    """

    magnitude_range = (0.0, 1.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, sign * translate_pixels(self.magnitude, width)], [0, 1, 0]], np.float64)


@AUGMENT_OPS.register_module()
class VerticalTranslate(GeometricAugmentOp):
    """Shift along y by ± round(magnitude * height) whole pixels (magnitude: fraction of the height, in [0, 1];
    rounded half up, see :func:`translate_pixels`).

    Examples:
        >>> out = VerticalTranslate(0.5).apply(dict(img=np.zeros((8, 8), np.uint8)), np.random.default_rng(0))
        >>> sorted(np.unique(out['img']).tolist())  # half the rows are uncovered and filled with grey
        [0, 128]
    """

    magnitude_range = (0.0, 1.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, 0], [0, 1, sign * translate_pixels(self.magnitude, height)]], np.float64)


@AUGMENT_OPS.register_module()
class Rotate(GeometricAugmentOp):
    """Rotate by ± magnitude degrees (+: counter-clockwise on screen, as cv2) about the image centre
    (W / 2, H / 2) in continuous coordinates, i.e. about pixel index ((W - 1) / 2, (H - 1) / 2).

    Examples:
        >>> (Rotate(90).affine_matrix(height=5, width=5, sign=1.0).round(6) + 0.0).tolist()
        [[0.0, 1.0, 0.0], [-1.0, 0.0, 5.0]]
    """

    magnitude_range = (0.0, 180.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return cv2.getRotationMatrix2D((width * 0.5, height * 0.5), sign * self.magnitude, 1.0)

