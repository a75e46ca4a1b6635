"""How a geometric element's affine matrix moves what a detection sample carries besides its image: the image
itself and per-pixel maps (nearest-sampled warps in pixel-index coordinates), boxes (the enclosing box of the
moved box's part inside the image), bitmap and polygon masks (polygons clipped to the image by shapely, as mmdet's
``PolygonMasks.crop``) and mmcv's keypoints. Used by :class:`~automl_mm.augment.geometric.GeometricAugmentOp`; matrices
are (2, 3) affine maps in continuous image coordinates (pixel i covers [i, i + 1)).
"""
from __future__ import annotations

import cv2
import numpy as np
import shapely
import torch
from shapely.geometry.polygon import orient


def pixel_index_matrix(matrix: np.ndarray) -> np.ndarray:
    """The pixel-index form ``T(-0.5) @ M @ T(+0.5)`` of a (2, 3) affine matrix in continuous coordinates.

    Pixel indices are continuous coordinates minus 0.5 (pixel i's centre is i + 0.5), so a point p with index
    coordinates maps to ``A (p + 0.5) + t - 0.5 = A p + t + 0.5 (A - I) [1, 1]``: the linear part is unchanged and
    the translation gains ``0.5 * (A - I) @ [1, 1]`` (zero for translations).

    Examples:
        >>> pixel_index_matrix(np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0]])).tolist()  # a horizontal shear
        [[1.0, 0.5, 0.25], [0.0, 1.0, 0.0]]
    """
    out = np.array(matrix, np.float64)
    out[:, 2] += 0.5 * (out[:, :2].sum(1) - 1.0)
    return out


def warp_group(img: np.ndarray) -> int:
    """The number of uint8 planes every array of a sample is warped in (:func:`_warp`): the image's own channel
    count for a uint8 image of 1 (or (H, W)), 3 or 4 channels, which cv2 then warps as it is (no copy into 4
    planes: an 800 x 1333 colour image warped in 4 planes took 2.4x the time, a grey one 11x), else 4."""
    if img.dtype == np.uint8 and (img.ndim == 2 or img.shape[2] in (1, 3, 4)):
        return 1 if img.ndim == 2 else img.shape[2]
    return 4


