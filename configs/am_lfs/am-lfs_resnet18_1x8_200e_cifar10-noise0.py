# AM-LFS, paper setting (METHODS.md §3): CIFAR-10 with 0 % label noise. ResNet-18 with a cosine head and 8 copies
# are our choice (the talk does not give the CIFAR model); M = 6, the paper's piecewise theta layout and
# sigma^2 = 0.2 follow the public reimplementation (parametrisation='monotone', the default elsewhere, is ours).
# The noise10 / noise20 configs inherit this one and change only the noise ratio.
_base_ = [
    '../_base_/models/resnet18_cifar.py', '../_base_/datasets/cifar10.py',
    '../_base_/schedules/cifar10_sgd_200e.py', '../_base_/ohl_copies.py'
]

num_copies = 8
noise_ratio = 0.0
model = dict(head=dict(type='CosineLinearClsHead',
                       loss=dict(type='AMLFSLoss', num_intervals=6, parametrisation='piecewise')))
train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(_delete_=True, type='NoisyLabelDataset', noise_ratio=noise_ratio, seed=0,
                 dataset={{_base_.train_dataloader.dataset}}))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         spaces=[dict(type='LossFunctionSpace', parametrisation='piecewise', std=0.2**0.5)],
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
env_cfg = dict(dist_cfg=dict(timeout=1800))  # as OHL-Auto-Aug's CIFAR-10 ResNet-18 run
