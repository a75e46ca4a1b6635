# Trains one architecture of the Fashion-MNIST MBConv space (SPACES['fmnist'], 81 architectures) from scratch on
# reduced Fashion-MNIST: 200 training images per class (2,000, a seeded subset of the 55k train split), 300
# iterations of batches of 32 (about 5 epochs), SGD with cosine decay. It is the stand-alone training of the
# ground truth (benchmarks/nas_ground_truth_fmnist.py) and what PC-NAS exports on this space inherit. Scored on the
# 5,000-image reward split (what supernets score on) and on 500 test images per class (a fixed, seeded 5,000 of
# the official 10k test set). The `arch` below is only the template's default (every layer's first candidate).
# Sizes are our choices for a 2-core CPU budget (an architecture takes about 22 s on one core on average, 39 s at most).
_base_ = [
    '../_base_/models/mbconv_fmnist.py', '../_base_/datasets/fashion_mnist.py', '../_base_/default_runtime.py'
]
samples_per_class = 200
max_iters = 300
model = dict(backbone=dict(arch=['k3e3', 'k3e3', 'k3e3', 'k3e3']))
train_dataloader = dict(batch_size=32, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dict(samples_per_class=samples_per_class))
val_dataloader = dict(dataset=dict(samples_per_class=500))
test_dataloader = val_dataloader

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
                     logger=dict(interval=50))
log_processor = dict(by_epoch=False)
