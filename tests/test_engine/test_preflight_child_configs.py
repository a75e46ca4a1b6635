"""A child config that redefines ``train_pipeline`` alone (the base's ``train_dataloader`` keeps the pipeline it
was read with) fails at start, naming the file and the rebinding it needs."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT


@pytest.mark.parametrize('policy', [
    "dict(type='FixedAutoAugment', elements='randaugment', probs='uniform')",
    "dict(type='TorchvisionAugment', policy='RandAugment')",
    "dict(type='RandomApply', transforms=[dict(type='OHLAutoAugment', key='autoaug')], prob=0.5)",
    "dict(type='mmcv.RandomFlip', prob=0.5, direction='vertical')",
])
def test_a_child_config_that_redefines_train_pipeline_alone_fails_at_start(tmp_path, policy):
    """A child config that redefines train_pipeline only (as a retraining config with an exported policy is
    usually written) trained without it: the base's train_dataloader holds the pipeline it was read with.
    Refused, naming the file and the rebinding; with the loader rebound it passes, and so does a config whose
    loader pipeline was changed while the top-level name stayed (a benchmark arm, a dumped config)."""
    base = osp.join(REPO_ROOT, 'configs/_base_/datasets/fashion_mnist.py')
    child = tmp_path / 'child.py'
    pipeline = f"train_pipeline = [dict(type='RandomCrop', crop_size=28, padding=2), {policy}, " \
               "dict(type='PackClsInputs')]\n"
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}')
    with pytest.raises(ConfigCheckError, match=r"child\.py assigns train_pipeline \(RandomCrop, .*PackClsInputs\) "
                                               r"but not train_dataloader.*train_dataloader = dict\(dataset=dict\("
                                               r"pipeline=train_pipeline\)\)"):
        check_config(Config.fromfile(str(child)))
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n')
    check_config(Config.fromfile(str(child)))
    arm = Config.fromfile(str(child))  # the loader changed, the top-level name stale: how benchmarks make arms
    arm.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    check_config(arm)
    dumped = tmp_path / 'dumped.py'
    arm.dump(str(dumped))
    check_config(Config.fromfile(str(dumped)))
    check_config(Config.fromfile(base))


def test_a_child_config_that_rebinds_the_loader_without_its_pipeline_fails_at_start(tmp_path):
    """A retraining config that sets its own data on train_dataloader (batch size, data root: a stock mmdet config
    pasted with an exported policy) but leaves out pipeline=train_pipeline trained with the base's pipeline,
    without the policy, silently (the earlier check let any file that assigns train_dataloader pass). Refused,
    naming the file and the rebinding; with pipeline=train_pipeline added it passes."""
    base = osp.join(REPO_ROOT, 'configs/_base_/datasets/fashion_mnist.py')
    child = tmp_path / 'child.py'
    pipeline = "train_pipeline = [dict(type='FixedAutoAugment', elements='randaugment', probs='uniform'), " \
               "dict(type='PackClsInputs')]\n"
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}train_dataloader = dict(batch_size=8, num_workers=0)\n')
    with pytest.raises(ConfigCheckError, match=r"child\.py assigns train_pipeline \(FixedAutoAugment, PackClsInputs\) "
                                               r"and train_dataloader without its pipeline.*train_dataloader = "
                                               r"dict\(dataset=dict\(pipeline=train_pipeline\)\)"):
        check_config(Config.fromfile(str(child)))
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}train_dataloader = dict(batch_size=8, num_workers=0, '
                     'dataset=dict(pipeline=train_pipeline))\n')
    check_config(Config.fromfile(str(child)))


def _warnings_of(cfg, caplog, **kwargs) -> str:
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    caplog.clear()
    try:
        check_config(cfg, **kwargs)
    finally:
        logger.removeHandler(caplog.handler)
    return caplog.text


def test_a_child_config_that_redefines_test_pipeline_alone_is_warned_of(tmp_path, caplog):
    """The same inheritance fault on the scored side: a child config that redefines test_pipeline (another resize,
    a test-time transform) alone was validated, tested and rewarded with the base's pipeline, silently. mmdet ships
    such configs (bytetrack's MOT20 leaf sets val_dataloader's ann_file only, under another img_scale), so this
    warns, naming the file, each loader that keeps the base's pipeline and the rebinding; a rebound loader is not
    named, and tools/test.py's check (test_only) names only the split it evaluates."""
    base = osp.join(REPO_ROOT, 'configs/_base_/datasets/fashion_mnist.py')
    child = tmp_path / 'child.py'
    pipeline = "test_pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackClsInputs')]\n"
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}')
    text = _warnings_of(Config.fromfile(str(child)), caplog)
    for key in ('val_dataloader', 'test_dataloader', 'reward_dataloader'):
        assert (f'child.py assigns test_pipeline (Resize, PackClsInputs) but not {key}, whose dataset keeps the '
                f'pipeline its base config was read with') in text, key
    assert f'{key} = dict(dataset=dict(pipeline=test_pipeline))' in text
    text = _warnings_of(Config.fromfile(str(child)), caplog, test_only=True)
    assert 'not test_dataloader' in text and 'val_dataloader' not in text
    child.write_text(f'_base_ = [{base!r}]\n{pipeline}val_dataloader = dict(batch_size=8, '
                     'dataset=dict(pipeline=test_pipeline))\ntest_dataloader = val_dataloader\n')
    text = _warnings_of(Config.fromfile(str(child)), caplog)
    assert 'not val_dataloader' not in text and 'test_dataloader' not in text and 'not reward_dataloader' in text
    assert 'test_pipeline' not in _warnings_of(Config.fromfile(base), caplog)
