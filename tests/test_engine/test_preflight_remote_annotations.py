"""A COCO dataset read through a storage backend (mmdet's ``backend_args=dict(backend='petrel')`` with
``data_root='s3://...'``, the commented-out lines of mmdet's ``coco_detection.py``): mmdet reads its annotation file
through ``get_local_path``; ``check_config`` looked for it on the local disk and refused the config with 'COCO
annotation file not found: 's3://...'', under mmdet's own launcher too (automl_mm's start-of-run checks). Such
files were then left unread; since the fifty-eighth session a remote one is read once by the start-up check, never
by ``check_config``, and one of a local backend (:mod:`test_preflight_backend_annotations`) by ``check_config``."""
from __future__ import annotations

import json
import os.path as osp
from contextlib import contextmanager

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config, coco_annotation_files

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
REMOTE = 's3://openmmlab/datasets/detection/coco/'


def _remote(cfg):
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        dataset.data_root = REMOTE
        dataset.backend_args = dict(backend='petrel')
    for split in ('val', 'test'):
        cfg[f'{split}_evaluator'].ann_file = REMOTE + 'annotations/instances_val2017.json'
        cfg[f'{split}_evaluator'].backend_args = dict(backend='petrel')
    return cfg


def _stand_in_petrel(monkeypatch, tmp_path) -> list:
    """Register a stand-in of mmengine's ``PetrelBackend`` (no petrel_client, no network here) that reads
    :data:`REMOTE` from ``tmp_path``; the list it returns gets each path it is asked for."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import BaseStorageBackend, backends, prefix_to_backends

    reads = []

    class Petrel(BaseStorageBackend):
        def __init__(self, **kwargs):
            pass

        def get(self, filepath):
            raise AssertionError('only get_local_path is expected')

        get_text = get

        def join_path(self, filepath, *filepaths):  # (mmengine's BaseDataset joins data_root through the prefix's)
            return '/'.join([filepath.rstrip('/'), *filepaths])

        @contextmanager
        def get_local_path(self, filepath):
            reads.append(str(filepath))
            yield str(filepath).replace(REMOTE, f'{tmp_path}/')

    monkeypatch.setitem(backends, 'petrel', Petrel)
    monkeypatch.setitem(prefix_to_backends, 's3', Petrel)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})  # (get_local_path keeps one per backend_args)
    return reads


def test_remote_annotation_files_are_not_read_by_the_config_check_but_once_by_the_start_check(tmp_path, monkeypatch):
    """The lead's rule (fifty-eighth session): ``check_config`` downloads nothing; the start-up check
    (``check_data_sources``, the lazily built datasets') reads each remote COCO file once, as mmdet reads it (the
    val and test loaders' shared file too), and refuses a missing one or one without image sizes."""
    from automl_mm.engine.preflight_build import check_data_sources

    reads = _stand_in_petrel(monkeypatch, tmp_path)
    (tmp_path / 'annotations').mkdir()
    coco = dict(images=[dict(id=1, file_name='1.jpg', width=8, height=8)], annotations=[],
                categories=[dict(id=1, name='person')])
    (tmp_path / 'annotations/instances_val2017.json').write_text(json.dumps(coco))
    cfg = _remote(Config.fromfile(osp.join(MMDET_CONFIGS, 'retinanet/retinanet_r50_fpn_1x_coco.py')))
    assert coco_annotation_files(cfg) == []  # (the local-disk checks')
    check_config(cfg)  # the train file is missing: not looked for, nothing read
    assert reads == []
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file: COCO annotation file not "
                                               r"found: 's3://openmmlab/datasets/detection/coco/annotations/"
                                               r"instances_train2017\.json' \(read as "):
        check_data_sources(cfg)
    del coco['images'][0]['height']
    (tmp_path / 'annotations/instances_train2017.json').write_text(json.dumps(coco))
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file: image id 1 of s3://\S+ has "
                                               r"no 'height'"):
        check_data_sources(cfg)
    coco['images'][0]['height'] = 8
    (tmp_path / 'annotations/instances_train2017.json').write_text(json.dumps(coco))
    reads.clear()
    check_data_sources(cfg)
    assert sorted(reads) == [REMOTE + 'annotations/instances_train2017.json',
                             REMOTE + 'annotations/instances_val2017.json']  # val and test share one read
    monkeypatch.setenv('WORLD_SIZE', '2')  # a launcher's rank 1 (tools/train.py checks each rank's own files)
    monkeypatch.setenv('RANK', '1')
    reads.clear()
    check_data_sources(cfg)
    assert reads == []  # rank 0 reads the remote files, for every rank
    monkeypatch.delenv('RANK')
    (tmp_path / 'annotations/instances_train2017.json').unlink()
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator'):
        node = cfg[name].get('dataset', cfg[name])
        node.backend_args = None  # an s3:// URI alone: mmengine picks the remote backend by its prefix
    check_config(cfg)
    assert reads == []


def test_a_local_file_that_is_missing_is_still_refused():
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, 'retinanet/retinanet_r50_fpn_1x_coco.py'))
    with pytest.raises(ConfigCheckError, match='COCO annotation file not found'):
        check_config(cfg)


