"""A polygon coordinate far outside the image (1e9: a corrupt annotation) made :func:`mask_area` hand it to
pycocotools' ``frPyObjects``, which walks the whole outline at 5 points per pixel before it keeps the image's part:
some 80 GB for one triangle (a segfault under a memory limit). Now a polygon reaching far outside is first cut to
the image's neighbourhood, so pycocotools' work is bounded by the image size, and its area is the pixels of the
image it covers, as pycocotools counts them; a coordinate pycocotools cannot read (NaN, inf, no number) is refused
naming the annotation and image."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from automl_mm.evaluation.coco import gt_json_with_mask_areas, mask_area

H, W = 10, 12
_PYCOCOTOOLS = mask_utils.frPyObjects  # (unspied)


@pytest.fixture
def rasterised(monkeypatch):
    """The largest |coordinate| of each polygon pycocotools is given; refuses (before pycocotools allocates) one
    beyond the image's neighbourhood, so that a regression fails here instead of exhausting the memory."""
    seen = []

    def spy(obj, height, width):
        if isinstance(obj, list) and obj and isinstance(obj[0], (list, tuple, np.ndarray)):
            largest = max(float(np.max(np.abs(np.asarray(p, float)))) for p in obj)
            seen.append(largest)
            assert largest <= 9 * max(height, width), f'pycocotools given a coordinate of {largest}'
        return _PYCOCOTOOLS(obj, height, width)

    monkeypatch.setattr(mask_utils, 'frPyObjects', spy)
    return seen


@pytest.mark.parametrize('far', [1e9, -1e9])
def test_a_coordinate_of_1e9_is_measured_inside_the_image(rasterised, far):
    # the triangle (1, 1), (far, 1), (1, 8): inside the image, the band 1 <= y <= 8 from x = 1 to its right edge
    # (from 1e9 its slanted edge is flat to 1e-7 px); pycocotools rasterises the rectangle below to the same pixels
    band = [1, 1, W + 5, 1, W + 5, 8, 1, 8] if far > 0 else [1, 1, -5, 1, -5, 8, 1, 8]
    expected = float(mask_utils.area(mask_utils.frPyObjects([band], H, W)[0]))
    assert mask_area([[1, 1, far, 1, 1, 8]], H, W) == expected > 0
    assert max(rasterised) <= 9 * W  # the image and 8 image sizes around it


def test_near_pycocotools_own_area_where_it_can_walk_the_outline_too(rasterised):
    """Far, but not beyond what pycocotools walks cheaply (1e4 px: 1 MB): the cut polygon's pixels are the
    original's but for about a pixel along a cut edge that crosses the image (its cut end rounded to pycocotools'
    1/5 px grid, as pycocotools rounds the polygon's own vertices)."""
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(100):
        ring = rng.uniform(-2, 14, size=(int(rng.integers(3, 9)), 2))  # concave, self-crossing, at the border
        ring[rng.integers(len(ring))] = rng.choice([-1e4, 1e4], size=2)
        expected = float(mask_utils.area(_PYCOCOTOOLS([ring.ravel().tolist()], H, W)[0]))
        got = mask_area([ring.ravel().tolist()], H, W)
        assert abs(got - expected) <= 2, ring.tolist()
        differ += got != expected
    assert differ <= 10


def test_a_polygon_near_the_image_goes_to_pycocotools_as_it_is(rasterised):
    for polygon in ([-3.5, -2, W + 4, 1, 5, H + 7], [-8 * W, 2, W - 1, 1.5, 5, 9.25]):  # 8 widths out: not cut
        assert mask_area([polygon], H, W) == float(mask_utils.area(_PYCOCOTOOLS([polygon], H, W)[0]))
        assert rasterised[-1] == max(abs(v) for v in polygon)  # as given


def test_a_polygon_wholly_outside_covers_no_pixel(rasterised):
    assert mask_area([[1e9, 1e9, 2e9, 1e9, 2e9, 2e9]], H, W) == 0.0
    triangle = [1, 1, 6, 1, 1, 6]
    assert mask_area([triangle, [-1e9, 0, -2e9, 0, -2e9, 5]], H, W) == mask_area([triangle], H, W)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), 'x'])
def test_a_coordinate_pycocotools_cannot_read_is_refused_naming_annotation_and_image(tmp_path, rasterised, bad):
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps({
        'images': [dict(id=7, height=H, width=W)], 'categories': [dict(id=1, name='a')],
        'annotations': [dict(id=3, image_id=7, category_id=1, bbox=[1, 1, 4, 4], area=16,
                             segmentation=[[1, 1, 5, 1, bad, 5]])]}))
    with pytest.raises(ValueError, match=r'annotation 3 \(image 7\): segmentation polygon 0 holds '):
        gt_json_with_mask_areas(lambda: str(path))
    with pytest.raises(ValueError, match='polygon 0 holds'):
        mask_area([[1, 1, 5, 1, bad, 5]], H, W)


def test_an_edge_cut_nearly_along_the_pixel_grid_differs_by_at_most_a_row(rasterised):
    """The documented worst case: the cut end's 1/5 px rounding tilts a long, nearly horizontal edge by under
    1/10 px across a 100 x 100 image, and every column where the edge passes that close to a pixel's threshold flips
    (55 px, not "about a pixel"); still within one row of the image for one cut edge."""
    polygon = [-790.3, 50.4, 1e4, 50.4 + 1.3e4 * (1e4 + 790.3) / 1e8, 1e4, -5, -790.3, -5]
    expected = float(mask_utils.area(_PYCOCOTOOLS([polygon], 100, 100)[0]))
    assert 1 < abs(mask_area([polygon], 100, 100) - expected) <= 100
