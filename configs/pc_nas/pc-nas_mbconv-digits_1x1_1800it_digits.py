# PC-NAS on digits (the embedded default; about 15 minutes on 2 CPU cores): a 4-layer MBConv supernet, a warm-up
# of uniform single paths, then one stage per layer; pool K = 3, potential = mean reward-split top-1 over S = 6
# uniform completions, completions over the FLOPs limit skipped. The reward split is held out from training and
# from the test split. Sizes are our choices for the CPU budget (the paper's are in pc-nas-s / pc-nas-l configs).
_base_ = ['../_base_/models/mbconv_digits.py', '../_base_/datasets/digits.py', '../_base_/default_runtime.py']

img_size = 16
train_dataloader = dict(dataset=dict(img_size=img_size))
val_dataloader = dict(dataset=dict(img_size=img_size))
test_dataloader = val_dataloader
reward_dataloader = dict(dataset=dict(img_size=img_size))

warmup_iters = 600
stage_iters = 300
train_cfg = dict(
    type='PCNASLoop',
    warmup_iters=warmup_iters,
    stage_iters=stage_iters,
    pool_size=3,
    num_samples=6,
    batches_per_sample=None,  # the whole reward split per completion
    search_evaluator=dict(type='Accuracy', topk=(1, )),
    metric_key='accuracy/top1',
    input_shape=(1, 3, img_size, img_size),
    flops_limit=3.5e6,  # FLOPs of a completion (mmengine FlopAnalyzer): 40 of the 54 paths fit (max 5.2e6)
    bn_recalibration_batches=4,
    retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')
val_cfg = dict(type='ValLoop')
find_unused_parameters = True  # single-path supernet: the unselected ops get no gradient under DDP
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, eta_min=5e-3)]  # over the search's iterations
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2), logger=dict(interval=50))
log_processor = dict(by_epoch=False)
