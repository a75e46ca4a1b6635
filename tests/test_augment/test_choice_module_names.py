"""``automl_mm.augment.choice`` is split by concept (the base and its shared-memory policy: ``choice_base.py``;
``OHLRandomChoice``: ``random_choice.py``); every name those modules define is still found under ``choice`` as the
same object (configs, imports, and pickles of dataloader workers and checkpoints written before the split name
``automl_mm.augment.choice.<name>``: pickle looks a class up by module and name), and ``OHLRandomChoice`` is
registered once, under its own name."""
from __future__ import annotations

import inspect
import pickle

import pytest

from automl_mm.augment import choice, choice_base, random_choice
from automl_mm.registry import TRANSFORMS


def _defined_in(module) -> list[str]:
    return sorted(name for name, value in vars(module).items()
                  if (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__ == module.__name__)


@pytest.mark.parametrize('module', [choice_base, random_choice], ids=lambda m: m.__name__)
def test_every_moved_name_is_still_under_choice(module):
    names = _defined_in(module)
    assert names  # the modules define what the test walks
    assert [name for name in names if getattr(choice, name, None) is not getattr(module, name)] == []


def test_a_pickle_that_names_the_old_module_loads():
    """A pickle written before the split names ``automl_mm.augment.choice.OHLRandomChoice`` (protocol 0 spells the
    class as ``module\\nname``): it loads the same class."""
    transform = choice.OHLRandomChoice([[], [dict(type='RandomFlip', prob=1.0)]], key='aug')
    data = pickle.dumps(transform, protocol=0)
    new_name = b'automl_mm.augment.random_choice\nOHLRandomChoice'
    old_name = b'automl_mm.augment.choice\nOHLRandomChoice'
    assert new_name in data
    old = data.replace(new_name, old_name)
    loaded = pickle.loads(old)
    assert type(loaded) is random_choice.OHLRandomChoice and loaded.key == 'aug' and len(loaded.pipelines) == 2


def test_random_choice_is_registered_once():
    """Under one name in automl_mm's transform registry and none of its relatives (a second registration under the
    old module, or an alias, would make two config names build it)."""
    registries, names = [TRANSFORMS.parent or TRANSFORMS], []
    while registries:
        registry = registries.pop()
        names += [f'{registry.scope}.{key}' for key, value in registry.module_dict.items()
                  if value is random_choice.OHLRandomChoice]
        registries.extend(registry.children.values())
    assert names == ['automl_mm.OHLRandomChoice']
    assert TRANSFORMS.get('OHLRandomChoice') is choice.OHLRandomChoice
