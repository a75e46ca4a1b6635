"""Copies in one place: the OHL hook is found by type, and ``CopyRunner`` creates the copy layout at run start."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.config import Config

from automl_mm.engine.hooks import _copies_repair_non_finite
from automl_mm.engine.launch import required_world_size
from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.runner_checks import check_lone_process
from automl_mm.ohl import OHLHook, get_copy_layout, reset_copy_layout
from automl_mm.ohl.copies import CopyRunner, CopySampler, find_ohl_hook
from automl_mm.registry import HOOKS, RUNNERS

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
SPACES = [dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2))]


class MyOHLHook(OHLHook):
    """A user's subclass, not registered."""


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _hook_cfg(kind, **kwargs):
    return dict(type=kind, spaces=SPACES, num_copies=2, ranks_per_copy=3, reward_key='accuracy/top1',
                trunk_epochs=1, **kwargs)


@pytest.mark.parametrize('kind', ['OHLHook', 'automl_mm.OHLHook', OHLHook, MyOHLHook])
def test_the_ohl_hook_is_found_by_type(kind):
    hooks = [dict(type='CheckpointHook', interval=1), _hook_cfg(kind)]
    assert find_ohl_hook(hooks) == (1, hooks[1])
    assert required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=hooks))) == 6  # (its configs')
    built = [HOOKS.build(dict(type='CheckpointHook', interval=1)), HOOKS.build(_hook_cfg(kind))]
    assert find_ohl_hook(built) == (1, built[1])


@pytest.fixture
def mmdet_ohl_hook():
    """A user's OHLHook subclass registered in mmdet's hook registry (removed afterwards)."""
    from mmdet.registry import HOOKS as MMDET_HOOKS

    MMDET_HOOKS.register_module(name='MyDetOHLHook', module=MyOHLHook)
    yield
    MMDET_HOOKS._module_dict.pop('MyDetOHLHook')


def test_a_hook_type_resolves_in_the_configs_default_scope(mmdet_ohl_hook):
    """As the runner builds it: 'MyDetOHLHook' exists only in mmdet's registry, so it is the OHL hook of an
    mmdet-scoped config (6 processes) and unknown to an automl_mm-scoped one."""
    hooks = [dict(type='CheckpointHook', interval=1), _hook_cfg('MyDetOHLHook')]
    assert find_ohl_hook(hooks, 'mmdet') == (1, hooks[1])
    assert required_world_size(Config(dict(default_scope='mmdet', custom_hooks=hooks))) == 6
    assert find_ohl_hook(hooks, 'automl_mm') is None
    assert required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=hooks))) == 1
    # automl_mm's own hook by its prefix from any scope
    assert find_ohl_hook([_hook_cfg('automl_mm.OHLHook')], 'mmdet') == (0, _hook_cfg('automl_mm.OHLHook'))


@pytest.mark.parametrize('counts', [dict(num_copies='two'), dict(num_copies=None), dict(num_copies=2.0),
                                    dict(ranks_per_copy=0)])
def test_copy_counts_are_checked_before_processes_start(counts):
    """int('two') / int(None) / a missing num_copies stopped tools/train.py without naming the hook or the key."""
    hooks = [dict(type='CheckpointHook', interval=1), {**_hook_cfg('OHLHook'), **counts}]
    with pytest.raises(ValueError, match=r'custom_hooks\[1\] \(OHLHook\): (num_copies|ranks_per_copy) must be a '
                                         'positive integer'):
        required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=hooks)))
    del hooks[1]['num_copies']
    with pytest.raises(ValueError, match=r'custom_hooks\[1\] \(OHLHook\): num_copies must be a positive integer, '
                                         'got None'):
        required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=hooks)))


def test_a_hook_that_only_has_a_num_copies_key_is_not_the_ohl_hook():
    hooks = [dict(type='CheckpointHook', num_copies=4), dict(type='NoSuchHook', num_copies=4),
             dict(type='nosuchscope.OHLHook', num_copies=4)]
    assert find_ohl_hook(hooks) is None
    assert required_world_size(Config(dict(custom_hooks=hooks))) == 1


def test_two_ohl_hooks_are_refused_with_their_indices():
    with pytest.raises(ValueError, match=r'custom_hooks\[0, 2\] are all OHL hooks'):
        find_ohl_hook([_hook_cfg('OHLHook'), dict(type='CheckpointHook'), _hook_cfg(MyOHLHook)])


def test_building_the_hook_creates_no_layout_and_the_copy_runner_does():
    hook = HOOKS.build(_hook_cfg('OHLHook'))  # 6 ranks in a 1-process world: no world-size check, no groups
    assert hook.layout is None and _copies_repair_non_finite(SimpleNamespace(hooks=[hook]))
    with pytest.raises(RuntimeError, match=r"runner_type='automl_mm.CopyRunner'"):
        get_copy_layout()
    with pytest.raises(ValueError, match=r"OHLHook needs runner_type='automl_mm.CopyRunner'.*runner is a "
                                         r'SimpleNamespace'):
        hook.before_train(SimpleNamespace())

    cfg = Config.fromfile(OHL)
    cfg.work_dir, cfg.launcher = '/tmp/unused', 'none'
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.custom_hooks[0].num_copies = 1
    runner = RUNNERS.build(cfg)
    assert isinstance(runner, CopyRunner)
    # The layout exists when the runner is built: before train() builds the train dataloader and its sampler.
    assert get_copy_layout() is runner.copy_layout and runner.copy_layout.num_copies == 1
    sampler = runner.build_dataloader(runner._train_dataloader).sampler
    assert isinstance(sampler, CopySampler) and sampler.copy_id == 0