def _warp(arr: np.ndarray, matrix: np.ndarray, border: float, group: int = 4) -> np.ndarray:
    """Nearest-sampled warp keeping ``arr``'s shape and dtype; ``border`` fills what the warp uncovers.

    cv2's nearest sampling (``warpAffine``, cv2 5.1) takes different source pixels near ties for different cv2
    types (channel count, dtype) of the same size, even for uint8, where it runs on several threads: a 100 x 223
    image under ``HorizontalShear(0.2)`` sampled 212 pixels of its 3 channels elsewhere than its 1-channel bitmap
    mask (with ``cv2.setNumThreads(1)`` they agreed), and an int32 or uint16 ``gt_seg_map`` (mmdet's panoptic maps,
    16-bit PNGs) or a 2-channel image differed alike. Every array of a sample is therefore warped as its uint8
    bytes, in groups of exactly ``group`` planes (:func:`warp_group` of the sample's image: a uint8 image of 1, 3
    or 4 channels as it is, other images in groups of 4; more planes grouped by ``cv2.merge``, the last group
    zero-padded), so that every warp of a sample runs the same cv2 code on the same type, matrix and size: nearest
    sampling only copies values and picks its pixels whatever they hold, so the bytes of each value travel together
    and every array of a sample takes the pixels the image takes.
    """
    height, width = arr.shape[:2]
    data = np.ascontiguousarray(arr).view(np.uint8).reshape(height, width, -1)
    fill = [int(v) for v in np.tile(np.array(border, arr.dtype).reshape(1).view(np.uint8),
                                    data.shape[2] // arr.dtype.itemsize)]
    if data.shape[2] == group:  # the image itself (or an array of its layout): one warp, no copy
        out = _warp_group(data if group > 1 else data[..., 0], matrix, fill)
    else:
        out = cv2.merge(_warp_planes(cv2.split(data), matrix, fill, group))
    return out.view(arr.dtype).reshape(arr.shape)


def _warp_group(data: np.ndarray, matrix: np.ndarray, border: list[int]) -> np.ndarray:
    """``cv2.warpAffine`` of a uint8 (H, W) or (H, W, 3 | 4) array, nearest, constant ``border`` per channel."""
    return cv2.warpAffine(data, matrix, (data.shape[1], data.shape[0]), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(border) + (0, ) * (4 - len(border)))


def _warp_planes(planes: list[np.ndarray], matrix: np.ndarray, fill: list[int], group: int = 4) -> list[np.ndarray]:
    """Warp (H, W) uint8 planes in groups of ``group`` (``cv2.merge`` / ``cv2.split``; a short last group padded
    with zero planes) by :func:`_warp_group`; ``fill`` holds each plane's border byte."""
    count = len(planes)
    planes = list(planes) + [np.zeros_like(planes[0])] * (-count % group)
    fill = list(fill) + [0] * (len(planes) - count)
    out: list[np.ndarray] = []
    for start in range(0, len(planes), group):
        if group == 1:
            out.append(_warp_group(planes[start], matrix, fill[start:start + 1]))
        else:
            out.extend(cv2.split(_warp_group(cv2.merge(planes[start:start + group]), matrix,
                                             fill[start:start + group])))
    return out[:count]


def clip_polygon(points: np.ndarray, width: float, height: float) -> list[np.ndarray]:
    """The part of a polygon inside the image [0, width] x [0, height] (shapely's ``clip_by_rect``, as mmdet's
    ``PolygonMasks.crop`` intersects with shapely). A self-intersecting polygon is first repaired by shapely's
    ``make_valid``, which keeps every lobe of a bow-tie, as pycocotools rasterises it (mmdet's ``poly2mask``, so
    the object's bitmap mask); mmdet's crop repairs by ``buffer(0)``, which keeps one lobe. Clamping each vertex
    to the image instead adds area that is not the object's: the triangle (-4, 2), (12, 2), (-4, 18) clamps to
    area 96, its part inside is 72.

    Args:
        points (np.ndarray): (K, 2) float vertices (x, y) in order, continuous image coordinates.
        width (float): Image width W.
        height (float): Image height H.

    Returns:
        list[np.ndarray]: (M, 2) float64 vertices (the closing vertex not repeated) of each piece inside with an
        area: one for a convex polygon, several where the border cuts a concave one apart; empty when nothing is
        inside (also for fewer than 3 vertices, which enclose none). A piece with a hole (a hole drawn through a
        zero-width slit, which the repair turns into an interior ring) goes round it through such a slit again
        (:func:`_keyhole_ring`), so that the hole stays empty when rasterised.

    Examples:
        >>> [p.tolist() for p in clip_polygon(np.array([[-4.0, 2], [12, 2], [-4, 18]]), 20, 20)]
        [[[0.0, 2.0], [12.0, 2.0], [0.0, 14.0]]]
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if len(points) < 3:  # a point or a segment (shapely refuses such a ring): no area to keep
        return []
    polygon = shapely.Polygon(points)
    sign = 1.0 if polygon.exterior.is_ccw else -1.0  # the pieces keep the input's vertex order
    if not polygon.is_valid:
        polygon = shapely.make_valid(polygon)  # buffer(0) kept one lobe of a bow-tie: half its area, silently
    inside = shapely.clip_by_rect(polygon, 0.0, 0.0, float(width), float(height))
    return [_keyhole_ring(orient(piece, sign)) for piece in _polygon_parts(inside) if piece.area > 0]


def _keyhole_ring(polygon) -> np.ndarray:
    """A shapely polygon's exterior (K, 2) without the closing vertex, going round each of its holes through a
    zero-width slit from the nearest vertex (a 'keyhole', as ring-shaped objects are annotated): rasterised by
    pycocotools (mmdet's ``poly2mask``) the holes stay empty, where the exterior alone filled them. ``polygon`` is
    oriented (holes the other way round), so the ring's signed area is the polygon's."""
    ring = np.asarray(polygon.exterior.coords, np.float64)[:-1]
    for interior in polygon.interiors:
        hole = np.asarray(interior.coords, np.float64)[:-1]
        at, start = np.unravel_index(np.argmin(((ring[:, None] - hole[None]) ** 2).sum(-1)), (len(ring), len(hole)))
        loop = np.concatenate([hole[start:], hole[:start + 1]])  # round the hole, back to where it entered
        ring = np.concatenate([ring[:at + 1], loop, ring[at:]])
    return ring


def _coordinate_dtype(dtype):
    """The dtype of coordinates after a geometric element: a float dtype as it is, an integer one (a polygon of
    integer COCO coordinates, which mmdet's ``LoadAnnotations`` makes an int64 array, or integer boxes) promoted
    with a float32 by its own library's rule. Numpy: ``np.promote_types(dtype, np.float32)``, float64 for int32 /
    int64 (mmdet's own ``PolygonMasks.shear`` returns float64 points for int64 ones, mmcv's ``Resize`` float64 boxes
    for int64 ones). Torch (a tensor, or the tensor of mmdet's ``HorizontalBoxes``): ``torch.promote_types(dtype,
    torch.float32)``, float32 for every integer dtype, mmdet's box dtype (``LoadAnnotations`` makes
    ``HorizontalBoxes`` of float32). Cast back to the integer dtype, a sheared or rotated point was truncated towards
    0 (x = 21.5 became 21), off its box by up to 1 px.

    Examples:
        >>> _coordinate_dtype(np.int64), _coordinate_dtype(np.float32), _coordinate_dtype(np.uint8)
        (dtype('float64'), dtype('float32'), dtype('float32'))
        >>> _coordinate_dtype(torch.int64), _coordinate_dtype(torch.float16)
        (torch.float32, torch.float16)
    """
    if isinstance(dtype, torch.dtype):
        return dtype if dtype.is_floating_point else torch.promote_types(dtype, torch.float32)
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == 'f' else np.promote_types(dtype, np.float32)


def _as_numpy(values) -> tuple[np.ndarray, torch.Tensor | None]:
    """``(values as a numpy array, the torch tensor they came from or None)``: a torch tensor (on any device) is
    read through ``.cpu()``, so that :func:`_like` gives the result back as a tensor where it came as one."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy(), values
    return np.asarray(values), None


def _like(values: np.ndarray, source: torch.Tensor | None):
    """Float coordinates ``values`` (numpy) in the container of what they came from (:func:`_as_numpy`): a numpy
    array of :func:`_coordinate_dtype` of the input's, or a tensor on the source's device of the torch rule's dtype.
    A plain tensor of boxes or keypoints used to come back as a numpy array, an int64 one as float64."""
    if source is None:
        return values
    return torch.from_numpy(np.ascontiguousarray(values)).to(device=source.device,
                                                             dtype=_coordinate_dtype(source.dtype))


def _polygon_parts(geometry) -> list:
    """The polygons of a shapely geometry: itself, or those inside a (nested) MultiPolygon or GeometryCollection
    (``make_valid`` gives collections of polygons and the lines of zero-width spikes)."""
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    return [part for sub in getattr(geometry, 'geoms', []) for part in _polygon_parts(sub)]


def _warp_boxes(boxes, matrix: np.ndarray, height: int, width: int, drop: bool = True) -> tuple:
    """Move xyxy boxes by ``matrix``: the enclosing box of the part of each moved rectangle inside the image (the
    clamped corners where the matrix keeps boxes axis-aligned); returns (boxes, keep), keep = every box the
    border does not touch (of any size, zero included), and of those it cuts the ones still of positive size and at
    least 1 px wide and high along each side it cut; with ``drop=False`` every box is returned (keep
    still says which would stay). Integer boxes come back as floats (:func:`_coordinate_dtype`), a tensor (plain or
    in mmdet's ``BaseBoxes``) as a tensor on its device."""
    tensor = getattr(boxes, 'tensor', None)  # mmdet BaseBoxes
    arr, source = _as_numpy(boxes if tensor is None else tensor)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"results['gt_bboxes'] must hold (N, 4) xyxy boxes, got shape {arr.shape}")
    # corners in ring order (x1 y1, x2 y1, x2 y2, x1 y2), so that a moved box is a polygon
    xs, ys = arr[:, [0, 2, 2, 0]].astype(np.float64), arr[:, [1, 1, 3, 3]].astype(np.float64)
    new_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    new_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    moved = np.stack([new_x.min(1).clip(0, width), new_y.min(1).clip(0, height),
                      new_x.max(1).clip(0, width), new_y.max(1).clip(0, height)], axis=1)
    # untouched by the border, up to rounding (cv2's quarter turn has cos = 6e-17: a corner on the border lands
    # 1e-15 px outside it for one sign)
    tol = 1e-6
    inside = (new_x.min(1) >= -tol) & (new_x.max(1) <= width + tol) & (new_y.min(1) >= -tol) & \
        (new_y.max(1) <= height + tol)
    if matrix[0, 1] != 0 or matrix[1, 0] != 0:  # not axis-aligned: clamping the corners is looser than clipping
        for k in np.flatnonzero(~inside):
            pieces = clip_polygon(np.stack([new_x[k], new_y[k]], 1), width, height)
            part = np.concatenate(pieces) if pieces else np.zeros((0, 2))
            moved[k] = [*part.min(0), *part.max(0)] if len(part) else 0
    # A box vanishes when the border cuts a side below 1 px (or to nothing); a side the border left whole keeps
    # any positive length: a box already under 1 px inside the image was dropped as if it had left. A box the
    # border does not touch is kept whatever its size, as under a photometric element (and mmdet's geometric
    # transforms, which drop none): a zero-width box [5, 5, 5, 10] of a 20 x 20 image was dropped by a translation
    # or a quarter turn with its label, ignore flag and mask, and kept by a shear, which gives it a width.
    width_in, height_in = moved[:, 2] - moved[:, 0], moved[:, 3] - moved[:, 1]
    whole_x = width_in >= new_x.max(1) - new_x.min(1) - tol
    whole_y = height_in >= new_y.max(1) - new_y.min(1) - tol
    keep = inside | ((width_in > 0) & (height_in > 0) & ((width_in >= 1) | whole_x) & ((height_in >= 1) | whole_y))
    moved = moved[keep] if drop else moved
    if source is None:
        return moved.astype(_coordinate_dtype(arr.dtype)), keep
    moved = _like(moved, source)
    return (moved if tensor is None else type(boxes)(moved, clone=False)), keep


def _warp_masks(masks, matrix: np.ndarray, pixel_matrix: np.ndarray, height: int, width: int, group: int = 4):
    """Bitmap masks are warped like the image (``pixel_matrix``, in groups of ``group`` planes: :func:`_warp`),
    keeping their dtype and values; polygon points move by the continuous ``matrix`` (integer points become floats,
    :func:`_coordinate_dtype`)."""
    cls = type(masks)
    if hasattr(masks, 'masks') and isinstance(masks.masks, np.ndarray):  # BitmapMasks: (N, H, W)
        if len(masks) == 0:
            return masks
        if masks.masks.dtype.itemsize != 1:
            return cls(np.stack([_warp(m, pixel_matrix, 0, group) for m in masks.masks]), height, width)
        # uint8 / bool masks: each one plane, N / group warps
        planes = _warp_planes([m.view(np.uint8) for m in masks.masks], pixel_matrix, [0] * len(masks), group)
        return cls(np.stack(planes).view(masks.masks.dtype), height, width)
    if hasattr(masks, 'masks') and isinstance(masks.masks, list):  # PolygonMasks: [[flat x0 y0 x1 y1 ...]]
        lin, shift = matrix[:, :2].T, matrix[:, 2]
        polys = [[piece for p in obj for piece in _move_polygon(p, lin, shift, height, width)]
                 for obj in masks.masks]
        return cls(polys, height, width)
    raise ValueError(f"results['gt_masks'] must be BitmapMasks or PolygonMasks, got {cls.__name__}")


def _move_keypoints(keypoints: np.ndarray, matrix: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, K, 3) keypoints (x, y, visibility) moved by ``matrix``; those outside the image [0, W) x [0, H) get
    visibility 0 and are clamped to it (mmcv's ``CenterCrop`` rule; a moved coordinate within 1e-9 px of a whole
    pixel is snapped to it, so that a point turned onto the border lands on it for both signs); integer keypoints
    become floats (:func:`_coordinate_dtype`), a tensor stays a tensor on its device."""
    arr, source = _as_numpy(keypoints)
    if arr.ndim != 3 or arr.shape[2] < 2:
        raise ValueError(f"results['gt_keypoints'] must be (N, K, 3) keypoints (x, y, visibility), got shape "
                         f'{arr.shape}')
    xy = arr[..., :2].astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    # a whole-pixel position up to rounding is that position: cv2's quarter turn (cos(90) = 6e-17) put (5, 0) of a
    # 20 x 20 image at x = -1e-15 for one sign (made invisible) and at 0 for the other
    whole = np.round(xy)
    xy = np.where(np.abs(xy - whole) < 1e-9, whole, xy)
    out = arr.astype(_coordinate_dtype(arr.dtype))
    if arr.shape[2] > 2:
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
        out[..., 2] = np.where(inside, arr[..., 2], 0)
    out[..., :2] = np.clip(xy, 0, [width, height])
    return _like(out, source)


def _move_polygon(flat: np.ndarray, lin: np.ndarray, shift: np.ndarray, height: int, width: int) -> list:
    """One flat (x0, y0, x1, y1, ...) polygon moved and clipped to the image: its pieces inside, as flat arrays
    (several where the border cuts it apart, as mmdet's ``PolygonMasks.crop`` keeps them); a zero-area triangle at
    the origin (mmdet's placeholder there) when nothing of it is left. Integer points become floats
    (:func:`_coordinate_dtype`)."""
    points = flat.reshape(-1, 2) @ lin + shift
    dtype = _coordinate_dtype(flat.dtype)
    if points.min() >= 0 and (points <= [width, height]).all():
        return [points.reshape(-1).astype(dtype)]
    pieces = clip_polygon(points, width, height)
    return [p.reshape(-1).astype(dtype) for p in pieces] or [np.zeros(6, dtype)]
