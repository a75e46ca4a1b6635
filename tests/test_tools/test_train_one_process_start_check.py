"""A one-process ``tools/train.py`` run (no launcher, or ``--launcher none``) gets the start-up check of a local
launch (:func:`~automl_mm.engine.preflight.build_check`), before its runner is built, with the same message: a hook
that would write a value breaking a relation (``SetAttributesHook`` setting ``crop_ratio_range[0]`` above ``[1]``) was
refused only in its ``before_train``, after the runner had built the datasets and the model and logged its start."""
from __future__ import annotations

import os
import os.path as osp

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
CROP = 'train_dataloader.dataset.pipeline.transforms.0.crop_ratio_range'


@pytest.mark.parametrize('launcher', [[], ['--launcher', 'none']])
def test_a_one_process_run_is_refused_by_the_start_up_check_before_its_runner_is_built(tmp_path, monkeypatch,
                                                                                       launcher):
    config = tmp_path / 'relation.py'
    config.write_text(f'_base_ = {DIGITS!r}\n'
                      "train_pipeline = [dict(type='RandomResizedCrop', scale=8, crop_ratio_range=(0.5, 0.9)),\n"
                      "                  dict(type='PackClsInputs')]\n"
                      'train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n'
                      f"custom_hooks = [dict(type='SetAttributesHook', values={{'{CROP}.0': 0.95}})]\n")
    tool = load_tool('train', '_tool_train_one_process_check')
    monkeypatch.setattr(tool, 'build_runner', lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'launch_local', lambda *args: pytest.fail('local copies were started'))
    work = tmp_path / 'work'
    with pytest.raises(ConfigCheckError) as refused:
        tool.main([str(config), '--work-dir', str(work), *launcher])
    assert str(refused.value).startswith('custom_hooks[0] (SetAttributesHook): ') and \
        f'{CROP}.0=0.95' in str(refused.value) and 'crop_ratio_range[0] <= crop_ratio_range[1]' in str(refused.value), \
        str(refused.value)
    assert not work.exists() or not os.listdir(work)  # no run folder: no log, no dumped config
