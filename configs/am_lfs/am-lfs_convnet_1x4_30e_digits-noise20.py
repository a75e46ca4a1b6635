# AM-LFS on the bundled digits with 20 % of the training labels flipped (the embedded default): 4 copies learn the
# loss function (piecewise-linear t and tau on a cosine classifier, METHODS.md §3) while they train, rewarded on
# the clean reward split. A few minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/convnet_digits.py', '../_base_/datasets/digits.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/default_runtime.py'
]

num_copies = 4
num_intervals = 6  # M = 6 (public reimplementation)
model = dict(head=dict(type='CosineLinearClsHead', loss=dict(type='AMLFSLoss', num_intervals=num_intervals)))
train_dataloader = dict(
    sampler=dict(type='CopySampler', shuffle=True),
    dataset=dict(_delete_=True, type='NoisyLabelDataset', noise_ratio=0.2, seed=0,
                 dataset=dict(type='DigitsDataset', split='train', img_size=32, max_samples=600,
                              pipeline=[dict(type='PackClsInputs')])))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         # mu_0 = 0 = cross-entropy, monotone theta (every sample a valid loss), sigma = 0.2: our choice. With the
         # paper's piecewise layout and the public sigma^2 = 0.2 the sampled losses stopped every copy from learning
         # (README; benchmarks/am_lfs_digits.py --parametrisation piecewise --std 0.447 reproduces that).
         spaces=[dict(type='LossFunctionSpace', num_intervals=num_intervals, std=0.2)],
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
model_wrapper_cfg = dict(type='automl_mm.CopyDataParallel')
env_cfg = dict(dist_cfg=dict(backend='nccl', timeout=300))
train_cfg = dict(val_interval=10)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
