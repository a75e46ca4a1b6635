# PC-NAS on reduced Fashion-MNIST (the space of the stand-alone ground truth, SPACES['fmnist']: 81 architectures of
# 4 mixed layers k3e3 / k5e6 / skip at 28x28): the same 2,000 training images (200 per class) and batches of 32 as
# the stand-alone retrain config; a warm-up of uniform single paths, then one stage per layer; pool K = 3,
# potential = mean reward-split top-1 over S = 6 uniform completions, completions over the FLOPs limit skipped.
# Candidates are scored on 1,000 images (100 per class) of the 5,000-image reward split, which is held out from
# training and from the test split (the ground truth scores the whole 5,000). Sizes are our choices for the CPU
# budget, mirroring the digits config (600 warm-up + 4 x 300 iterations).
_base_ = ['../_base_/models/mbconv_fmnist.py', '../_base_/datasets/fashion_mnist.py', '../_base_/default_runtime.py']

img_size = 28
train_dataloader = dict(batch_size=32, dataset=dict(samples_per_class=200))
val_dataloader = dict(dataset=dict(samples_per_class=500))
test_dataloader = val_dataloader
reward_dataloader = dict(dataset=dict(samples_per_class=100))

warmup_iters = 600
stage_iters = 300
train_cfg = dict(
    type='PCNASLoop',
    warmup_iters=warmup_iters,
    stage_iters=stage_iters,
    pool_size=3,
    num_samples=6,
    batches_per_sample=None,  # the whole (1,000-image) reward subset per completion
    search_evaluator=dict(type='Accuracy', topk=(1, )),
    metric_key='accuracy/top1',
    input_shape=(1, 3, img_size, img_size),
    # FLOPs of a path (mmengine FlopAnalyzer, norms in eval mode): 54 of the 81 fit (max admitted 2.76e6, the
    # next 3.05e6; the space spans 0.32e6 to 4.93e6): at most one k5e6 block (48), or two with
    # both other layers skip (6).
    flops_limit=2.9e6,
    bn_recalibration_batches=4,
    retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-fmnist_1x1_300it_fmnist.py')
val_cfg = dict(type='ValLoop')
find_unused_parameters = True  # single-path supernet: the unselected ops get no gradient under DDP
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, eta_min=5e-3)]  # over the search's iterations
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2), logger=dict(interval=50))
log_processor = dict(by_epoch=False)
