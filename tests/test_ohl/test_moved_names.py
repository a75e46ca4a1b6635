"""Names moved out of ``automl_mm.ohl.attributes`` (the forty-third session's split) still import from there, with a
``FutureWarning`` naming their module: the README's plugin example imported ``check_owned_attribute`` from it."""
import importlib
import re
from pathlib import Path

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


@pytest.mark.parametrize('name, module', [
    ('check_copy_counts', 'copy_counts'), ('check_world_size', 'copy_counts'), ('_hook_class', 'copy_counts'),
    ('find_ohl_hook', 'copy_counts'), ('ohl_copy_counts', 'copy_counts'), ('runner_copy_counts', 'copy_counts'),
    ('CopySampler', 'copy_sampler'), ('copy_share', 'copy_sampler'), ('check_equal_shards', 'copy_sampler')])
def test_the_copy_counts_and_sampler_names_still_import_from_copies(name, module):
    """The OHL hook's lookup and its copy counts' checks moved from ``automl_mm.ohl.copies`` to
    ``automl_mm.ohl.copy_counts``, the copy-local sampler to ``automl_mm.ohl.copy_sampler`` (the fifty-seventh
    session's split): the old names import the same objects, and ``CopySampler`` is the registered sampler."""
    from automl_mm.ohl import copies
    from automl_mm.registry import DATA_SAMPLERS

    assert getattr(copies, name) is getattr(importlib.import_module(f'automl_mm.ohl.{module}'), name)
    assert DATA_SAMPLERS.get('CopySampler') is copies.CopySampler


def test_the_docs_name_the_moved_names_in_their_new_modules():
    """The docstrings and comments of the package point a reader at where each moved name is defined
    (``automl_mm.ohl.copy_counts`` / ``copy_sampler``), not at ``automl_mm.ohl.copies``, which only re-exports it."""
    moved = ['check_copy_counts', 'check_world_size', '_hook_class', 'find_ohl_hook', '_RUNNER_SIGNATURE',
             'ohl_copy_counts', 'runner_copy_counts', 'CopySampler', 'copy_share', 'check_equal_shards']
    old = re.compile(rf"\bcopies\.({'|'.join(moved)})\b")
    root = Path(__file__).resolve().parents[2]
    stale = [f'{path.relative_to(root)}:{i}: {line.strip()}'
             for folder in ('automl_mm', 'tools') for path in sorted((root / folder).rglob('*.py'))
             for i, line in enumerate(path.read_text().splitlines(), 1) if old.search(line)]
    assert stale == []


WALK_NAMES = ['SEQUENCES', '_MODULE_SEQUENCES', '_children', '_close_name_hint', '_indexes', '_is_method',
              '_method_problem', '_momentum_hint', '_optimisers_hint', '_root', '_transforms_hint', 'base_target',
              'path_chains', 'resolve_attribute']


@pytest.mark.parametrize('name', WALK_NAMES)
def test_the_path_walk_names_still_import_from_attributes(name):
    """The walk of an attribute path (``path_chains``, ``resolve_attribute``, ``base_target`` and the helpers only
    they use) moved from ``automl_mm.ohl.attributes`` to ``automl_mm.ohl.attribute_paths`` (the sixtieth session's
    split): the old names import the same objects, with no warning, and the walk is defined in its new module."""
    import warnings

    from automl_mm.ohl import attribute_paths, attributes

    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert getattr(attributes, name) is getattr(attribute_paths, name)
    assert getattr(getattr(attribute_paths, name), '__module__', attribute_paths.__name__) == attribute_paths.__name__


EXPORT_NAMES = ['PipelineExport', '_step_text', '_plain', '_classes']


@pytest.mark.parametrize('name', EXPORT_NAMES)
def test_the_pipeline_export_names_still_import_from_pipeline_space(name):
    """The export of a ``PipelineChoiceSpace`` (``export_fragment``, the placement ``setup`` records for it and the
    helpers only it uses: ``_step_text``, ``_plain``, ``_classes``) moved from ``automl_mm.ohl.pipeline_space`` to the
    mixin ``PipelineExport`` of ``automl_mm.ohl.pipeline_export`` (the sixtieth session's split): the old names import
    the same objects, with no warning, defined in the new module, and the space still exports with that code."""
    import warnings

    from automl_mm.ohl import pipeline_export, pipeline_space

    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert getattr(pipeline_space, name) is getattr(pipeline_export, name)
    assert getattr(pipeline_export, name).__module__ == pipeline_export.__name__
    space = pipeline_space.PipelineChoiceSpace
    assert issubclass(space, pipeline_export.PipelineExport)
    assert space.export_fragment is pipeline_export.PipelineExport.export_fragment


@pytest.mark.parametrize('name, module', [('config_literal', 'automl_mm.utils.config_text'),
                                          ('custom_imports_line', 'automl_mm.ohl.report'),
                                          ('_placement', 'automl_mm.ohl.pipeline_walk'),
                                          ('_following', 'automl_mm.ohl.pipeline_walk'),
                                          ('_preceding', 'automl_mm.ohl.pipeline_walk')])
def test_the_names_pipeline_space_imported_for_its_export_still_import_from_it(name, module):
    """What ``automl_mm.ohl.pipeline_space`` imported only for the export that moved out still imports from it."""
    from automl_mm.ohl import pipeline_space

    assert getattr(pipeline_space, name) is getattr(importlib.import_module(module), name)


SPLIT_62 = {'sync': {'copy_verification': ['same', 'gather_rows', 'ROW_LAYOUT_VERSION', 'check_row_layouts',
                                           'row_layouts_differ', 'verify_copies'],
                     'fingerprint': ['fingerprint', 'FINGERPRINT_SIZE', 'int64_sums_wrap']},
            'value_ranges': {'setting_ranges': ['TRANSFORM_IMAGES', 'OPTIMIZER_RANGES', 'GENERIC_RANGES',
                                                'optimizer_key_range', 'group_key', 'attribute_range',
                                                'target_ranges'],
                             'range_refusals': ['OutOfRange', 'TESTS_WITH_IT', 'TRAINS_WITH_IT', 'draw_use']}}


def test_the_sixty_second_sessions_moved_names_still_import_from_their_old_modules():
    """``automl_mm.ohl.sync``'s fingerprint and agreement check moved to ``fingerprint`` / ``copy_verification``,
    ``value_ranges``' ranges and refusal wording to ``setting_ranges`` / ``range_refusals``: each public name still
    imports from its old module as the object defined in its new one; the package's docs name the new module."""
    stale = []
    root = Path(__file__).resolve().parents[2]
    for old, homes in SPLIT_62.items():
        served = importlib.import_module(f'automl_mm.ohl.{old}')
        for new, names in homes.items():
            home = importlib.import_module(f'automl_mm.ohl.{new}')
            for name in names:
                assert getattr(served, name) is getattr(home, name), (old, name)
                assert getattr(getattr(home, name), '__module__', home.__name__) == home.__name__, (new, name)
            stale.append(re.compile(rf"\b{old}\.({'|'.join(names)})\b"))
    found = [f'{path.relative_to(root)}:{i}: {line.strip()}'
             for folder in ('automl_mm', 'tools', 'benchmarks') for path in sorted((root / folder).rglob('*.py'))
             for i, line in enumerate(path.read_text().splitlines(), 1) if any(s.search(line) for s in stale)]
    assert found == []
