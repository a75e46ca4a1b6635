"""A Runner built in Python with its hooks given as arguments (its ``cfg`` partial) names each hook by its config
key, as one built from a config does: the keys read what the runner runs (``runner_checks.checked_config``), not
``runner.cfg``, which mmengine keeps only to dump."""
from __future__ import annotations

from _tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401 - autouse fixture
from mmengine.hooks import CheckpointHook, EmptyCacheHook
from mmengine.runner import Runner


def _runner(tmp_path, cfg):
    return Runner(model=LinearNet(), work_dir=str(tmp_path),
                  train_dataloader=dict(dataset=FourSamples(), sampler=dict(type='DefaultSampler', shuffle=False),
                                        batch_size=2, collate_fn=dict(type='default_collate')),
                  train_cfg=dict(by_epoch=True, max_epochs=1),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  custom_hooks=[dict(type='EmptyCacheHook'), dict(type='CheckpointHook', interval=3)],
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
                  cfg=cfg)


def _hook(runner, cls, **attributes):
    return next(h for h in runner.hooks if type(h) is cls
                and all(getattr(h, k) == v for k, v in attributes.items()))


def test_a_hook_given_as_an_argument_is_named_by_its_config_key(tmp_path):
    from automl_mm.engine.run_info import hook_config_key

    runner = _runner(tmp_path, dict(seed=0))
    assert hook_config_key(runner, _hook(runner, EmptyCacheHook)) == 'custom_hooks.0'
    assert hook_config_key(runner, _hook(runner, EmptyCacheHook), option=False) == 'custom_hooks[0]'


def test_the_checkpoint_hooks_given_as_arguments_are_named_by_their_config_keys(tmp_path):
    from automl_mm.ohl.checks import _checkpoint_hook_key, _hook_keys

    runner = _runner(tmp_path, dict(seed=0))
    assert _checkpoint_hook_key(runner, _hook(runner, CheckpointHook, interval=3), 2) == 'custom_hooks[1]'
    assert _hook_keys(runner).get(EmptyCacheHook) == 'custom_hooks[0]'


def test_a_runner_without_a_config_names_no_key(tmp_path):
    from automl_mm.engine.run_info import hook_config_key

    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), custom_hooks=[dict(type='EmptyCacheHook')])
    assert hook_config_key(runner, _hook(runner, EmptyCacheHook)) == 'custom_hooks.0'
