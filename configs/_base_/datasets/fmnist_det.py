# Fashion-MNIST items pasted on 160-px canvases, COCO format (boxes + RLE masks), read by mmdet's CocoDataset and
# scored by CocoMetric unchanged. Generate it first (needs the Fashion-MNIST idx files, no download):
#   python tools/data/generate_fmnist_det.py data/fmnist_det
# Splits: train / reward (OHL rewards, NAS scoring) / val from disjoint pools of the official 60k training items,
# test from the official 10k test items only. This base loads boxes (bbox metric); a Mask R-CNN config adds
# with_mask=True to LoadAnnotations and metric=['bbox', 'segm'] to the evaluators.
dataset_type = 'CocoDataset'
data_root = 'data/fmnist_det/'
metainfo = dict(classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot'))
img_scale = (160, 160)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline,
                 backend_args=backend_args))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'), test_mode=True,
                 pipeline=test_pipeline, backend_args=backend_args))
# The reward split (OHL rewards, NAS scoring) is never the test split.
reward_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'], ann_file='annotations/instances_reward.json', data_prefix=dict(img='reward/')))
test_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'], ann_file='annotations/instances_test.json', data_prefix=dict(img='test/')))

val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox',
                     format_only=False, backend_args=backend_args)
reward_evaluator = dict(val_evaluator, ann_file=data_root + 'annotations/instances_reward.json')
test_evaluator = dict(val_evaluator, ann_file=data_root + 'annotations/instances_test.json')
