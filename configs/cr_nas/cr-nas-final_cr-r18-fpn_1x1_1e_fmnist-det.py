# Trains a CR-ResNet-18 Faster R-CNN FPN (64-channel FPN, 160 px) from scratch on the Fashion-MNIST detection set
# (python tools/data/generate_fmnist_det.py data/fmnist_det): the 2,000 train images, validation on the val split
# after the last epoch, tools/test.py on the test split. The backbone here is the standard allocation (2, 2, 2, 2)
# with dilation 1 (= ResNet-18); the CR-NAS search (cr-nas_cr-r18-fpn_1x1_*it_fmnist-det.py) writes
# work_dirs/<run>/search/cr_nas_final_config.py, which inherits this file with the searched stage_blocks and
# dilations_per_block, so both networks train with exactly this schedule (benchmarks/cr_nas_fmnist_det.py).
# Schedule (our CPU-budget choice): 1 epoch of 500 iterations at batch 4, lr 0.02, linear warm-up then cosine.
# Measured run time: 6.5 minutes on 2 CPU cores with one torch thread, two trainings side by side
# (benchmarks/cr_nas_fmnist_det.py --jobs 2).
_base_ = [
    '../_base_/models/cr-faster-rcnn_r18_fpn_synthcoco.py', '../_base_/datasets/fmnist_det.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py'
]

max_epochs = 1
# score_thr 0 (mmdet: 0.05), as in the OHL-Auto-Aug Fashion-MNIST detection config: from scratch every score can fall
# below 0.05 early on, and an image without detections gives CocoMetric nothing to score.
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)), test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1), logger=dict(interval=50))
auto_scale_lr = dict(enable=False, base_batch_size=4)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
randomness = dict(seed=0, deterministic=False)
