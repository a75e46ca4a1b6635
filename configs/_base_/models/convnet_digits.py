# A 3-stage plain CNN for the 32x32 digits images (the fast embedded default).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(type='SimpleConvNet', channels=(32, 64, 128)),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128, loss=dict(type='CrossEntropyLoss')))
