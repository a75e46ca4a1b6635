# CR-NAS search for CR-ResNet-18 in mmdet's Faster R-CNN FPN on COCO (METHODS.md §5): 8 blocks in total,
# stage choices of the paper (T1, T2 in 1-10; T3 in {2,3,5,6,9,11,14,17,20,23}; T4 in {2,3,4,6,7,9,11,13,15,17})
# restricted to what the total allows. Then the greedy top-3 dilation search over the searched allocation.
# ImageNet-pretrained weights are read from a local file (no download at run time): save torchvision's resnet18
# state dict to data/pretrained/resnet18.pth (mmdet's ResNet key layout is torchvision's).
_base_ = '../_base_/faster-rcnn-fpn_cr-nas_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRResNet', depth=18, stage_blocks=(2, 2, 2, 2),
                  max_stage_blocks=(3, 3, 3, 4), out_indices=(0, 1, 2, 3), frozen_stages=1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/resnet18.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
train_cfg = dict(
    stage_space=dict(
        stage_choices=[[1, 2, 3], [1, 2, 3], [2, 3], [2, 3, 4]],
        total_blocks=8),
    reference_allocation=(2, 2, 2, 2),
    max_stage_candidates=None,  # r18: every eligible allocation is scored
    retrain_config='configs/cr_nas/cr-nas-final_cr-r18-fpn_8x1_1x_coco.py')
