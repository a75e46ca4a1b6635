"""mmdet's ``LoadAnnotations(with_bbox=False, with_label=False, with_seg=True)`` on a COCO set loads only the
segmentation map: the results still hold the data set's ``instances`` (with boxes), but the annotations are loaded
and move with the image, so OHL-Auto-Aug after it is not refused as if it ran before ``LoadAnnotations``."""
from __future__ import annotations

import numpy as np

from automl_mm.augment.policy import FixedAutoAugment


def test_a_loaded_segmentation_map_counts_as_loaded_annotations():
    results = dict(img=np.zeros((8, 8, 3), np.uint8), instances=[dict(bbox=[0, 0, 8, 8], bbox_label=0)],
                   seg_map_path='seg/0.png', gt_seg_map=np.zeros((8, 8), np.uint8))
    assert 'ohl_choice' in FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])(results)
