"""``--cfg-options custom_imports.imports=[my_project.x]`` (one's own plugin for a config that does not name it):
mmengine's ``Config.fromfile`` imports the file's ``custom_imports`` before the options are merged, so the launching
process checked the config without the plugin and refused its types (``KeyError: 'PlantedSpace is not in the
automl_mm::search space registry'``), though every worker, loading the merged config, would import it."""
from __future__ import annotations

import sys

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_options import merge_options
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.registry import SEARCH_SPACES

PLUGIN = '''
from automl_mm.ohl.base import PerCopySpace
from automl_mm.registry import SEARCH_SPACES


@SEARCH_SPACES.register_module()
class HxOptionSpace(PerCopySpace):
    def apply(self, sample, runner):
        pass

    def export_fragment(self):
        return ''
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / 'hx_option_plugin.py').write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield 'hx_option_plugin'
    SEARCH_SPACES.module_dict.pop('HxOptionSpace', None)
    sys.modules.pop('hx_option_plugin', None)


def test_a_plugin_named_by_cfg_options_is_imported_where_the_config_is_checked(plugin):
    cfg = Config(dict(custom_hooks=[dict(type='OHLHook', spaces=[dict(type='HxOptionSpace')])]))
    merge_options(cfg, {'custom_imports.imports': [plugin], 'custom_imports.allow_failed_imports': False})
    assert SEARCH_SPACES.get('HxOptionSpace') is not None


def test_a_missing_module_named_by_cfg_options_is_refused_naming_the_option():
    cfg = Config(dict(model=dict(type='X')))
    with pytest.raises(ConfigCheckError, match=r"--cfg-options custom_imports=.*hx_no_such_module"):
        merge_options(cfg, {'custom_imports': dict(imports=['hx_no_such_module'], allow_failed_imports=False)})


def test_an_option_that_drops_a_module_of_the_files_custom_imports_is_refused(plugin):
    """The file's modules are imported when it is read: checked with them, a worker without them failed (or a
    replacement registering the same names clashed, ``KeyError: 'X is already registered'``)."""
    cfg = Config(dict(custom_imports=dict(imports=['json'], allow_failed_imports=False)))
    with pytest.raises(ConfigCheckError, match=r"drops \['json'\], which the config file imports"):
        merge_options(cfg, {'custom_imports.imports': [plugin]})
    kept = Config(dict(custom_imports=dict(imports=['json'], allow_failed_imports=False)))
    merge_options(kept, {'custom_imports.imports': ['json', plugin]})
    assert SEARCH_SPACES.get('HxOptionSpace') is not None
