"""Each start's checks read each COCO annotation file once: ``check_config`` parsed a file once per config key that
reads it (the val and test loaders' datasets and their ``CocoMetric`` s: the val file 4 times in one check), and the
start-up build's loading check parsed again the files of the ``CocoDataset`` subclasses that check_config had read.
Now a file is parsed once per ``check_config`` (by its real path, mtime and size), the build's loading check skips
the files the config's own keys name (``check_config`` read them), and the runner's ``load_data_list`` is the only
other read."""
from __future__ import annotations

import json
import os
from collections import Counter

from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

import automl_mm.datasets.coco_split as coco_split
from automl_mm.engine.preflight import build_check, check_config


def _coco(root, name: str, prefix: str, shade: int) -> None:
    os.makedirs(root / prefix, exist_ok=True)
    for i in (1, 2):
        Image.new('RGB', (8, 8), (shade, i, 0)).save(root / prefix / f'{prefix}{i}.png')
    (root / name).write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{prefix}{i}.png', width=8, height=8) for i in (1, 2)],
        annotations=[dict(id=i, image_id=i, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0) for i in (1, 2)],
        categories=[dict(id=1, name='a')])))


def _cfg(root, kind: str) -> Config:
    def loader(ann, prefix, test_mode):
        return dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(
            type=kind, data_root=str(root), ann_file=ann, data_prefix=dict(img=f'{prefix}/'), test_mode=test_mode,
            metainfo=dict(classes=('a', )), pipeline=[]))

    metric = dict(type='CocoMetric', ann_file=str(root / 'val.json'))
    return Config(dict(default_scope='mmdet', train_dataloader=loader('train.json', 't', False),
                       val_dataloader=loader('val.json', 'v', True), test_dataloader=loader('val.json', 'v', True),
                       val_evaluator=metric, test_evaluator=metric))


def test_each_annotation_file_is_read_once_by_the_checks_of_a_start(tmp_path, monkeypatch):
    _coco(tmp_path, 'train.json', 't', 10)
    _coco(tmp_path, 'val.json', 'v', 200)
    reads: Counter = Counter()
    load = coco_split._load
    monkeypatch.setattr(coco_split, '_load', lambda path: reads.update([os.path.basename(path)]) or load(path))
    for kind in ('CocoDataset', 'CityscapesDataset'):  # (a subclass of another name: the build's check read it)
        reads.clear()
        cfg = _cfg(tmp_path, kind)
        check_config(cfg)
        build_check(cfg)
        assert reads == Counter({'train.json': 1, 'val.json': 1}), kind
    with DefaultScope.overwrite_default_scope('mmdet'):  # the runner's own read is still the data's one load
        assert len(Runner.build_dataloader(cfg.train_dataloader).dataset) == 2


def test_a_file_read_as_a_plain_path_and_through_a_local_backend_is_read_once(tmp_path, monkeypatch):
    """The reads were keyed by the real path for a plain path but by ``(path, backend_args)`` for one read through a
    local backend (a ``LocalBackend`` subclass, which may map paths), so the val file that the loaders read as a path
    and the ``CocoMetric`` through such a backend was parsed twice per start. The key is now the local file the
    backend gives (``get_local_path``): one parse."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    class CachingLocal(LocalBackend):  # e.g. a plugin's local backend with a cache
        pass

    monkeypatch.setitem(backends, 'automl_mm_test_caching_local', CachingLocal)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    _coco(tmp_path, 'train.json', 't', 10)
    _coco(tmp_path, 'val.json', 'v', 200)
    reads: Counter = Counter()
    load = coco_split._load
    monkeypatch.setattr(coco_split, '_load', lambda path, local=None: reads.update([os.path.basename(path)]) or
                        load(path, local))
    cfg = _cfg(tmp_path, 'CocoDataset')
    for split in ('val', 'test'):
        cfg[f'{split}_evaluator']['backend_args'] = dict(backend='automl_mm_test_caching_local')
    check_config(cfg)
    build_check(cfg)
    assert reads == Counter({'train.json': 1, 'val.json': 1})


def _register_caching_local(monkeypatch):
    """Register ``automl_mm_test_caching_local``, a local backend under its own name, for this test only (and a
    fresh backend-instance cache, so no instance of another test's backend answers)."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    class CachingLocal(LocalBackend):
        pass

    monkeypatch.setitem(backends, 'automl_mm_test_caching_local', CachingLocal)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})


