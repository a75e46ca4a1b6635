# Fashion-MNIST from the idx files (data/fashion-mnist, else /usr/share/datasets/fashion-mnist: Debian package
# dataset-fashion-mnist): 55k train / 5k reward (seeded, stratified, from the official 60k) / the official 10k test.
# 28x28 grey images repeated over 3 channels, uint8 HWC.
dataset_type = 'FashionMNISTDataset'
fashion_split = dict(data_root=None, reward_size=5000, seed=0)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline, **fashion_split))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline, **fashion_split))
test_dataloader = val_dataloader
# The reward split (OHL rewards, NAS scoring) is never the test split.
reward_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='reward', pipeline=test_pipeline, **fashion_split))

val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
