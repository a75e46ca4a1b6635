# PC-NAS-S on ImageNet (METHODS.md §4), in its spirit: the 'pcnas_s' MBConv space of
# automl_mm/models/backbones/mbconv_supernet.py (k3/k5/k7 x e3/e6 + skip per mixed layer; widths documented there),
# a 2 % held-out reward split for the potentials. The paper does not give its supernet schedule; ours (8 GPUs x 128):
# 20 epochs of uniform warm-up, then 5 epochs per mixed layer, pool K = 5, S = 20 completions of 10 reward batches.
_base_ = ['../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    backbone=dict(type='MBConvSupernet', space='pcnas_s'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1792, loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(batch_size=128)
reward_dataloader = dict(batch_size=128)
find_unused_parameters = True  # single-path supernet: the unselected ops get no gradient under DDP

iters_per_epoch = 1251  # 1.28M images / (8 x 128)
warmup_iters = 20 * iters_per_epoch
stage_iters = 5 * iters_per_epoch  # 21 mixed layers: 125 epochs in all
train_cfg = dict(
    type='PCNASLoop',
    warmup_iters=warmup_iters,
    stage_iters=stage_iters,
    pool_size=5,
    num_samples=20,
    batches_per_sample=10,
    search_evaluator=dict(type='Accuracy', topk=(1, )),
    metric_key='accuracy/top1',
    input_shape=(1, 3, 224, 224),
    flops_limit=585e6,  # MobileNetV2-1.4's 585M multiply-adds (the paper constrains its GPU latency)
    bn_recalibration_batches=20,
    checkpoint_interval_s=900,
    retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-s_8x1_300e_imagenet.py')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=4e-5,
                                                         nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=5 * iters_per_epoch),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, T_max=warmup_iters + 21 * stage_iters),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2), logger=dict(interval=100))
log_processor = dict(by_epoch=False)
