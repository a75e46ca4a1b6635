"""A config's ``pretty_text`` is formatted by yapf once per text (``automl_mm.engine.config_format``, patch 11)."""
from __future__ import annotations

import mmengine.config.config as config_module
import pytest
from mmengine.config import Config
from yapf.yapflib.errors import YapfError
from yapf.yapflib.yapf_api import FormatCode

from automl_mm.engine.config_format import memoised_format_code

STYLE = dict(based_on_style='pep8', blank_line_before_nested_class_or_def=True,
             split_before_expression_after_opening_paren=True)


def _counting():
    calls = []

    def format_code(text, **kwargs):
        calls.append(text)
        return FormatCode(text, **kwargs)

    return calls, memoised_format_code(format_code)


def test_the_same_text_is_formatted_once_with_yapfs_result():
    calls, memoised = _counting()
    text = "a=dict(b=1,c=[1,2,3],d='x')\nmodel=dict(type='M',depth=18)"
    first = memoised(text, style_config=dict(STYLE))
    assert first == FormatCode(text, style_config=STYLE)
    assert memoised(text, style_config=dict(STYLE)) == first
    assert len(calls) == 1
    # another text, or the same text under another style, is formatted anew
    assert memoised(text + '\nz=3', style_config=dict(STYLE)) == FormatCode(text + '\nz=3', style_config=STYLE)
    assert memoised(text, style_config=dict(STYLE, column_limit=20)) == \
        FormatCode(text, style_config=dict(STYLE, column_limit=20))
    assert len(calls) == 3


def test_errors_are_raised_every_time_and_other_calls_go_to_yapf():
    calls, memoised = _counting()
    for _ in range(2):
        with pytest.raises(YapfError):
            memoised('a = (', style_config=dict(STYLE))
    assert len(calls) == 2
    for _ in range(2):  # a style by name, and a diff, are not kept
        memoised('a=1', style_config='pep8')
        memoised('a=1', style_config=dict(STYLE), print_diff=True)
    assert len(calls) == 6


def test_pretty_text_is_formatted_once_and_reads_as_before(monkeypatch):
    """What a run writes in ``meta['cfg']`` and its work dir is mmengine's text, and the second call of a run (a
    checkpoint after the runner's start) does not run yapf again; an edited config is formatted anew."""
    assert getattr(config_module.FormatCode, 'memoised', False)  # installed by `import automl_mm`
    calls, memoised = _counting()
    cfg = Config(dict(model=dict(type='M', depth=18), train_cfg=dict(max_epochs=3), work_dir='w'))
    monkeypatch.setattr(config_module, 'FormatCode', FormatCode)
    unpatched = cfg.pretty_text
    monkeypatch.setattr(config_module, 'FormatCode', memoised)
    assert cfg.pretty_text == unpatched and cfg.pretty_text == unpatched
    assert len(calls) == 1
    cfg.train_cfg.max_epochs = 4
    assert 'max_epochs=4' in cfg.pretty_text and len(calls) == 2
