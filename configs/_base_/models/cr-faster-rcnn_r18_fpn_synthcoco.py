# mmdet's Faster R-CNN FPN (via ../faster-rcnn_r18_fpn_synthcoco.py, which inherits mmdet's own config) with a
# CR-ResNet-18 backbone: the standard allocation (2, 2, 2, 2) and dilation 1 everywhere, i.e. ResNet-18. Search
# configs turn it into a supernet with `max_stage_blocks`; CR-NAS exports override stage_blocks/dilations_per_block.
_base_ = './faster-rcnn_r18_fpn_synthcoco.py'

model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRResNet', depth=18, stage_blocks=(2, 2, 2, 2),
                  out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch'))
