# Trains a CR-ResNet-18 Faster R-CNN FPN on the generated set with the schedule of the ResNet-18 baseline
# (configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py), so the two are comparable. The backbone
# here is the standard allocation; CR-NAS writes work_dirs/<run>/search/cr_nas_final_config.py, which inherits this
# file with the searched stage_blocks and dilations_per_block.
_base_ = ['../baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py']

model = dict(
    backbone=dict(_delete_=True, type='automl_mm.CRResNet', depth=18, stage_blocks=(2, 2, 2, 2),
                  out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch'))
