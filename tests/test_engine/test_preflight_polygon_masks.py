"""A ``segmentation`` polygon pycocotools cannot rasterise (a vertex at 1e9: some 80 GB; a NaN) harms only a run
that reads masks: mmdet's ``LoadAnnotations(with_mask=True)`` or a ``'segm'`` metric. The file check refused it
whatever the config read, so a box-only config of a COCO file with one corrupt polygon could not start. It is now
refused at the ``ann_file`` key that reads masks, and only warned of where none does."""
from __future__ import annotations

import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config

BAD = [2, 3, 1e9, 3, 2, 15]


def _write(tmp_path, name: str = 'ann.json', bad: list = BAD) -> str:
    cv2.imwrite(str(tmp_path / '1.png'), np.zeros((48, 64, 3), np.uint8))
    path = tmp_path / name
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='1.png', width=64, height=48)],
        annotations=[dict(id=7, image_id=1, category_id=1, bbox=[2, 3, 10, 12], area=120.0, iscrowd=0,
                          segmentation=[[2, 3, 12, 3, 2, 15], bad])],
        categories=[dict(id=1, name='a')])))
    return str(path)


def _cfg(ann_file: str, with_mask: bool = False, metric: str = 'bbox', **dataset) -> Config:
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=with_mask)]
    loader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dict(type='CocoDataset', ann_file=ann_file, data_prefix=dict(img=osp.dirname(ann_file)),
                               metainfo=dict(classes=('a', )), pipeline=pipeline, **dataset))
    return Config(dict(default_scope='mmdet', train_dataloader=loader, val_dataloader=loader,
                       val_evaluator=dict(type='CocoMetric', metric=metric), val_cfg=dict(type='ValLoop')))


def test_a_box_only_config_of_a_file_with_a_corrupt_polygon_is_warned_not_refused(tmp_path):
    with pytest.warns(UserWarning, match=r"ann\.json': annotation id 7 \(annotations\[0\]\): segmentation\[1\] "
                                         r"reaches 1e\+09 px.*Read for its boxes alone here"):
        check_config(_cfg(_write(tmp_path)))


@pytest.mark.parametrize('with_mask, metric, key', [
    (True, 'bbox', 'train_dataloader.dataset.ann_file'),
    (False, ['bbox', 'segm'], 'val_dataloader.dataset.ann_file'),
])
def test_a_corrupt_polygon_is_refused_where_masks_are_read(tmp_path, recwarn, with_mask, metric, key):
    with pytest.raises(ConfigCheckError, match=rf"^{key}: COCO annotation file .*ann\.json': annotation id 7 "
                                               r"\(annotations\[0\]\): segmentation\[1\] reaches 1e\+09 px"):
        check_config(_cfg(_write(tmp_path), with_mask=with_mask, metric=metric))
    assert not [w for w in recwarn if 'segmentation' in str(w.message)]  # (refused, not also warned of)


def test_a_segm_metrics_own_file_is_refused_at_its_key(tmp_path):
    """(The val loader's own file is clean: its dataset is refused first where it holds the polygon.)"""
    cfg = _cfg(_write(tmp_path, 'clean.json', bad=[2, 3, 12, 3, 2, 15]))
    cfg.val_evaluator = dict(type='CocoMetric', metric='segm', ann_file=_write(tmp_path))
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: .*segmentation\[1\] reaches 1e\+09"):
        check_config(cfg)


