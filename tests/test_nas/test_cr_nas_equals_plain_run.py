"""A CR-NAS search over one allocation and one dilation (a CR-ResNet-18 Faster R-CNN supernet built at exactly that
allocation) trains exactly as mmengine's IterBasedTrainLoop training that network: the same images, lr, losses,
parameters and BN statistics at every iteration, across the stage search that sits between its two phases.
Documented differences only: the search checkpoints after each step, and ends by re-estimating the chosen path's
BN statistics (``finish``). The stage search's scoring used to draw its loader's seed from torch's global
generator, so every proposal sample of mmdet's RPN and RoI heads after it differed from the plain run's."""
from __future__ import annotations

import copy
import os.path as osp

import pytest
from _equivalence import differences, record_run
from mmengine.config import Config

from automl_mm.datasets.coco_split import split_coco
from automl_mm.engine.evaluate import recalibrate_bn

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py')
KEYS = ('samples', 'lr', 'weight_decay', 'loss', 'params', 'bn_statistics')


@pytest.fixture(scope='module')
def arch_split(coco_root):
    split_coco(osp.join(coco_root, 'annotations', 'instances_train.json'), osp.join(coco_root, 'annotations'),
               val_images=2, seed=0)
    return coco_root.rstrip('/') + '/'


def _configs(root: str, tmp_path) -> tuple[Config, Config]:
    search = Config.fromfile(CONFIG)
    search.work_dir = str(tmp_path / 'search')
    for loader in (search.train_dataloader, search.search_dataloader):
        loader.dataset.data_root = root
        loader.batch_size = 2
    search.train_dataloader.batch_sampler = None
    search.search_evaluator.ann_file = root + 'annotations/instances_arch-val.json'
    search.val_cfg = search.val_dataloader = search.val_evaluator = None
    search.test_cfg = search.test_dataloader = search.test_evaluator = None
    search.model.backbone.update(max_stage_blocks=(1, 1, 1, 1), stage_blocks=(1, 1, 1, 1))
    search.train_cfg.update(stage_iters=2, spatial_iters=2, stage_space=dict(stage_choices=[[1]] * 4, total_blocks=4),
                            reference_allocation=(1, 1, 1, 1), flops_input_shape=(3, 64, 64), dilation_choices=(1,),
                            stage_pool_size=1, pool_size=1, num_samples=1, bn_recalibration_batches=2,
                            retrain_config=None)
    search.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
                              dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=1e-4)]
    search.default_hooks.checkpoint.interval = 2
    search.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    search.optim_wrapper.optimizer.lr = 0.005
    plain = copy.deepcopy(search)
    plain.work_dir = str(tmp_path / 'plain')
    plain.model.backbone.pop('max_stage_blocks')  # the network the export's cr_nas_final_config.py builds
    plain.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=10**9)
    plain.param_scheduler[1]['T_max'] = 4  # the span the loop gives a cosine without one
    plain.pop('search_dataloader')
    plain.pop('search_evaluator')
    return search, plain


def test_a_search_over_one_architecture_trains_as_the_plain_run(arch_split, tmp_path):
    search_cfg, plain_cfg = _configs(arch_split, tmp_path)
    search, plain = record_run(search_cfg), record_run(plain_cfg)
    assert len(plain['loss']) == 4
    assert differences(search, plain, KEYS, state_dict=False) == []
    assert set(plain['checkpoint_at']) <= set(search['checkpoint_at'])
    # the documented end of the search: the chosen path's BN statistics re-estimated on the kept batches
    recalibrate_bn(plain['runner'].model, search['runner'].train_loop._bn_batches)
    plain['state_dict'] = plain['runner'].model.state_dict()
    assert differences(search, plain, keys=()) == []
