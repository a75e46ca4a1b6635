"""The start-up check places the hooks automl_mm registers after the runner is built where the runner holds them
(:func:`~automl_mm.engine.preflight_ohl_build.runner_hook_order`): a resume's ``StrictCheckpointHook``
(``tools/train.py``), a NAS search loop's ``_SearchStateHook`` (``'VERY_LOW'``, registered when ``train`` builds the
loop) and an ``OHLHook``'s ``LateTrunkStart``. They were left out, so a ``hooks.<i>`` index past them resolved at the
check to another hook than the one the runner held when the path was written (a ``custom_hooks`` entry of
``priority='LOWEST'``: one index later under a search loop)."""
from __future__ import annotations

import os.path as osp

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)
from mmengine.config import Config
from mmengine.hooks import Hook

from automl_mm.engine.preflight_ohl_build import runner_hook_order
from automl_mm.registry import HOOKS

from conftest import REPO_ROOT

PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


class _HeldAtStart(Exception):
    """Stops ``train`` at ``before_run`` (every hook registered, the loop built), carrying the runner's hooks."""


class _Probe(Hook):
    priority = 'HIGHEST'

    def before_run(self, runner) -> None:
        raise _HeldAtStart([hook for hook in runner.hooks if hook is not self])


def test_the_start_up_check_orders_late_hooks_as_the_runner_holds_them(tmp_path):
    # a resume of a PC-NAS search with an EMAHook at LOWEST: StrictCheckpointHook (tools/train.py), then
    # LearnedStateHook, ResumeConfigHook, DataFingerprintHook (train), then _SearchStateHook (the loop); the real
    # train() stopped once every hook is held
    tool = load_tool('train', '_tool_train_late_hook_order')
    cfg = Config.fromfile(PC_NAS)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.custom_hooks = [dict(type='EMAHook', momentum=0.001, priority='LOWEST')]
    cfg.resume, cfg.load_from = True, str(tmp_path / 'missing.pth')  # train() stops before it is read
    ordered = runner_hook_order(cfg, [HOOKS.build(dict(type='EMAHook', momentum=0.001))])
    runner = tool.build_runner(cfg)
    runner.register_hook(_Probe())
    with pytest.raises(_HeldAtStart) as held:
        runner.train()
    names = [type(hook).__name__ for _, hook in ordered]
    assert names == [type(hook).__name__ for hook in held.value.args[0]]
    # the VERY_LOW hook goes before every LOWEST one: the EMAHook, then the resume's hook, then ResumeConfigHook
    assert names.index('_SearchStateHook') < names.index('EMAHook') < names.index('StrictCheckpointHook') < \
        names.index('ResumeConfigHook')
    keys = {type(hook).__name__: key for key, hook in ordered}
    assert keys['StrictCheckpointHook'] == 'registered by tools/train.py for the resume' and \
        keys['_SearchStateHook'] == 'registered by PCNASLoop (train_cfg) when train builds it', keys


@pytest.mark.parametrize('train_cfg, late', [(dict(max_epochs=12, val_interval=4), True),
                                             (dict(by_epoch=False, max_iters=40, val_interval=8), False)])
def test_an_ohl_hook_s_late_trunk_start_is_last_where_its_before_train_registers_it(train_cfg, late):
    from automl_mm.ohl.trunk import LateTrunkStart

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py'))
    cfg.train_cfg = train_cfg
    entry = {k: v for k, v in cfg.custom_hooks[0].items() if k != 'trunk_epochs'}
    cfg.custom_hooks = [dict(entry, trunk_iters=3)]
    ohl = HOOKS.build(dict(cfg.custom_hooks[0]))
    key, hook = runner_hook_order(cfg, [ohl])[-1]
    assert (isinstance(hook, LateTrunkStart) and hook.ohl is ohl and
            key == 'registered by custom_hooks[0] (OHLHook) at before_train') is late


def test_a_path_through_a_search_loop_s_state_hook_is_left_to_the_workers():
    # the check's _SearchStateHook stands in without the loop it carries: hooks.<i>.loop... is not refused there
    from types import SimpleNamespace

    from automl_mm.engine.preflight_ohl_build import _check_hook_path

    cfg = Config.fromfile(PC_NAS)
    ordered = runner_hook_order(cfg, [])
    index = next(i for i, (_, hook) in enumerate(ordered) if type(hook).__name__ == '_SearchStateHook')
    _check_hook_path(ordered, f'hooks.{index}.loop.checkpoint_interval_s', SimpleNamespace(), None)
    with pytest.raises(ValueError, match=r'hooks\.0 is RuntimeInfoHook'):
        _check_hook_path(ordered, 'hooks.0.loop.checkpoint_interval_s', SimpleNamespace(), None)
