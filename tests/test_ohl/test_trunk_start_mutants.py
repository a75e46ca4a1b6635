"""Mutation audit (forty-eighth session): what ``tests/test_ohl/test_trunk_start_hook_order.py`` left alive.

``LateTrunkStart`` registered at ``'NORMAL'`` (before ``OHLHook``, ``'BELOW_NORMAL'``) instead of ``'LOWEST'`` left the
gamma test green: the scheduler still stepped with the ending trunk's gamma, but a trunk that starts inside an epoch
began one iteration late, so its first iteration trained with the trunk before's values. A searched lr shows it: each
iteration must train with the lr its own trunk drew.
"""
from __future__ import annotations

from mmengine.hooks import Hook

from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import HOOKS

from conftest import tiny_ohl_cfg, train_copy_runner

LR = 'optim_wrapper.optimizer.param_groups.*.lr'


@HOOKS.register_module(force=True)
class _LrBeforeIter(Hook):
    """The lr each iteration trains with (read before it, after every hook that sets it)."""

    priority = 'LOWEST'

    def __init__(self):
        self.seen: list[float] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(runner.optim_wrapper.optimizer.param_groups[0]['lr'])


def test_each_iteration_of_a_mid_epoch_trunk_trains_with_its_own_trunks_lr(tmp_path):
    """Trunks of 2 iterations, 4 iterations an epoch (3 epochs): trunks 1, 3 and 5 begin inside an epoch (before
    iterations 2, 6, 10). Every iteration t trains with the lr trunk t // 2 drew (seed 0: trunks of both lrs)."""
    cfg = tiny_ohl_cfg(str(tmp_path), trunk_iters=2, seed=0)
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='lr', target=LR, choices=[0.1, 0.01],
                                       distribution=dict(type='Categorical'))]
    cfg.custom_hooks.append(dict(type='_LrBeforeIter'))
    out = {}

    def keep(runner):
        out['lr'] = next(h for h in runner.hooks if isinstance(h, _LrBeforeIter)).seen
        out['history'] = next(h for h in runner.hooks if isinstance(h, OHLHook)).history

    train_copy_runner(cfg, keep)
    drawn = [next(iter(h['copy_values']['lr'][0].values())) for h in out['history']]
    assert [h['iter'] for h in out['history']] == [2, 4, 6, 8, 10, 12]
    # the case needs a trunk starting inside an epoch with another lr than the trunk before it
    assert any(drawn[t] != drawn[t - 1] for t in (1, 3, 5)), drawn
    assert out['lr'] == [drawn[t // 2] for t in range(12)]