def _remote_metric_cfg(metric_file: str) -> Config:
    def loader(ann_file):
        return dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(type='CocoDataset', data_root=REMOTE, ann_file=ann_file, data_prefix=dict(img=''),
                                 metainfo=dict(classes=('a', )), backend_args=dict(backend='petrel'), pipeline=[]))

    return Config(dict(default_scope='mmdet', train_dataloader=loader('train.json'), val_dataloader=loader('val.json'),
                       val_evaluator=dict(type='CocoMetric', ann_file=REMOTE + metric_file,
                                          backend_args=dict(backend='petrel')),
                       val_cfg=dict(type='ValLoop')))


def test_a_remote_metric_file_cocoeval_fails_on_is_refused_by_the_start_check_once(tmp_path, monkeypatch):
    """A ``CocoMetric`` file on remote storage was read by no check: one without ``iscrowd`` stopped ``COCOeval``
    at the first evaluation, an epoch in. The start-up check reads it (never ``check_config``), on rank 0 alone,
    and a file a dataset's check read already (same path and ``backend_args``) is not downloaded again."""
    from automl_mm.engine.preflight_build import build_check, check_data_sources

    reads = _stand_in_petrel(monkeypatch, tmp_path)
    ann = dict(id=5, image_id=1, category_id=1, bbox=[1, 1, 4, 4], area=16.0)  # (no iscrowd)
    coco = dict(images=[dict(id=1, file_name='1.jpg', width=8, height=8)], annotations=[ann],
                categories=[dict(id=1, name='a')])
    for name in ('train.json', 'val.json', 'metric.json'):
        (tmp_path / name).write_text(json.dumps(coco))
    cfg = _remote_metric_cfg('metric.json')
    check_config(cfg)
    assert reads == []  # the config check downloads nothing
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: COCO annotation file 's3://\S+/metric\."
                                               r"json': annotation id 5 \(annotations\[0\]\) has no 'iscrowd'"):
        check_data_sources(cfg)
    assert reads.count(REMOTE + 'metric.json') == 1
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: .*metric\.json'.* has no 'iscrowd'"):
        build_check(cfg)  # (the multi-copy start's check)
    reads.clear()
    check_data_sources(cfg, test_only=True)  # (tools/test.py: the val_evaluator's file is not its split's)
    assert reads == []
    monkeypatch.setenv('WORLD_SIZE', '2')  # a launcher's rank 1: rank 0 reads the remote files for every rank
    monkeypatch.setenv('RANK', '1')
    reads.clear()
    check_data_sources(cfg)
    assert reads == []
    monkeypatch.delenv('RANK')
    cfg = _remote_metric_cfg('val.json')  # the val loader's own file: one read for the dataset and the metric
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: .*val\.json'.* has no 'iscrowd'"):
        check_data_sources(cfg)
    assert reads.count(REMOTE + 'val.json') == 1
    ann['iscrowd'] = 0
    (tmp_path / 'val.json').write_text(json.dumps(coco))
    check_data_sources(cfg)


def test_one_start_walks_the_mask_keys_once_and_keeps_its_reads_to_itself(tmp_path, monkeypatch):
    """The start-up check's state (:class:`~automl_mm.engine.preflight_loading.StartReads`) is one object passed
    along it: the config's mask-reading keys were walked once per dataset (``_reads_masks``) and the remote reads
    were module state keyed by the config's identity, which a second config's start reset (or, at a freed config's
    address, shared); the files ``check_config`` read were listed again for each dataset too. Now one walk and one
    listing per start, and a start's reads are its own."""
    import automl_mm.engine.preflight_coco as preflight_coco
    import automl_mm.engine.preflight_walk as preflight_walk
    from automl_mm.engine.preflight_build import check_data_sources
    from automl_mm.engine.preflight_loading import check_remote_metric_files, start_backend_reads

    reads = _stand_in_petrel(monkeypatch, tmp_path)
    (tmp_path / 'annotations').mkdir()
    coco = dict(images=[dict(id=1, file_name='1.jpg', width=8, height=8)], annotations=[],
                categories=[dict(id=1, name='person')])
    for name in ('train', 'val'):
        (tmp_path / f'annotations/instances_{name}2017.json').write_text(json.dumps(coco))
    cfg = _remote(Config.fromfile(osp.join(MMDET_CONFIGS, 'retinanet/retinanet_r50_fpn_1x_coco.py')))
    walks = []
    walk = preflight_coco.mask_reading_keys
    monkeypatch.setattr(preflight_coco, 'mask_reading_keys', lambda c: walks.append(c) or walk(c))
    listings = []
    listing = preflight_walk.backend_coco_files
    monkeypatch.setattr(preflight_walk, 'backend_coco_files', lambda c: listings.append(c) or listing(c))
    check_data_sources(cfg)
    assert len(walks) == 1 and len(reads) == 2  # three datasets and two metrics: one walk; val's file read once
    assert len(listings) == 1  # (the files check_config read, which the datasets' check skips: listed once too)
    first = start_backend_reads(cfg)
    check_remote_metric_files(cfg, reads=first)
    reads.clear()
    other = start_backend_reads(Config(cfg.to_dict()))  # a second config's start in the same process
    check_remote_metric_files(other.cfg, reads=other)
    assert len(reads) == 1  # its own read (the file may have changed since the first start), not the first's
    reads.clear()
    check_remote_metric_files(cfg, reads=first)  # the first start's read stays its own
    assert reads == []
