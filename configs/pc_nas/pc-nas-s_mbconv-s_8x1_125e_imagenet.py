# PC-NAS-S on ImageNet, in its spirit: the 'pcnas_s' MBConv space of automl_mm/models/backbones/mbconv_supernet.py
# (21 mixed layers of k3/k5/k7 x e3/e6 + skip, MobileNetV2-1.4 widths) under MobileNetV2-1.4's cost (the paper
# constrains its GPU latency instead). 20 + 21 x 5 = 125 epochs. The limit is in the units of the FLOPs table it is
# checked against (automl_mm.nas.flops.count_flops: mmengine's FlopAnalyzer, which adds batch norm to the
# multiply-adds, over the backbone without the classifier): MobileNetV2-1.4's features count 599.55M there
# (count_flops(torchvision.models.mobilenet_v2(width_mult=1.4).features.eval(), (1, 3, 224, 224)): 580.40M of
# convolution multiply-adds + 19.15M of batch norm, in eval mode as the search's table), its published 585M multiply-adds include the classifier. Until the
# twenty-second session the limit was 585e6, about 568M of convolution in these units. The space holds no exact
# MobileNetV2-1.4: its first mixed layer expands the 48-channel stem at 112 x 112 where MobileNetV2 has a t = 1 block,
# so its MobileNetV2-like path (k3e6 in 2/3/4/3/3/1 layers per stage, skip elsewhere) counts 731M.
_base_ = '../_base_/pc-nas_mbconv_imagenet.py'
model = dict(backbone=dict(space='pcnas_s'), head=dict(in_channels=1792))
train_cfg = dict(flops_limit=599.55e6, retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-s_8x1_300e_imagenet.py')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=5 * 1227),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0),  # T_max: the search's iterations
]
