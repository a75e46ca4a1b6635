# OHL-Auto-Aug on the bundled digits (`make demo` without Fashion-MNIST): 4 copies learn a distribution over the
# 1,296 ordered pairs of the 36 augmentation elements while they train, on 300 training images (so that
# augmentation matters), rewarded on the held-out reward split. About 3 minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/convnet_digits.py', '../_base_/datasets/digits.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/ohl_copies.py'
]

num_copies = 4
train_pipeline = [dict(type='OHLAutoAugment', key='autoaug'), dict(type='PackClsInputs')]
train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(max_samples=300, pipeline=train_pipeline))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,  # trunk = 1 epoch, as in the public OHL-Auto-Aug reimplementation
         spaces=[dict(type='PipelineChoiceSpace', key='autoaug',
                      distribution=dict(type='Categorical'))],  # 36 x 36 pairs: the transform's
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
    dict(type='OHLProgressHook'),
]
train_cfg = dict(val_interval=10)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
