"""A CONFIG argument that names no file: ``tools/train.py configs/ohl/ohl_convnet_12e_digits.py`` (the ``1x4_`` of
the naming scheme left out) said only "config file not found", as did a misspelled folder and a relative path typed
outside the repository root. The message now names the closest configs of the folder, the closest folder, or that
relative paths are read from the current directory (``config_not_found``: tools/train.py, tools/test.py,
tools/measure_latency.py)."""
from __future__ import annotations

import os

import pytest

from automl_mm.engine.config_read import config_not_found

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


def test_a_base_read_from_the_current_directory_is_named_with_the_path_to_write(tmp_path, monkeypatch):
    # a my_config.py outside the repository with the README's _base_ line for one in the repository root: the tools
    # stopped with mmengine's traceback ending in "FileNotFoundError: [Errno 2] No such file or directory:
    # '<tmp>/configs/ohl/...'", naming neither the config whose _base_ it was nor why it was looked for there
    from automl_mm.engine.config_read import read_config

    monkeypatch.chdir(REPO_ROOT)
    base = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
    config = tmp_path / 'my_config.py'
    config.write_text(f'_base_ = [{base!r}]\n')
    with pytest.raises(FileNotFoundError) as info:
        read_config(str(config))
    meant = os.path.relpath(os.path.join(REPO_ROOT, base), str(tmp_path))
    assert str(info.value) == (
        f'{config}: _base_ {base!r} is no file: mmengine reads a _base_ path relative to the folder of the config '
        f'that names it ({tmp_path}), so it looked for {tmp_path / base}; from the current directory it is '
        f'{os.path.join(REPO_ROOT, base)}: write {meant!r} or that absolute path')


def test_a_misspelled_base_of_a_base_is_named_where_it_is_written(tmp_path, monkeypatch):
    from automl_mm.engine.config_read import read_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'runtime.py').write_text('default_scope = "automl_mm"\n')
    (tmp_path / 'configs' / 'model.py').write_text("_base_ = ['./runtim.py']\n")
    (tmp_path / 'leaf.py').write_text("_base_ = ['configs/model.py']\n")
    with pytest.raises(FileNotFoundError) as info:
        read_config('leaf.py')
    assert str(info.value) == (
        f"{os.path.join('configs', 'model.py')}: _base_ './runtim.py' is no file: mmengine reads a _base_ path "
        f"relative to the folder of the config that names it ({tmp_path / 'configs'}), so it looked for "
        f"{tmp_path / 'configs' / 'runtim.py'} (did you mean './runtime.py'?)")
