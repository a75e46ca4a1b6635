# The Faster R-CNN OHL-Auto-Aug run (same data, copies, trunks, controller) with Mask R-CNN's mask branch: the
# geometric elements move the instance masks with the boxes (tested: after a translation pair each mask's tight box is its box).
# The reward stays coco/bbox_mAP, as in the Faster R-CNN config (so the two runs learn from the same signal, and
# each trunk scores one COCOeval per copy, not two); val and test add the segm metric.
# Run time on 2 CPU cores: about 45 minutes, an ESTIMATE from one copy (same machine, heavier load): 1.3 s per
# iteration (Faster R-CNN: 1.0 s at that load) and 0.33 s per reward image (predicting 50 masks per image), so
# 8 trunks x (50 x 0.8 s + 500 x 0.25 s) x 4 copies / 2 cores = ~44 min.
_base_ = './ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'

fpn_channels = _base_.fpn_channels
model = dict(
    type='MaskRCNN',
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=14,
                                                                          sampling_ratio=0),
                                out_channels=fpn_channels, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(type='FCNMaskHead', num_convs=4, in_channels=fpn_channels, conv_out_channels=fpn_channels,
                       num_classes=10, loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(mask_size=28)),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    *_base_.train_pipeline[2:-1],  # Resize, RandomFlip, OHLAutoAugment
    # A rotated or sheared object can leave the image while the enclosing box of its moved box stays partly inside
    # (about 0.1 % of boxes under uniform pairs): mmdet's FilterAnnotations drops such an instance, which would
    # otherwise train the mask head on an empty mask for a box (kept when an image loses every instance)
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=True, keep_empty=False),
    _base_.train_pipeline[-1],  # PackDetInputs
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = dict(metric=['bbox', 'segm'])