def test_through_a_local_backend_alike(tmp_path, monkeypatch):
    """A file read through a local backend (a ``LocalBackend`` subclass, read by ``check_config`` through it)."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    monkeypatch.setitem(backends, 'plain_local', type('PlainLocal', (LocalBackend, ), {}))
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    ann_file = _write(tmp_path)
    with pytest.warns(UserWarning, match=r'segmentation\[1\] reaches 1e\+09 px.*Read for its boxes alone'):
        check_config(_cfg(ann_file, backend_args=dict(backend='plain_local')))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.ann_file: .*segmentation\[1\] reaches'):
        check_config(_cfg(ann_file, with_mask=True, backend_args=dict(backend='plain_local')))


def test_on_remote_storage_the_start_check_alike(tmp_path, monkeypatch):
    """A remote file, read by the start-up check alone (``check_data_sources``), under the same rule."""
    from automl_mm.engine.preflight_build import check_data_sources
    from tests.test_engine.test_preflight_remote_annotations import REMOTE, _stand_in_petrel

    _stand_in_petrel(monkeypatch, tmp_path)
    _write(tmp_path)
    cfg = _cfg(REMOTE + 'ann.json', backend_args=dict(backend='petrel'))
    with pytest.warns(UserWarning, match=r'segmentation\[1\] reaches 1e\+09 px.*Read for its boxes alone'):
        check_data_sources(cfg)
    cfg = _cfg(REMOTE + 'ann.json', with_mask=True, backend_args=dict(backend='petrel'))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.ann_file: .*segmentation\[1\] reaches'):
        check_data_sources(cfg)


def test_an_annotation_of_no_listed_image_is_not_judged():
    """Neither mmdet's CocoDataset nor COCOeval reads an annotation of an image the file does not list (warned of
    by the entry check), so its polygon is not judged, as before the split of the polygon check."""
    from automl_mm.datasets.coco_split import first_polygon_problem

    coco = dict(images=[dict(id=1, width=64, height=48)],
                annotations=[dict(id=7, image_id=2, segmentation=[[2, 3, float('nan'), 3, 2, 15]]),
                             dict(id=8, image_id=1, segmentation=[BAD])])
    assert first_polygon_problem(coco)[:2] == (1, 8)
    assert first_polygon_problem(dict(coco, annotations=coco['annotations'][:1])) is None


def test_a_mix_wrappers_with_mask_counts_and_a_split_left_out_does_not_silence_the_warning(tmp_path):
    """A ``with_mask`` on a ``MultiImageMixDataset``'s own pipeline rasterises the wrapped dataset's polygons (its
    results keep ``instances``): it was not counted. With ``test_only``, a train pipeline's ``with_mask`` silenced
    the test split's warning, though the train split is not checked (nothing refused, nothing said)."""
    cfg = _cfg(_write(tmp_path))
    cfg.train_dataloader = dict(cfg.train_dataloader, dataset=dict(
        type='MultiImageMixDataset', dataset=cfg.train_dataloader.dataset,
        pipeline=[dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.dataset\.ann_file: .*segmentation\[1\]'):
        check_config(cfg)
    cfg.test_dataloader, cfg.test_evaluator, cfg.test_cfg = cfg.val_dataloader, cfg.val_evaluator, dict(type='TestLoop')
    with pytest.warns(UserWarning, match=r'segmentation\[1\] reaches 1e\+09 px.*Read for its boxes alone'):
        check_config(cfg, test_only=True)


@pytest.mark.parametrize('backend', [None, 'plain_local'])
def test_a_box_only_key_read_first_is_not_warned_where_a_later_key_is_refused(tmp_path, monkeypatch, recwarn,
                                                                              backend):
    """The train loader (box-only) reads the file before the val loader (``with_mask``): refused at the val key,
    without the warning first that a box-only read is harmless, also through a local backend."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    monkeypatch.setitem(backends, 'plain_local', type('PlainLocal', (LocalBackend, ), {}))
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    cfg = _cfg(_write(tmp_path), **(dict(backend_args=dict(backend=backend)) if backend else {}))
    cfg.val_dataloader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset))
    cfg.val_dataloader['dataset']['pipeline'] = _cfg('x', with_mask=True).train_dataloader.dataset.pipeline
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.dataset\.ann_file: .*segmentation\[1\] reaches'):
        check_config(cfg)
    assert not [w for w in recwarn if 'segmentation' in str(w.message)]
    cfg.test_dataloader, cfg.test_evaluator = cfg.train_dataloader, cfg.val_evaluator
    cfg.test_cfg = dict(type='TestLoop')
    with pytest.warns(UserWarning, match=r'segmentation\[1\] reaches'):  # (the val split is not checked)
        check_config(cfg, test_only=True)


def test_the_start_check_warns_only_where_no_key_is_refused_and_looks_into_wrappers(tmp_path, monkeypatch,
                                                                                   recwarn):
    """The start-up check (remote files): a box-only read before a refused one warned first; a remote ``segm``
    metric's own file was not refused; a ``with_mask`` inside a ``RandomChoice`` (not a top-level transform of the
    built pipeline) is counted."""
    from automl_mm.engine.preflight_build import check_data_sources
    from tests.test_engine.test_preflight_remote_annotations import REMOTE, _stand_in_petrel

    _stand_in_petrel(monkeypatch, tmp_path)
    _write(tmp_path)
    petrel = dict(backend='petrel')
    cfg = _cfg(REMOTE + 'ann.json', backend_args=petrel)
    cfg.val_evaluator = dict(type='CocoMetric', metric='segm', ann_file=REMOTE + 'ann.json', backend_args=petrel)
    with pytest.raises(ConfigCheckError, match=r'^val_evaluator\.ann_file: .*segmentation\[1\] reaches 1e\+09'):
        check_data_sources(cfg)
    assert not [w for w in recwarn if 'segmentation' in str(w.message)]
    cfg = _cfg(REMOTE + 'ann.json', backend_args=petrel)
    load = dict(type='LoadAnnotations', with_bbox=True, with_mask=True)
    cfg.train_dataloader.dataset.pipeline[1] = dict(type='RandomChoice', transforms=[[load]])
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.ann_file: .*segmentation\[1\] reaches'):
        check_data_sources(cfg)
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator  # (box-only, the same file)
    with pytest.warns(UserWarning, match=r'segmentation\[1\] reaches 1e\+09 px.*Read for its boxes alone'):
        check_data_sources(cfg, test_only=True)  # (the train split, which reads masks, is not started)


def test_an_annotation_of_no_listed_image_is_not_judged_for_cocoeval_either():
    """COCOeval reads the ground truth of the listed images alone (checked: it scores a file whose orphan has no
    ``iscrowd``), so an orphan's missing ``iscrowd`` refused a ``CocoMetric`` file that evaluates unharmed."""
    from automl_mm.datasets.coco_split import first_cocoeval_problem

    coco = dict(images=[dict(id=1, width=64, height=48)],
                annotations=[dict(id=7, image_id=2, bbox=[2, 3, 4, 4], area=16.0), dict(id=8, image_id=1)])
    assert first_cocoeval_problem(coco)[:2] == (1, 8)
    assert first_cocoeval_problem(dict(coco, annotations=coco['annotations'][:1])) is None


def test_the_multi_copy_start_check_reads_a_remote_file_a_mix_wrapper_loaded(tmp_path, monkeypatch):
    """``build_check`` builds a ``MultiImageMixDataset`` whole, which loads what it wraps: the wrapped dataset was
    then skipped as loaded, so its remote file (never read by ``check_config``) went unchecked, a polygon that the
    wrapper's ``with_mask`` rasterises included."""
    from automl_mm.engine.preflight_build import build_check
    from tests.test_engine.test_preflight_remote_annotations import REMOTE, _stand_in_petrel

    _stand_in_petrel(monkeypatch, tmp_path)
    _write(tmp_path)
    cfg = _cfg(REMOTE + 'ann.json', backend_args=dict(backend='petrel'))
    cfg.train_dataloader = dict(cfg.train_dataloader, dataset=dict(
        type='MultiImageMixDataset', dataset=cfg.train_dataloader.dataset,
        pipeline=[dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.dataset\.ann_file: .*segmentation\[1\]'):
        build_check(cfg)


def test_a_box_only_plain_read_is_not_warned_where_the_same_file_through_a_local_backend_is_refused(
        tmp_path, monkeypatch, recwarn):
    """One file read as a plain path (the box-only train loader) and through a local backend (the val loader, with
    masks) is parsed once (keyed by the local file); the refusal at the val key is not preceded by the box-only
    warning."""
    from mmengine.fileio import io as fileio_io
    from mmengine.fileio.backends import LocalBackend, backends

    monkeypatch.setitem(backends, 'plain_local', type('PlainLocal', (LocalBackend, ), {}))
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    cfg = _cfg(_write(tmp_path))
    cfg.val_dataloader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset,
                                                               backend_args=dict(backend='plain_local')))
    cfg.val_dataloader['dataset']['pipeline'] = _cfg('x', with_mask=True).train_dataloader.dataset.pipeline
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.dataset\.ann_file: .*segmentation\[1\] reaches'):
        check_config(cfg)
    assert not [w for w in recwarn if 'segmentation' in str(w.message)]
