"""The preflight probes (a user's metric class run on a small COCO file, the lvis-api run on a one-image set) write
their files to a temporary folder. Without a usable one (a missing or read-only TMPDIR) the lvis-api probe stopped
check_config with a bare OSError naming a random folder; each probe now says the check was not done, naming the
folder and TMPDIR. A probe error naming its file (in a folder of a random name) made the once-per-cause warning of
``test_evaluator = val_evaluator`` repeat per split: the folder's random part is left out of the cause."""
from __future__ import annotations

import re
import tempfile

from mmengine.config import Config

from automl_mm.engine import preflight_lvis, preflight_metric_order
from automl_mm.engine.preflight_metric_order import check_metric_order
from automl_mm.engine.preflight_recall import check_recall_metrics
from tests.test_engine._metric_order_helpers import _mmdet_coco_metric


def _logged(monkeypatch, module) -> list[str]:
    messages: list[str] = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: messages.append(msg))
    return messages


def _no_temporary_folder(monkeypatch, tmp_path) -> str:
    """tempfile's folder (from TMPDIR, found once a process) gone: each new temporary folder fails."""
    gone = str(tmp_path / 'gone')
    monkeypatch.setattr(tempfile, 'tempdir', gone)
    return gone


def test_the_lvis_api_probe_without_a_temporary_folder_says_it_was_not_done(tmp_path, monkeypatch):
    from tests.test_engine._lvis_helpers import fake_lvis_api

    fake_lvis_api(monkeypatch, tmp_path, cast='float64')  # an lvis-api that runs: only the folder is missing
    gone = _no_temporary_folder(monkeypatch, tmp_path)
    logged = _logged(monkeypatch, preflight_lvis)
    metric = dict(type='mmdet.LVISMetric', ann_file='x.json')
    preflight_lvis.check_lvis_api(Config(dict(val_evaluator=metric, test_evaluator=metric)))  # (was FileNotFoundError)
    assert len(logged) == 1 and logged[0].startswith(
        "val_evaluator and test_evaluator (LVISMetric) were not checked for an lvis-api that fails under the "
        'installed numpy: '), logged
    assert f'no temporary folder could be made or written in {gone!r}' in logged[0], logged
    assert 'set TMPDIR to a writable folder' in logged[0], logged


class _PathErrorCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric whose own recall fails naming its annotation file (a sidecar file it looks for)."""

    def __init__(self, *args, ann_file=None, **kwargs):
        super().__init__(*args, ann_file=ann_file, **kwargs)
        self.sidecar = f'{ann_file}.proposals'

    def fast_eval_recall(self, results, *args, **kwargs):
        raise FileNotFoundError(f'no proposal sidecar {self.sidecar}')


def _both_splits(metric_type) -> Config:
    shuffled = dict(sampler=dict(type='DefaultSampler', shuffle=True))
    metric = dict(type=metric_type, ann_file='ann.json', metric='proposal_fast')
    return Config(dict(val_dataloader=shuffled, test_dataloader=shuffled, val_evaluator=metric,
                       test_evaluator=metric))


def test_a_probe_error_naming_its_temporary_file_is_one_cause_for_both_splits(monkeypatch):
    logged = _logged(monkeypatch, preflight_metric_order)
    cfg = _both_splits(_PathErrorCocoMetric)
    check_metric_order(cfg, 'mmdet')
    assert len(logged) == 1 and logged[0].startswith(
        "val_evaluator and test_evaluator (_PathErrorCocoMetric, metric='proposal_fast') were not checked "), logged
    assert re.search(r"\(FileNotFoundError: no proposal sidecar \S*automl_mm_probe_\*[/\\]probe\.json\.proposals\)",
                     logged[0]), logged
    logged.clear()
    check_recall_metrics(cfg, 'mmdet', box_counts={'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))})
    assert len(logged) == 1 and logged[0].startswith("val_evaluator and test_evaluator (_PathErrorCocoMetric, "), logged


def test_the_metric_probes_without_a_temporary_folder_say_so_once(tmp_path, monkeypatch):
    gone = _no_temporary_folder(monkeypatch, tmp_path)
    logged = _logged(monkeypatch, preflight_metric_order)
    check_metric_order(_both_splits(_PathErrorCocoMetric), 'mmdet')
    assert len(logged) == 1 and logged[0].startswith(
        "val_evaluator and test_evaluator (_PathErrorCocoMetric, metric='proposal_fast') were not checked "), logged
    assert f'(ProbeFolderError: no temporary folder could be made or written in {gone!r} (No such file or ' \
           'directory); set TMPDIR to a writable folder' in logged[0], logged


def test_a_probe_file_that_cannot_be_written_names_the_folder(monkeypatch):
    """A folder made but a file not written in it (a full disk) is the same cause: no probe runs."""
    import pytest

    from automl_mm.engine import preflight_probe_folder

    class _FullDisk:
        @staticmethod
        def dump(value, f):
            raise OSError(28, 'No space left on device')

    monkeypatch.setattr(preflight_probe_folder, 'json', _FullDisk)
    where = re.escape(repr(tempfile.gettempdir()))
    with pytest.raises(preflight_probe_folder.ProbeFolderError,
                       match=rf'^no temporary folder could be made or written in {where} \(No space left on device\); '
                             'set TMPDIR'):
        with preflight_probe_folder.probe_folder({'probe.json': {}}):
            raise AssertionError('not reached')
