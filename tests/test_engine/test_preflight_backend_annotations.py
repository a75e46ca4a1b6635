"""A COCO annotation file read through a storage backend (a dataset's or a ``CocoMetric``'s ``backend_args``, a
URI) was not read by the config check: a file without image sizes stopped the runner's build of the loader with a
bare ``KeyError: 'height'``, and bad annotations were found only then (or, dropped by mmdet, never). A local backend
that maps paths (a plugin's, as petrel's ``path_mapping``) was taken for the disk at the unmapped path. The check
now reads each such file of a local backend through it, as mmdet reads it (``mmengine.fileio.get_local_path``);
one on remote storage is read by the start-up check, never by ``check_config``
(:mod:`test_preflight_remote_annotations`)."""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from mmengine.config import Config
from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import LocalBackend, backends

from automl_mm.engine.preflight import ConfigCheckError, check_config


class PrefixMappedBackend(LocalBackend):
    """The local disk, each path's prefixes mapped (``path_mapping``, as mmengine's ``PetrelBackend`` maps them)."""

    def __init__(self, path_mapping: dict | None = None) -> None:
        self.path_mapping = dict(path_mapping or {})

    def _map(self, filepath) -> str:
        filepath = str(filepath)
        for prefix, to in self.path_mapping.items():
            filepath = filepath.replace(prefix, to)
        return filepath

    def get(self, filepath):
        return super().get(self._map(filepath))

    def get_text(self, filepath, encoding='utf-8'):
        return super().get_text(self._map(filepath), encoding)

    def exists(self, filepath):
        return super().exists(self._map(filepath))

    def isfile(self, filepath):
        return super().isfile(self._map(filepath))

    @contextmanager
    def get_local_path(self, filepath):
        yield self._map(filepath)


@pytest.fixture
def mapped(monkeypatch, tmp_path) -> dict:
    """``backend_args`` of a registered :class:`PrefixMappedBackend` mapping ``bucket:coco/`` to ``tmp_path``."""
    monkeypatch.setitem(backends, 'prefix_mapped', PrefixMappedBackend)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})  # (get_local_path keeps one per backend_args)
    return dict(backend='prefix_mapped', path_mapping={'bucket:coco/': f'{tmp_path}/'})


def _write(tmp_path, name: str = 'ann.json', sizes: bool = True, **ann) -> None:
    image = dict(id=1, file_name='1.png', width=8, height=8) if sizes else dict(id=1, file_name='1.png')
    base = dict(id=5, image_id=1, category_id=1, bbox=[1, 1, 4, 4], area=16.0, iscrowd=0)
    (tmp_path / name).write_text(json.dumps(dict(images=[image], annotations=[{**base, **ann}],
                                                 categories=[dict(id=1, name='a')])))


def _cfg(backend_args, ann_file: str = 'ann.json', metric: dict | None = None) -> Config:
    dataset = dict(type='CocoDataset', data_root='bucket:coco/', ann_file=ann_file, data_prefix=dict(img=''),
                   metainfo=dict(classes=('a', )), backend_args=backend_args, pipeline=[])
    cfg = dict(default_scope='mmdet', train_dataloader=dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset))
    if metric is not None:
        cfg.update(val_dataloader=cfg['train_dataloader'], val_evaluator=metric, val_cfg=dict(type='ValLoop'))
    return Config(cfg)


def test_a_file_read_through_a_mapping_local_backend_is_read_where_the_backend_reads_it(tmp_path, mapped):
    """Read at ``bucket:coco/ann.json`` on the disk (a ``LocalBackend`` subclass was taken for the disk), the check
    refused a config mmdet reads."""
    from mmdet.datasets import CocoDataset

    _write(tmp_path)
    cfg = _cfg(mapped)
    check_config(cfg)
    assert len(CocoDataset(**{k: v for k, v in cfg.train_dataloader.dataset.items() if k != 'type'})) == 1
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file: COCO annotation file not "
                                               rf"found: 'bucket:coco/missing\.json' \(read as '{tmp_path}/missing"):
        check_config(_cfg(mapped, 'missing.json'))


@pytest.mark.parametrize('fault, message', [
    (dict(sizes=False), "train_dataloader.dataset.ann_file: image id 1 of bucket:coco/ann.json has no 'height': "
                        "mmdet's CocoDataset reads every image's height and width when it is built"),
    (dict(bbox=[1, 1, 4]), "train_dataloader.dataset.ann_file: COCO annotation file 'bucket:coco/ann.json': "
                           "annotation id 5 (annotations[0]): bbox [1, 1, 4] is not 4 numbers"),
    (dict(category_id=2), "train_dataloader.dataset.ann_file: COCO annotation file 'bucket:coco/ann.json': "
                          "annotation id 5 (annotations[0]): category_id 2 is not the id of a category"),
])
def test_a_bad_file_read_through_a_backend_is_refused_naming_the_key(tmp_path, mapped, fault, message):
    _write(tmp_path, **fault)
    with pytest.raises(ConfigCheckError) as err:
        check_config(_cfg(mapped))
    assert str(err.value).startswith(message)


