# CR-NAS on the Fashion-MNIST detection set (python tools/data/generate_fmnist_det.py data/fmnist_det): the detector
# of cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py (inherited, so the search and the retraining share the model and
# data) with a CR-ResNet-18 supernet of at most 3 blocks per stage. The supernet trains on the `train` split;
# candidates are scored by COCO box mAP on the whole `reward` split (500 images: the loop's default arch-val, the
# config's reward_dataloader / reward_evaluator); `test` is never read by the search. Stage space as in the
# generated-shapes search: 1-3 blocks per stage, 8 in total (19 allocations), those within the FLOPs of the
# reference (2, 2, 2, 2) + 5 % (counted at 160 px) are scored; then the greedy top-3 dilation search over the
# 8 blocks (dilation 1/2/3, 2 sampled completions per candidate, one reward mini-batch each).
# Iteration counts are our CPU-budget choice. Run time on 2 CPU cores, one torch thread: about 18 minutes, an
# ESTIMATE, not a measured full run. Measured on this machine while another job shared its 2 cores (batch 4,
# 160 px): 0.62 s per supernet iteration (12 iterations), 30-35 s per scored allocation (500 reward images:
# inference, COCOeval, BN re-estimation; 2 allocations), about 10 s per greedy dilation step (9 candidates x 2
# completions). So 500 x 0.62 s = 5 min of training + 19 x 33 s = 10.5 min of stage search + 8 x 10 s of spatial
# search + the final val (500 images, ~0.5 min) + start-up. Scoring the 19 allocations on the whole reward split
# dominates: fewer iterations would not bring it much below 15 minutes.
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
