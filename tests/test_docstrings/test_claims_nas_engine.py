"""The concrete claims of public docstrings of NAS spaces and samplers, the engine hooks, the registry and every
Examples: block (``Raises``, shapes, defaults, formulas), checked by running the code. Each case is one sentence of
a docstring: a change that breaks it goes red here.
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.registry import (
    CONTROLLERS,
    DATASETS,
    HOOKS,
    MODELS,
    SAMPLERS,
    SEARCH_SPACES,
)


# --- NAS spaces and samplers -------------------------------------------------------------------------------------
@pytest.mark.parametrize('registry, cfg, text', [
    # num_blocks 0 / -1 were read as None (blocks taken from the supernet), 2.5 failed in list * float
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=0), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=-1), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=2.5), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=()), 'choices'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=(1, 1)), 'choices'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=(0, 1)), 'choices'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 2, total_blocks=9), 'total_blocks'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[0, 1]], total_blocks=1), 'stage_choices'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[1, 1]], total_blocks=1), 'more than once'),
    (SEARCH_SPACES, dict(type='LayerwiseSpace', options=[[]]), 'no options'),
    (SEARCH_SPACES, dict(type='LayerwiseSpace', options=[['a', 'a']]), 'more than once'),
    (SAMPLERS, dict(type='PoolPathSampler', pool=5), 'pool'),  # TypeError: 'int' object is not iterable
    (SAMPLERS, dict(type='PoolPathSampler', pool=[5]), 'pool'),
    (SAMPLERS, dict(type='PoolPathSampler', pool=[(0, ), (0, 1)]), 'pool'),
    (SAMPLERS, dict(type='UniformPathSampler', max_tries=0), 'max_tries'),
    (SAMPLERS, dict(type='UniformPathSampler', enumerate_limit=-1), 'enumerate_limit'),
])
def test_nas_spaces_and_samplers_raise_as_documented(registry, cfg, text):
    with pytest.raises(ValueError, match=text):
        registry.build(cfg)


def test_dilation_space_num_blocks_sets_the_decisions():
    assert SEARCH_SPACES.build(dict(type='DilationSpace', choices=(1, 2), num_blocks=3)).size() == 2**3


# --- engine hooks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('cfg, text', [
    # bool('False') is True: the check ran where the config turned it off
    (dict(type='FiniteLossHook', enabled='False'), 'enabled'),
    (dict(type='FiniteLossHook', check_weights_on_save='no'), 'check_weights_on_save'),
    (dict(type='FiniteLossHook', interval=0), 'interval'),
    # a bare pair or a 1-tuple failed in re.sub only when a checkpoint was loaded
    (dict(type='StrictCheckpointHook', revise_keys=('^module\\.', '')), 'revise_keys'),
    (dict(type='StrictCheckpointHook', revise_keys=[('^module\\.', )]), 'revise_keys'),
    (dict(type='StrictCheckpointHook', revise_keys=[('(', '')]), 'revise_keys'),
    (dict(type='StrictCheckpointHook', max_keys=0), 'max_keys'),
])
def test_engine_hooks_raise_as_documented(cfg, text):
    with pytest.raises(ValueError, match=text):
        HOOKS.build(cfg)


def test_engine_hooks_take_documented_values():
    assert HOOKS.build(dict(type='FiniteLossHook', enabled=np.bool_(False))).enabled is False
    hook = HOOKS.build(dict(type='StrictCheckpointHook', revise_keys=[['^model\\.', '']]))
    assert hook.revise_keys == [('^model\\.', '')]


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(val_path=2), ValueError, 'val_path'),  # TypeError in tuple(), naming no key
    (dict(seed=-1), ValueError, 'seed'),
    (dict(sampler=dict(type='UniformPathSampler', space=dict(type='DilationSpace'))), ValueError, 'sampler.space'),
    (dict(sampler=dict(type='Categorical', num_choices=3)), TypeError, 'sampler'),
    (dict(space=dict(type='NoSuchSpace')), KeyError, 'NoSuchSpace'),
])
def test_path_sampling_hook_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        HOOKS.build(dict(type='PathSamplingHook', **{'space': dict(type='DilationSpace'), **kwargs}))


def test_registered_class_returns_none_for_unknown_names_and_scopes():
    # the docstring promised a KeyError for an unknown scope prefix; mmengine's lookup returns None (and warns)
    from automl_mm.registry import registered_class
    assert registered_class(MODELS, 'nopkg.NoSuchModel') is None
    assert registered_class(MODELS, 'NoSuchModel', 'nopkg') is None
    assert registered_class(DATASETS, 'CocoDataset', 'mmdet').__name__ == 'CocoDataset'
    assert registered_class(DATASETS, 'mmdet.CocoDataset').__name__ == 'CocoDataset'


def test_registry_comments_name_every_implementation():
    # registry.py lists the implementations of each AutoML family in comments: a new one must be named there
    import inspect

    import automl_mm.registry as registry_module
    text = inspect.getsource(registry_module)
    for registry in (SEARCH_SPACES, SAMPLERS, CONTROLLERS):
        registry.get(next(iter(registry.module_dict)))  # imports the locations
        for name in registry.module_dict:
            assert name in text, f'{name} ({registry.name}) is not named in automl_mm/registry.py'


def _modules_with_examples() -> list[str]:
    import doctest
    import importlib
    import pkgutil

    import automl_mm
    names = []
    for info in pkgutil.walk_packages(automl_mm.__path__, 'automl_mm.'):
        module = importlib.import_module(info.name)
        if any(test.examples for test in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return names


@pytest.mark.parametrize('name', _modules_with_examples())
def test_every_examples_block_runs_as_written(name):
    # the Examples: blocks are claims too (shapes, values); the per-package doctest tests cover a few modules
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize('cfg, text', [
    (dict(type='StageAllocationSpace', stage_choices=[3, 4], total_blocks=7), 'stage_choices'),  # list(3): TypeError
    (dict(type='StageAllocationSpace', stage_choices=5, total_blocks=3), 'stage_choices'),
    (dict(type='LayerwiseSpace', options='abc'), 'options'),  # was accepted as three decisions 'a', 'b', 'c'
    (dict(type='LayerwiseSpace', options=[5]), 'options'),
    (dict(type='DilationSpace', choices=5), 'choices'),  # TypeError: 'int' object is not iterable
])
def test_path_space_options_must_be_lists_of_options(cfg, text):
    with pytest.raises(ValueError, match=text):
        SEARCH_SPACES.build(cfg)


def test_path_space_options_take_ranges_and_arrays():
    assert SEARCH_SPACES.build(dict(type='StageAllocationSpace', stage_choices=[range(1, 4)] * 2,
                                    total_blocks=3)).size() == 2
    assert SEARCH_SPACES.build(dict(type='LayerwiseSpace', options=np.arange(6).reshape(2, 3))).size() == 9
