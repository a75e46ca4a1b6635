# OHL learning the learning rate and the weight decay of SGD online (benchmarks/ohl_vs_pbt.py: against Ray Tune's
# PBT, random search and a grid over the same values). 4 copies train 20 epochs (one trunk per epoch) on 500
# Fashion-MNIST training images (50 per class) with crop + flip, rewarded on 2,000 images of the held-out reward
# split; test = the official 10,000 test images. The learning rate is constant apart from what OHL sets (no
# param_scheduler), so what is compared is hyper-parameter learning, not schedules.
_base_ = ['../_base_/models/convnet_digits.py', '../_base_/datasets/fashion_mnist.py', '../_base_/ohl_copies.py']

num_copies = 4
max_epochs = 20
# The grid every arm of the benchmark uses; a bad corner exists (lr 0.3 with weight decay 1e-2 shrinks the
# weights by 3 % a step before momentum, lr 0.003 barely trains in 20 epochs).
lr_choices = [0.003, 0.01, 0.03, 0.1, 0.3]
wd_choices = [0.0, 1e-4, 1e-3, 1e-2]

train_dataloader = dict(sampler={{_base_.copy_sampler}}, dataset=dict(samples_per_class=50))
reward_dataloader = dict(dataset=dict(max_samples=2000))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-3))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         # Two categorical spaces on log-spaced grids (independent of each other), not a Gaussian: the same
         # values PBT mutates between.
         spaces=[dict(type='AttributeSpace', name='lr', target='optim_wrapper.optimizer.param_groups.*.lr',
                      choices=lr_choices,
                      distribution=dict(type='Categorical', num_choices=len(lr_choices),
                                        labels=[f'{v:g}' for v in lr_choices])),
                 dict(type='AttributeSpace', name='weight_decay',
                      target='optim_wrapper.optimizer.param_groups.*.weight_decay', choices=wd_choices,
                      distribution=dict(type='Categorical', num_choices=len(wd_choices),
                                        labels=[f'{v:g}' for v in wd_choices]))],
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
    dict(type='OHLProgressHook'),
]
# Only the final checkpoint (every checkpoint of an OHL run falls on a trunk end; none is needed between trunks).
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1), logger=dict(interval=10))
