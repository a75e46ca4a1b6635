# scikit-learn's bundled digits (no download): seeded train / reward / test split, images upsampled to 32x32.
dataset_type = 'DigitsDataset'
img_size = 32
digits_split = dict(split_sizes=(0.6, 0.2, 0.2), seed=0)

train_pipeline = [dict(type='PackClsInputs')]
test_pipeline = [dict(type='PackClsInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train', img_size=img_size, pipeline=train_pipeline, **digits_split))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='test', img_size=img_size, pipeline=test_pipeline, **digits_split))
test_dataloader = val_dataloader
# The reward split (OHL rewards, NAS scoring) is never the test split.
reward_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='reward', img_size=img_size, pipeline=test_pipeline, **digits_split))

val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
