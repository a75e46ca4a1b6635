# Single-model reference of the OHL-Auto-Aug detection config (ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py)
# on the Fashion-MNIST detection set (python tools/data/generate_fmnist_det.py data/fmnist_det): the same mmdet
# Faster R-CNN with automl_mm's ResNet-18 and 64-channel FPN, optimiser, warm-up + cosine schedule, test settings and
# flip pipeline, trained from scratch as one model, without copies, controller or reward split. Validation on the
# val split every 8 epochs; tools/test.py scores the test split. benchmarks/det_regime.py trains it with other
# augmentations, image counts and lengths to find where augmentation starts to pay.
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn_synthcoco.py', '../_base_/datasets/fmnist_det.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py'
]

max_epochs = 24
# score_thr 0, as in the OHL config: from scratch, every score can fall below mmdet's 0.05 in the first iterations,
# and an evaluation without a single detection reports no mAP at all.
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)), test_cfg=dict(rcnn=dict(score_thr=0.0)))
# Gradients clipped at norm 35 (mmdet's value for Faster R-CNN on Objects365): from scratch at lr 0.02, one of
# three single-model seeds went to NaN at iteration 86 without it (benchmarks/det_regime.py, 200 images).
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=8)
default_hooks = dict(checkpoint=dict(interval=8, max_keep_ckpts=2, save_last=True), logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=4)
randomness = dict(seed=0, deterministic=False)
