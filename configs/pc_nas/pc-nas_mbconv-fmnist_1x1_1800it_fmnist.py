# PC-NAS on reduced Fashion-MNIST (the space of the stand-alone ground truth, SPACES['fmnist']: 81 architectures of
# 4 mixed layers k3e3 / k5e6 / skip at 28x28): the same 2,000 training images (200 per class) and batches of 32 as
# the stand-alone retrain config; a warm-up of uniform single paths, then one stage per layer; pool K = 3,
# potential = mean reward-split top-1 over S = 6 uniform completions, completions over the FLOPs limit skipped.
# Candidates are scored on 1,000 images (100 per class) of the 5,000-image reward split, which is held out from
# training and from the test split (the ground truth scores the whole 5,000). Sizes are our choices for the CPU
# budget, mirroring the digits config (600 warm-up + 4 x 300 iterations).
_base_ = [
    '../_base_/models/mbconv_fmnist.py', '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/pc-nas_1800it.py'
]

img_size = 28
train_dataloader = dict(batch_size=32, dataset=dict(samples_per_class=200))
val_dataloader = dict(dataset=dict(samples_per_class=500))
test_dataloader = val_dataloader
reward_dataloader = dict(dataset=dict(samples_per_class=100))

train_cfg = dict(
    input_shape=(1, 3, img_size, img_size),
    # FLOPs of a path (mmengine FlopAnalyzer, norms in eval mode): 54 of the 81 fit (max admitted 2.76e6, the
    # next 3.05e6; the space spans 0.32e6 to 4.93e6): at most one k5e6 block (48), or two with
    # both other layers skip (6).
    flops_limit=2.9e6,
    retrain_config='configs/pc_nas/pc-nas-retrain_mbconv-fmnist_1x1_300it_fmnist.py')
