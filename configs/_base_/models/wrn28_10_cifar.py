# WRN-28-10 for CIFAR (36.5M parameters).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[125.307, 122.961, 113.8575],
                           std=[51.5865, 50.847, 51.255], bgr_to_rgb=True),
    backbone=dict(type='WideResNet', depth=28, widen_factor=10, dropout=0.0),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=640, loss=dict(type='CrossEntropyLoss')))
