"""RandomResizedCrop's fallback after ``max_attempts`` failed draws is torchvision's (and mmpretrain's): the whole
image, centrally cropped to the nearest aspect ratio in ``aspect_ratio_range``; it was the central square, whose
1:1 ratio lies outside the range whenever the range excludes 1 (a 200 x 400 image with ratios (2.5, 3): 200 x 200,
torchvision 160 x 400)."""
import numpy as np
import pytest
import torch
from torchvision.transforms import RandomResizedCrop as TorchvisionRRC

from automl_mm.datasets.transforms import RandomResizedCrop

# (h, w, aspect_ratio_range): no crop of area fraction 1 with a ratio in the range fits, so every draw fails
CASES = [(200, 400, (2.5, 3.0)), (4, 6, (4.0, 4.0)), (400, 200, (3. / 4., 4. / 3.)), (300, 100, (0.5, 0.8)),
         (37, 53, (1.6, 2.0)), (90, 90, (1.5, 1.5)), (10, 7, (0.25, 0.5))]


@pytest.mark.parametrize('h, w, ratio', CASES)
def test_fallback_crop_box_is_torchvisions(h, w, ratio):
    crop = RandomResizedCrop(scale=8, crop_ratio_range=(1.0, 1.0), aspect_ratio_range=ratio)
    expected = TorchvisionRRC.get_params(torch.zeros(1, h, w), [1.0, 1.0], list(ratio))
    torch.manual_seed(0)
    np.random.seed(0)
    assert crop._crop_box(h, w) == tuple(expected)


def test_fallback_keeps_an_in_range_aspect_ratio_and_the_whole_image():
    # a 200 x 400 (h x w) image asked for 2.5:1 .. 3:1 crops of the whole area (none fits): central 160 x 400
    crop = RandomResizedCrop(scale=8, crop_ratio_range=(1.0, 1.0), aspect_ratio_range=(2.5, 3.0))
    assert crop._crop_box(200, 400) == (20, 0, 160, 400)
    # ratios (1.5, 2.5) hold the image's own 2:1: the whole image (the only crop of area fraction 1 that fits)
    crop = RandomResizedCrop(scale=8, crop_ratio_range=(1.0, 1.0), aspect_ratio_range=(1.5, 2.5), max_attempts=1)
    np.random.seed(0)
    assert crop._crop_box(200, 400) == (0, 0, 200, 400)
    # a 400 x 200 image asked for 3:4 .. 4:3: central 267 x 200 (ratio 3:4), not 200 x 200
    crop = RandomResizedCrop(scale=8, crop_ratio_range=(1.0, 1.0))
    assert crop._crop_box(400, 200) == (66, 0, 267, 200)