def test_a_metric_file_read_through_a_backend_is_read_through_it(tmp_path, mapped):
    """A ``CocoMetric``'s ``ann_file`` is read through its own ``backend_args`` (mmdet's ``CocoMetric`` reads it
    through ``get_local_path``); a file only a metric reads needs no image sizes (pycocotools reads none)."""
    _write(tmp_path)
    _write(tmp_path, 'val.json', sizes=False)
    metric = dict(type='CocoMetric', ann_file='bucket:coco/val.json', backend_args=mapped)
    check_config(_cfg(mapped, metric=metric))
    _write(tmp_path, 'val.json', bbox=['1', 1, 4, 4])
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: COCO annotation file 'bucket:coco/val\.json'"
                                               r": annotation id 5 \(annotations\[0\]\): bbox \['1', 1, 4, 4\]"):
        check_config(_cfg(mapped, metric=metric))


def test_a_backend_that_cannot_give_the_file_is_named_at_its_key(tmp_path):
    """mmdet would stop building the loader on it (here: a backend mmengine does not know), naming no key. A backend
    that is no ``LocalBackend`` may be remote storage: not read by ``check_config`` (which downloads nothing), but
    by the start-up check of the lazily built datasets."""
    from automl_mm.engine.preflight_build import check_data_sources

    check_config(_cfg(dict(backend='no_such_backend')))
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file: COCO annotation file "
                                               r"'bucket:coco/ann\.json' cannot be read through backend_args="
                                               r"\{'backend': 'no_such_backend'\}, as mmdet reads it \("):
        check_data_sources(_cfg(dict(backend='no_such_backend')))


def test_an_image_size_that_is_not_a_number_is_refused_naming_the_image(tmp_path, mapped):
    """A ``width`` given as text (``'8'``) passed the check, which looked for the key alone; mmdet's CocoDataset
    compares it with numbers when built (``TypeError: '<' not supported between instances of 'str' and 'int'``,
    naming nothing). Refused, as a missing size is, on the local disk and through a backend alike."""
    from mmdet.datasets import CocoDataset

    from automl_mm.engine.preflight_coco import first_sizeless

    assert first_sizeless([dict(id=1, width=8, height=8), dict(id=2, width=True, height=8)]) == (2, 'width', True)
    _write(tmp_path)
    coco = json.loads((tmp_path / 'ann.json').read_text())
    coco['images'][0]['width'] = '8'
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    with pytest.raises(TypeError):  # what the check prevents
        CocoDataset(ann_file='bucket:coco/ann.json', backend_args=mapped, metainfo=dict(classes=('a', )),
                    data_prefix=dict(img=''), pipeline=[])
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file: image id 1 of "
                                               r"bucket:coco/ann\.json has width '8', not a number: mmdet's "
                                               r"CocoDataset compares"):
        check_config(_cfg(mapped))


def test_a_coco_metric_file_whose_annotation_cocoeval_fails_on_is_refused_at_the_metric_key(tmp_path):
    """pycocotools' ``COCOeval`` reads ``iscrowd`` of every box (``KeyError: 'iscrowd'`` at the first evaluation, an
    epoch in) and the box and area of an ``ignore`` one, which mmdet's CocoDataset reads without (the dataset check
    passed them). A metric's own file is refused naming the metric's key; a dataset reading it alone is not."""
    from automl_mm.datasets.coco_split import first_cocoeval_problem

    assert first_cocoeval_problem(dict(annotations=[dict(id=1, iscrowd=0, bbox=[1, 1, 2, 2], area=4),
                                                    dict(id=2, iscrowd=0, ignore=1, bbox=[1, 2])]))[:2] == (1, 2)
    _write(tmp_path, iscrowd=0)
    coco = json.loads((tmp_path / 'ann.json').read_text())
    del coco['annotations'][0]['iscrowd']
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    local = dict(backend='local')
    cfg = _cfg(local, ann_file='ann.json')
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    check_config(cfg)  # the dataset reads it without 'iscrowd'
    cfg = _cfg(local, metric=dict(type='CocoMetric', ann_file=str(tmp_path / 'ann.json')))
    cfg.train_dataloader.dataset.data_root = cfg.val_dataloader.dataset.data_root = str(tmp_path)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: COCO annotation file .*ann\.json': "
                                               r"annotation id 5 \(annotations\[0\]\) has no 'iscrowd' .*COCOeval"):
        check_config(cfg)


def test_a_metric_file_cocoeval_fails_on_is_refused_through_a_local_backend_too(tmp_path, mapped):
    """The ``iscrowd`` refusal above covered plain local files only: a ``CocoMetric`` reading its file through a
    local backend (here one mapping ``bucket:coco/`` to a folder) passed, to stop at the first evaluation. The
    dataset reading the same file through the same backend still passes (mmdet's CocoDataset reads it so)."""
    _write(tmp_path)
    coco = json.loads((tmp_path / 'ann.json').read_text())
    del coco['annotations'][0]['iscrowd']
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    check_config(_cfg(mapped))
    metric = dict(type='CocoMetric', ann_file='bucket:coco/ann.json', backend_args=mapped)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\.ann_file: COCO annotation file 'bucket:coco/"
                                               r"ann\.json': annotation id 5 \(annotations\[0\]\) has no 'iscrowd'"):
        check_config(_cfg(mapped, metric=metric))
