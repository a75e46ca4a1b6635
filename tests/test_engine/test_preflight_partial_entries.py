"""A registry entry (or a pure-Python config's ``type``) that is a ``functools.partial`` of a class: mmengine builds
it as any callable, but ``check_arguments`` named the class by ``cls.__name__``, which a partial lacks, so an unknown
key stopped the config check with ``AttributeError: 'functools.partial' object has no attribute '__name__'`` instead
of the message naming the config key; a partial given as ``type`` itself was refused as "not a registered" type."""
from __future__ import annotations

import functools

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_training import check_arguments
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.registry import HOOKS


class _CountingHook(Hook):
    def __init__(self, interval: int = 1, verbose: bool = False) -> None:
        self.interval, self.verbose = interval, verbose


def test_an_unknown_argument_of_a_partial_names_the_key():
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\.0\.intervl: partial\(_CountingHook\) takes no "
                                               r"argument 'intervl' .*did you mean custom_hooks\.0\.interval\?"):
        check_arguments(functools.partial(_CountingHook, verbose=True), dict(intervl=2), 'custom_hooks.0')


def test_a_non_number_and_a_missing_argument_of_a_partial_name_the_key():
    with pytest.raises(ConfigCheckError, match=r"interval='x' is not a number \(partial\(_CountingHook\) takes"):
        check_arguments(functools.partial(_CountingHook), dict(interval='x'), 'custom_hooks.0')

    def needs(a, b):
        return a, b

    with pytest.raises(ConfigCheckError, match=r"^k: partial\(.*needs\) needs 'b'$"):
        check_arguments(functools.partial(needs, 1), {}, 'k')
    check_arguments(functools.partial(needs, 1), dict(b=2), 'k')  # a bound argument is not missing


def test_a_registered_partial_with_an_unknown_key_is_refused_at_its_key():
    name = '_PartialCountingHookForTest'
    HOOKS.register_module(name=name, module=functools.partial(_CountingHook, verbose=True))
    try:
        with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.intervl: partial\(_CountingHook\) takes no"):
            check_config(Config(dict(custom_hooks=[dict(type=f'automl_mm.{name}', intervl=2)])))
        check_config(Config(dict(custom_hooks=[dict(type=f'automl_mm.{name}', interval=2)])))
    finally:
        HOOKS.module_dict.pop(name, None)


def test_a_partial_given_as_type_is_checked_not_refused_as_unregistered():
    hook = functools.partial(_CountingHook, verbose=True)
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.intervl: partial\(_CountingHook\) takes no"):
        check_config(Config(dict(custom_hooks=[dict(type=hook, intervl=2)])))
    check_config(Config(dict(custom_hooks=[dict(type=hook, interval=2)])))
