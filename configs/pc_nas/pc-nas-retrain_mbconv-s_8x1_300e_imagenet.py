# Trains one architecture of the 'pcnas_s' space from scratch on ImageNet (what PC-NAS-S exports inherit).
# The arch below is only the template default (every layer's first candidate, k3e3); the search writes
# search/pc_nas_final_config.py with the searched arch. Schedule (ours): 300 epochs, SGD 0.4 cosine, batch 8 x 128.
_base_ = ['../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    backbone=dict(type='MBConvSupernet', space='pcnas_s', arch=['k3e3'] * 21),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1792, loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=4e-5,
                                                         nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, T_max=295, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
