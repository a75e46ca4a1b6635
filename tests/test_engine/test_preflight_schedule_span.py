"""``--cfg-options train_cfg.max_epochs=4`` on a config whose cosine has ``T_max=12`` ended the run at lr 0.038 of
0.05, silently (mmengine follows each scheduler's own span); a run made longer than ``T_max`` climbed back up the
cosine. ``tools/train.py`` now warns (:func:`warn_schedule_span`), naming the scheduler's key; a matching schedule,
or no length option, says nothing; ``merge_options``, which the tools that train nothing share, does not warn."""
from __future__ import annotations

import logging

from mmengine.config import Config

from automl_mm.engine.preflight import merge_options
from automl_mm.engine.preflight_schedule_span import warn_schedule_span
from tests.test_engine._preflight_configs import DETECTOR, OHL


def _merge(path: str, options: dict, monkeypatch) -> list[str]:
    import automl_mm.engine.preflight_schedule_span as module

    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: logged.append(msg)
                        if level == logging.WARNING else None)
    cfg = Config.fromfile(path)
    merge_options(cfg, options)
    assert logged == [], 'merge_options (tools/test.py) warned of a training length'
    warn_schedule_span(cfg, options)
    return logged


def test_a_shortened_cosine_is_warned_of_naming_its_key(monkeypatch):
    found = _merge(OHL, {'train_cfg.max_epochs': 4}, monkeypatch)
    assert len(found) == 1
    assert found[0].startswith('--cfg-options train_cfg.max_epochs=4 changes the run\'s length but not its '
                               'param_scheduler')
    assert 'param_scheduler.0.T_max=12 ends after the run (the cosine stops part-way) (CosineAnnealingLR, in epochs)' \
        in found[0]


def test_a_lengthened_cosine_and_late_milestones_are_warned_of(monkeypatch):
    assert 'param_scheduler.0.T_max=12 ends before the run, with no param_scheduler.0.end' in \
        _merge(OHL, {'train_cfg.max_epochs': 20}, monkeypatch)[0]
    found = _merge(DETECTOR, {'train_cfg.max_epochs': 2}, monkeypatch)[0]
    assert 'param_scheduler.1.end=24 is after the run' in found
    assert 'param_scheduler.1.milestones [16, 22] are not reached (MultiStepLR, in epochs)' in found
    assert 'param_scheduler.0' not in found  # the iteration warm-up is not in epochs


def test_a_fitting_schedule_or_no_length_option_says_nothing(monkeypatch):
    assert _merge(OHL, {'train_cfg.max_epochs': 12}, monkeypatch) == []
    assert _merge(OHL, {'param_scheduler.0.T_max': 4, 'train_cfg.max_epochs': 4}, monkeypatch) == []
    assert _merge(OHL, {'train_cfg.val_interval': 6}, monkeypatch) == []
    assert _merge(DETECTOR, {'train_cfg.max_epochs': 24}, monkeypatch) == []


def test_a_scheduler_starting_after_the_run_is_named_by_its_begin_alone(monkeypatch):
    # a rank of a distributed launch (no start-up check): the late scheduler's T_max / end are moot, its begin named
    found = _merge(OHL, {'train_cfg.max_epochs': 4, 'param_scheduler.0.begin': 4}, monkeypatch)
    assert len(found) == 1 and "param_scheduler.0.begin=4 is not before the run's end (the scheduler never sets a " \
        'value) (CosineAnnealingLR, in epochs)' in found[0] and 'T_max' not in found[0], found
