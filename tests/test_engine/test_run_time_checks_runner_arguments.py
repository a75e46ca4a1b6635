"""The run-time checks (:mod:`automl_mm.engine.runner_checks`, at ``train()`` / ``val()``) judge what the runner was
given, not only its ``cfg``: mmengine's ``Runner(...)`` takes ``train_cfg``, ``optim_wrapper``, ``param_scheduler``,
``default_hooks``, ``launcher``, ... as arguments and keeps its ``cfg`` argument (which may describe it in part, or
not at all) only to dump it and to read ``model_wrapper_cfg``.

Input that showed the fault: ``Runner(model=..., train_cfg=dict(by_epoch=True, max_epochs=0), ..., cfg=dict(seed=0))``
trained nothing, silently (the check of ``train_cfg.max_epochs`` read the cfg, which has no ``train_cfg``); a
``clip_grad`` typo or ``lr='abc'`` given as an argument stopped at the first step with torch's error naming no key;
and a cfg entry the runner does not run was refused: ``cfg=dict(launcher='pytorch',
model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel'))`` for a runner given no launcher (``'none'``: it runs
alone and wraps nothing) was refused for a ``CopyDataParallel`` without an OHL hook."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner

from automl_mm.engine.preflight_walk import ConfigCheckError
from tests._tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401  (autouse)

_SGD = dict(optimizer=dict(type='SGD', lr=0.1))


def _runner(tmp_path, cfg, **given) -> Runner:
    """A runner of :class:`LinearNet` on four samples, one epoch, built from ``given`` arguments and ``cfg``."""
    loader = dict(dataset=FourSamples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    arguments = dict(model=LinearNet(), work_dir=str(tmp_path), train_dataloader=loader,
                     train_cfg=dict(by_epoch=True, max_epochs=1), optim_wrapper=_SGD,
                     default_hooks=dict(checkpoint=None))
    arguments.update(given)
    return Runner(**arguments, cfg=cfg)


@pytest.mark.parametrize('given, refusal', [
    (dict(train_cfg=dict(by_epoch=True, max_epochs=0)), r'^train_cfg\.max_epochs=0 must be at least 1'),
    (dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1), clip_grad=dict(max_norm=1, typo=2))),
     r"^optim_wrapper\.clip_grad\.typo: torch\.nn\.utils\.clip_grad_norm_ takes no argument 'typo'"),
    (dict(param_scheduler=dict(type='MultiStepLR', milestones=[1], typo=3)), r'^param_scheduler.*typo'),
], ids=['train_cfg', 'optim_wrapper', 'param_scheduler'])
def test_an_argument_the_cfg_does_not_hold_is_checked(tmp_path, given, refusal):
    runner = _runner(tmp_path, dict(seed=0), **given)
    with pytest.raises(ConfigCheckError, match=refusal):
        runner.train()


def test_a_cfg_entry_the_runner_was_given_otherwise_is_not_refused(tmp_path):
    """The runner trains the argument's one epoch, not the cfg's 0, without the cfg's clip_grad typo."""
    cfg = dict(train_cfg=dict(by_epoch=True, max_epochs=0),
               optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1), clip_grad=dict(max_norm=1, typo=2)))
    runner = _runner(tmp_path, cfg)
    runner.train()
    assert runner.epoch == 1 and runner.cfg.train_cfg.max_epochs == 0  # the runner's cfg is left as it is


def test_a_launcher_argument_wins_over_the_cfgs(tmp_path):
    """No launcher argument: mmengine's 'none', one process, no wrapper built; the cfg's 'pytorch' is not run."""
    cfg = dict(launcher='pytorch', model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel'))
    runner = _runner(tmp_path, cfg)
    runner.train()
    assert runner.launcher == 'none' and runner.epoch == 1


def test_a_val_argument_the_cfg_does_not_hold_is_checked(tmp_path):
    loader = dict(dataset=FourSamples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), val_dataloader=loader,
                    val_cfg=dict(type='ValLoop', fp17=True), val_evaluator=dict(type='automl_mm.Accuracy'),
                    cfg=dict(seed=0))
    with pytest.raises(ConfigCheckError, match=r'^val_cfg.*fp17'):
        runner.val()