def test_a_world_size_that_does_not_fit_stops_the_copy_runner():
    cfg = Config.fromfile(OHL)
    cfg.work_dir, cfg.launcher = '/tmp/unused', 'none'
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\] \(OHLHook\) trains in 4 processes .* runs alone "
                                               r"\(launcher='none'\)"):
        RUNNERS.build(cfg)  # before anything is built (automl_mm/engine/runner_checks.py)
    from automl_mm.engine.runner_checks import checked_by_tool

    with checked_by_tool(), pytest.raises(ValueError, match=r'world size 1 does not fit .*num_copies \(4\)'):
        RUNNERS.build(cfg)  # CopyRunner's own check, behind it


class _OwnFromCfgCopyRunner(CopyRunner):
    """A user's CopyRunner subclass whose ``from_cfg`` builds with ``cls(...)``, not ``super().from_cfg``."""

    @classmethod
    def from_cfg(cls, cfg):
        return cls(model=cfg['model'], work_dir=cfg['work_dir'], custom_hooks=cfg['custom_hooks'],
                   default_scope=cfg.get('default_scope'), launcher=cfg['launcher'], cfg=cfg)


@pytest.mark.parametrize('build', ['own_from_cfg', 'init', 'init_built_hook'])
def test_a_lone_process_is_refused_however_the_copy_runner_is_built(build, tmp_path):
    """The process-count check lived in the wrapped ``Runner.from_cfg`` only: a subclass's own ``from_cfg`` (or
    ``CopyRunner(...)`` called directly, with the hook's config or the hook built) made the work dir, built the
    model and stopped with ``CopyRunner``'s world-size error, whose advice named the tool just run. Now
    ``Runner.__init__`` refuses it before anything is built, however the runner is built."""
    cfg = Config.fromfile(OHL)
    cfg.work_dir, cfg.launcher = str(tmp_path / 'work'), 'none'
    hooks = list(cfg.custom_hooks)
    if build == 'init_built_hook':
        hooks = [HOOKS.build(h) if find_ohl_hook([h], cfg.default_scope) else h for h in hooks]
    make = {'own_from_cfg': lambda: _OwnFromCfgCopyRunner.from_cfg(cfg),
            'init': lambda: CopyRunner(model=cfg.model, work_dir=cfg.work_dir, custom_hooks=hooks,
                                       default_scope=cfg.default_scope, cfg=cfg),
            'init_built_hook': lambda: CopyRunner(model=cfg.model, work_dir=cfg.work_dir, custom_hooks=hooks,
                                                  default_scope=cfg.default_scope)}[build]
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\] \((automl_mm\.)?OHLHook\) trains in 4 processes "
                                               r".* runs alone \(launcher='none'\)"):
        make()
    assert not (tmp_path / 'work').exists()  # nothing was built


def test_a_runner_left_to_infer_its_launcher_is_lone_only_without_a_launchers_environment(monkeypatch):
    """``launcher=None`` (FlexibleRunner's default) infers the launcher from the environment: under torchrun
    (``WORLD_SIZE`` set) it was refused as "runs alone (launcher='none')" before its process group existed."""
    hooks = [dict(type='OHLHook', num_copies=4)]
    for key in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigCheckError, match=r"trains in 4 processes .* runs alone"):
        check_lone_process(None, hooks, 'automl_mm')
    monkeypatch.setenv('WORLD_SIZE', '4')
    check_lone_process(None, hooks, 'automl_mm')  # torchrun's process: not alone
    check_lone_process('pytorch', hooks, 'automl_mm')
    with pytest.raises(ConfigCheckError, match=r"runs alone"):
        check_lone_process('none', hooks, 'automl_mm')  # an explicit 'none' is alone whatever the environment


def test_preflight_names_runner_type_when_an_ohl_config_lacks_the_copy_runner():
    cfg = Config.fromfile(OHL)
    check_config(cfg)
    for runner_type in ('Runner', None):
        if runner_type is None:
            cfg = Config({k: v for k, v in cfg.to_dict().items() if k != 'runner_type'})
        else:
            cfg.runner_type = runner_type
        with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\] is an OHLHook, which needs "
                                                   r"runner_type='automl_mm.CopyRunner'.*got runner_type='Runner'"):
            check_config(cfg)
    cfg.runner_type = CopyRunner
    check_config(cfg)


@pytest.mark.parametrize('copies, ranks_per_copy, expected_lr', [(4, 1, 0.05), (2, 2, 0.1), (1, 1, 0.05)])
def test_auto_scale_lr_scales_by_one_copys_batch(copies, ranks_per_copy, expected_lr):
    """mmengine's rule took world_size x batch_size as the batch: with 4 copies of batch 32 and base_batch_size 32,
    every copy trained at 4 x the lr (0.2 instead of 0.05); the copies train independently."""
    import logging

    import torch
    from mmengine.optim import OptimWrapper

    runner = object.__new__(CopyRunner)  # mmengine's scale_lr on a runner of this layout, without starting a run
    runner.copy_layout = SimpleNamespace(num_copies=copies, ranks_per_copy=ranks_per_copy)
    runner._world_size = copies * ranks_per_copy
    runner._train_dataloader = dict(batch_size=32)
    runner.logger = logging.getLogger('test_auto_scale_lr')
    runner.param_schedulers = None
    model = torch.nn.Linear(2, 2)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
    runner.scale_lr(wrapper, dict(enable=True, base_batch_size=32))
    assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(expected_lr)
    assert runner._world_size == copies * ranks_per_copy  # put back
