"""A class of one's own, in a module the config's ``custom_imports`` imported, without its ``register_module()``
decorator: it was refused as if the module had not been imported (``MyLrSpace2 is not in the automl_mm::search space
registry (if it is a class of your own, register it ... in a module that the config's custom_imports lists)``),
naming neither the module that defines it nor that the decorator is what is missing. Now the error names both."""
from __future__ import annotations

import sys

import pytest
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config

from automl_mm.engine import custom_imports
from automl_mm.registry import MODELS, SEARCH_SPACES
from automl_mm.utils.scope import build_named

SPACE = '''from mmdet.registry import MODELS as MMDET_MODELS

from automl_mm.ohl.base import PerCopySpace
from automl_mm.registry import SEARCH_SPACES


class HxUndecoratedSpace(PerCopySpace):
    pass


@SEARCH_SPACES.register_module(name='hx_renamed_space')
class HxRenamedSpace(PerCopySpace):
    pass


@MMDET_MODELS.register_module()
class HxMmdetSpace(PerCopySpace):
    pass
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_imports, '_FAILED', {})
    monkeypatch.setattr(custom_imports, '_IMPORTED', {}, raising=False)
    package = tmp_path / 'hx_undecorated_project'
    package.mkdir()
    (package / '__init__.py').write_text('from .spaces import HxUndecoratedSpace  # noqa: F401\n')
    (package / 'spaces.py').write_text(SPACE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [n for n in sys.modules if n.startswith('hx_undecorated_project')]:
        sys.modules.pop(name)
    SEARCH_SPACES._module_dict.pop('hx_renamed_space', None)
    MMDET_MODELS._module_dict.pop('HxMmdetSpace', None)


def _load(folder, imports, allow=False):
    path = folder.parent / 'cfg.py'
    path.write_text(f'custom_imports = dict(imports={imports!r}, allow_failed_imports={allow})\n')
    return Config.fromfile(str(path))


@pytest.mark.parametrize('imports', [['hx_undecorated_project.spaces'], ['hx_undecorated_project']])
@pytest.mark.parametrize('allow', [False, True])
def test_an_undecorated_space_names_its_module_and_the_decorator(project, imports, allow):
    _load(project, imports, allow)
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxUndecoratedSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0] == (
        'OHLHook.spaces[0]: HxUndecoratedSpace is not in the automl_mm::search space registry (HxUndecoratedSpace is '
        f"defined in hx_undecorated_project.spaces ({project / 'spaces.py'}), which custom_imports imported, but not "
        'registered: register it with @SEARCH_SPACES.register_module() (automl_mm.registry))')


def test_a_model_key_names_the_registry_of_its_own(project):
    _load(project, ['hx_undecorated_project.spaces'])
    with pytest.raises(KeyError) as info:
        build_named(MODELS, dict(type='HxUndecoratedSpace'), 'model.head.loss')
    assert info.value.args[0].endswith(
        'which custom_imports imported, but not registered: register it with @MODELS.register_module() '
        '(automl_mm.registry))')


def test_a_class_no_custom_imports_module_defines_keeps_the_registration_advice(project):
    _load(project, ['hx_undecorated_project.spaces'])
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxElsewhereSpace'), 'OHLHook.spaces[0]')
    assert 'if it is a class of your own, register it with @SEARCH_SPACES.register_module()' in info.value.args[0]
    assert 'hx_undecorated_project' not in info.value.args[0]


@pytest.mark.parametrize('module, name', [('automl_mm.ohl', 'OHLSpace'), ('mmengine.config', 'ConfigDict')])
def test_a_library_s_own_unregistered_class_is_not_taken_for_one_s_own(project, module, name):
    _load(project, [module])
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type=name), 'OHLHook.spaces[0]')
    assert 'which custom_imports imported' not in info.value.args[0]


def test_a_class_registered_under_another_name_is_named_by_it(project):
    """``@SEARCH_SPACES.register_module(name='hx_renamed_space')``: it was said to be 'not registered'."""
    _load(project, ['hx_undecorated_project.spaces'])
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxRenamedSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0].endswith(
        f"(HxRenamedSpace is defined in hx_undecorated_project.spaces ({project / 'spaces.py'}), which custom_imports "
        "imported, and registered in the automl_mm::search space registry as 'hx_renamed_space': write "
        "type='hx_renamed_space')")


def test_a_class_registered_in_another_registry_names_it(project):
    """Registered in mmdet's MODELS, named as a search space: it was said to be 'not registered'."""
    _load(project, ['hx_undecorated_project.spaces'])
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxMmdetSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0].endswith(
        f"(HxMmdetSpace is defined in hx_undecorated_project.spaces ({project / 'spaces.py'}), which custom_imports "
        "imported, and registered in the mmdet::model registry as 'HxMmdetSpace', not in the automl_mm::search space "
        "registry: register it with @SEARCH_SPACES.register_module() (automl_mm.registry))")


def test_another_config_s_imports_are_not_this_one_s(project):
    """Two configs in one process (tests, a benchmark building several runs): a config not listing the plugin that
    an earlier config imported was told the class is defined in it, 'which custom_imports imported'."""
    from automl_mm.engine.preflight import check_config

    _load(project, ['hx_undecorated_project.spaces'])
    check_config(Config(dict(x=1)))
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxUndecoratedSpace'), 'OHLHook.spaces[0]')
    assert 'which custom_imports imported' not in info.value.args[0]
    assert 'if it is a class of your own, register it with @SEARCH_SPACES.register_module()' in info.value.args[0]
    # a config that lists the module, imported before, has it as its own
    check_config(Config(dict(custom_imports=dict(imports=['hx_undecorated_project.spaces']))))
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxUndecoratedSpace'), 'OHLHook.spaces[0]')
    assert 'hx_undecorated_project.spaces' in info.value.args[0]


def test_a_class_in_a_module_another_listed_module_imports_names_that_module(project):
    """custom_imports=['hx_undecorated_project.plugin'], whose ``import hx_undecorated_project.spaces`` defines the
    class without exporting it: it was told to list the module in custom_imports, which imported it."""
    (project / 'plugin.py').write_text('import hx_undecorated_project.spaces  # noqa: F401\n')
    (project / '__init__.py').write_text('')
    _load(project, ['hx_undecorated_project.plugin'])
    with pytest.raises(KeyError) as info:
        build_named(SEARCH_SPACES, dict(type='HxUndecoratedSpace'), 'OHLHook.spaces[0]')
    assert info.value.args[0].endswith(
        f"(HxUndecoratedSpace is defined in hx_undecorated_project.spaces ({project / 'spaces.py'}), which "
        'custom_imports imported, but not registered: register it with @SEARCH_SPACES.register_module() '
        '(automl_mm.registry))')
