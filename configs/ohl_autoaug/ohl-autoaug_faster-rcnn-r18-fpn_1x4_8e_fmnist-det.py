# OHL-Auto-Aug inside mmdet's Faster R-CNN (automl_mm ResNet-18, 64-channel FPN) on the Fashion-MNIST detection set
# (python tools/data/generate_fmnist_det.py data/fmnist_det): 4 copies learn which ordered pair of the 36
# augmentation elements to apply after flip (geometric elements move the boxes and masks with the pixels), while
# they train 8 epochs (one trunk per epoch) on the first 200 training images from scratch, rewarded by
# coco/bbox_mAP on the whole reward split (500 images; CocoMetric scores every image of its ann_file).
# Run time on 2 idle CPU cores, measured (the first trunks of one run, 4 copies): 2 min 25 s per trunk (75 s of
# training, 70 s scoring the 500 reward images), so about 20 minutes for 8 trunks with start-up and the final
# evaluation. benchmarks/autoaug_det.py's measured table used 100 training images and a 200-image reward split
# (about 11 minutes per run).
# Export: work_dir/ohl/final_policy.py holds an automl_mm.FixedAutoAugment that a stock mmdet config retrains with.
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn_synthcoco.py', '../_base_/datasets/fmnist_det.py',
    'mmdet::_base_/schedules/schedule_1x.py', '../_base_/ohl_copies.py', '../_base_/ohl-autoaug_fmnist_hook.py'
]
# mmdet's detector, dataset, transforms and CocoMetric by their names; automl_mm's parts by their scope prefix.
default_scope = 'mmdet'

max_epochs = 8
num_train_images = 200
# score_thr 0 (mmdet: 0.05): every image keeps its 50 best detections. From scratch, the classifier learns
# "background" within a few iterations and every score can fall below 0.05 (measured: none left after 2-6
# iterations); a trunk whose copies all return no detection has no reward (CocoMetric computes nothing) and stops
# the run. Low-scored extra detections only extend the tail of COCO's precision-recall curve.
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)), test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    # The canvases' background is (near) black: geometric elements uncover black, not AutoAugment's grey.
    dict(type='automl_mm.OHLAutoAugment', key='autoaug', fill=0),
    dict(type='PackDetInputs'),  # the PipelineChoiceSpace adds 'ohl_choice' to its meta_keys
]
train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(indices=num_train_images, pipeline=train_pipeline))

# the Fashion-MNIST classification config's hook (copies, trunks, controller), rewarded by box mAP
custom_hooks = [dict(_base_.ohl_autoaug_hook, reward_key='coco/bbox_mAP'), dict(type='automl_mm.OHLProgressHook')]
# Gradients clipped at norm 35 (mmdet's value for Faster R-CNN on Objects365): from scratch at lr 0.02, one of
# three single-model seeds went to NaN at iteration 86 without it (benchmarks/det_regime.py, 200 images).
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2), logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=4)