def test_the_start_up_check_knows_a_file_check_config_read_as_a_path_when_a_dataset_reads_it_through_a_local_backend(
        tmp_path, monkeypatch):
    """The start-up check skips the COCO files ``check_config`` read, which it keyed by real path for a plain path
    and by the path as written for a backend's: a lazily built dataset reading the val file through a local
    backend (spelled ``<root>/./val.json``) had it parsed again. Both are keyed by the local file now."""
    from mmdet.datasets import CocoDataset

    from automl_mm.engine.preflight_loading import check_before_loading

    _register_caching_local(monkeypatch)
    _coco(tmp_path, 'train.json', 't', 10)
    _coco(tmp_path, 'val.json', 'v', 200)
    cfg = _cfg(tmp_path, 'CocoDataset')
    reads: Counter = Counter()
    load = coco_split._load
    monkeypatch.setattr(coco_split, '_load', lambda path, local=None: reads.update([os.path.basename(path)]) or
                        load(path, local))
    dataset = CocoDataset(ann_file=f'{tmp_path}/./val.json', lazy_init=True, pipeline=[],
                          backend_args=dict(backend='automl_mm_test_caching_local'))
    check_before_loading(dataset, 'custom_hooks.0.bn_recalibration_dataloader.dataset', cfg)
    assert reads == Counter()


def test_files_that_cannot_be_stat_ed_are_not_checked_or_mask_read_files(tmp_path):
    """:func:`read_identity` is ``None`` for a plain path that cannot be ``stat``-ed: kept in the start's ``checked``
    / ``masked`` sets, it made every other such file "already read" (or read for its masks) there."""
    from automl_mm.engine.preflight_loading import StartReads

    _coco(tmp_path, 'train.json', 't', 10)
    cfg = _cfg(tmp_path, 'CocoDataset')
    cfg['val_dataloader']['dataset']['ann_file'] = str(tmp_path / 'gone.json')
    cfg['val_evaluator'] = dict(type='CocoMetric', ann_file=str(tmp_path / 'gone.json'), metric='segm')
    reads = StartReads(cfg)
    assert None not in reads.checked and len(reads.checked) == 1  # (train.json)
    assert 'val_evaluator.ann_file' in reads.mask_keys and None not in reads.masked


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_another_read(tmp_path):
    """``read_identity`` keyed a file by real path, mtime and size: one replaced by another of the same size with its
    mtime kept (``rsync -t``, ``cp -p``: a new file renamed over it) was taken for the one already read."""
    from automl_mm.engine.preflight_coco import read_identity

    path, new = tmp_path / 'val.json', tmp_path / 'new.json'
    path.write_text('{"a": 1}')
    new.write_text('{"a": 2}')
    stat = os.stat(path)
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = read_identity(str(path))
    os.replace(new, path)
    assert read_identity(str(path)) != before


def test_a_loaded_dataset_reading_check_config_s_file_through_a_local_backend_is_not_read_again(
        tmp_path, monkeypatch):
    """The branch for a dataset already loaded when built (what mmdet's ``MultiImageMixDataset`` wraps) compares its
    file with those ``check_config`` read by :func:`read_identity` too: no test held it (keyed by the path as
    written, a string never among the identities, the file was parsed again)."""
    from mmdet.datasets import CocoDataset

    from automl_mm.engine.preflight_loading import check_before_loading

    _register_caching_local(monkeypatch)
    _coco(tmp_path, 'train.json', 't', 10)
    _coco(tmp_path, 'val.json', 'v', 200)
    cfg = _cfg(tmp_path, 'CocoDataset')
    dataset = CocoDataset(ann_file=f'{tmp_path}/./val.json', data_prefix=dict(img=f'{tmp_path}/v/'), pipeline=[],
                          metainfo=dict(classes=('a', )), backend_args=dict(backend='automl_mm_test_caching_local'))
    assert dataset._fully_initialized
    reads: Counter = Counter()
    load = coco_split._load
    monkeypatch.setattr(coco_split, '_load', lambda path, local=None: reads.update([os.path.basename(path)]) or
                        load(path, local))
    check_before_loading(dataset, 'val_dataloader.dataset', cfg)
    assert reads == Counter()
