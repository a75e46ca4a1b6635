"""The COCO checks of :func:`check_config` select a dataset by its class (mmdet's ``CocoDataset`` or a subclass,
resolved in the config's scope), not by ``'coco'`` in its type's name: ``LVISV1Dataset``, ``Objects365V2Dataset``,
``V3DetDataset``, ``iSAIDDataset``, ``DeepFashionDataset`` read COCO-format files but missed every COCO check (an
image-info file that ``filter_cfg`` empties stopped the runner's build with numpy's ``need at least one array to
concatenate``), while ``CocoCaptionDataset`` and ``RefCocoDataset`` files, which are no COCO instance files, were
refused as broken ones ("has no 'categories' list")."""
from __future__ import annotations

import json

import pytest
from mmengine.config import Config
from PIL import Image

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError, coco_dataset_class


def _images(tmp_path, annotations: bool) -> None:
    for i in (1, 2):
        Image.new('RGB', (8, 8)).save(tmp_path / f'{i}.png')
    anns = [dict(id=1, image_id=2, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0)] if annotations else []
    (tmp_path / 'train.json').write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.png', width=8, height=8) for i in (1, 2)], annotations=anns,
        categories=[dict(id=1, name='a'), dict(id=2, name='b')])))


def _cfg(dataset: dict) -> Config:
    return Config(dict(default_scope='mmdet', train_dataloader=dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)))


KINDS = ['LVISV1Dataset', 'Objects365V2Dataset', 'V3DetDataset', 'iSAIDDataset', 'DeepFashionDataset']


@pytest.mark.parametrize('kind', KINDS)
def test_a_coco_subclass_of_another_name_gets_the_coco_checks(tmp_path, kind, monkeypatch):
    if kind.startswith('LVIS'):  # (it loads with lvis-api, not installed here: a stand-in)
        from tests.test_engine._lvis_helpers import fake_lvis_api

        (tmp_path / 'api').mkdir()
        fake_lvis_api(monkeypatch, tmp_path / 'api', cast='float64')
    _images(tmp_path, annotations=False)
    dataset = dict(type=kind, data_root=str(tmp_path), ann_file='train.json', data_prefix=dict(img=''),
                   metainfo=dict(classes=('a', 'b')), filter_cfg=dict(filter_empty_gt=True), pipeline=[])
    with pytest.raises(ConfigCheckError) as err:
        check_config(_cfg(dataset))
    assert str(err.value) == (
        "train_dataloader.dataset.filter_cfg={'filter_empty_gt': True} keeps none of the 2 images of "
        f'{tmp_path}/train.json: it has no annotations. mmdet would stop when the runner builds the loader ("need at '
        'least one array to concatenate"); give the training annotations, or filter less')
    _images(tmp_path, annotations=True)
    check_config(_cfg(dataset))


@pytest.mark.parametrize('kind, content', [
    ('CocoCaptionDataset', [dict(image='1.png', caption='a square', image_id=1)]),
    ('RefCocoDataset', dict(images=[dict(id=1, file_name='1.png')], annotations=[])),
])
def test_a_coco_named_dataset_of_another_format_is_not_read_as_a_coco_instance_file(tmp_path, kind, content):
    (tmp_path / 'ann.json').write_text(json.dumps(content))
    dataset = dict(type=kind, data_root=str(tmp_path), ann_file='ann.json', data_prefix=dict(img_path=''),
                   pipeline=[])
    assert coco_dataset_class(dataset, 'mmdet') is None
    check_config(_cfg(dataset))


def test_the_class_is_resolved_in_the_configs_scope():
    from mmdet.datasets import LVISV1Dataset

    assert coco_dataset_class(dict(type='LVISV1Dataset'), 'mmdet') is LVISV1Dataset
    assert coco_dataset_class(dict(type='mmdet.LVISV1Dataset'), 'automl_mm') is LVISV1Dataset
    assert coco_dataset_class(dict(type='LVISV1Dataset', _scope_='mmdet'), 'automl_mm') is LVISV1Dataset
    assert coco_dataset_class(dict(type='LVISV1Dataset'), 'automl_mm') is None  # not built there either
    assert coco_dataset_class(dict(type='LVISV1Dataset')) is LVISV1Dataset  # a loader checked alone: mmdet's
    assert coco_dataset_class(dict(type=LVISV1Dataset), 'automl_mm') is LVISV1Dataset


def test_the_class_names_are_checked_only_where_mmdets_coco_loading_picks_categories_by_them(tmp_path):
    """``Objects365V1Dataset`` sorts the file's categories by id before it picks them by name (objects365's files
    list them out of order): the file's order is not its label order, and CocoDataset's rule would refuse a right
    config. ``CocoDataset`` itself keeps the check."""
    _images(tmp_path, annotations=True)
    coco = json.loads((tmp_path / 'train.json').read_text())
    coco['categories'] = coco['categories'][::-1]  # b (id 2), a (id 1)
    (tmp_path / 'train.json').write_text(json.dumps(coco))
    dataset = dict(type='Objects365V1Dataset', data_root=str(tmp_path), ann_file='train.json',
                   data_prefix=dict(img=''), metainfo=dict(classes=('a', 'b')), pipeline=[])
    check_config(_cfg(dataset))
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('mmdet'):
        built = DATASETS.build(dataset)
    assert built.cat2label == {1: 0, 2: 1}  # 'a' is label 0: the names are right
    with pytest.raises(ConfigCheckError, match=r"names them in another order than the file's categories"):
        check_config(_cfg(dict(dataset, type='CocoDataset')))


