"""A PC-NAS search over a space of one candidate per layer trains exactly as mmengine's IterBasedTrainLoop training
that architecture (the stand-alone ``arch`` network the export retrains) for the same iterations: same data order,
lr at every iteration (the loop's cosine span fills ``T_max``), losses, parameters and BN statistics after every
iteration (random crops, flips and dropout included), and final weights. Documented differences only: the loop
saves search checkpoints after each step (on top of the checkpoint hook's), and ends by re-estimating the chosen
path's BN statistics (``finish``). The search used to draw from torch's generator before its first iteration (its
look at the search split's and the retrain config's first batch) and in every scoring step, so the training's
dropout masks differed from the plain run's from iteration 0 on."""
from __future__ import annotations

import os
import os.path as osp

import pytest
from _equivalence import differences, record_run
from mmengine.config import Config

from automl_mm.engine.evaluate import recalibrate_bn

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
RETRAIN = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')
WARMUP, STAGE, LAYERS = 4, 2, 4
ITERS = WARMUP + LAYERS * STAGE


def _cfg(work_dir: str, search: bool, bn_batches: int) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.dataset.max_samples = 64
    # random crops and flips drawn in the main process: scoring must not shift the training draws either
    cfg.train_dataloader.dataset.pipeline = [dict(type='RandomCrop', crop_size=16, padding=2),
                                             dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                                             dict(type='PackClsInputs')]
    cfg.reward_dataloader.dataset.max_samples = 32
    cfg.model.head.dropout = 0.3  # torch's generator: scoring must not shift the training's dropout masks
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=4, by_epoch=False)
    if search:
        cfg.model.backbone.ops = ['k3e3']  # one candidate per layer: every path is the plain run's network
        # the config's FLOPs limit, and a retrain config (of the same one-candidate space): both read a first
        # batch before training
        retrain = osp.join(work_dir, 'retrain.py')
        os.makedirs(work_dir, exist_ok=True)
        with open(retrain, 'w') as f:
            f.write(f'_base_ = [{RETRAIN!r}]\nmodel = dict(backbone=dict(ops=[\'k3e3\']))\n')
        cfg.train_cfg.update(warmup_iters=WARMUP, stage_iters=STAGE, pool_size=1, num_samples=1,
                             bn_recalibration_batches=bn_batches, retrain_config=retrain)
    else:
        cfg.model.backbone.arch = ['k3e3'] * LAYERS  # what the export's pc_nas_final_config.py sets
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=ITERS, val_interval=10**9)
        cfg.param_scheduler[0].T_max = ITERS
    return cfg


@pytest.mark.parametrize('bn_batches', [0, 2])
def test_a_search_over_one_candidate_trains_as_the_plain_run(tmp_path, bn_batches):
    search = record_run(_cfg(str(tmp_path / 'search'), True, bn_batches))
    plain = record_run(_cfg(str(tmp_path / 'plain'), False, bn_batches))
    assert len(plain['loss']) == ITERS
    # per iteration: lr, losses, parameters, and BN statistics, which the scoring steps (re-estimating BN per
    # path) used to leave at the last scored path's, so the supernet trained on and was checkpointed with them
    keys = ('lr', 'weight_decay', 'loss', 'params', 'bn_statistics')
    assert differences(search, plain, keys, state_dict=bn_batches == 0) == []
    # the checkpoint hook saved at the same iterations; the search's step checkpoints come on top
    assert set(plain['checkpoint_at']) <= set(search['checkpoint_at'])
    exported = Config.fromfile(str(tmp_path / 'search' / 'search' / 'pc_nas_final_config.py'))
    assert exported.model.backbone.arch == ['k3e3'] * LAYERS
    if bn_batches:
        # the documented end of the search: the chosen path's BN statistics re-estimated on the kept batches
        recalibrate_bn(plain['runner'].model, search['runner'].train_loop._bn_batches)
        plain['state_dict'] = plain['runner'].model.state_dict()
        assert differences(search, plain, keys=()) == []
