# PC-NAS on ImageNet (METHODS.md §4), shared by PC-NAS-S and PC-NAS-L: an MBConv supernet classifier (the leaves pick
# the space and the cost limit) and a 2 % held-out reward split for the potentials. The paper does not give its
# supernet schedule; ours (8 GPUs x 128): 20 epochs of uniform warm-up, then 5 epochs per mixed layer, pool K = 5,
# S = 20 completions of 10 reward batches, BN re-estimated on 20 batches per scored path.
_base_ = ['./datasets/imagenet.py', './default_runtime.py']
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    backbone=dict(type='MBConvSupernet', space='pcnas_s'),  # leaves pick the space (and the head width)
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1792, loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(batch_size=128)
reward_dataloader = dict(batch_size=128)
find_unused_parameters = True  # single-path supernet: the unselected ops get no gradient under DDP

# ImageNet-1k's 1,281,167 training images less the 2 % reward split (ImageFolderDataset reward_ratio=0.02, stratified:
# about 1,255,540 left) / (8 GPUs x 128) = 1,226.1, so 1,227 iterations per epoch (1,251 before the twentieth session, which
# left out the reward split: every phase 2 % longer than its epochs)
iters_per_epoch = 1227
train_cfg = dict(
    type='PCNASLoop',
    warmup_iters=20 * iters_per_epoch,
    stage_iters=5 * iters_per_epoch,
    pool_size=5,
    num_samples=20,
    batches_per_sample=10,
    search_evaluator=dict(type='Accuracy', topk=(1, )),
    metric_key='accuracy/top1',
    input_shape=(1, 3, 224, 224),
    bn_recalibration_batches=20,
    # completions over the cost limit: drawn exactly from the admitted ones once a prefix has at most
    # enumerate_limit completions (the later stages), else by rejection with max_tries draws per completion
    completion_sampler=dict(type='UniformPathSampler', max_tries=10000, enumerate_limit=100000),
    checkpoint_interval_s=900)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=4e-5,
                                                         nesterov=True))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2), logger=dict(interval=100))
log_processor = dict(by_epoch=False)