def test_a_coco_metric_is_selected_by_class_too(tmp_path, monkeypatch):
    """``LVISMetric`` (a ``CocoMetric`` subclass) reading another split's file than its loader's ``LVISV1Dataset``
    passed (its name lacks 'coco'): every prediction was scored against another image of the same id; a
    ``COCOCaptionMetric``'s caption file was refused as a broken instance file."""
    from tests.test_engine._lvis_helpers import fake_lvis_api

    (tmp_path / 'api').mkdir()
    fake_lvis_api(monkeypatch, tmp_path / 'api', cast='float64')  # (lvis is not installed here)
    _images(tmp_path, annotations=True)
    other = tmp_path / 'other.json'
    other.write_text((tmp_path / 'train.json').read_text().replace('"area": 16', '"area": 17'))  # another file
    val = dict(type='LVISV1Dataset', data_root=str(tmp_path), ann_file='train.json', data_prefix=dict(img=''),
               metainfo=dict(classes=('a', 'b')), test_mode=True, pipeline=[])
    cfg = _cfg(dict(val, test_mode=False))
    cfg.val_dataloader = dict(cfg.train_dataloader, dataset=val)
    cfg.val_evaluator = dict(type='LVISMetric', ann_file=str(other))
    cfg.val_cfg = dict(type='ValLoop')
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value).startswith(f'val_evaluator reads ground truth from {other} but val_dataloader is '
                                     f'{tmp_path}/train.json: every prediction would be scored against another '
                                     'image of the same id')


def test_a_caption_metrics_file_is_not_read_as_a_coco_instance_file(tmp_path):
    _images(tmp_path, annotations=True)
    cfg = _cfg(dict(type='CocoDataset', data_root=str(tmp_path), ann_file='train.json', data_prefix=dict(img=''),
                    metainfo=dict(classes=('a', 'b')), pipeline=[]))
    captions = tmp_path / 'captions.json'
    captions.write_text(json.dumps(dict(images=[dict(id=1, file_name='1.png')],
                                        annotations=[dict(id=1, image_id=1, caption='a square')])))
    cfg.val_evaluator = dict(type='COCOCaptionMetric', ann_file=str(captions))
    check_config(cfg)


def test_the_split_checks_resolve_the_types_in_the_configs_scope_too(tmp_path):
    """A ``CocoDataset`` subclass registered in automl_mm's registry (a user's), in a config of
    ``default_scope='automl_mm'`` checked while mmdet's scope is the current one (a runner of an mmdet config built
    before in the process: a notebook, a test session), with a ``CocoMetric`` reading another file: the split check
    resolved the dataset in the current scope (mmdet's, which does not hold it) and passed; now in the config's."""
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope

    from automl_mm.registry import DATASETS

    class UserScopeCoco(CocoDataset):
        pass

    DATASETS.register_module(name='UserScopeCocoForSplitCheck', module=UserScopeCoco, force=True)
    try:
        _images(tmp_path, annotations=True)
        other = tmp_path / 'other.json'
        other.write_text((tmp_path / 'train.json').read_text().replace('"area": 16', '"area": 17'))
        val = dict(type='UserScopeCocoForSplitCheck', data_root=str(tmp_path), ann_file='train.json',
                   data_prefix=dict(img=''), metainfo=dict(classes=('a', 'b')), test_mode=True, pipeline=[])
        cfg = _cfg(dict(val, test_mode=False))
        cfg.default_scope = 'automl_mm'
        cfg.val_dataloader = dict(cfg.train_dataloader, dataset=val)
        cfg.val_evaluator = dict(type='mmdet.CocoMetric', ann_file=str(other))
        cfg.val_cfg = dict(type='ValLoop')
        with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(ConfigCheckError) as err:
            check_config(cfg)
        assert str(err.value).startswith(f'val_evaluator reads ground truth from {other} but val_dataloader is '
                                         f'{tmp_path}/train.json: every prediction would be scored against another '
                                         'image of the same id')
        # the scored-subset check likewise: the file's images predicted twice (a RepeatDataset) and scored once
        cfg.val_dataloader = dict(cfg.train_dataloader, dataset=dict(type='RepeatDataset', times=2, dataset=val))
        cfg.val_evaluator = dict(type='mmdet.CocoMetric', ann_file=str(tmp_path / 'train.json'))
        with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(ConfigCheckError) as err:
            check_config(cfg)
        assert 'predicts its images more than once, but val_evaluator (CocoMetric) scores' in str(err.value)
    finally:
        DATASETS._module_dict.pop('UserScopeCocoForSplitCheck', None)
