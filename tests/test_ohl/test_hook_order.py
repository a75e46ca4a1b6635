"""A checkpoint hook that mmengine calls before ``OHLHook``: only rank 0 saves, and it saved copy 0's own weights
(and a search state with the trunk still open) before the trunk end's reward, θ step and broadcast of the best
copy, at every trunk end and at the end of the run, silently (``tools/test.py`` then tested copy 0 as the run's)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.hooks import EMAHook
from mmengine.runner import Runner

from automl_mm.ohl.checks import check_hook_order
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook


def _runner(checkpoint: dict, ohl_priority: str | None = None, cfg: dict | None = None) -> SimpleNamespace:
    """A runner whose hooks mmengine's own ``Runner.register_hook`` ordered: default hooks first (a checkpoint hook
    from the dict ``checkpoint``), then the OHL hook as a custom hook (built without its spaces: only its class and
    priority count here)."""
    runner = SimpleNamespace(_hooks=[], cfg=cfg or {})
    Runner.register_hook(runner, dict(type='CheckpointHook', **checkpoint))
    Runner.register_hook(runner, EMAHook())
    ohl = OHLHook.__new__(OHLHook)
    Runner.register_hook(runner, ohl, priority=ohl_priority)
    runner.hooks = runner._hooks
    return runner


@pytest.mark.parametrize('checkpoint, ohl_priority', [
    (dict(interval=1, priority='NORMAL'), None),  # a checkpoint hook moved up
    (dict(interval=1), 'LOWEST'),  # the OHL hook moved down below mmengine's VERY_LOW CheckpointHook
    (dict(interval=1, priority='BELOW_NORMAL'), None),  # equal priority: the default hook was registered first
])
def test_a_checkpoint_hook_called_before_the_ohl_hook_is_refused(checkpoint, ohl_priority):
    cfg = dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', **checkpoint)))
    runner = _runner(checkpoint, ohl_priority, cfg)
    with pytest.raises(ValueError, match=r'default_hooks.checkpoint \(CheckpointHook, priority \d+\) runs before '
                                         r'OHLHook \(priority \d+\).*holds copy 0'):
        check_hook_order(runner, CopyLayout(2, 1, rank=0, world_size=2))
    check_hook_order(runner, CopyLayout(1, 1, rank=0, world_size=1))  # one copy: copy 0 is the run's model


def test_mmengines_default_order_is_accepted():
    check_hook_order(_runner(dict(interval=1)), CopyLayout(2, 1, rank=0, world_size=2))
    check_hook_order(_runner(dict(interval=1, priority='LOWEST')), CopyLayout(2, 1, rank=0, world_size=2))


def test_the_hook_checks_the_order_before_training():
    """OHLHook.before_train's start checks (check_train_setup) include the order."""
    import torch

    from automl_mm.ohl.checks import check_train_setup
    from automl_mm.ohl.copies import CopySampler

    runner = _runner(dict(interval=1, priority='NORMAL'))
    runner.train_loop, runner.model = object(), torch.nn.Linear(1, 1)
    runner.train_dataloader = SimpleNamespace(sampler=CopySampler.__new__(CopySampler))
    with pytest.raises(ValueError, match=r'runs before OHLHook'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)


def _progress_runner(progress_priority: str | None, ohl_priority: str | None = None, first: bool = False):
    """A runner with mmengine's default CheckpointHook, an OHLProgressHook and the OHL hook, ordered by mmengine's
    ``Runner.register_hook`` (``first``: the progress hook listed before the OHL hook in custom_hooks)."""
    from automl_mm.ohl.progress import OHLProgressHook

    progress = dict(type='OHLProgressHook') if progress_priority is None else dict(type='OHLProgressHook',
                                                                                  priority=progress_priority)
    custom = [progress, dict(type='OHLHook')] if first else [dict(type='OHLHook'), progress]
    runner = SimpleNamespace(_hooks=[], cfg=dict(default_scope='automl_mm', custom_hooks=custom))
    Runner.register_hook(runner, dict(type='CheckpointHook', interval=1))
    for entry in custom:
        if entry['type'] == 'OHLHook':
            Runner.register_hook(runner, OHLHook.__new__(OHLHook), priority=ohl_priority)
        else:
            Runner.register_hook(runner, OHLProgressHook(), priority=entry.get('priority'))
    runner.hooks = runner._hooks
    return runner


@pytest.mark.parametrize('num_copies', [1, 2])
@pytest.mark.parametrize('progress_priority, ohl_priority, first', [
    ('NORMAL', None, False),  # the progress hook moved up
    (None, 'LOWEST', False),  # the OHL hook moved below it
    ('BELOW_NORMAL', None, True),  # equal priorities, the progress hook listed first
])
def test_a_progress_hook_called_before_the_ohl_hook_is_refused(num_copies, progress_priority, ohl_priority, first):
    """OHLProgressHook reads OHLHook.history in after_train_iter / after_train_epoch: called before OHLHook there,
    it found the trunk still open and printed each trunk's line at the next trunk end (one trunk late, with the next
    trunk's ETA; the run's last trunk never), silently, with one copy too."""
    runner = _progress_runner(progress_priority, ohl_priority, first)
    layout = CopyLayout(num_copies, 1, rank=0, world_size=num_copies)
    match = (r'custom_hooks\[\d\] \(OHLProgressHook, priority \d+\) runs before OHLHook \(priority \d+\): .*one trunk '
             r"late.*OHLProgressHook 'LOW'")
    with pytest.raises(ValueError, match=match):
        check_hook_order(runner, layout)


def test_the_default_progress_order_is_accepted():
    check_hook_order(_progress_runner(None), CopyLayout(2, 1, rank=0, world_size=2))
    check_hook_order(_progress_runner('LOWEST', first=True), CopyLayout(1, 1, rank=0, world_size=1))