def test_arguments_are_kept_as_given_before_mmengine_changes_them(tmp_path):
    """mmengine pops a hook's priority and fills the model's data_preprocessor in what it was given."""
    from automl_mm.engine.runner_checks import checked_config

    hooks = [dict(type='EMAHook', priority='ABOVE_NORMAL')]
    runner = _runner(tmp_path, dict(seed=0), custom_hooks=hooks)
    assert 'priority' not in hooks[0]  # mmengine's register_hook popped it
    cfg = checked_config(runner)
    assert cfg.custom_hooks[0].priority == 'ABOVE_NORMAL' and cfg.train_cfg.max_epochs == 1 and cfg.seed == 0
    assert cfg.launcher == 'none' and 'val_cfg' not in cfg and 'train_cfg' not in runner.cfg
    # given built (the model; a loader holding a dataset object): the cfg's entry, which the checks can read, if any
    assert 'model' not in cfg and 'train_dataloader' not in cfg


def test_a_runner_built_before_the_wrappers_reads_what_it_kept(tmp_path):
    """The first runner of a process whose config names automl_mm only by default_scope is built unwrapped: what
    mmengine keeps of its arguments stands in for the record."""
    from automl_mm.engine import runner_checks

    runner = _runner(tmp_path, dict(seed=0), train_cfg=dict(by_epoch=True, max_epochs=0))
    delattr(runner, runner_checks._ARGUMENTS)
    cfg = runner_checks.checked_config(runner)
    assert cfg.train_cfg.max_epochs == 0 and cfg.optim_wrapper == _SGD and cfg.launcher == 'none'
    with pytest.raises(ConfigCheckError, match=r'^train_cfg\.max_epochs=0 must be at least 1'):
        runner.train()


def test_an_argument_given_built_is_left_to_the_runner(tmp_path):
    """A built ``DataLoader`` (no config to read): the checks read the cfg's entry, here none (they stopped in
    ``'DataLoader' object has no attribute 'get'``)."""
    import torch

    runner = _runner(tmp_path, dict(seed=0), train_dataloader=torch.utils.data.DataLoader(FourSamples(), 2))
    runner.train()
    assert runner.epoch == 1


def test_a_from_cfg_runner_reads_its_config_as_given(tmp_path, monkeypatch):
    """``Runner.from_cfg`` passes its config's entries, ``ConfigDict`` s, which mmengine changes in place while it
    builds (``register_hook`` pops a hook's ``priority``, the model gets the runner's ``data_preprocessor``, the
    visualizer a ``name`` and ``save_dir``): the checks read them as the config gives them, as before the arguments
    were recorded (they read ``custom_hooks[0]`` without its priority, the model with a ``data_preprocessor`` it does
    not set)."""
    from mmengine.config import Config
    from mmengine.registry import DATASETS, MODELS

    from automl_mm.engine.runner_checks import checked_config

    class _Net(LinearNet):
        def __init__(self, data_preprocessor=None):
            super().__init__()

    monkeypatch.setitem(MODELS._module_dict, 'FromCfgNet', _Net)
    monkeypatch.setitem(DATASETS._module_dict, 'FromCfgSamples', FourSamples)
    cfg = Config(dict(
        model=dict(type='FromCfgNet'), work_dir=str(tmp_path), data_preprocessor=dict(type='BaseDataPreprocessor'),
        train_dataloader=dict(dataset=dict(type='FromCfgSamples'), batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=1), optim_wrapper=_SGD,
        custom_hooks=[dict(type='EMAHook', priority='ABOVE_NORMAL')],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, priority='VERY_LOW')),
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]), launcher='none'))
    runner = Runner.from_cfg(cfg)
    checked = checked_config(runner)
    for key in ('model', 'custom_hooks', 'default_hooks', 'visualizer', 'train_dataloader', 'train_cfg'):
        assert checked[key] == runner.cfg[key], key
