# Plain training of the small CNN on digits: the reference every digits search is compared against.
_base_ = [
    '../_base_/models/convnet_digits.py', '../_base_/datasets/digits.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(interval=10), logger=dict(interval=10))
