# PC-NAS on digits (the embedded default, `make demo-pc-nas`; about 3 minutes on 2 idle CPU cores, 3.1 measured in
# the README's PC-NAS section): a 4-layer MBConv supernet, a warm-up of uniform single paths, then one stage per
# layer; pool K = 3, potential = mean reward-split top-1 over S = 6 uniform completions, completions over the FLOPs
# limit skipped. The reward split is held out from training and from the test split. Sizes are our choices for the
# CPU budget (the paper's are in pc-nas-s / pc-nas-l configs).
_base_ = [
    '../_base_/models/mbconv_digits.py', '../_base_/datasets/digits.py',
    '../_base_/schedules/pc-nas_1800it.py'
]

img_size = 16
train_dataloader = dict(dataset=dict(img_size=img_size))
val_dataloader = dict(dataset=dict(img_size=img_size))
test_dataloader = val_dataloader
reward_dataloader = dict(dataset=dict(img_size=img_size))

train_cfg = dict(
    input_shape=(1, 3, img_size, img_size),
    flops_limit=3.5e6,  # FLOPs of a completion (mmengine FlopAnalyzer): 40 of the 54 paths fit (max 5.2e6)
    retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')
