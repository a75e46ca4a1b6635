# The generated shapes set split by image into arch-train / arch-val for CR-NAS (tools/data/split_coco.py):
#   python tools/data/generate_coco.py data/synthetic_coco
#   python tools/data/split_coco.py data/synthetic_coco/annotations/instances_train.json \
#       data/synthetic_coco/annotations --val-fraction 0.25
# The supernet trains on arch-train; candidates are scored on arch-val; the val split stays for reporting.
_base_ = './synthcoco_detection.py'
data_root = 'data/synthetic_coco/'  # as in the base (a derived path needs it in this file)

train_dataloader = dict(dataset=dict(ann_file='annotations/instances_arch-train.json'))
search_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(type={{_base_.dataset_type}}, data_root=data_root, metainfo={{_base_.metainfo}},
                 ann_file='annotations/instances_arch-val.json', data_prefix=dict(img='train/'), test_mode=True,
                 pipeline={{_base_.test_pipeline}}))
search_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_arch-val.json',
                        metric='bbox', format_only=False)
