# The PC-NAS search schedule of the small CPU-sized configs (digits, Fashion-MNIST): a warm-up of uniform single
# paths, then one stage per mixed layer (4 here); pool K = 3, potential = mean reward-split top-1 over S = 6 uniform
# completions, completions over the FLOPs limit skipped; SGD with a cosine schedule over all the search's
# iterations. A leaf adds the space-specific keys of train_cfg: input_shape, flops_limit, retrain_config.
# Sizes are our choices for the CPU budget (the paper's are in the pc-nas-s / pc-nas-l configs). It carries the
# default runtime (its hooks are overridden here).
_base_ = ['../default_runtime.py']

warmup_iters = 600
stage_iters = 300
train_cfg = dict(
    type='PCNASLoop',
    warmup_iters=warmup_iters,
    stage_iters=stage_iters,
    pool_size=3,
    num_samples=6,
    batches_per_sample=None,  # the whole reward split (as the leaf's reward_dataloader sizes it) per completion
    search_evaluator=dict(type='Accuracy', topk=(1, )),
    metric_key='accuracy/top1',
    bn_recalibration_batches=4)
val_cfg = dict(type='ValLoop')
find_unused_parameters = True  # single-path supernet: the unselected ops get no gradient under DDP
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, eta_min=5e-3)]  # over the search's iterations
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2), logger=dict(interval=50))
log_processor = dict(by_epoch=False)
