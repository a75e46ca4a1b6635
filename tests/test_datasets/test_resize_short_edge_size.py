"""ResizeShortEdge's output size is torchvision's ``Resize(size)`` (and mmpretrain's ``ResizeEdge``): the shorter
side becomes ``size`` and the longer ``int(size * long / short)``, rounded down. It was rounded to nearest: a
427 x 640 image at size 256 came out 256 x 384, where the ImageNet evaluation recipe (torchvision's
``Resize(256)``) gives 256 x 383."""
import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as F

from automl_mm.datasets.transforms import ResizeShortEdge

SHAPES = [(427, 640, 256), (640, 427, 256), (375, 500, 256), (4, 7, 2), (7, 4, 2), (3, 3, 5), (10, 13, 7),
          (1, 9, 4), (333, 500, 224), (21, 22, 20)]


@pytest.mark.parametrize('h, w, size', SHAPES)
def test_output_size_is_torchvisions_resize(h, w, size):
    expected = tuple(F.resize(torch.zeros(1, h, w, dtype=torch.uint8), [size], antialias=False).shape[1:])
    out = ResizeShortEdge(size)(dict(img=np.zeros((h, w, 3), np.uint8)))
    assert out['img'].shape == (*expected, 3) and out['img_shape'] == expected


def test_the_imagenet_example():
    out = ResizeShortEdge(256)(dict(img=np.zeros((427, 640), np.uint8)))
    assert out['img'].shape == (256, 383) and out['img_shape'] == (256, 383)
