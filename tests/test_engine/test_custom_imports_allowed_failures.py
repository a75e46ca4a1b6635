"""A ``custom_imports`` module that fails under ``allow_failed_imports=True``: mmengine only warned
``'<module> failed to import and is ignored.'``, and the run stopped later with ``KeyError: 'MyLrSpace is not in the
automl_mm::search space registry'`` (with a close registered name: ``did you mean 'LayerwiseSpace'?``), naming
neither the module nor why it failed. Now the warning names the module's file and exception, and so does every
error about an unregistered ``type`` while the module stays unimported; mmengine's semantics are kept otherwise."""
from __future__ import annotations

import sys

import pytest
from mmengine.config import Config

from automl_mm.engine import custom_imports
from automl_mm.engine.preflight_types import located_type_error
from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.scope import build_named


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_imports, '_FAILED', {})
    package = tmp_path / 'hx_allowed_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'good.py').write_text('X = 1\n')
    (package / 'broken.py').write_text('import hx_allowed_not_installed  # noqa\n')
    (package / 'syntax.py').write_text('x = (\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith('hx_allowed_project')]:
        sys.modules.pop(name)


def _config(folder, imports, allow=True):
    path = folder / 'cfg.py'
    path.write_text(f'custom_imports = dict(imports={imports!r}, allow_failed_imports={allow})\n')
    return str(path)


def _cause(project):
    return (f"'hx_allowed_project.broken' ({project / 'hx_allowed_project' / 'broken.py'}) failed while importing: "
            "ModuleNotFoundError: No module named 'hx_allowed_not_installed'")


def test_the_warning_names_the_modules_file_and_exception(project):
    with pytest.warns(UserWarning) as record:
        Config.fromfile(_config(project, ['hx_allowed_project.good', 'hx_allowed_project.broken']))
    assert [str(w.message) for w in record if 'custom_imports' in str(w.message)] == [
        f'custom_imports: {_cause(project)}; ignored (allow_failed_imports=True), so nothing it registers can be '
        'built']
    assert 'hx_allowed_project.good' in sys.modules and 'hx_allowed_project.broken' not in sys.modules


def test_an_unregistered_ohl_space_names_the_failed_module(project):
    with pytest.warns(UserWarning):
        Config.fromfile(_config(project, ['hx_allowed_project.broken']))
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxAllowedSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0] == (
        'OHLHook.spaces[0]: HxAllowedSpace is not in the automl_mm::search space registry (custom_imports skipped a '
        f'module that failed to import (allow_failed_imports=True), which may be what registers it: {_cause(project)})')


def test_a_close_registered_name_comes_after_the_failed_module(project):
    with pytest.warns(UserWarning):
        Config.fromfile(_config(project, ['hx_allowed_project.broken']))
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='LayerwiseSpaces'), 'train_cfg.space')
    assert info.value.args[0].endswith(f"{_cause(project)}; else did you mean 'LayerwiseSpace'?)")


def test_a_model_nodes_unregistered_type_names_the_failed_module(project):
    from automl_mm.registry import MODELS

    with pytest.warns(UserWarning):
        Config.fromfile(_config(project, ['hx_allowed_project.broken']))
    model = dict(type='ImageClassifier', backbone=dict(type='SimpleConvNet'), head=dict(
        type='LinearClsHead', num_classes=10, in_channels=128, loss=dict(type='HxAllowedLoss')))
    with pytest.raises(KeyError) as raised:
        MODELS.build(model)
    located = located_type_error(raised.value, model, 'model')
    assert located.args[0] == (
        "model.head.loss.type='HxAllowedLoss' is not in the automl_mm::model registry (custom_imports skipped a "
        f'module that failed to import (allow_failed_imports=True), which may be what registers it: {_cause(project)})')


def test_a_module_imported_since_is_no_longer_named(project):
    with pytest.warns(UserWarning):
        Config.fromfile(_config(project, ['hx_allowed_project.broken']))
    (project / 'hx_allowed_project' / 'broken.py').write_text('X = 2\n')
    sys.modules.pop('hx_allowed_project', None)
    import importlib
    importlib.invalidate_caches()
    importlib.import_module('hx_allowed_project.broken')
    assert custom_imports.failed_imports_note() == ''


def test_mmengine_semantics_are_kept(project):
    from mmengine.utils import import_modules_from_strings

    assert getattr(import_modules_from_strings, 'records_failures', False)
    with pytest.warns(UserWarning):
        got = import_modules_from_strings(['hx_allowed_project.good', 'hx_allowed_project.broken'],
                                          allow_failed_imports=True)
    assert got[0] is sys.modules['hx_allowed_project.good'] and got[1] is None
    with pytest.warns(UserWarning):
        assert import_modules_from_strings('hx_allowed_project.broken', allow_failed_imports=True) is None
    with pytest.raises(ImportError, match='Failed to import hx_allowed_project.broken'):
        import_modules_from_strings(['hx_allowed_project.broken'])
    with pytest.raises(SyntaxError):  # not an ImportError: mmengine raises it whatever allow_failed_imports says
        import_modules_from_strings(['hx_allowed_project.syntax'], allow_failed_imports=True)
    assert custom_imports.failed_imports() == {'hx_allowed_project.broken': _cause(project)}


