# CR-NAS search for CR-ResNet-50 in mmdet's Faster R-CNN FPN on COCO (METHODS.md §5): 16 blocks in total,
# stage choices of the paper (T1, T2 in 1-10; T3 in {2,3,5,6,9,11,14,17,20,23}; T4 in {2,3,4,6,7,9,11,13,15,17})
# restricted to what the total allows. Then the greedy top-3 dilation search over the searched allocation.
# ImageNet-pretrained weights are read from a local file (no download at run time): save torchvision's resnet50
# state dict to data/pretrained/resnet50.pth (mmdet's ResNet key layout is torchvision's).
_base_ = '../_base_/faster-rcnn-fpn_cr-nas_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRResNet', depth=50, stage_blocks=(3, 4, 6, 3),
                  max_stage_blocks=(10, 10, 11, 11), out_indices=(0, 1, 2, 3), frozen_stages=1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/resnet50.pth')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
train_cfg = dict(
    stage_space=dict(
        stage_choices=[list(range(1, 11)), list(range(1, 11)), [2, 3, 5, 6, 9, 11], [2, 3, 4, 6, 7, 9, 11]],
        total_blocks=16),
    reference_allocation=(3, 4, 6, 3),
    max_stage_candidates=None,  # r50: every eligible allocation is scored
    retrain_config='configs/cr_nas/cr-nas-final_cr-r50-fpn_8x1_1x_coco.py')
