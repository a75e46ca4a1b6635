# CR-NAS on the generated COCO-format set (the embedded default, about 15 minutes on 2 CPU cores): Faster R-CNN FPN
# with a CR-ResNet-18 supernet. Stage search over 1-3 blocks per stage with 8 blocks in total (19 allocations,
# those within the FLOPs of (2, 2, 2, 2) ± 5 %, all of them here, are trained and scored by COCO AP on arch-val
# with inherited weights), then the greedy top-3 dilation search over the 8 blocks (dilation 1/2/3, 2 sampled
# completions per candidate, one arch-val mini-batch each). Iteration counts and sample sizes are our CPU-budget
# choices; the paper's are in the COCO configs.
_base_ = [
    '../_base_/models/cr-faster-rcnn_r18_fpn_synthcoco.py', '../_base_/datasets/synthcoco_arch_search.py',
    'mmdet::_base_/default_runtime.py', '../_base_/schedules/cr-nas_r18_cpu.py'
]

model = dict(backbone=dict(max_stage_blocks=(3, 3, 3, 3)))
find_unused_parameters = True  # single-path supernet: inactive blocks get no gradient under DDP

stage_iters = 600
spatial_iters = 600
train_cfg = dict(
    _base_.cr_nas_r18_cpu_search,
    stage_iters=stage_iters,
    spatial_iters=spatial_iters,
    flops_input_shape=(3, 128, 128),
    retrain_config='configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_24e_synthcoco.py')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # T_max: the search's stage_iters + spatial_iters, derived (CRNASLoop refuses a disagreeing one)
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=2e-3),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
randomness = dict(seed=0, deterministic=False)
