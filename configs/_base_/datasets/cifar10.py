# CIFAR-10 from the extracted python batches (data/cifar-10-batches-py); 45k train / 5k reward / 10k test.
dataset_type = 'CIFAR10Dataset'
data_root = 'data/cifar-10-batches-py'

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
reward_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='reward', pipeline=test_pipeline))

val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
