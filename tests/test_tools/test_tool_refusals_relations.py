"""A relation a class holds between two settings (``crop_ratio_range[0] <= [1]``) that a hook of ``custom_hooks``
would break is refused by ``tools/train.py``'s start-up check of a local launch, before any worker starts, with the
workers' message (:func:`~automl_mm.engine.preflight_ohl_build.check_config_relations`); it was refused only in every
worker, after start-up (``SetAttributesHook.before_train``, ``OHLHook.before_train``), once per rank."""
from __future__ import annotations

import os.path as osp
import sys
from types import SimpleNamespace

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal

from conftest import REPO_ROOT

OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')
CROP = 'train_dataloader.dataset.pipeline.transforms.0.crop_ratio_range'
SPACES = ("[dict(type='AttributeSpace', name='low', target='" + CROP + ".0', choices=[0.5, 0.95], "
          "distribution=dict(type='Categorical', num_choices=2)), "
          "dict(type='AttributeSpace', name='high', target='" + CROP + ".1', choices=[1.0, 0.9], "
          "distribution=dict(type='Categorical', num_choices=2))]")
WD = ("[dict(type='AttributeSpace', name='wd', target='optim_wrapper.optimizer.param_groups.*.weight_decay', "
      "choices=[0.0, 1e-4], distribution=dict(type='Categorical', num_choices=2))]")


def _config(tmp_path, spaces: str, more: str = '') -> str:
    path = tmp_path / 'relation.py'
    path.write_text(f'_base_ = {OHL!r}\n'
                    'num_copies = 2\n'
                    "train_pipeline = [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 0.9)),\n"
                    "                  dict(type='PackClsInputs')]\n"
                    'train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n'
                    "custom_hooks = [dict(type='OHLHook', num_copies=num_copies, trunk_epochs=1,\n"
                    f'                     spaces={spaces},\n'
                    "                     controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05)),\n"
                    f"                     reward_key='accuracy/top1'){more}]\n")
    return str(path)


def test_a_local_launch_refuses_spaces_breaking_a_relation_before_any_worker_starts(tmp_path, monkeypatch, capsys):
    # two spaces whose choices break it together (0.95 drawn with 0.9); tools/train.py in this process (a subprocess
    # took ~10 s of imports): the workers' start stubbed out, so reaching it fails the test
    tool = load_tool('train', '_tool_train_relations')
    started = []
    monkeypatch.setattr(tool, 'prestart_workers', lambda: started.append('prestart'))
    monkeypatch.setattr(tool, 'launch_local', lambda *args: started.append('launch_local'))
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    monkeypatch.setattr(sys, 'argv', ['tools/train.py', _config(tmp_path, SPACES), '--work-dir', str(tmp_path / 'w')])
    with pytest.raises(SystemExit) as stopped:
        exit_on_refusal(tool.main, 'tools/train.py')
    err = capsys.readouterr().err
    assert stopped.value.code == 1, err[-3000:]
    expected = (f"tools/train.py: error: custom_hooks[0] (OHLHook): OHL spaces 'low' drawing 0.95, 'high' drawing 0.9: "
                f'{CROP}.0=0.95 and {CROP}.1=0.9 break crop_ratio_range[0] <= crop_ratio_range[1]')
    assert 'Traceback' not in err and expected in err, err[-3000:]
    assert started == ['prestart'], started  # refused by the launching process, before any worker's runner


def _held():
    from automl_mm.datasets.transforms import RandomResizedCrop

    crop = RandomResizedCrop(scale=32, crop_ratio_range=(0.5, 0.9))
    return SimpleNamespace(pipeline=SimpleNamespace(transforms=[crop]))


@pytest.mark.parametrize('hook', [
    dict(type='SetAttributesHook', values={f'{CROP}.0': 0.95}),
    dict(type='TrunkScheduleHook', values={f'{CROP}.0': [0.5, 0.95]}, trunk_epochs=1),
])
def test_the_launch_check_holds_the_replay_hooks_values_as_their_before_train_does(hook):
    from mmengine.config import Config

    from automl_mm.engine.preflight_ohl_build import check_config_relations
    from automl_mm.engine.preflight_walk import ConfigCheckError
    from automl_mm.registry import HOOKS

    cfg = Config(dict(custom_hooks=[dict(type='CheckpointHook'), hook]))
    hooks = [HOOKS.build(dict(entry)) for entry in cfg.custom_hooks]
    where = '' if hook['type'] == 'SetAttributesHook' else 'trunk 1: '  # the key's prefix names the class once
    with pytest.raises(ConfigCheckError) as err:
        check_config_relations(cfg, hooks, None, None, _held())
    assert str(err.value) == (f"custom_hooks[1] ({hook['type']}): {where}{CROP}.0=0.95 and {CROP}.1=0.9 break "
                              'crop_ratio_range[0] <= crop_ratio_range[1], which automl_mm.RandomResizedCrop checks in '
                              'its constructor (RandomResizedCrop): the run would draw as from the swapped pair, '
                              'silently, while the history and the exported policy hold the inverted one, which the '
                              'constructor refuses when the exported config is built')
    check_config_relations(cfg, hooks[:1], None, None, _held())  # the other hooks: nothing to hold
