"""The tiny CR-NAS search of the NAS tests: a CR-ResNet-18 supernet (at most two blocks per stage) on the PC-NAS digits
config, shared by the test files that build it (it was written out in each)."""
from __future__ import annotations

import os.path as osp

from mmengine.config import Config

from conftest import REPO_ROOT

#: the digits config the CR-NAS tests start from (a PC-NAS search whose backbone and loop they replace)
DIGITS_CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def use_cr_resnet(cfg: Config) -> Config:
    """Put the CR-ResNet-18 supernet in ``cfg.model``: ``max_stage_blocks=(2, 2, 2, 2)`` built, the allocation
    ``(2, 2, 1, 1)`` active, 16 base channels, the last stage's map only (128 channels, the head's ``in_channels``).
    Returns ``cfg``."""
    cfg.model.backbone = dict(type='CRResNet', depth=18, max_stage_blocks=(2, 2, 2, 2), stage_blocks=(2, 2, 1, 1),
                              out_indices=(3, ), base_channels=16, norm_eval=False)
    cfg.model.head.in_channels = 128
    return cfg


def digits_cr_cfg(work_dir: str, **train_cfg) -> Config:
    """The digits config with :func:`use_cr_resnet`'s backbone and a two-iteration-per-phase ``CRNASLoop`` over
    allocations of 6 blocks (1 or 2 per stage) at 32 x 32, scored by top-1 accuracy; ``train_cfg`` keys override the
    loop's. No validation, a constant learning rate."""
    cfg = Config.fromfile(DIGITS_CONFIG)
    cfg.work_dir = work_dir
    use_cr_resnet(cfg)
    cfg.train_cfg = dict(dict(type='CRNASLoop', stage_iters=2, spatial_iters=2, flops_input_shape=(3, 32, 32),
                              stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6),
                              search_evaluator=dict(type='Accuracy', topk=(1, )), metric_key='accuracy/top1'),
                         **train_cfg)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    return cfg
