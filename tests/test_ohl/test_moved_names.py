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


@pytest.mark.parametrize('name', ['_new_copy_groups', '_connecting_later', 'GLOO_LAZY_INIT', 'CopyStartAgreements'])
def test_the_copy_groups_names_still_import_from_copies(name):
    """The copies' process groups and CopyRunner's start agreements moved from ``automl_mm.ohl.copies`` to
    ``automl_mm.ohl.copy_groups`` (the fifty-fifth session's split): the old names import the same objects."""
    from automl_mm.ohl import copies, copy_groups

    assert getattr(copies, name) is getattr(copy_groups, name)
    assert issubclass(copies.CopyRunner, copy_groups.CopyStartAgreements)
