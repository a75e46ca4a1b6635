# PC-NAS-L on ImageNet, in its spirit: the wider 'pcnas_l' MBConv space (24 mixed layers) within 11 ms (paper) from a
# latency table measured on the target GPU:
#   python tools/measure_latency.py CONFIG --out data/pcnas_l_latency_gpu.json --device cuda --input-shape 1 3 224 224
# 20 + 24 x 5 = 140 epochs.
_base_ = '../_base_/pc-nas_mbconv_imagenet.py'
model = dict(backbone=dict(space='pcnas_l'), head=dict(in_channels=1920))
train_cfg = dict(latency_table='data/pcnas_l_latency_gpu.json', latency_limit=11.0,
                 retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-l_8x1_300e_imagenet.py')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=5 * 1227),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0),  # T_max: the search's iterations
]
