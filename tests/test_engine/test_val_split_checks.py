"""``check_config(cfg, test_only=True, split='val')``: the checks of what ``Runner.val`` reads name the ``val_*`` keys
themselves (:mod:`automl_mm.engine.runner_checks`). Before, ``val()`` checked a copy of the config whose ``test_*``
keys were its ``val_*`` ones and rewrote ``test_*`` in the error's text: an untyped ``val_cfg`` was checked as a
``TestLoop`` (mmengine's ``Runner.val`` builds a ``ValLoop``), and the warnings, which were not rewritten, named
``test_evaluator`` for the val evaluator."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmengine.logging import MMLogger

from automl_mm.engine import runner_checks
from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import tiny_digits_cfg

BAD_SAMPLER = dict(type='DefaultSampler', shufle=True)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_a_split_is_checked_alone_and_named(tmp_path, split):
    other = 'test' if split == 'val' else 'val'
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{other}_dataloader'].sampler = BAD_SAMPLER
    check_config(cfg, test_only=True, split=split)  # the other split's loader is not read
    cfg[f'{split}_dataloader'].sampler = BAD_SAMPLER
    with pytest.raises(ConfigCheckError, match=re.escape(f'{split}_dataloader.sampler.shufle: DefaultSampler')):
        check_config(cfg, test_only=True, split=split)


def test_an_untyped_val_cfg_is_checked_as_the_val_loop(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.val_cfg = dict(fp17=True)
    with pytest.raises(ConfigCheckError, match=re.escape("val_cfg.fp17: ValLoop takes no argument 'fp17'")):
        runner_checks._checks(SimpleNamespace(cfg=cfg, model=None), 'val')


def test_a_warning_of_val_names_the_val_evaluator(tmp_path, caplog):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, 20))  # above the 10 classes: warned of, not refused
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        runner_checks._checks(SimpleNamespace(cfg=cfg, model=None), 'val')
    finally:
        logger.removeHandler(caplog.handler)
    assert 'val_evaluator.topk=(1, 20) but model.head.num_classes=10' in caplog.text, caplog.text
    assert 'test_evaluator' not in caplog.text


def test_an_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match=re.escape("split='train': one of ('val', 'test')")):
        check_config(tiny_digits_cfg(str(tmp_path)), test_only=True, split='train')
