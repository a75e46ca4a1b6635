"""The ``key`` that links OHL choice transforms (``OHLRandomChoice``, ``OHLAutoAugment``) to their
``PipelineChoiceSpace`` must be a non-empty string: ``key=5`` or ``key=''`` used to be accepted, recorded in every
image's ``ohl_choice`` and matched (or not) against the space's key only when training started."""
from __future__ import annotations

import re

import pytest

from automl_mm.augment import OHLAutoAugment, OHLRandomChoice
from automl_mm.ohl.spaces import PipelineChoiceSpace


@pytest.mark.parametrize('key', [5, '', None, ['flip']])
@pytest.mark.parametrize('build, owner', [
    (lambda key: OHLRandomChoice(transforms=[[], []], key=key), 'OHLRandomChoice'),
    (lambda key: OHLAutoAugment(key=key), 'OHLAutoAugment'),
    (lambda key: PipelineChoiceSpace(dict(type='Categorical'), key=key), 'PipelineChoiceSpace'),
])
def test_a_key_that_is_not_a_non_empty_string_is_refused_naming_it(build, owner, key):
    got = re.escape(repr(key))
    with pytest.raises(ValueError, match=rf'^{owner}\.key must be a non-empty string .*got {got}$'):
        build(key)


def test_string_keys_are_accepted():
    assert OHLRandomChoice(transforms=[[], []], key='flip').key == 'flip'
    assert PipelineChoiceSpace(dict(type='Categorical'), key='flip').key == 'flip'
