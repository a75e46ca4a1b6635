"""The metrics a start does not construct where they stand (a training run's ``test_evaluator``, which
``Runner.train()`` never builds; every metric of a distributed start, whose ranks all count as the main process
before the process group) were bound to their signatures only: a bad value (``CocoMetric(metric='bboxx')``, a
missing ``ann_file``, ``format_only`` without ``outfile_prefix``) was found only when ``tools/test.py`` ran, after
hours of training. mmdet's and mmengine's metrics that the run never builds (a training run's own
``test_evaluator``) are now constructed aside, the folders they write to (``outfile_prefix``, ``output_dir``) moved
into a throw-away temporary folder: no file of the config is touched."""
from __future__ import annotations

import json
import os
import tempfile

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_metric_arguments


@pytest.fixture
def ann(tmp_path) -> str:
    path = tmp_path / 'a.json'
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='a')])))
    return str(path)


@pytest.mark.parametrize('key, construct', [('test_evaluator', True), ('test_evaluator', False)])
@pytest.mark.parametrize('metric, error, said', [
    (dict(type='mmdet.CocoMetric', metric='bboxx'), KeyError,
     "{key} (CocoMetric): metric should be one of 'bbox', 'segm', 'proposal', 'proposal_fast', but got bboxx"),
    (dict(type='mmdet.CocoMetric', ann_file='missing.json'), FileNotFoundError, '{key}: '),
    (dict(type='mmdet.CocoMetric', format_only=True), ValueError, '{key} (CocoMetric): outfile_prefix must be not'),
    (dict(type='mmdet.VOCMetric', metric='mAPP'), KeyError, "{key} (VOCMetric): metric should be one of"),
])
def test_a_value_of_a_metric_not_built_at_start_is_refused_naming_its_key(tmp_path, monkeypatch, ann, key, construct,
                                                                         metric, error, said):
    monkeypatch.chdir(tmp_path)
    metric = dict(metric)
    if metric['type'] == 'mmdet.CocoMetric':
        metric.setdefault('ann_file', ann)
    with pytest.raises(error) as raised:
        check_metric_arguments(Config({key: metric}), construct=construct)
    assert str(raised.value).strip('"').startswith(said.format(key=key)), raised.value
    if 'missing' in str(metric.get('ann_file')):
        assert 'missing.json' in str(raised.value)


@pytest.mark.parametrize('construct', [True, False])
def test_a_metric_the_run_builds_anyway_is_not_constructed_aside(monkeypatch, ann, construct):
    """A distributed start's ``val_evaluator`` (``construct=False``) is constructed by the run's own loop at
    ``train()``, on every rank, and a ``test_evaluator`` equal to it (mmdet's configs write ``test_evaluator =
    val_evaluator``) is built as it is: constructing either aside loaded the whole ``ann_file`` once more on every
    rank at once (15-20 s and over 1 GB for LVIS v1 val's). Each is bound to its signature; a single-process start
    constructs its ``val_evaluator`` where it stands, once."""
    import mmdet.evaluation.metrics.coco_metric as coco

    loads = []
    original = coco.COCO.__init__

    def counting(self, *args, **kwargs):
        loads.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(coco.COCO, '__init__', counting)
    metric = dict(type='mmdet.CocoMetric', ann_file=ann)
    check_metric_arguments(Config(dict(val_evaluator=metric, test_evaluator=metric)), construct=construct)
    assert len(loads) == (1 if construct else 0)
    with pytest.raises(TypeError, match=r'^val_evaluator\.prefx: '):  # the signature still checked
        check_metric_arguments(Config(dict(val_evaluator=dict(metric, prefx='a'))), construct=construct)
    loads.clear()
    check_metric_arguments(Config(dict(val_evaluator=metric, test_evaluator=dict(metric, classwise=True))),
                           construct=construct)
    assert len(loads) == (2 if construct else 1)  # a test_evaluator of its own: constructed aside


def test_a_metric_checked_aside_touches_no_file_of_its_config(tmp_path, monkeypatch, ann):
    """mmdet's format-only ``CityScapesMetric`` clears ``<outfile_prefix>/results`` when constructed,
    ``DumpProposals`` and ``SemSegMetric`` make their ``output_dir``: constructed aside, they act on a throw-away
    folder, removed after."""
    import mmdet.evaluation.metrics.cityscapes_metric as cityscapes

    monkeypatch.setattr(cityscapes, 'HAS_CITYSCAPESAPI', True)  # (cityscapesscripts, not installed here)
    temporary = tmp_path / 'tmp'
    temporary.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temporary))
    last = tmp_path / 'last_test'
    (last / 'results').mkdir(parents=True)
    (last / 'results' / 'kept.png').write_text("the last test's results")
    metrics = [dict(type='mmdet.CityScapesMetric', outfile_prefix=str(last), format_only=True),
               dict(type='mmdet.DumpProposals', output_dir=str(tmp_path / 'proposals'), proposals_file='p.pkl'),
               dict(type='mmdet.SemSegMetric', output_dir=str(tmp_path / 'seg')),
               dict(type='mmdet.CocoMetric', ann_file=ann, format_only=True, outfile_prefix=str(tmp_path / 'coco'))]
    check_metric_arguments(Config(dict(test_evaluator=metrics)))
    check_metric_arguments(Config(dict(val_evaluator=metrics, test_evaluator=metrics)), construct=False)
    assert sorted(os.listdir(tmp_path)) == ['a.json', 'last_test', 'tmp']
    assert os.listdir(last / 'results') == ['kept.png'] and os.listdir(temporary) == []
    with pytest.raises(ValueError, match=r'^test_evaluator\[1\] \(DumpProposals\): The output file must be a pkl'):
        check_metric_arguments(Config(dict(test_evaluator=[metrics[0], dict(metrics[1], proposals_file='p.json')])))


