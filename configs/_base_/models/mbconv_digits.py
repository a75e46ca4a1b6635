# An ImageClassifier on the digits MBConv space (automl_mm/models/backbones/mbconv_supernet.py, SPACES['digits']):
# 4 mixed layers of ('k3e3', 'k5e6', 'skip') on 16x16 inputs (skip is not a candidate in the stride-2 layer),
# 54 architectures. Without `arch` the backbone is the supernet; with `arch` it is one stand-alone network.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(type='MBConvSupernet', space='digits'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64, loss=dict(type='CrossEntropyLoss')))
