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
         # mu_0 = 0 = cross-entropy, monotone theta (every sample a valid loss). sigma = 0.05, one-epoch trunks and
         # 4 copies were chosen by reward-split accuracy on reduced Fashion-MNIST with 40 % symmetric noise, against
         # sigma 0.025 / 0.1 / 0.2 / 0.4, half-epoch and 3-epoch trunks and 8 copies (README; the digits leaf was not
         # re-measured at 0.05). With the paper's piecewise layout and the public sigma^2 = 0.2 the sampled losses
         # stopped every copy from learning (benchmarks/am_lfs_digits.py --parametrisation piecewise --std 0.447).
         spaces=[dict(type='LossFunctionSpace', std=0.05)],  # num_intervals: the loss's
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
