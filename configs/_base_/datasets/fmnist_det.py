# Fashion-MNIST items pasted on 160-px canvases, COCO format (boxes + RLE masks), read by mmdet's CocoDataset and
# scored by CocoMetric unchanged. Generate it first (needs the Fashion-MNIST idx files, no download):
#   python tools/data/generate_fmnist_det.py data/fmnist_det
# Splits: train / reward (OHL rewards, NAS scoring) / val from disjoint pools of the official 60k training items,
# test from the official 10k test items only. This base loads boxes (bbox metric); a Mask R-CNN config adds
# with_mask=True to LoadAnnotations and metric=['bbox', 'segm'] to the evaluators.
# The pipelines, loaders and evaluators are the generated shapes set's, on this set's root, classes and canvas size
# (mmengine resolves a base's names when it reads the base, so each value naming them is rebuilt here).
_base_ = './synthcoco_detection.py'

data_root = 'data/fmnist_det/'
metainfo = dict(classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot'))
img_scale = (160, 160)

train_pipeline = [dict(step, scale=img_scale) if step['type'] == 'Resize' else step for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=img_scale) if step['type'] == 'Resize' else step for step in _base_.test_pipeline]

train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(_base_.val_dataloader, dataset=dict(_base_.val_dataloader['dataset'], data_root=data_root,
                                                          metainfo=metainfo, pipeline=test_pipeline))
# The reward split (OHL rewards, NAS scoring) is never the test split.
reward_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'], ann_file='annotations/instances_reward.json', data_prefix=dict(img='reward/')))
test_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'], ann_file='annotations/instances_test.json', data_prefix=dict(img='test/')))

val_evaluator = dict(_base_.val_evaluator, ann_file=data_root + 'annotations/instances_val.json')
reward_evaluator = dict(val_evaluator, ann_file=data_root + 'annotations/instances_reward.json')
test_evaluator = dict(val_evaluator, ann_file=data_root + 'annotations/instances_test.json')
