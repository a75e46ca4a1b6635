"""A ``custom_imports`` module that fails: mmengine's ``Config.fromfile`` ended every failure with "Failed to import
custom modules from {...}, the current sys.path is: ... You should set `PYTHONPATH` ...", also where the plugin was
found and failed itself (it imports a package that is not installed), and named no close module for a misspelled
one. ``tools/train.py`` / ``tools/test.py`` / ``tools/measure_latency.py`` read configs with ``read_config``, and a
``--cfg-options custom_imports`` module is imported the same way, so each names the module and its cause."""
from __future__ import annotations

import sys

import pytest
from mmengine.config import Config

from automl_mm.engine.config_read import read_config
from automl_mm.engine.preflight_options import merge_options
from automl_mm.engine.preflight_walk import ConfigCheckError


@pytest.fixture
def project(tmp_path, monkeypatch):
    package = tmp_path / 'hx_imp_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'good_space.py').write_text('X = 1\n')
    (package / 'broken.py').write_text('import hx_not_installed_package  # noqa\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith('hx_imp_project')]:
        sys.modules.pop(name)


def _config(folder, imports):
    path = folder / 'cfg.py'
    path.write_text(f'custom_imports = dict(imports={imports!r}, allow_failed_imports=False)\n')
    return str(path)


def test_a_plugin_found_but_failing_names_its_file_and_cause(project):
    path = _config(project, ['hx_imp_project.good_space', 'hx_imp_project.broken'])
    with pytest.raises(ImportError) as info:
        read_config(path)
    assert str(info.value) == (
        f"{path}: custom_imports: 'hx_imp_project.broken' ({project / 'hx_imp_project' / 'broken.py'}) failed while "
        "importing: ModuleNotFoundError: No module named 'hx_not_installed_package'")


def test_a_misspelled_module_gets_the_closest_one_of_its_package(project):
    path = _config(project, ['hx_imp_project.good_spac'])
    with pytest.raises(ImportError) as info:
        read_config(path)
    assert str(info.value) == (
        f"{path}: custom_imports: no module 'hx_imp_project.good_spac' (package 'hx_imp_project' in "
        f"{project / 'hx_imp_project'} has no 'good_spac'; did you mean hx_imp_project.good_space?)")


def test_a_package_not_on_sys_path_says_to_set_pythonpath(project):
    path = _config(project, ['hx_imp_elsewhere.space'])
    with pytest.raises(ImportError) as info:
        read_config(path)
    assert str(info.value) == (
        f"{path}: custom_imports: no module 'hx_imp_elsewhere.space' (no folder on sys.path holds 'hx_imp_elsewhere': "
        "set PYTHONPATH to the folder that holds hx_imp_elsewhere/ or hx_imp_elsewhere.py, or correct the name)")


def test_a_cfg_options_plugin_failing_names_its_cause(project):
    cfg = Config.fromfile(_config(project, ['hx_imp_project.good_space']))
    imports = dict(imports=['hx_imp_project.good_space', 'hx_imp_project.broken'], allow_failed_imports=False)
    with pytest.raises(ConfigCheckError) as info:
        merge_options(cfg, {'custom_imports': imports})
    assert str(info.value) == (
        f"--cfg-options custom_imports={imports!r}: 'hx_imp_project.broken' "
        f"({project / 'hx_imp_project' / 'broken.py'}) failed while importing: ModuleNotFoundError: No module named "
        "'hx_not_installed_package'")
