"""An OHL space's or controller's refusal named a key no config has, ``OHLHook.spaces[0]`` / ``OHLHook.controller``,
and inconsistently: an unknown argument read ``custom_hooks[0]: OHLHook.spaces[0]: ...``, an unknown type only
``OHLHook.spaces[0]: ...``. Built from a config (the preflight's building check, ``CopyRunner``'s custom hooks) the
messages name the config key, ``custom_hooks[<i>].spaces[<j>]`` / ``custom_hooks[<i>].controller``; a hook built in
Python keeps ``OHLHook.spaces[<j>]``."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.ohl.hook import OHLHook


def _ohl_hook(space=None, controller=None, **kwargs):
    space = space or dict(type='PipelineChoiceSpace', key='aug')
    return dict(dict(type='OHLHook', num_copies=2, trunk_iters=5, reward_key='accuracy/top1', spaces=[space],
                     controller=controller or dict(type='REINFORCE')), **kwargs)


def _refusal(hook, kind):
    """The message of ``build_check`` on a config whose ``custom_hooks[1]`` is ``hook``."""
    cfg = Config(dict(default_scope='automl_mm', custom_hooks=[dict(type='EmptyCacheHook'), hook]))
    with pytest.raises(kind) as info:
        build_check(cfg)
    return info.value.args[0] if kind is KeyError else str(info.value)


@pytest.mark.parametrize('hook, kind, start', [
    (_ohl_hook(dict(type='PipelineChoiceSpace', key='aug', bogus=1)), TypeError,
     "custom_hooks[1].spaces[0]: PipelineChoiceSpace.__init__() got an unexpected keyword argument 'bogus'"),
    (_ohl_hook(dict(type='NoSuchSpace')), KeyError,
     'custom_hooks[1].spaces[0]: NoSuchSpace is not in the automl_mm::search space registry'),
    (_ohl_hook(dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorica', num_choices=2))),
     KeyError, 'custom_hooks[1].spaces[0].distribution: Categorica is not in the automl_mm::sampler registry'),
    (_ohl_hook(dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2)),
               controller=dict(type='REINFORCEE')), KeyError,
     'custom_hooks[1].controller: REINFORCEE is not in the automl_mm::controller registry'),
    (_ohl_hook(dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2)),
               controller=dict(type='REINFORCE', bogus=1)), TypeError,
     "custom_hooks[1].controller: REINFORCE.__init__() got an unexpected keyword argument 'bogus'"),
    (_ohl_hook(reward_key=''), ValueError, 'custom_hooks[1].reward_key must be a metric name'),
    (_ohl_hook(reward_rule='bigger'), ValueError, 'custom_hooks[1].reward_rule'),
    (_ohl_hook(bn_recalibration_batches=-1), ValueError, 'custom_hooks[1].bn_recalibration_batches must be'),
])
def test_a_refusal_of_a_configured_hook_names_its_config_key(hook, kind, start):
    message = _refusal(hook, kind)
    assert message.startswith(start), message
    assert 'OHLHook.' not in message, message


def test_a_hook_built_in_python_names_its_class():
    with pytest.raises(TypeError) as info:
        OHLHook(num_copies=2, trunk_iters=5, reward_key='accuracy/top1',
                spaces=[dict(type='PipelineChoiceSpace', key='aug', bogus=1)])
    assert str(info.value).startswith("OHLHook.spaces[0]: PipelineChoiceSpace.__init__() got an unexpected keyword "
                                      "argument 'bogus'"), info.value


def test_a_copy_runner_names_the_config_key_of_its_hook(tmp_path):
    """mmengine's ``register_custom_hooks`` builds the entries without their index: ``CopyRunner`` builds each at
    its ``custom_hooks[i]``."""
    from automl_mm.ohl.copies import CopyRunner

    cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
    hook = _ohl_hook(dict(type='PipelineChoiceSpace', key='aug', bogus=1), num_copies=1)
    with pytest.raises(TypeError) as info:
        CopyRunner(model=cfg.model, work_dir=str(tmp_path), custom_hooks=[dict(type='EmptyCacheHook'), hook],
                   default_scope=cfg.default_scope)
    assert str(info.value).startswith("custom_hooks[1].spaces[0]: PipelineChoiceSpace.__init__() got an unexpected "
                                      "keyword argument 'bogus'"), info.value


def test_the_static_checks_name_the_hooks_keys_once():
    """``custom_hooks[0] (OHLHook): OHLHook.bn_recalibration_batches > 0 needs clean training images: set
    OHLHook.bn_recalibration_dataloader, ...`` named the entry and a made-up key for its argument."""
    from automl_mm.engine.preflight import check_config

    cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
    cfg.custom_hooks[0].bn_recalibration_batches = 2
    cfg.pop('test_pipeline')
    with pytest.raises(ValueError) as info:
        check_config(cfg)
    assert str(info.value).startswith('custom_hooks[0].bn_recalibration_batches > 0 needs clean training images: set '
                                      'custom_hooks[0].bn_recalibration_dataloader,'), info.value


def test_the_building_check_names_a_wrong_plugin_return_at_the_hooks_key():
    """The building check's call of ``check_plugin_returns`` (a space's ``export_fragment()`` returning ``None``)
    named ``OHLHook.spaces[0] (...)`` where the run's own check (``before_train``) names ``custom_hooks[0].spaces[0]``:
    the refusal a user sees first named a key no config has."""
    from automl_mm.ohl import PipelineChoiceSpace
    from automl_mm.registry import SEARCH_SPACES

    class HxKeysNoFragment(PipelineChoiceSpace):
        def export_fragment(self):
            return None

    SEARCH_SPACES.register_module(module=HxKeysNoFragment)
    try:
        cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
        cfg.custom_hooks[0]['spaces'][0]['type'] = 'HxKeysNoFragment'
        with pytest.raises(TypeError) as info:
            build_check(cfg)
    finally:
        SEARCH_SPACES.module_dict.pop('HxKeysNoFragment', None)
    assert str(info.value).startswith("custom_hooks[0].spaces[0] (HxKeysNoFragment 'aug'): export_fragment() must "
                                      'return config text'), info.value


def test_a_spaces_resolve_refusal_names_the_space_at_its_key_once():
    """A space's own refusal at resolve (``PipelineChoiceSpace(key='nokey') found no choice transform ...``) was
    prefixed with the hook's entry, ``custom_hooks[1] (OHLHook): PipelineChoiceSpace(...)``: the entry named twice
    over (its class, the space's class) and not which of its spaces; it is named at the space's key."""
    cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
    cfg.custom_hooks.insert(0, dict(type='EmptyCacheHook'))
    cfg.custom_hooks[1]['spaces'][0]['key'] = 'nokey'
    with pytest.raises(ValueError) as info:
        build_check(cfg)
    message = str(info.value)
    assert message.startswith("custom_hooks[1].spaces[0]: PipelineChoiceSpace(key='nokey') found no choice "
                              'transform'), message
    assert '(OHLHook)' not in message and 'OHLHook.' not in message, message


def _plain_runner(tmp_path, **space):
    """A plain mmengine ``Runner`` (no ``runner_type``) with the OHL hook at ``custom_hooks[1]``."""
    from mmengine.runner import Runner

    cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
    cfg.pop('runner_type', None)
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.custom_hooks.insert(0, dict(type='EmptyCacheHook'))
    cfg.custom_hooks[1]['num_copies'] = 1
    if space:
        cfg.custom_hooks[1]['spaces'] = [space]
    runner = Runner.from_cfg(cfg)
    assert type(runner) is Runner
    return runner, next(h for h in runner.hooks if isinstance(h, OHLHook))


def test_a_plain_runners_hook_names_its_config_key_from_the_run_on(tmp_path):
    """mmengine's ``Runner`` builds its custom hooks without their index (``CopyRunner`` builds each at
    ``custom_hooks[i]``): the hook named itself ``OHLHook`` and its spaces ``OHLHook.spaces[j]`` though the
    runner's config has it at ``custom_hooks[1]``. From ``before_run`` on it takes that key, and the refusal of the
    runner names it."""
    runner, hook = _plain_runner(tmp_path)
    assert hook.config_key == 'OHLHook'  # built by mmengine: no key known yet
    hook.before_run(runner)
    assert hook.config_key == hook.scorer.hook_key == 'custom_hooks[1]'
    with pytest.raises(ValueError) as info:
        hook.before_train(runner)
    assert str(info.value).startswith("custom_hooks[1] (OHLHook) needs runner_type='automl_mm.CopyRunner'"), info.value


def test_a_plain_runners_hook_names_a_spaces_resolve_refusal_at_the_config_key(tmp_path):
    from types import SimpleNamespace

    runner, hook = _plain_runner(tmp_path, type='AttributeSpace', name='x', target='model.head.nonexist',
                                 choices=[1, 2], distribution=dict(type='Categorical'))
    with pytest.raises(ValueError) as info:  # the train loader needs a CopyRunner: the model is what x reads
        hook.resolve_spaces(SimpleNamespace(cfg=runner.cfg, model=runner.model))
    assert str(info.value).startswith("custom_hooks[1].spaces[0]: OHL space 'x': attribute path "
                                      "'model.head.nonexist'"), info.value


def test_the_replaced_worst_reward_is_named_at_the_hooks_key():
    """A configured ``worst_reward`` not worse than a valid copy's reward is replaced with a warning that named it
    ``OHLHook.worst_reward`` under ``custom_hooks[0]``, a key no config has."""
    from types import SimpleNamespace
    from unittest import mock

    from automl_mm.ohl.reward import settle_rewards

    scorer = SimpleNamespace(rule='greater', sign=1.0, reward_key='accuracy/top1', hook_key='custom_hooks[0]',
                             metric_names=lambda: ['Accuracy'])
    trunk = dict(rewards=[80.0, 81.25, 0.0], valid=[True, True, False], empty=[False] * 3, stale={}, stats={})
    with mock.patch('automl_mm.ohl.reward.print_log') as log:
        settle_rewards(trunk, [], scorer, 90.0, 3, 4)
    message = log.call_args.args[0]
    assert 'custom_hooks[0].worst_reward=90.0 is not worse than the worst valid reward 80' in message, message
    assert 'OHLHook.' not in message, message



def test_a_plain_runners_controllers_are_named_at_the_config_key(tmp_path):
    """A controller built with its hook (a space with a distribution) under a plain mmengine ``Runner`` kept
    ``OHLHook.controller`` after the hook took ``custom_hooks[1]``: a resume under another controller optimiser read
    'this run sets OHLHook.controller.optimizer.type=...' beside the hook's custom_hooks[1] keys."""
    runner, hook = _plain_runner(tmp_path, type='AttributeSpace', name='x', target='model.head.fc.bias',
                                 choices=[1, 2], distribution=dict(type='Categorical', num_choices=2))
    assert hook.controllers[0] is not None  # built with the hook, under 'OHLHook'
    hook.before_run(runner)
    with pytest.raises(ValueError) as info:
        hook.controllers[0]._check_optimizer({'optimizer_type': 'SGD'})
    assert 'this run sets custom_hooks[1].controller.optimizer.type=' in str(info.value), info.value
