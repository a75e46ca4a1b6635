# ResNet-18 with the CIFAR stem (3x3 stride-1 first convolution, no max-pool).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[125.307, 122.961, 113.8575],
                           std=[51.5865, 50.847, 51.255], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem='cifar', out_indices=(3,)),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512, loss=dict(type='CrossEntropyLoss')))
