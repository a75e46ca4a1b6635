"""``PathSamplingHook`` validates and tests a path of its space: a val_path outside a constrained space (a
StageAllocationSpace of 6 blocks, validated on all 8 blocks of a supernet built at max_stage_blocks, its as-built
path) ran silently. Real mmengine Runners on a tiny CR-ResNet-18 digits classifier."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg

SPACE = dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6)


def _runner(work_dir: str, val_path, **backbone) -> Runner:
    cfg = digits_cr_cfg(work_dir)
    cfg.model.backbone.update(backbone)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.val_cfg, cfg.val_dataloader = dict(type='ValLoop'), cfg.reward_dataloader
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.custom_hooks = [dict(type='PathSamplingHook', space=SPACE, val_path=val_path)]
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('val_path, backbone, match', [
    ((1, 1, 1, 1), {}, r'^PathSamplingHook\.val_path = \(1, 1, 1, 1\) \(values \[2, 2, 2, 2\]\) is not a path of '
                       r'StageAllocationSpace'),
    (None, dict(stage_blocks=None), r'^PathSamplingHook\.val_path \(unset: the path the supernet runs when training '
                                    r'starts\) = \(1, 1, 1, 1\)'),
    ((1, 1, 0), {}, r'^PathSamplingHook\.val_path: StageAllocationSpace: a path has 4 decisions, got 3'),
])
def test_a_val_path_outside_the_space_is_refused_before_training(tmp_path, val_path, backbone, match):
    runner = _runner(str(tmp_path), val_path, **backbone)
    with pytest.raises(ValueError, match=match):
        runner.train()
    assert runner.iter == 0


def test_a_val_path_of_the_space_is_validated(tmp_path):
    runner = _runner(str(tmp_path), (1, 1, 0, 0))
    runner.train()
    runner.val()
    assert runner.model.backbone.active_stage_blocks == (2, 2, 1, 1)
