"""A single-process ``tools/train.py`` run (and a ``tools/test.py`` run) on data that is not there is refused before
its runner is built, with the message of the multi-copy path's start-up build (``check_sources()`` of each dataset a
loader reads): it built the model and hooks and printed some 270 log lines before the loop's loader failed."""
from __future__ import annotations

import os
import os.path as osp

import pytest

from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader')
CASES = {
    'cifar10': ('configs/baselines/baseline_resnet18_1x1_200e_cifar10.py', 'cifar-10-batches-py',
                r'train_dataloader\.dataset\.data_root: CIFAR-10 batch file not found: {root}/data_batch_1\. '),
    'imagenet': ('configs/baselines/baseline_resnet50_8x1_120e_imagenet.py', 'imagenet',
                 r'train_dataloader\.dataset\.data_root: image folder not found: {root}/train '),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_a_single_process_run_on_missing_data_is_refused_before_its_runner_is_built(tmp_path, monkeypatch, name):
    config, folder, message = CASES[name]
    tool = load_tool('train', f'_tool_train_data_sources_{name}')
    monkeypatch.setattr(tool, 'build_runner', lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'launch_local', lambda *a: pytest.fail('local copies were started'))
    root = tmp_path / folder
    work = tmp_path / 'work'
    options = [f'{key}.dataset.data_root={root}' for key in LOADERS]
    with pytest.raises(ConfigCheckError, match=message.format(root=root)):
        tool.main([osp.join(REPO_ROOT, config), '--work-dir', str(work), '--cfg-options', *options])
    assert not work.exists() or not os.listdir(work)  # no run folder: no log, no dumped config


@pytest.mark.parametrize('name', sorted(CASES))
def test_a_test_run_on_missing_data_is_refused_before_its_runner_is_built(tmp_path, monkeypatch, name):
    """``tools/test.py`` likewise, its test split's data alone (a missing training set does not stop a test)."""
    import types

    import torch

    config, folder, message = CASES[name]
    tool = load_tool('test', f'_tool_test_data_sources_{name}')
    fail = types.SimpleNamespace(from_cfg=lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'Runner', fail)
    monkeypatch.setattr(tool, 'RUNNERS', types.SimpleNamespace(build=fail.from_cfg))
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={}, meta={}), checkpoint)
    root = tmp_path / folder
    work = tmp_path / 'work'
    test_message = message.replace('train_dataloader', 'test_dataloader').replace('/train ', '/val ')
    if name == 'cifar10':
        test_message = test_message.replace('data_batch_1', 'test_batch')
    argv = [osp.join(REPO_ROOT, config), str(checkpoint), '--work-dir', str(work), '--cfg-options']
    with pytest.raises(ConfigCheckError, match=test_message.format(root=root)):
        tool.main([*argv, *[f'{key}.dataset.data_root={root}' for key in LOADERS]])
    assert not work.exists() or not os.listdir(work)


def _mixed_coco(tmp_path, monkeypatch):
    """``(config(ann_file), loaded)``: a config whose training set is mmdet's ``MultiImageMixDataset`` around a COCO
    set of ``tmp_path``'s ``ann_file`` (``train.json`` there), and the annotation files COCO sets have loaded."""
    import json

    from mmdet.datasets import CocoDataset
    from mmengine.config import Config

    images = [dict(id=i, file_name=f'{i}.jpg', width=32, height=32) for i in range(2)]
    boxes = [dict(id=i, image_id=i, category_id=1, bbox=[1, 1, 8, 8], area=64, iscrowd=0) for i in range(2)]
    (tmp_path / 'train.json').write_text(json.dumps(dict(images=images, annotations=boxes,
                                                         categories=[dict(id=1, name='person')])))
    loaded = []
    load = CocoDataset.load_data_list
    monkeypatch.setattr(CocoDataset, 'load_data_list', lambda self: loaded.append(self.ann_file) or load(self))

    def config(ann_file):
        coco = dict(type='mmdet.CocoDataset', data_root=str(tmp_path), ann_file=ann_file, data_prefix=dict(img=''),
                    metainfo=dict(classes=('person', )), pipeline=[])
        return Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=dict(
            type='mmdet.MultiImageMixDataset', dataset=coco, pipeline=[]))))

    return config, loaded


def test_the_data_check_reads_no_annotation_file_a_wrapper_would_load_when_built(tmp_path, monkeypatch):
    """mmdet's ``MultiImageMixDataset`` (its YOLOX configs' training set) takes the length of what it wraps when built,
    whatever ``lazy_init``: building the wrapper loaded the whole COCO file (train2017: some 20 s and GB of memory)
    in every single-process run, before the runner loaded it again. The check builds the datasets that read data,
    each lazily, and asks them what they read; a missing file is named at the wrapped dataset's key."""
    from automl_mm.engine.preflight import check_data_sources

    config, loaded = _mixed_coco(tmp_path, monkeypatch)
    check_data_sources(config('train.json'))
    assert loaded == []
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset\.ann_file: the annotation file '
                                               r'.*/missing\.json \(data_root \+ ann_file\) of CocoDataset'):
        check_data_sources(config('missing.json'))


def test_the_start_up_build_reads_no_annotation_file_a_wrapper_would_load_when_built(tmp_path, monkeypatch):
    """The start-up build (:func:`~automl_mm.engine.preflight.build_check`, which a one-process run gets too) builds
    the datasets inside such a wrapper, not the wrapper: building it loaded the whole COCO file before the runner
    did."""
    from automl_mm.engine.preflight import build_check

    config, loaded = _mixed_coco(tmp_path, monkeypatch)
    build_check(config('train.json'))
    assert loaded == []
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset\.ann_file: the annotation file '
                                               r'.*/missing\.json \(data_root \+ ann_file\) of CocoDataset'):
        build_check(config('missing.json'))


def test_the_start_up_build_checks_a_path_through_a_mix_wrapper_s_pipeline_without_loading(tmp_path, monkeypatch):
    """The wrapper is built around the lazily built dataset in it, its length not taken: a replay hook's path through
    its own pipeline (YOLOX's Mosaic / MixUp stand there) is checked at start, as when the whole wrapper was built
    (left to the workers while the wrapper was not built), and the COCO file is still not loaded."""
    from mmdet.datasets import CocoDataset

    from automl_mm.engine.preflight import build_check

    config, loaded = _mixed_coco(tmp_path, monkeypatch)

    def writing(path):
        cfg = config('train.json')
        cfg.train_dataloader.dataset.pipeline = [dict(type='mmdet.RandomFlip', prob=0.5)]
        cfg.custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={path: 0.25})]
        return cfg

    build_check(writing('train_dataloader.dataset.pipeline.0.prob'))
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\] \(SetAttributesHook\): .*'train_dataloader\.dataset"
                                               r"\.pipeline\.0\.prb'"):
        build_check(writing('train_dataloader.dataset.pipeline.0.prb'))
    assert loaded == []
    from mmengine.registry import DefaultScope

    from automl_mm.engine.preflight_build import _mix_wrapper

    cfg = writing('train_dataloader.dataset.pipeline.0.prob')
    coco = {k: v for k, v in cfg.train_dataloader.dataset.dataset.items() if k != 'type'}
    inner = CocoDataset(**coco, lazy_init=True)
    with DefaultScope.overwrite_default_scope('mmdet'):
        mixed = _mix_wrapper(cfg.train_dataloader.dataset, 'train_dataloader.dataset', inner, 'mmdet')
    # its length kept aside while the wrapper is built, then its class given back
    assert mixed.dataset is inner and type(inner) is CocoDataset and loaded == []
