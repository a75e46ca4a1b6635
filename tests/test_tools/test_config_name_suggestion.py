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


@pytest.mark.parametrize('path, meant', [
    # difflib's ratio put baseline_wrn28-10_1x1_200e_cifar10.py (15 edits away) before the config meant (14)
    ('configs/baselines/resnet18_baseline_1x1_200e_cifar10.py', 'baseline_resnet18_1x1_200e_cifar10.py'),
    ('configs/baselines/baseline_convnet_1x1_30e_idgits.py', 'baseline_convnet_1x1_30e_digits.py'),
])
def test_the_suggested_configs_are_ordered_by_closeness(path, meant, monkeypatch):
    """The configs a mistyped path is answered with are listed closest first (fewest edits to the name typed; a new
    user's trial, fifty-second session, found the closest listed second, after a less close one)."""
    from automl_mm.engine.preflight_data_hint import _edits

    monkeypatch.chdir(REPO_ROOT)
    message = config_not_found(path)
    listed = [os.path.basename(p) for p in message.split('(did you mean ', 1)[1].rstrip('?)').split(', ')]
    assert listed[0] == meant, message
    distances = [_edits(os.path.basename(path), name) for name in listed]
    assert distances == sorted(distances), (listed, distances)


def test_the_other_suggestion_lists_are_ordered_by_closeness_too():
    """The registered names a misspelled ``type`` is offered (``close_names``) and the top-level keys a misspelled
    ``--cfg-options`` key is offered (``check_options_not_overridden``) came in difflib's ratio order as well."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_options import merge_options
    from automl_mm.engine.preflight_types import close_names
    from automl_mm.engine.preflight_walk import ConfigCheckError

    assert close_names('resnet18_baseline_cifar10', ['baseline_wrn28-10_cifar10', 'baseline_resnet18_cifar10'],
                       n=2) == ['baseline_resnet18_cifar10', 'baseline_wrn28-10_cifar10']
    cfg = Config(dict(baseline_wrn28_cifar=1, baseline_resnet18_cifar=2))
    with pytest.raises(ConfigCheckError, match='close names: baseline_resnet18_cifar, baseline_wrn28_cifar'):
        merge_options(cfg, {'resnet18_baseline_cifar': 3})
