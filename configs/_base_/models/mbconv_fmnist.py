# An ImageClassifier on the Fashion-MNIST MBConv space (automl_mm/models/backbones/mbconv_supernet.py,
# SPACES['fmnist']): stem 16 at stride 2 (28x28 -> 14x14), 4 mixed layers of ('k3e3', 'k5e6', 'skip') at width 16,
# final 1x1 convolution to 64; skip is a candidate in every layer: 3^4 = 81 architectures. Without `arch` the
# backbone is the supernet; with `arch` it is one stand-alone network.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(type='MBConvSupernet', space='fmnist'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64, loss=dict(type='CrossEntropyLoss')))
