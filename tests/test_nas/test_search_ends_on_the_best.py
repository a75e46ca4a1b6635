"""A search loop ends with its best architecture applied to the model (what the final validation and the saved
weights see): PC-NAS the first of its final pool, CR-NAS the best allocation and the first dilations of its pool,
with BN statistics re-estimated for it when ``bn_recalibration_batches`` is set (a loop that skipped that left the
statistics of whichever path it scored last, and no test noticed)."""
from __future__ import annotations

import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner
from test_nas._cr_digits import use_cr_resnet

from automl_mm.nas import search_outputs as outputs_module  # finish() re-estimates BN there

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def _common(cfg: Config, work_dir: str) -> Config:
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def _spy_final_bn(monkeypatch, space_of) -> list:
    """Record the path applied whenever the loop re-estimates BN itself (the scored paths do it in scoring.py)."""
    calls = []
    original = outputs_module.recalibrate_bn

    def spy(model, batches):
        calls.append(tuple(space_of().current_path(model)))
        return original(model, batches)

    monkeypatch.setattr(outputs_module, 'recalibrate_bn', spy)
    return calls


def _result(work_dir: str, name: str) -> dict:
    with open(osp.join(work_dir, 'search', name)) as f:
        return json.load(f)


def test_pc_nas_ends_on_the_first_of_its_final_pool(tmp_path, monkeypatch):
    cfg = _common(Config.fromfile(CONFIG), str(tmp_path / 'pc'))
    cfg.train_cfg.update(warmup_iters=4, stage_iters=2, pool_size=2, num_samples=1, batches_per_sample=1,
                         bn_recalibration_batches=1, checkpoint_interval_s=1e9)
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    runner = Runner.from_cfg(cfg)
    calls = _spy_final_bn(monkeypatch, lambda: runner.train_loop.space)
    runner.train()
    pool = _result(cfg.work_dir, 'pc_nas_result.json')['final_pool']
    assert len(pool) == 2 and pool[0]['path'] != pool[1]['path']
    assert list(runner.train_loop.space.current_path(runner.model)) == pool[0]['path']
    assert calls == [tuple(pool[0]['path'])]


def test_cr_nas_ends_on_its_best_allocation_and_dilations(tmp_path, monkeypatch):
    cfg = _common(Config.fromfile(CONFIG), str(tmp_path / 'cr'))
    use_cr_resnet(cfg)
    cfg.train_cfg = dict(type='CRNASLoop', stage_iters=2, spatial_iters=2, flops_input_shape=(3, 32, 32),
                         stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6), dilation_choices=(1, 3),
                         stage_pool_size=2, pool_size=2, num_samples=1, batches_per_sample=1,
                         bn_recalibration_batches=1, search_evaluator=dict(type='Accuracy', topk=(1, )),
                         metric_key='accuracy/top1', checkpoint_interval_s=1e9)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    runner = Runner.from_cfg(cfg)
    calls = _spy_final_bn(monkeypatch, lambda: runner.train_loop.dilation_space)
    runner.train()
    r = _result(cfg.work_dir, 'cr_nas_result.json')
    loop = runner.train_loop
    assert loop.stage_space.values(loop.stage_space.current_path(runner.model)) == r['stage_blocks']
    last = r['spatial_history'][-1]['pool']
    assert len(last) == 2 and last[0] != last[1]
    assert list(loop.dilation_space.current_path(runner.model)) == last[0]
    assert calls == [tuple(last[0])]
    assert [(1, 3)[j] for j in last[0]] == r['dilations_per_block']
