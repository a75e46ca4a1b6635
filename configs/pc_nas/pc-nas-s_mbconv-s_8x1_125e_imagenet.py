# PC-NAS-S on ImageNet, in its spirit: the 'pcnas_s' MBConv space of automl_mm/models/backbones/mbconv_supernet.py
# (21 mixed layers of k3/k5/k7 x e3/e6 + skip, MobileNetV2-1.4 widths) under MobileNetV2-1.4's 585M multiply-adds
# (the paper constrains its GPU latency instead). 20 + 21 x 5 = 125 epochs.
_base_ = '../_base_/pc-nas_mbconv_imagenet.py'
model = dict(backbone=dict(space='pcnas_s'), head=dict(in_channels=1792))
train_cfg = dict(flops_limit=585e6, retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-s_8x1_300e_imagenet.py')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=5 * 1227),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0),  # T_max: the search's iterations
]
