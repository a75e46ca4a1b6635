# CR-NAS search for CR-MobileNetV2 in mmdet's Faster R-CNN FPN on COCO. The paper's MobileNetV2 choice lists are not
# given; ours: the 7 inverted-residual layers keep the first and last at 1 block and reallocate the other 15 of the
# standard 17 (total_blocks counts all 17) over layers 2-6 (1-4, 1-5, 1-6, 1-5, 1-5 blocks). MobileNetV2 blocks
# differ in FLOPs by layer, so the FLOPs band (standard +- 5 %, train_cfg.flops_tolerance of the base, mmengine's
# counter) does the equal-FLOPs work here (at 224 px the 362 allocations span -14 % to +20 %, 177 in the band: the
# stage supernet trains on those only, and fewer than max_stage_candidates=200, all of them are scored; the cap
# samples 200 of a wider band's).
# Pretrained weights: data/pretrained/mobilenet_v2.pth in mmdet's MobileNetV2 layout.
_base_ = '../_base_/faster-rcnn-fpn_cr-nas_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRMobileNetV2', stage_blocks=(1, 2, 3, 4, 3, 3, 1),
                  max_stage_blocks=(1, 4, 5, 6, 5, 5, 1), out_indices=(1, 2, 4, 7), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
                  init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/mobilenet_v2.pth')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
train_cfg = dict(
    stage_space=dict(
        stage_choices=[[1], [1, 2, 3, 4], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5],
                                    [1, 2, 3, 4, 5], [1]],
        total_blocks=17),
    reference_allocation=(1, 2, 3, 4, 3, 3, 1),
    max_stage_candidates=200,
    retrain_config='configs/cr_nas/cr-nas-final_cr-mbv2-fpn_8x1_1x_coco.py')