@pytest.mark.filterwarnings('error::pytest.PytestUnraisableExceptionWarning')  # (__del__'s, where pytest sees it)
@pytest.mark.parametrize('construct', [True, False])
def test_a_metric_whose_package_is_missing_is_refused_naming_its_key(monkeypatch, capfd, construct):
    """mmdet's ``CocoPanopticMetric`` refuses to be built without panopticapi: a bare ``RuntimeError`` traceback
    from mmdet's constructor that named no key, followed by ``Exception ignored in ... __del__``, its half-built
    object's ``AttributeError`` (its ``tmp_dir`` not set yet)."""
    import gc

    import mmdet.evaluation.metrics.coco_panoptic_metric as panoptic

    monkeypatch.setattr(panoptic, 'panopticapi', None)
    with pytest.raises(RuntimeError) as raised:
        check_metric_arguments(Config(dict(test_evaluator=dict(type='mmdet.CocoPanopticMetric'))),
                               construct=construct)
    assert str(raised.value).startswith('test_evaluator (CocoPanopticMetric): panopticapi is not installed'), \
        raised.value
    del raised
    gc.collect()
    assert 'Exception ignored' not in capfd.readouterr().err


@pytest.mark.parametrize('construct', [True, False])
def test_a_metric_whose_constructor_downloads_is_not_constructed_aside(monkeypatch, ann, construct):
    """mmdet's ``CocoOccludedSeparatedMetric`` loads its ``occluded_ann`` / ``separated_ann`` in its constructor,
    by default from robots.ox.ac.uk: constructed aside, a training start (its ``test_evaluator``, which
    ``Runner.train()`` never builds; every rank of a distributed start) downloaded them, and on a node without
    network stopped with a bare ``URLError``. A metric whose arguments (given or defaults) name a URL is bound to its
    signature alone; given local files, it is constructed aside as mmdet's others."""
    import mmdet.evaluation.metrics.coco_occluded_metric as occluded

    fetched = []

    def load(path, *args, **kwargs):
        fetched.append(path)
        if '://' in str(path):
            raise OSError(f'<urlopen error: no network> {path}')
        raise FileNotFoundError(f'No such file or directory: {path!r}')

    monkeypatch.setattr(occluded, 'load', load)
    metric = dict(type='mmdet.CocoOccludedSeparatedMetric', ann_file=ann, metric='bbox')
    check_metric_arguments(Config(dict(test_evaluator=metric)), construct=construct)
    check_metric_arguments(Config(dict(test_evaluator=dict(metric, occluded_ann='https://example.org/o.pkl',
                                                           separated_ann='s.pkl'))), construct=construct)
    assert fetched == []
    with pytest.raises(TypeError, match=r'^test_evaluator\.occluded_an: '):  # its signature is still checked
        check_metric_arguments(Config(dict(test_evaluator=dict(metric, occluded_an='o.pkl'))), construct=construct)
    with pytest.raises(FileNotFoundError, match=r'^test_evaluator: .*o\.pkl'):  # local files: constructed aside
        check_metric_arguments(Config(dict(test_evaluator=dict(metric, occluded_ann='o.pkl', separated_ann='s.pkl'))),
                               construct=construct)


def test_a_temporary_folder_a_constructor_makes_aside_is_removed(monkeypatch, tmp_path):
    """mmdet's ``MOTChallengeMetric`` makes a temporary folder with ``mkdtemp`` in its constructor and nothing removes
    it: constructed aside at every training start, each start left one more under TMPDIR. The constructor's
    temporary folders now go into the throw-away folder and away with it."""
    import mmdet.evaluation.metrics.mot_challenge_metric as mot

    temporary = tmp_path / 'tmp'
    temporary.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temporary))
    monkeypatch.setattr(mot, 'trackeval', object())  # (not installed here; the constructor only asks for it)
    check_metric_arguments(Config(dict(test_evaluator=dict(type='mmdet.MOTChallengeMetric'))))
    assert os.listdir(temporary) == [] and tempfile.tempdir == str(temporary)
