# Faster R-CNN FPN 1x on COCO (mmdet's own config, inherited) with a CR-ResNet-101 backbone. As written it is
# the standard allocation (3, 4, 23, 3) with dilation 1 (= ResNet-101, paper AP 38.6);
# the CR-NAS search writes search/cr_nas_final_config.py inheriting this file with the searched allocation.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRResNet', depth=101, stage_blocks=(3, 4, 23, 3),
                  out_indices=(0, 1, 2, 3), frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/resnet101.pth')),
    neck=dict(in_channels=[256,512,1024,2048]))
