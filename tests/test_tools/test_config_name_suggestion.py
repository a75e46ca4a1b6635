"""A CONFIG argument that names no file: ``tools/train.py configs/ohl/ohl_convnet_12e_digits.py`` (the ``1x4_`` of
the naming scheme left out) said only "config file not found", as did a misspelled folder and a relative path typed
outside the repository root. The message now names the closest configs of the folder, the closest folder, or that
relative paths are read from the current directory (``config_not_found``: tools/train.py, tools/test.py,
tools/measure_latency.py)."""
from __future__ import annotations

import os

import pytest

from automl_mm.engine.tool_args import config_not_found

from conftest import REPO_ROOT


@pytest.mark.parametrize('path, expected', [
    ('configs/ohl/ohl_convnet_12e_digits.py', 'config file not found: configs/ohl/ohl_convnet_12e_digits.py '
                                              '(did you mean configs/ohl/ohl_convnet_1x4_12e_digits.py?)'),
    ('configs/nope.py', 'config file not found: configs/nope.py'),
    ('configs/ohll/ohl_convnet_1x4_12e_digits.py',
     'config file not found: configs/ohll/ohl_convnet_1x4_12e_digits.py '
     f'(no folder configs/ohll in {REPO_ROOT}; did you mean configs/ohl/?)'),
])
def test_a_missing_config_names_what_was_meant(path, expected, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    assert config_not_found(path) == expected


def test_a_relative_path_outside_the_repository_says_where_it_was_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_not_found('configs/ohl/ohl_convnet_1x4_12e_digits.py') == (
        f'config file not found: configs/ohl/ohl_convnet_1x4_12e_digits.py (no folder configs/ohl in {os.getcwd()}; '
        'relative paths are read from the current directory: run from the repository root)')
