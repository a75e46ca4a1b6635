"""How a refusal of a value outside its setting's range is worded: its error class (:class:`OutOfRange`) and what a
copy that drew the value would do with it (:func:`draw_use`: train, predict, run a hook), which
:func:`~automl_mm.ohl.value_ranges.check_draws` and the spaces' refusals add.
"""
from __future__ import annotations

from typing import Any

from .setting_ranges import _elements


class OutOfRange(ValueError):
    """A written value outside its setting's range (:mod:`automl_mm.ohl.value_ranges`' checks:
    :func:`~automl_mm.ohl.value_ranges.check_attribute_value`, :func:`~automl_mm.ohl.value_ranges.check_elements`,
    :func:`~automl_mm.ohl.value_ranges.check_value`): ``attribute path '<path>': <value> lies outside <interval>
    (<source>)``. A space refusing a choice so adds what a copy that drew it would do with it (:func:`draw_use`)."""


#: The loops and loaders a run reads only to validate or test: a setting under them is used there, not in training.
_TEST_HOLDERS = frozenset({'val_dataloader', 'test_dataloader', 'val_loop', 'test_loop', 'val_evaluator',
                           'test_evaluator'})
#: What a copy does with a value of a setting read at test time (a head's or detector's ``test_cfg``).
TESTS_WITH_IT = ('predict with it (its reward at each trunk end and its validations would score the predictions of '
                 'that value)')
TRAINS_WITH_IT = 'train with it'


def draw_use(runner: Any, path: str) -> str:
    """What a copy that drew a value at ``path`` does with it, by the setting's use, completing "a copy that drew it
    would ...": a setting read at test time (a ``test_cfg`` key, one under a val / test loader or loop) is predicted
    with (:data:`TESTS_WITH_IT`), a hook's setting runs that hook (``run its LoggerHook with it``: its schedule or
    threshold), any other is trained with (:data:`TRAINS_WITH_IT`). Several targets of other uses (a ``*`` path):
    each, joined by "or"."""
    from mmengine.hooks import Hook

    from .attribute_paths import resolve_attribute

    if path.split('.', 1)[0] in _TEST_HOLDERS:
        return TESTS_WITH_IT
    try:
        settings = [(found.owner, found.setting) for found in _elements(runner, path)] or \
            [(node, name) for node, name in resolve_attribute(runner, path) if isinstance(name, str)]
    except ValueError:  # named by the path's own check
        settings = []
    uses = [TESTS_WITH_IT if name.split('.', 1)[0] == 'test_cfg' else
            f'run its {type(owner).__name__} with it' if isinstance(owner, Hook) else TRAINS_WITH_IT
            for owner, name in settings]
    return ' or '.join(dict.fromkeys(uses)) or TRAINS_WITH_IT
