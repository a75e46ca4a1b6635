# The default `make demo` when Fashion-MNIST is installed: OHL-Auto-Aug with 4 copies on 500 training images
# (50 per class), 100 epochs = 100 trunks, rewarded on 1,000 images of the held-out reward split; test = the official
# 10,000 test images. The 20-epoch config it inherits from (1,000 images) is a regime where every augmentation still
# costs accuracy (no augmentation 83.18 %, crop + flip 80.81 %: README, OHL-Auto-Aug on Fashion-MNIST); in this one,
# measured with benchmarks/autoaug_fmnist.py (--epochs 100 --samples-per-class 50 --reward-samples 1000, 3 seeds),
# crop + flip + pairs of RandAugment's 18 elements end about 2 points above training without augmentation
# (uniform pairs 81.55 +- 0.22 %, OHL-Auto-Aug 81.66 +- 0.42 %, none 79.58 +- 0.30 %). Two speed settings change
# nothing but float rounding (the benchmark's --channels-last --reward-batch 64): NHWC convolutions and 64-image
# reward batches, on one thread per copy 1.5x faster training steps and 2.6x faster reward readings
# (benchmarks/channels_last_speed.py).
_base_ = ['./ohl-autoaug_convnet_1x4_20e_fashion-mnist.py']

max_epochs = 100
model = dict(channels_last=True)
train_dataloader = dict(dataset=dict(samples_per_class=50))
reward_dataloader = dict(batch_size=64, dataset=dict(max_samples=1000))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=25, max_keep_ckpts=2))
custom_hooks = [dict(_base_.ohl_autoaug_hook, reward_key='accuracy/top1'),
                dict(type='OHLProgressHook', interval=5)]  # a console line every 5 trunks: 20 lines
