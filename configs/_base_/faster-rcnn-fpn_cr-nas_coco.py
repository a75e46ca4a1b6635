# mmdet's Faster R-CNN FPN 1x COCO config (inherited) turned into a CR-NAS search: data splits, then the schedule.
# COCO for CR-NAS: the supernet trains on "arch-train" and candidates are scored on "arch-val", both split by image
# from train2017 (the paper: about 130K / 5K), so val2017 (minival) stays untouched for the reported AP:
#   python tools/data/split_coco.py data/coco/annotations/instances_train2017.json data/coco/annotations \
#       --val-images 5000 --prefix instances_arch
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
data_root = 'data/coco/'

train_dataloader = dict(dataset=dict(ann_file='annotations/instances_arch-train.json'))
search_dataloader = dict(
    batch_size=2,
    num_workers=2,
    dataset=dict(type={{_base_.dataset_type}}, data_root=data_root, ann_file='annotations/instances_arch-val.json',
                 data_prefix=dict(img='train2017/'), test_mode=True, pipeline={{_base_.test_pipeline}}))
search_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_arch-val.json', metric='bbox',
                        format_only=False)

# The CR-NAS search schedule on COCO (8 GPUs x 2 images). The paper does not state its supernet schedules; ours:
# 45k iterations of stage supernet and 45k of operation supernet (one 1x schedule in total), SGD 0.02 with
# warm-up and cosine decay; 10 sampled completions per spatial candidate, one arch-val mini-batch each (paper: one
# mini-batch per sample), the same batches and completion draws for every candidate of a step; BN statistics
# re-estimated on 20 batches per scored path for the BN layers that train: under the leaves' norm_eval=True these are
# only the blocks beyond mmdet's standard count (no ImageNet checkpoint fills them), the pretrained ones stay frozen.
stage_iters = 45000
spatial_iters = 45000
train_cfg = dict(
    _delete_=True,
    type='automl_mm.CRNASLoop',
    stage_iters=stage_iters,
    spatial_iters=spatial_iters,
    flops_tolerance=0.05,
    flops_input_shape=(3, 800, 1333),
    dilation_choices=(1, 2, 3),
    stage_pool_size=5,
    pool_size=3,
    num_samples=10,
    batches_per_sample=1,
    bn_recalibration_batches=20,
    checkpoint_interval_s=600,
    metric_key='coco/bbox_mAP')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    # T_max: the search's stage_iters + spatial_iters, derived (CRNASLoop refuses a disagreeing one)
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=2e-4),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
find_unused_parameters = True  # single-path supernet: inactive blocks get no gradient under DDP
