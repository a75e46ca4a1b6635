"""``Runner.train(); Runner.test()`` on one runner (mmdet's "test after train", ``tools/train.py`` then a test) whose
training resumed from a checkpoint: ``TrunkScheduleHook.before_test`` set the model's paths to the values of the
trunk the *loaded* checkpoint had reached (``after_load_checkpoint`` kept its epoch), not of the trunk training
ended in. A retrain of a 3-trunk schedule resumed after epoch 1 and trained to epoch 3 was tested with trunk 0's value
(0.1) where its model trained its last trunk with 0.3, silently. After training, the runner's own position decides
(as it did for a run that loaded nothing). Real mmengine Runners, 16 digits of 16 px, 3 epochs of 1 iteration."""
from __future__ import annotations

import os.path as osp

from mmengine.hooks import Hook
from mmengine.runner import Runner

from automl_mm.registry import HOOKS
from tests._tiny_runner import inductor_cache  # noqa: F401  (autouse)

from conftest import resumed_runner, tiny_digits_cfg

PATH = 'model.backbone.layers.1.momentum'


@HOOKS.register_module(force=True)
class _SeenAtTest(Hook):
    priority = 'LOWEST'  # after the replay hook's before_test

    def __init__(self):
        self.seen = []

    def before_test(self, runner):
        self.seen.append(runner.model.backbone.layers[1].momentum)


def _cfg(work_dir, max_epochs):
    cfg = tiny_digits_cfg(str(work_dir), max_epochs=max_epochs)
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.max_samples = cfg[loader].batch_size = 16  # one iteration an epoch, one test batch
    cfg.train_cfg.val_interval = 100
    cfg.param_scheduler = []
    cfg.custom_hooks = [dict(type='TrunkScheduleHook', trunk_epochs=1, values={PATH: [0.1, 0.2, 0.3]}),
                        dict(type='_SeenAtTest')]
    return cfg


def _seen(runner):
    return next(h for h in runner.hooks if isinstance(h, _SeenAtTest)).seen


def test_a_test_after_a_resumed_training_sets_the_trunk_training_ended_in(tmp_path):
    work = tmp_path / 'work'
    Runner.from_cfg(_cfg(work, max_epochs=1)).train()  # trunk 0, saved after epoch 1
    resumed = resumed_runner(_cfg(work, max_epochs=3), osp.join(str(work), 'epoch_1.pth'))
    resumed.train()
    assert resumed.model.backbone.layers[1].momentum == 0.3  # trunk 2 trained last
    resumed.test()
    assert _seen(resumed) == [0.3]  # was 0.1: the loaded checkpoint's trunk
    resumed.test()  # again: the same
    assert _seen(resumed) == [0.3, 0.3]
