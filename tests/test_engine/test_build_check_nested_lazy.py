"""The config check's build (:func:`build_check`) built only a loader's top-level dataset with ``lazy_init=True``:
a dataset inside ``RepeatDataset`` / ``ConcatDataset`` / ``ClassBalancedDataset`` / ``NoisyLabelDataset`` read its
annotations during the check and again in the runner (a COCO train file read twice at every start). Now each
dataset loads once per run start: in the runner."""
from __future__ import annotations

from collections import Counter

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.engine.preflight import build_check
from automl_mm.registry import DATASETS
from tests.test_engine._user_scope_helpers import LOADS, FourItems


@DATASETS.register_module(force=True)
class CountingLoadsDataset(FourItems):
    """:class:`FourItems` in automl_mm's registry, with its items' classes."""

    def get_cat_ids(self, idx: int) -> list[int]:
        return [int(self.get_data_info(idx)['gt_label'])]


def _part(tag: str) -> dict:
    return dict(type='CountingLoadsDataset', tag=tag)


WRAPPED = {
    'repeat': (dict(type='RepeatDataset', times=3, dataset=_part('r')), 12),
    'concat': (dict(type='ConcatDataset', datasets=[_part('c0'), _part('c1')]), 8),
    'class_balanced': (dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=_part('cb')), 4),
    'noisy_labels': (dict(type='NoisyLabelDataset', noise_ratio=0.5, dataset=_part('n')), 4),
    'repeat_of_concat': (dict(type='RepeatDataset', times=2, dataset=dict(type='ConcatDataset', datasets=[
        _part('rc0'), _part('rc1')])), 16),
}


@pytest.mark.parametrize('name', sorted(WRAPPED))
def test_each_wrapped_dataset_loads_once_per_run_start(name):
    dataset, length = WRAPPED[name]
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(
        batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)))
    LOADS.clear()
    build_check(cfg)  # the config check at the start
    assert sum(LOADS.values()) == 0  # the check reads no data list (each was loaded here, and again below)
    with DefaultScope.overwrite_default_scope('automl_mm'):
        loader = Runner.build_dataloader(cfg.train_dataloader)  # the runner's own build
    assert len(loader.dataset) == length
    tags = [node['tag'] for node in _parts(dataset)]
    assert LOADS == Counter({tag: 1 for tag in tags})


def _parts(node: dict) -> list[dict]:
    if node['type'] == 'CountingLoadsDataset':
        return [node]
    inner = [node['dataset']] if 'dataset' in node else node['datasets']
    return [part for child in inner for part in _parts(child)]


def test_a_lazy_init_given_in_the_config_is_kept():
    dataset = dict(type='RepeatDataset', times=2, dataset=dict(_part('k'), lazy_init=False))
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(batch_size=2, dataset=dataset)))
    LOADS.clear()
    build_check(cfg)
    assert LOADS == Counter(k=1)  # asked for in the config: loaded when built, as the runner does


@pytest.mark.parametrize('wrapped', [False, True])
def test_a_coco_annotation_file_is_read_once_per_run_start(tmp_path, monkeypatch, wrapped):
    """mmdet's ``CocoDataset`` takes ``lazy_init`` through ``**kwargs`` (``inspect.signature`` does not name it): the
    check read its annotation file in full, top-level or wrapped, before the runner read it again."""
    import json

    from mmdet.datasets import CocoDataset

    reads = []
    load = CocoDataset.load_data_list
    monkeypatch.setattr(CocoDataset, 'load_data_list', lambda self: reads.append(self.ann_file) or load(self))
    images = [dict(id=i, file_name=f'{i}.jpg', width=8, height=8) for i in (1, 2)]
    anns = [dict(id=i, image_id=i, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0) for i in (1, 2)]
    (tmp_path / 'train.json').write_text(json.dumps(dict(images=images, annotations=anns,
                                                         categories=[dict(id=1, name='a')])))
    coco = dict(type='CocoDataset', data_root=str(tmp_path), ann_file='train.json', data_prefix=dict(img=''),
                metainfo=dict(classes=('a',)), pipeline=[])
    dataset = dict(type='RepeatDataset', times=2, dataset=coco) if wrapped else coco
    cfg = Config(dict(default_scope='mmdet', train_dataloader=dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)))
    build_check(cfg)
    assert reads == []
    with DefaultScope.overwrite_default_scope('mmdet'):
        loader = Runner.build_dataloader(cfg.train_dataloader)
    assert len(loader.dataset) == (4 if wrapped else 2)
    assert reads == [str(tmp_path / 'train.json')]


def test_the_clean_images_dataset_of_bn_recalibration_is_built_lazily_wrapped_or_not(tmp_path):
    """The OHL check's build of ``bn_recalibration_dataloader.dataset`` made only its top-level dataset lazy."""
    from conftest import tiny_ohl_cfg
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), bn_recalibration_batches=2)
    cfg.custom_hooks[0].num_copies = 2
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(batch_size=2, dataset=dict(
        type='RepeatDataset', times=2, dataset=dict(_part('bn'), pipeline=[])))
    LOADS.clear()
    build_check(cfg)
    assert LOADS['bn'] == 0  # was 1: read here, then again by the hook in every worker
