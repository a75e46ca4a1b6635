"""CR-NAS's exported config builds exactly the searched network: a retrain config whose backbone is built as a
supernet (``max_stage_blocks``) kept it under the exported allocation, so the final network held 8 blocks and ran 6
(the idle ones never trained, saved in every checkpoint, and an error at the first step under DDP without
``find_unused_parameters``). A real Runner on a tiny CR-ResNet-18 digits classifier."""
from __future__ import annotations

import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import CONFIG as DIGITS_CONFIG

from automl_mm.registry import MODELS


def test_the_exported_backbone_is_built_at_the_searched_allocation_only(tmp_path):
    retrain = tmp_path / 'retrain.py'  # the digits classifier with the CR backbone, built as a supernet
    retrain.write_text(f'_base_ = {DIGITS_CONFIG!r}\n'
                       "model = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                       'max_stage_blocks=(2, 2, 2, 2), stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, '
                       'norm_eval=False), head=dict(in_channels=128))\n'
                       "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)\n")
    work = str(tmp_path / 'run')
    Runner.from_cfg(digits_cr_cfg(work, dilation_choices=(1, 2), stage_pool_size=2, pool_size=2, num_samples=1,
                                   batches_per_sample=1, retrain_config=str(retrain))).train()
    with open(osp.join(work, 'search', 'cr_nas_result.json')) as f:
        result = json.load(f)
    final = Config.fromfile(osp.join(work, 'search', 'cr_nas_final_config.py'))
    backbone = MODELS.build(final.model.backbone)
    assert list(backbone.built_stage_blocks) == list(backbone.active_stage_blocks) == result['stage_blocks']
    assert list(backbone.active_dilations) == result['dilations_per_block']
