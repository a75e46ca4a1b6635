# The CR-NAS search loop of the CR-ResNet-18 configs that run on 2 CPU cores (our CPU-budget choices; the COCO
# search is in ../faster-rcnn-fpn_cr-nas_coco.py). Stage space: 1-3 blocks per stage, 8 blocks in total (19
# allocations); those within the FLOPs of the reference (2, 2, 2, 2) ± 5 % are scored by COCO box mAP on arch-val
# with inherited weights; then the greedy top-3 dilation search over the 8 blocks (dilation 1/2/3, 2 sampled
# completions per candidate, one arch-val mini-batch each). A leaf sets train_cfg = dict(_base_.cr_nas_r18_cpu_search,
# ...) with its stage_iters, spatial_iters, flops_input_shape (its image size) and retrain_config.
cr_nas_r18_cpu_search = dict(
    type='automl_mm.CRNASLoop',
    stage_space=dict(stage_choices=[[1, 2, 3]] * 4, total_blocks=8),
    reference_allocation=(2, 2, 2, 2),
    flops_tolerance=0.05,
    dilation_choices=(1, 2, 3),
    stage_pool_size=3,
    pool_size=3,
    num_samples=2,
    batches_per_sample=1,
    bn_recalibration_batches=2,
    metric_key='coco/bbox_mAP')
