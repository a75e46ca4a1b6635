"""Names moved out of ``automl_mm.ohl.attributes`` (the forty-third session's split) still import from there, with a
``FutureWarning`` naming their module: the README's plugin example imported ``check_owned_attribute`` from it."""
import importlib

import pytest


@pytest.mark.parametrize('name, module', [('check_owned_attribute', 'automl_mm.ohl.ownership'),
                                          ('SetAttributesHook', 'automl_mm.ohl.replay_hooks'),
                                          ('TrunkScheduleHook', 'automl_mm.ohl.replay_hooks')])
def test_a_moved_name_imports_from_its_old_module_with_a_warning(name, module):
    attributes = importlib.import_module('automl_mm.ohl.attributes')
    with pytest.warns(FutureWarning, match=f'automl_mm.ohl.attributes.{name} moved to {module}'):
        moved = getattr(attributes, name)
    assert moved is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        attributes.nothing_here  # noqa: B018
