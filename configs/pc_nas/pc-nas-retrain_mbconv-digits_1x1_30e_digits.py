# Trains one architecture of the digits MBConv space from scratch (what PC-NAS exports inherit). The `arch` below
# is only the template's default (every layer's first candidate); the search writes
# work_dirs/<run>/search/pc_nas_final_config.py that inherits this file and sets the searched arch.
_base_ = [
    '../_base_/models/mbconv_digits.py', '../_base_/datasets/digits.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/default_runtime.py'
]
img_size = 16
model = dict(backbone=dict(arch=['k3e3', 'k3e3', 'k3e3', 'k3e3']))
train_dataloader = dict(dataset=dict(img_size=img_size))
val_dataloader = dict(dataset=dict(img_size=img_size))
test_dataloader = val_dataloader
reward_dataloader = dict(dataset=dict(img_size=img_size))
default_hooks = dict(checkpoint=dict(interval=10))