def test_a_name_no_registered_one_is_close_to_says_how_to_register_and_import_it(monkeypatch):
    # no custom_imports at all: "did you mean 'LayerwiseSpace'?" alone sent a new user to a class they did not mean,
    # and mmengine's advice on custom modules was gone
    monkeypatch.setattr(custom_imports, '_FAILED', {})
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='MyLrSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0] == (
        "OHLHook.spaces[0]: MyLrSpace is not in the automl_mm::search space registry (did you mean 'LayerwiseSpace'? "
        'or, if it is a class of your own, register it with @SEARCH_SPACES.register_module() (automl_mm.registry) '
        "in a module that the config's custom_imports lists)")
    model = dict(type='ImageClassifier', backbone=dict(type='SimpleConvNet'), head=dict(
        type='LinearClsHead', num_classes=10, in_channels=128, loss=dict(type='HxMySmoothCE')))
    from automl_mm.registry import MODELS

    with pytest.raises(KeyError) as raised:
        MODELS.build(model)
    assert located_type_error(raised.value, model, 'model').args[0] == (
        "model.head.loss.type='HxMySmoothCE' is not in the automl_mm::model registry (if it is a class of your own, "
        "register it with @MODELS.register_module() (automl_mm.registry) in a module that the config's "
        'custom_imports lists)')
    with pytest.raises(KeyError) as info:  # a typo keeps its hint alone
        build_named(SEARCH_SPACES, dict(type='LayerwiseSpac'), 'train_cfg.space')
    assert info.value.args[0] == ("train_cfg.space: LayerwiseSpac is not in the automl_mm::search space registry "
                                  "(did you mean 'LayerwiseSpace'?)")


def test_a_class_registered_in_another_automl_mm_registry_is_named_so(monkeypatch):
    # a distribution of one's own registered with @SEARCH_SPACES: "did you mean 'Categorical'?" sent the user to
    # another class, while theirs was registered, in the wrong registry
    from automl_mm.ohl.distributions.categorical import Categorical
    from automl_mm.registry import SAMPLERS

    monkeypatch.setattr(custom_imports, '_FAILED', {})
    monkeypatch.setitem(SEARCH_SPACES._module_dict, 'HxWrongRegCategorical', type('HxWrongRegCategorical',
                                                                                   (Categorical, ), {}))
    with pytest.raises(KeyError) as info:
        build_named(SAMPLERS, dict(type='HxWrongRegCategorical', num_choices=3), 'OHLHook.spaces[0].distribution')
    assert info.value.args[0] == (
        'OHLHook.spaces[0].distribution: HxWrongRegCategorical is not in the automl_mm::sampler registry (it is '
        "registered in automl_mm's search space registry, and a sampler is looked up in the sampler registry: "
        "register it with @SAMPLERS.register_module() (automl_mm.registry) in a module that the config's "
        'custom_imports lists)')


def test_a_failure_in_mmengines_own_loop_is_recorded_from_its_warning(project, monkeypatch):
    # a stock launcher: custom_imports=['automl_mm', 'my_project.x'] imports automl_mm, which installs the recording
    # import, from inside mmengine's own running loop; that loop's failures were only warned of
    import warnings

    from mmengine.utils import import_modules_from_strings

    original = import_modules_from_strings.__wrapped__
    monkeypatch.setattr(warnings, 'showwarning', warnings.showwarning)
    with warnings.catch_warnings():
        warnings.simplefilter('always')
        monkeypatch.setattr(warnings, 'showwarning', custom_imports.recording_mmengine_warnings(lambda *a, **k: None))
        assert original(['hx_allowed_project.broken'], allow_failed_imports=True) == [None]
    assert custom_imports.failed_imports() == {'hx_allowed_project.broken': _cause(project)}


def test_another_configs_failed_module_is_not_named_for_this_ones_types(project):
    """The record is of the process: a config checked after one whose plugin failed (a test, a benchmark building
    several runs) was told, for its own unregistered type, that the other config's module 'may be what registers
    it'. Checking a config keeps the failures of the modules its custom_imports lists, and forgets the others."""
    from automl_mm.engine.preflight import check_config

    from conftest import REPO_ROOT

    with pytest.warns(UserWarning):
        Config.fromfile(_config(project, ['hx_allowed_project.broken']))
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py')
    cfg.custom_imports = dict(imports=['automl_mm', 'hx_allowed_project.broken'], allow_failed_imports=True)
    check_config(cfg)
    assert custom_imports.failed_imports() == {'hx_allowed_project.broken': _cause(project)}  # its own: kept
    cfg.pop('custom_imports')
    check_config(cfg)
    assert custom_imports.failed_imports() == {}
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxAllowedSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0] == (
        'OHLHook.spaces[0]: HxAllowedSpace is not in the automl_mm::search space registry (if it is a class of your '
        "own, register it with @SEARCH_SPACES.register_module() (automl_mm.registry) in a module that the config's "
        'custom_imports lists)')
