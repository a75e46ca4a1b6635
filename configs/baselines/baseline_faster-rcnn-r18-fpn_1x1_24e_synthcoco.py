# mmdet's Faster R-CNN with automl_mm's ResNet-18 backbone on the generated shapes set
# (python tools/data/generate_coco.py data/synthetic_coco). Sized for CPUs: 128 px images, 64-channel FPN.
# From scratch (no pretrained weights can be downloaded), hence 24 epochs at lr 0.02 for batch 4 (our choice).
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn_synthcoco.py', '../_base_/datasets/synthcoco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py'
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=8)
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=8, max_keep_ckpts=2, save_last=True), logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=4)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
randomness = dict(seed=0, deterministic=False)
