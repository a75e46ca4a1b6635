# CR-NAS on the Fashion-MNIST detection set (python tools/data/generate_fmnist_det.py data/fmnist_det): the detector
# of cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py (inherited, so the search and the retraining share the model and
# data) with a CR-ResNet-18 supernet of at most 3 blocks per stage. The supernet trains on the `train` split;
# candidates are scored by COCO box mAP on the whole `reward` split (500 images: the loop's default arch-val, the
# config's reward_dataloader / reward_evaluator); `test` is never read by the search. Stage space as in the
# generated-shapes search: 1-3 blocks per stage, 8 in total (19 allocations), those within the FLOPs of the
# reference (2, 2, 2, 2) ± 5 % (counted at 160 px) are scored; then the greedy top-3 dilation search over the
# 8 blocks (dilation 1/2/3, 2 sampled completions per candidate, one reward mini-batch each).
# Iteration counts are our CPU-budget choice. Measured run time: 17 minutes per search on 2 CPU cores with one torch
# thread, two searches side by side (benchmarks/cr_nas_fmnist_det.py --jobs 2). Scoring the 19 allocations on the
# whole reward split (about 30 s each) takes more than half of it.
_base_ = ['./cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py', '../_base_/schedules/cr-nas_r18_cpu.py']

model = dict(backbone=dict(max_stage_blocks=(3, 3, 3, 3)))
find_unused_parameters = True  # single-path supernet: inactive blocks get no gradient under DDP

stage_iters = 250
spatial_iters = 250
train_cfg = dict(
    _base_.cr_nas_r18_cpu_search,
    _delete_=True,
    stage_iters=stage_iters,
    spatial_iters=spatial_iters,
    flops_input_shape=(3, 160, 160),
    retrain_config='configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py')
val_cfg = dict(type='ValLoop')
# The search never reads the test split (the retraining template and the exported config keep it).
test_dataloader = None
test_evaluator = None
test_cfg = None

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # T_max: the search's stage_iters + spatial_iters, derived (CRNASLoop refuses a disagreeing one)
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=2e-3),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
