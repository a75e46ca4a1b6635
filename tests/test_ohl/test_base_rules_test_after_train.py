"""``Runner.train(); Runner.test()`` (and ``val()``) on one OHL ``CopyRunner``: mmengine calls ``before_run`` again,
so ``OHLHook.before_run`` reads the base-form targets' group rules (``establish_base_targets``) a second time, now
from the trained optimiser, whose groups hold the last trunk's written base (× the ``paramwise_cfg`` multiplier ×
``auto_scale_lr``'s factor). A rule re-read from those values would take the written base for the config's and give
``auto_scale_lr``'s factor as their ratio (0.09 × 0.25 / 0.05 = 0.45): the next base written on that optimiser (a
later ``train()`` on the runner, a ``SetAttributesHook`` / ``TrunkScheduleHook`` in it) would train at another lr.
What a second ``before_run`` does: nothing new; the rules are read once per optimiser, before a checkpoint's values
are loaded, and kept (``optimizer_base.group_rules``' cache, the stored rule's factor). Pinned here with a real
runner: red (a factor of 0.45) where ``establish`` drops the cached and stored rules and reads them again."""
from __future__ import annotations

import copy

from mmengine.config import Config

from automl_mm.ohl import reset_copy_layout
from automl_mm.ohl.attributes import get_attribute, set_attribute
from automl_mm.ohl.optimizer_base import RATIO_KEY
from automl_mm.registry import RUNNERS
from tests._tiny_runner import inductor_cache  # noqa: F401  (autouse)

from conftest import REPO_ROOT, tiny_ohl_cfg

BASE = 'optim_wrapper.optimizer.lr'
HEAD_LR = 0.0123  # custom_keys' lr set outright: every base keeps it (× the batch factor)


def _groups(runner) -> list[dict]:
    return [copy.deepcopy({k: v for k, v in g.items() if k != 'params'})
            for g in runner.optim_wrapper.optimizer.param_groups]


def test_a_test_and_a_validation_after_training_keep_the_base_rules(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), seed=0)
    cfg.train_cfg.max_epochs = 2
    cfg.train_dataloader.dataset.max_samples = 32  # 2 iterations an epoch
    cfg.reward_dataloader.dataset.max_samples = 16
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=cfg.train_dataloader.batch_size * 4)  # × 0.25
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'head': dict(lr=HEAD_LR)})
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='lr', target=BASE, choices=[0.07, 0.09],
                                       distribution=dict(type='Categorical'))]
    digits = Config.fromfile(f'{REPO_ROOT}/configs/_base_/datasets/digits.py')
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'] = digits[f'{split}_dataloader']
        cfg[f'{split}_dataloader'].dataset.max_samples = 16
        cfg[f'{split}_evaluator'], cfg[f'{split}_cfg'] = dict(type='Accuracy', topk=(1,)), dict()
    reset_copy_layout()
    try:
        runner = RUNNERS.build(cfg)
        runner.train()
        trained, base = _groups(runner), get_attribute(runner, BASE)[0]
        assert base in (0.07, 0.09) and {g['lr'] for g in trained} == {HEAD_LR * 0.25, base * 0.25}
        runner.test()
        runner.val()
        assert _groups(runner) == trained  # the lr and the kept rules, as training left them
        assert all(g[RATIO_KEY]['lr']['scale'] == 0.25 for g in trained)
        set_attribute(runner, BASE, 0.05)  # a base written after them: the constructor's at 0.05, × 0.25
        assert {g['lr'] for g in runner.optim_wrapper.optimizer.param_groups} == {HEAD_LR * 0.25, 0.05 * 0.25}
    finally:
        reset_copy_layout()
