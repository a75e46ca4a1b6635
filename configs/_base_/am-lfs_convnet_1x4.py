# AM-LFS on the small ConvNet with 4 copies: the cosine head with the unified loss, the OHL hook learning the
# loss-function parameters, and the copy settings (ohl_copies.py). Leaves add a dataset base (their train sampler
# is the base's copy_sampler) and the schedule.
_base_ = ['./models/convnet_digits.py', './schedules/sgd_30e.py', './ohl_copies.py']

num_copies = 4
num_intervals = 6  # M = 6 (public reimplementation)
model = dict(head=dict(type='CosineLinearClsHead', loss=dict(type='AMLFSLoss', num_intervals=num_intervals)))
custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         # mu_0 = 0 = cross-entropy, monotone theta (every sample a valid loss), sigma = 0.2: our choice. With the
         # paper's piecewise layout and the public sigma^2 = 0.2 the sampled losses stopped every copy from learning
         # (README; benchmarks/am_lfs_digits.py --parametrisation piecewise --std 0.447 reproduces that).
         spaces=[dict(type='LossFunctionSpace', std=0.2)],  # num_intervals: the loss's
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
