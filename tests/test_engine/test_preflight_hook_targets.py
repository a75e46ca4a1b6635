"""A space target through a hook by its index in the runner's hooks (``hooks.<i>.ema_model.momentum``) is resolved
by the launch check in the order the runner will hold the hooks (mmengine's ``Runner.register_hook``, by priority,
not the config's order) and its draws held to the target's range there, before any worker starts; they were met
only in every worker's ``AttributeSpace.setup``."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.preflight_ohl_build import _check_targets, runner_hook_order
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.registry import HOOKS

CUSTOM = [dict(type='SetAttributesHook', values={'optim_wrapper.optimizer.param_groups.0.lr': 0.1}, priority='LOWEST'),
          dict(type='EMAHook', momentum=0.001)]


def _built():
    return [HOOKS.build({k: v for k, v in entry.items() if k != 'priority'}) for entry in CUSTOM]


def test_the_launch_check_orders_the_hooks_as_the_runner_does(tmp_path):
    # a default hook's own priority moves it too (mmengine pops it from the entry)
    cfg = Config(dict(default_hooks=dict(logger=dict(type='LoggerHook', interval=5), timer=None,
                                         checkpoint=dict(type='CheckpointHook', interval=1, priority='VERY_HIGH')),
                      custom_hooks=CUSTOM))
    ordered = runner_hook_order(cfg, _built())
    runner = Runner(model=torch.nn.Linear(1, 1), work_dir=str(tmp_path), default_hooks=cfg.default_hooks,
                    custom_hooks=[dict(entry) for entry in CUSTOM], default_scope='automl_mm')
    for hook_class in reversed(getattr(Runner.train, 'registers', ())):  # what the patched train() registers first
        runner.register_hook(hook_class())
    assert [type(hook).__name__ for _, hook in ordered] == [type(hook).__name__ for hook in runner.hooks]
    keys = dict((type(hook).__name__, key) for key, hook in ordered)
    assert keys['EMAHook'] == 'custom_hooks[1]' and keys['LoggerHook'] == 'default_hooks.logger'
    assert 'IterTimerHook' not in keys  # timer=None removes mmengine's default
    assert [type(hook).__name__ for _, hook in ordered].index('CheckpointHook') < 3


def _check(target, choices):
    cfg = Config(dict(default_hooks=dict(), custom_hooks=CUSTOM))
    hooks = _built()
    index = next(i for i, (_, hook) in enumerate(runner_hook_order(cfg, _built())) if type(hook).__name__ == 'EMAHook')
    space = AttributeSpace(dict(type='Categorical'), target=target.format(ema=index), choices=choices, name='ema')
    ohl = SimpleNamespace(spaces=[space])
    _check_targets(ohl, torch.nn.Linear(1, 1), None, None, cfg, None, 'custom_hooks[2]', hooks)
    return index


def test_an_ema_momentum_target_is_held_to_its_range_at_the_launch_check():
    index = _check('hooks.{ema}.ema_model.momentum', [0.001, 0.01])  # the EMA's, at the runner's index: passes
    assert index != 1  # the config lists the EMAHook second: its place in the runner's list is another
    with pytest.raises(ValueError, match=rf"^custom_hooks\[2\]\.spaces\[0\]: OHL space 'ema': .*hooks\.{index}\."
                                         r'ema_model\.momentum.*1\.5'):
        _check('hooks.{ema}.ema_model.momentum', [0.001, 1.5])


def test_an_index_at_another_hook_is_refused_naming_that_hook_and_the_order():
    with pytest.raises(ValueError) as err:
        _check('hooks.0.ema_model.momentum', [0.001, 0.01])
    message = str(err.value)
    assert message.startswith("custom_hooks[2].spaces[0]: OHL space 'ema': ") and \
        "hooks.0 is RuntimeInfoHook, mmengine's default" in message and 'EMAHook (custom_hooks[1])' in message, message
    with pytest.raises(ValueError, match=r'the runner will hold \d+ hooks, so no index 99'):
        _check('hooks.99.ema_model.momentum', [0.001, 0.01])


def test_a_hook_named_by_its_class_is_refused_at_the_launch_check_with_the_index_to_write():
    # hooks.EMAHook... was left to the workers: refused there only, after 4 processes had started (50 s on digits)
    index = _check('hooks.{ema}.ema_model.momentum', [0.001, 0.01])
    with pytest.raises(ValueError) as err:
        _check('hooks.EMAHook.ema_model.momentum', [0.001, 0.01])
    message = str(err.value)
    assert message.startswith("custom_hooks[2].spaces[0]: OHL space 'ema': ") and \
        f"did you mean 'hooks.{index}.ema_model.momentum'" in message, message
    _check('hooks.*.nonexistent', [0.001, 0.01])  # a fan-out is still left to the workers


@pytest.mark.parametrize('kind', ['SetAttributesHook', 'TrunkScheduleHook'])
def test_a_replay_hook_s_hook_target_is_held_to_its_range_at_the_launch_check(kind):
    from automl_mm.engine.preflight_ohl_build import check_replay_paths
    from automl_mm.engine.preflight_walk import ConfigCheckError

    def entry(momentum):
        path = f'hooks.{index}.ema_model.momentum'
        values = {path: momentum} if kind == 'SetAttributesHook' else {path: [0.001, momentum]}
        return dict(type=kind, values=values, **({} if kind == 'SetAttributesHook' else dict(trunk_epochs=1)))

    index = 0  # the replay hook's own priority (HIGH, HIGHEST) moves the EMAHook: its index with the hook in place
    ordered = runner_hook_order(Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry(0.01)])),
                                [*_built(), HOOKS.build(entry(0.01))])
    index = next(i for i, (_, hook) in enumerate(ordered) if type(hook).__name__ == 'EMAHook')
    path = f'hooks.{index}.ema_model.momentum'
    cfg = Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry(1.5)]))
    hooks = [*_built(), HOOKS.build(entry(1.5))]
    with pytest.raises(ConfigCheckError, match=rf'^custom_hooks\[2\] \({kind}\): (trunk 1: )?.*{path}.*1\.5 lies '
                                               r'outside \(0, 1\)'):
        check_replay_paths(cfg, hooks, None, None, torch.nn.Linear(1, 1))
    check_replay_paths(Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry(0.01)])),
                       [*_built(), HOOKS.build(entry(0.01))], None, None, torch.nn.Linear(1, 1))


def test_a_replay_hook_s_hook_named_by_its_class_is_refused_at_the_launch_check():
    from automl_mm.engine.preflight_ohl_build import check_replay_paths
    from automl_mm.engine.preflight_walk import ConfigCheckError

    entry = dict(type='SetAttributesHook', values={'hooks.EMAHook.ema_model.momentum': 0.01})
    cfg = Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry]))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[2\] \(SetAttributesHook\): .*did you mean "
                                               r"'hooks\.\d+\.ema_model\.momentum'"):
        check_replay_paths(cfg, [*_built(), HOOKS.build(entry)], None, None, torch.nn.Linear(1, 1))


def test_the_launch_check_holds_a_hook_target_s_relations_at_the_runner_s_index():
    # the relation check's stand-in runner held the custom hooks in config order: hooks.<i> (the runner's index)
    # found no hook there, and a begin_epoch written over the built 0 was refused only in every worker
    from automl_mm.engine.preflight_ohl_build import check_config_relations
    from automl_mm.engine.preflight_walk import ConfigCheckError

    def case(begin_epoch):
        entry = dict(type='SetAttributesHook', values={'hooks.{ema}.begin_epoch': begin_epoch})
        ordered = runner_hook_order(Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry])),
                                    [*_built(), HOOKS.build(entry)])
        index = next(i for i, (_, hook) in enumerate(ordered) if type(hook).__name__ == 'EMAHook')
        entry = dict(entry, values={f'hooks.{index}.begin_epoch': begin_epoch})
        cfg = Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry]))
        check_config_relations(cfg, [*_built(), HOOKS.build(entry)], torch.nn.Linear(1, 1), None, None)
        return index

    index = case(0)  # the built 0 kept: nothing to refuse
    assert index >= 2  # past the two custom hooks the config lists: an index in config order finds none
    with pytest.raises(ConfigCheckError, match=rf'^custom_hooks\[2\] \(SetAttributesHook\): .*hooks\.{index}\.'
                                               r'begin_epoch=2 .*change nothing'):
        case(2)


@pytest.mark.parametrize('entry, after', [
    (dict(type='SetAttributesHook', values={'hooks.{ema}.begin_epoch': 2}), ''),
    (dict(type='TrunkScheduleHook', values={'hooks.{ema}.begin_epoch': [0, 2]}, trunk_epochs=1), 'trunk 1: '),
    (dict(type='automl_mm.SetAttributesHook', values={'hooks.{ema}.begin_epoch': 2}), '')])  # named bare
def test_the_launch_check_names_a_replay_hook_s_class_once(entry, after):
    # 'custom_hooks[2] (SetAttributesHook): SetAttributesHook: hooks.6.begin_epoch=2 ...': the workers' own prefix
    # repeated the class the key's was naming
    from automl_mm.engine.preflight_ohl_build import check_config_relations
    from automl_mm.engine.preflight_walk import ConfigCheckError

    kind = entry['type'].rpartition('.')[2]
    ordered = runner_hook_order(Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry])),
                                [*_built(), HOOKS.build(entry)])
    index = next(i for i, (_, hook) in enumerate(ordered) if type(hook).__name__ == 'EMAHook')
    entry = dict(entry, values={f'hooks.{index}.begin_epoch': entry['values']['hooks.{ema}.begin_epoch']})
    cfg = Config(dict(default_hooks=dict(), custom_hooks=[*CUSTOM, entry]))
    with pytest.raises(ConfigCheckError) as refused:
        check_config_relations(cfg, [*_built(), HOOKS.build(entry)], torch.nn.Linear(1, 1), None, None)
    assert str(refused.value).startswith(f'custom_hooks[2] ({kind}): {after}hooks.{index}.begin_epoch=2 '), \
        str(refused.value)


def _ohl_with_hook_targets():
    """The OHL digits config with an EMAHook, a SetAttributesHook writing its momentum and an OHL space drawing it, each
    by the EMAHook's index in the runner's order."""
    from automl_mm.engine.preflight_ohl_build import deferred_hook_order

    from conftest import REPO_ROOT

    cfg = Config.fromfile(f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py')
    cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.001))
    cfg.custom_hooks.append(dict(type='SetAttributesHook', values={'hooks.{ema}.ema_model.momentum': 0.01}))
    built = [HOOKS.build({k: v for k, v in entry.items() if k != 'priority'}) for entry in cfg.custom_hooks]
    index = next(i for i, (_, hook) in enumerate(deferred_hook_order(cfg, built).get())
                 if type(hook).__name__ == 'EMAHook')
    cfg.custom_hooks[2]['values'] = {f'hooks.{index}.ema_model.momentum': 0.01}
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='ema', choices=[0.001, 0.01],
                                           target=f'hooks.{index}.ema_model.momentum',
                                           distribution=dict(type='Categorical')))
    return cfg


def test_one_start_computes_the_runner_s_hook_order_once(monkeypatch):
    # the OHL space's target, the replay hook's path and the relations each computed it (3 times per start)
    from automl_mm.engine import preflight_ohl_build
    from automl_mm.engine.preflight import build_check

    cfg = _ohl_with_hook_targets()
    computed = []
    order = preflight_ohl_build.runner_hook_order
    monkeypatch.setattr(preflight_ohl_build, 'runner_hook_order', lambda *args: computed.append(1) or order(*args))
    build_check(cfg)
    assert len(computed) == 1
    computed.clear()
    cfg.custom_hooks[0].spaces.pop()
    cfg.custom_hooks.pop()
    build_check(cfg)  # no hooks.<i> path, no relation to a hook: not computed
    assert computed == []


@pytest.mark.parametrize('begin, train_cfg, label', [
    ('begin_epoch', dict(type='EpochBasedTrainLoop', max_epochs=12), 'train_cfg.max_epochs=12'),
    ('begin_iter', dict(type='IterBasedTrainLoop', max_iters=12), 'train_cfg.max_iters=12')])
def test_the_launch_check_refuses_an_ema_begin_past_train_cfgs_length_naming_both(begin, train_cfg, label):
    # an EMAHook begin_epoch written past max_epochs never started the EMA (mmengine asserts it in before_train,
    # before any write): the run was as without an EMA, silently
    from automl_mm.engine.preflight_ohl_build import check_config_relations
    from automl_mm.engine.preflight_walk import ConfigCheckError

    ema = dict(type='EMAHook', momentum=0.001, **{begin: 2})

    def case(value, cfg_train):
        entry = dict(type='SetAttributesHook', values={'hooks.0.momentum': 0.001})
        built = [HOOKS.build(ema), HOOKS.build(entry)]
        index = next(i for i, (_, hook) in enumerate(runner_hook_order(
            Config(dict(default_hooks=dict(), custom_hooks=[ema, entry])), built)) if type(hook).__name__ == 'EMAHook')
        entry = dict(entry, values={f'hooks.{index}.{begin}': value})
        cfg = Config(dict(default_hooks=dict(), custom_hooks=[ema, entry], **cfg_train))
        check_config_relations(cfg, [built[0], HOOKS.build(entry)], torch.nn.Linear(1, 1), None, None)
        return index

    case(12, dict(train_cfg=train_cfg))  # the last epoch (iteration) starts it
    case(13, {})  # no train_cfg: the length is the workers' runner's
    with pytest.raises(ConfigCheckError, match=rf'^custom_hooks\[1\] \(SetAttributesHook\): .*hooks\.\d+\.{begin}=13 '
                                               rf'and {re.escape(label)} break {begin} <= max_\w+ .*EMA would never '
                                               r'start'):
        case(13, dict(train_cfg=train_cfg))
