"""mmdet's ``CheckInvalidLossHook`` (in many mmdet configs' ``custom_hooks``) stands down under OHL, as automl_mm's
``FiniteLossHook`` does: it asserts ``torch.isfinite(outputs['loss'])`` on each rank's own copy, so one diverged
copy stopped the whole run with ``AssertionError: None``, where OHL gives that copy the worst reward and the best
copy's state at the trunk end. Outside OHL it stops the run as under mmdet."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmdet.engine.hooks import CheckInvalidLossHook

from automl_mm.engine.hooks import FiniteLossHook, stand_down_loss_checks
from automl_mm.ohl.hook import OHLHook

NAN = dict(loss=torch.tensor(float('nan')))


def _ohl_hook():
    return OHLHook(spaces=[dict(type='AttributeSpace', name='a', target='model.x', choices=[1, 2],
                                distribution=dict(type='Categorical'))], num_copies=2,
                   reward_key='accuracy/top1', trunk_iters=2)


def _call(runner, hook):
    """As mmengine's ``Runner.call_hook`` calls it: ``getattr(hook, fn_name)(runner, **kwargs)``."""
    hook.after_train_iter(runner, batch_idx=0, data_batch=None, outputs=NAN)


def test_the_ohl_hook_stands_mmdets_loss_check_down_before_training():
    check = CheckInvalidLossHook(interval=1)
    ohl = _ohl_hook()
    runner = SimpleNamespace(hooks=[check, ohl, FiniteLossHook()], iter=0, epoch=0,
                             model=torch.nn.Linear(1, 1), optim_wrapper=None,
                             logger=SimpleNamespace(info=lambda message: None))
    ohl.before_run(runner)
    _call(runner, check)  # one copy's NaN loss: left to the OHL hook's repair, the run goes on
    assert stand_down_loss_checks(runner) == []  # once


def test_without_a_repairing_hook_mmdets_check_still_stops_the_run():
    check = CheckInvalidLossHook(interval=1)
    runner = SimpleNamespace(hooks=[check, FiniteLossHook()], iter=0, epoch=0,
                             logger=SimpleNamespace(info=lambda message: None))
    assert stand_down_loss_checks(runner) == []
    with pytest.raises(AssertionError):
        _call(runner, check)
