"""The metrics a start constructs (in place, aside, or in a probe of a user's metric class) must not reach the
network nor leave folders behind.

* A user's subclass of mmdet's ``CocoOccludedSeparatedMetric``, whose constructor downloads ``occluded_ann`` /
  ``separated_ann`` (by default from robots.ox.ac.uk), was constructed by the label-order probe
  (:func:`~automl_mm.engine.preflight_label_order._metric_sorts_categories`), the other probes of a user's COCO
  metric class, and in place as a single-process start's ``val_evaluator``: a download at every start, a hang on an
  offline cluster. One rule (:func:`~automl_mm.engine.preflight_metric_build._remote_arguments`, subclasses by
  ``issubclass``) now keeps every such construction off.
* A metric whose files are read through a remote backend (``backend_args=dict(backend='petrel')``) was constructed
  aside: it opened its ``ann_file`` through petrel at start. It is bound to its signature alone.
* mmdet's ``MOTChallengeMetric`` makes a ``mkdtemp`` folder in its constructor that nothing removes: constructed in
  place (a single-process start's ``val_evaluator``), it left one folder per start.
"""
from __future__ import annotations

import json
import os
import tempfile

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_metric_arguments


@pytest.fixture
def fetched(monkeypatch) -> list:
    """The paths mmdet's ``CocoOccludedSeparatedMetric`` loads (its download replaced: it fails, never hangs)."""
    import mmdet.evaluation.metrics.coco_occluded_metric as occluded

    paths: list = []

    def load(path, *args, **kwargs):
        paths.append(path)
        raise OSError(f'<urlopen error: no network> {path}')

    monkeypatch.setattr(occluded, 'load', load)
    return paths


def _subclasses():
    from mmdet.evaluation.metrics import CocoOccludedSeparatedMetric

    class OwnOccluded(CocoOccludedSeparatedMetric):  # a user's subclass with a constructor of its own
        def __init__(self, *args, extra: int = 1, **kwargs) -> None:
            super().__init__(*args, **kwargs)

    class FixedOccluded(CocoOccludedSeparatedMetric):  # one that names the remote files in its body
        def __init__(self, **kwargs) -> None:
            kwargs.pop('occluded_ann', None)
            super().__init__(occluded_ann='https://example.org/o.pkl', **kwargs)

    class PlainOccluded(CocoOccludedSeparatedMetric):  # no constructor of its own
        pass

    return OwnOccluded, FixedOccluded, PlainOccluded


@pytest.mark.parametrize('which', [0, 1, 2], ids=['own_init', 'fixed_urls', 'plain'])
def test_the_probes_do_not_construct_a_subclass_of_a_downloading_metric(fetched, which):
    from automl_mm.engine.preflight_label_order import _metric_sorts_categories
    from automl_mm.engine.preflight_metric_order import _probe_class_aps, _probe_pairs_by_position
    from automl_mm.engine.preflight_recall import _probe_recall_stops

    cls = _subclasses()[which]
    metric = dict(type=cls, ann_file='a.json', occluded_ann='o.pkl', separated_ann='s.pkl') if which == 1 else \
        dict(type=cls, ann_file='a.json')
    found, why = _metric_sorts_categories(cls, metric)
    assert found is None and 'not constructed here' in why and 'occluded_ann' in why, why
    for probe in (_probe_class_aps, _probe_pairs_by_position, _probe_recall_stops):
        reasons: list = []
        assert probe(cls, metric, reasons) is None
        assert 'not constructed here' in reasons[0], reasons
    assert fetched == []


@pytest.mark.parametrize('which', [0, 1, 2], ids=['own_init', 'fixed_urls', 'plain'])
def test_a_start_does_not_construct_a_subclass_of_a_downloading_metric_in_place(fetched, tmp_path, which):
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='a')])))
    metric = dict(type=_subclasses()[which], ann_file=str(ann))
    if which == 1:  # local files given, yet its constructor names remote ones
        metric.update(occluded_ann=str(tmp_path / 'o.pkl'), separated_ann=str(tmp_path / 's.pkl'))
    for construct in (True, False):
        check_metric_arguments(Config(dict(val_evaluator=metric, test_evaluator=dict(metric))), construct=construct)
    assert fetched == []
    with pytest.raises(TypeError, match=r'^val_evaluator\.occluded_an: '):  # its signature is still checked
        check_metric_arguments(Config(dict(val_evaluator=dict(metric, occluded_an='o.pkl'))))


def test_mmdets_own_metric_given_local_files_is_still_constructed(fetched, tmp_path):
    metric = dict(type='mmdet.CocoOccludedSeparatedMetric', ann_file=str(tmp_path / 'missing.json'),
                  occluded_ann=str(tmp_path / 'o.pkl'), separated_ann=str(tmp_path / 's.pkl'))
    with pytest.raises(FileNotFoundError, match=r'^val_evaluator: .*missing\.json'):
        check_metric_arguments(Config(dict(val_evaluator=metric)))


