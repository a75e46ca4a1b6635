# Faster R-CNN FPN 1x on COCO (mmdet's own config, inherited) with a CR-MobileNetV2 backbone: as written, the
# standard MobileNetV2 (paper AP 32.2); CR-NAS exports inherit this file with the searched allocation.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRMobileNetV2', stage_blocks=(1, 2, 3, 4, 3, 3, 1),
                  out_indices=(1, 2, 4, 7), frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=True, init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/mobilenet_v2.pth')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
