"""mmdet's ``CocoMetric`` / ``LVISMetric`` without ``outfile_prefix`` write their results to a new temporary folder
at every evaluation (``tempfile.TemporaryDirectory()`` in ``compute_metrics``); with no usable temporary folder
(TMPDIR missing or read-only) the first evaluation stopped with a bare ``FileNotFoundError`` naming a random path,
after training up to it. Refused at start, naming the evaluator keys, ``outfile_prefix`` and TMPDIR."""
from __future__ import annotations

import tempfile

import pytest
from mmdet.evaluation import CocoMetric
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_folders import check_metric_temp_folders
from automl_mm.engine.preflight_walk import ConfigCheckError


class KeptCoco(CocoMetric):
    """A user's CocoMetric subclass that keeps mmdet's compute_metrics (and its temporary folder)."""


def _no_temporary_folder(monkeypatch, tmp_path) -> str:
    """tempfile's folder (from TMPDIR, found once a process) gone: each new temporary folder fails."""
    gone = str(tmp_path / 'gone')
    monkeypatch.setattr(tempfile, 'tempdir', gone)
    return gone


def test_a_coco_metric_without_outfile_prefix_and_no_temporary_folder_is_refused(tmp_path, monkeypatch):
    gone = _no_temporary_folder(monkeypatch, tmp_path)
    metric = dict(type='mmdet.CocoMetric', ann_file='a.json')
    cfg = Config(dict(val_evaluator=metric, test_evaluator=metric))
    with pytest.raises(ConfigCheckError) as raised:
        check_metric_temp_folders(cfg, test_only=False)
    message = str(raised.value)
    assert message.startswith("val_evaluator and test_evaluator (mmdet's CocoMetric) have no outfile_prefix: "), message
    assert f'no temporary folder could be made or written in {gone!r}' in message, message
    assert 'set TMPDIR to a writable folder' in message and 'val_evaluator.outfile_prefix' in message, message
    with pytest.raises(ConfigCheckError, match=r"^test_evaluator \(mmdet's CocoMetric\) has no outfile_prefix"):
        check_metric_temp_folders(cfg, test_only=True)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(mmdet's CocoMetric\) has no outfile_prefix"):
        # (it passed: the first evaluation stopped, after training up to it)
        check_config(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric'))))


def test_an_lvis_metric_and_a_subclass_are_refused_alike(tmp_path, monkeypatch):
    _no_temporary_folder(monkeypatch, tmp_path)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(mmdet's LVISMetric\) has no outfile_prefix"):
        check_metric_temp_folders(Config(dict(val_evaluator=dict(type='mmdet.LVISMetric'))), test_only=False)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\[1\] \(.*a subclass of mmdet's CocoMetric\)\) has no "):
        check_metric_temp_folders(Config(dict(val_evaluator=[dict(type='Accuracy'),
                                                             dict(type=KeptCoco)])), test_only=False)


def test_a_reward_evaluator_uses_the_temporary_folder_whatever_its_outfile_prefix(tmp_path, monkeypatch):
    _no_temporary_folder(monkeypatch, tmp_path)
    cfg = Config(dict(default_scope='automl_mm', custom_hooks=[dict(type='OHLHook', reward_evaluator=dict(
        type='mmdet.CocoMetric', outfile_prefix=str(tmp_path / 'out')))]))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_evaluator \(mmdet's CocoMetric\) is "
                                               r'scored in a new temporary folder'):
        check_metric_temp_folders(cfg, test_only=False)


def test_a_reward_reading_falling_back_to_val_evaluator_uses_it_whatever_its_outfile_prefix(tmp_path, monkeypatch):
    _no_temporary_folder(monkeypatch, tmp_path)
    cfg = Config(dict(default_scope='automl_mm', custom_hooks=[dict(type='OHLHook')], val_evaluator=dict(
        type='mmdet.CocoMetric', outfile_prefix=str(tmp_path / 'out'))))
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(read by custom_hooks\[0\] \(OHLHook\)\) \(mmdet's "
                                               r'CocoMetric\) is scored in a new temporary folder'):
        check_metric_temp_folders(cfg, test_only=False)
    cfg.train_cfg = dict(type='PCNASLoop')
    cfg.custom_hooks = []
    with pytest.raises(ConfigCheckError, match=r'^val_evaluator \(read by train_cfg \(PCNASLoop\)\)'):
        check_metric_temp_folders(cfg, test_only=False)
    check_metric_temp_folders(cfg, test_only=True)  # the test split alone: the val metric has its outfile_prefix


def test_what_needs_no_temporary_folder_passes(tmp_path, monkeypatch):
    _no_temporary_folder(monkeypatch, tmp_path)
    check_metric_temp_folders(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', outfile_prefix=str(
        tmp_path / 'out')), test_evaluator=dict(type='Accuracy'))), test_only=False)


def test_a_usable_temporary_folder_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    check_metric_temp_folders(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric'))), test_only=False)
    assert list(tmp_path.iterdir()) == []  # the folder it tried is gone


@pytest.mark.parametrize('kind, extra', [('CocoPanopticMetric', {}), ('CityScapesMetric', dict(outfile_prefix=None))])
def test_a_metric_that_makes_its_temporary_folder_when_built_is_refused_naming_its_key(tmp_path, monkeypatch, kind,
                                                                                        extra):
    """mmdet's ``CocoPanopticMetric`` and ``CityScapesMetric`` without ``outfile_prefix`` make their temporary
    folder in the constructor: the start's metric check (``check_metric_arguments``, which builds them) stopped with
    a bare ``FileNotFoundError: [Errno 2] No usable temporary directory found in [...]`` named by the key alone."""
    gone = _no_temporary_folder(monkeypatch, tmp_path)
    metric = dict(type=f'mmdet.{kind}', **extra)
    with pytest.raises(ConfigCheckError) as raised:
        check_config(Config(dict(val_evaluator=metric)))
    message = str(raised.value)
    assert message.startswith(f"val_evaluator (mmdet's {kind}) has no outfile_prefix: mmdet makes a temporary folder "
                              'for its results when it builds the metric'), message
    assert f'no temporary folder could be made or written in {gone!r}' in message, message
    assert 'set TMPDIR to a writable folder' in message and 'give val_evaluator.outfile_prefix' in message, message
    assert message.endswith('The run would stop when it builds the metric'), message
    check_metric_temp_folders(Config(dict(val_evaluator=dict(metric, outfile_prefix=str(tmp_path / 'out')))),
                              test_only=False)


@pytest.mark.parametrize('kind, when', [('MOTChallengeMetric', 'when it builds the metric'),
                                        ('COCOCaptionMetric', 'at every evaluation')])
def test_a_metric_that_uses_a_temporary_folder_whatever_its_arguments_is_refused_without_an_outfile_prefix_fix(
        tmp_path, monkeypatch, kind, when):
    """``MOTChallengeMetric`` makes its temporary folder in the constructor whatever its ``outfile_prefix`` (its
    ground truth goes there), ``COCOCaptionMetric`` one at every evaluation (it takes no ``outfile_prefix``)."""
    _no_temporary_folder(monkeypatch, tmp_path)
    metric = dict(type=f'mmdet.{kind}', outfile_prefix=str(tmp_path / 'out'))
    with pytest.raises(ConfigCheckError) as raised:
        check_metric_temp_folders(Config(dict(test_evaluator=metric)), test_only=True)
    message = str(raised.value)
    assert message.startswith(f"test_evaluator (mmdet's {kind}) uses a new temporary folder {when}, whatever its "
                              'arguments'), message
    assert 'set TMPDIR to a writable folder' in message and 'outfile_prefix' not in message, message