@pytest.fixture
def petrel(monkeypatch) -> list:
    """The files read through mmengine's petrel / http backends (their reads replaced: they fail loudly)."""
    from mmengine.fileio.backends import HTTPBackend, PetrelBackend

    opened: list = []

    def read(self, filepath, *args, **kwargs):
        opened.append(str(filepath))
        raise AssertionError(f'a start opened the remote file {filepath}')

    monkeypatch.setattr(PetrelBackend, '__init__', lambda self, *args, **kwargs: None)  # (petrel_client not here)
    for backend in (PetrelBackend, HTTPBackend):
        for name in ('get', 'get_text', 'get_local_path'):
            monkeypatch.setattr(backend, name, read)
    return opened


@pytest.mark.parametrize('construct', [True, False])
@pytest.mark.parametrize('key', ['val_evaluator', 'test_evaluator'])
@pytest.mark.parametrize('arguments', [
    dict(ann_file='data/coco/annotations/instances_val2017.json', backend_args=dict(backend='petrel')),
    dict(ann_file='http://example.org/instances_val2017.json'),
    dict(ann_file='s3://bucket/instances_val2017.json'),
], ids=['backend_args', 'http', 's3'])
def test_a_metric_reading_remote_storage_is_not_constructed_at_start(petrel, tmp_path, monkeypatch, construct, key,
                                                                     arguments):
    monkeypatch.chdir(tmp_path)
    metric = dict(type='mmdet.CocoMetric', metric='bbox', **arguments)
    check_metric_arguments(Config({key: metric}), construct=construct)
    assert petrel == []
    with pytest.raises(TypeError, match=rf'^{key}\.metrc: '):  # its signature is still checked
        check_metric_arguments(Config({key: dict(metric, metrc='bbox')}), construct=construct)


@pytest.mark.parametrize('key, construct', [('val_evaluator', True), ('test_evaluator', True),
                                            ('test_evaluator', False)])
def test_mmdets_metric_given_file_client_args_is_still_refused_at_start(petrel, tmp_path, monkeypatch, key,
                                                                        construct):
    """mmdet 3.x's metrics refuse any ``file_client_args`` (``RuntimeError: The `file_client_args` is deprecated``)
    before they read a file: a start refused ``file_client_args=dict(backend='petrel')`` (an mmdet 2.x line) where
    it constructed the metric, and counting it as a remote backend left it to ``train()`` (a ``test_evaluator``: to
    the test after the training)."""
    monkeypatch.chdir(tmp_path)
    metric = dict(type='mmdet.CocoMetric', metric='bbox', ann_file='data/coco/annotations/instances_val2017.json',
                  file_client_args=dict(backend='petrel'))
    with pytest.raises(RuntimeError, match=rf'^{key} \(CocoMetric\): The `file_client_args` is deprecated'):
        check_metric_arguments(Config({key: metric}), construct=construct)
    assert petrel == []


def test_a_users_metric_reading_through_its_file_client_args_is_not_constructed_at_start(petrel, tmp_path,
                                                                                         monkeypatch):
    from mmengine.evaluator import BaseMetric
    from mmengine.fileio import get_text

    class UsersMetric(BaseMetric):  # a constructor of the user's that reads through the backend it is given
        def __init__(self, ann_file: str, file_client_args: dict | None = None, **kwargs) -> None:
            super().__init__(**kwargs)
            self.text = get_text(ann_file, backend_args=file_client_args)

        def process(self, data_batch, data_samples) -> None:
            pass

        def compute_metrics(self, results) -> dict:
            return {}

    monkeypatch.chdir(tmp_path)
    metric = dict(type=UsersMetric, ann_file='data/coco/annotations/instances_val2017.json',
                  file_client_args=dict(backend='petrel'))
    check_metric_arguments(Config(dict(val_evaluator=metric)))
    assert petrel == []


def test_a_metric_reading_through_the_local_backend_is_still_constructed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metric = dict(type='mmdet.CocoMetric', ann_file='missing.json', backend_args=dict(backend='local'))
    with pytest.raises(FileNotFoundError, match=r'^test_evaluator: .*missing\.json'):
        check_metric_arguments(Config(dict(test_evaluator=metric)))


def test_a_temporary_folder_a_constructor_makes_in_place_is_removed(monkeypatch, tmp_path):
    """A single-process start constructs its ``val_evaluator`` where it stands (and drops it): mmdet's
    ``MOTChallengeMetric`` made a ``mkdtemp`` folder there that nothing removed, one more per start."""
    import mmdet.evaluation.metrics.mot_challenge_metric as mot

    temporary = tmp_path / 'tmp'
    temporary.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temporary))
    monkeypatch.setattr(mot, 'trackeval', object())  # (not installed here; the constructor only asks for it)
    check_metric_arguments(Config(dict(val_evaluator=dict(type='mmdet.MOTChallengeMetric'))))
    assert os.listdir(temporary) == [] and tempfile.tempdir == str(temporary)
