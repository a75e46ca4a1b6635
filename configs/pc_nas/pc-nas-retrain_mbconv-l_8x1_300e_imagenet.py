# Trains one architecture of the 'pcnas_l' space from scratch on ImageNet (what PC-NAS-L exports inherit): the
# PC-NAS-S retrain schedule with the wider space. The arch below is only the template default (every layer's first
# candidate, k3e3); the search writes search/pc_nas_final_config.py with the searched arch.
_base_ = './pc-nas-retrain_mbconv-s_8x1_300e_imagenet.py'
model = dict(backbone=dict(space='pcnas_l', arch=['k3e3'] * 24), head=dict(in_channels=1920))
