# ImageNet in class folders (data/imagenet/{train,val}/<wnid>/*.JPEG); 2 % of train held out as the reward split.
dataset_type = 'ImageFolderDataset'
data_root = 'data/imagenet'

train_pipeline = [
    dict(type='mmcv.LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='mmcv.LoadImageFromFile'),
    dict(type='ResizeShortEdge', size=256),
    dict(type='mmcv.CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train'), split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    # test_mode: an image whose pipeline gives None (LoadImageFromFile(ignore_empty=True) on an empty file) is refused;
    # outside it mmengine read a random other val image in its place (split='all' is no held-out split to the dataset)
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='val'), split='all',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
reward_dataloader = dict(
    batch_size=64,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train'), split='reward',
                 pipeline=test_pipeline))

val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
