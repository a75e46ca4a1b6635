"""``check_ohl_space`` checked that a space's ``export_fragment()`` parses, not what it sets: the README's
``MyLrSpace`` with the natural slip of exporting θ's mode (the index) instead of the choice at it
(``lr={int(self.distribution.mode())}``: ``lr=0`` for the mode 0.1) passed the contract checks, and the retrain
trained with lr 0. Now the value a fragment sets at the path ``scheduled_values()`` reports (the same config key,
or a ``SetAttributesHook``'s ``values``) must be the reported one."""
from __future__ import annotations

import pytest

from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.base import PerCopySpace
from automl_mm.registry import SEARCH_SPACES
from automl_mm.testing import check_ohl_space, toy_runner

CHOICES = [0.1, 0.03, 0.01]


class _LrSpace(PerCopySpace):
    """The README's MyLrSpace; ``exported(lr, index)`` is the fragment's text."""

    exported = staticmethod(lambda lr, index: f'optim_wrapper = dict(optimizer=dict(lr={lr!r}))\n')

    def __init__(self, choices, name='lr'):
        super().__init__(dict(type='Categorical', num_choices=len(choices)), name=name)
        self.choices = [float(c) for c in choices]

    def apply(self, sample, runner):
        self.current = self.choices[int(sample)]
        set_attribute(runner, 'optim_wrapper.optimizer.lr', self.current)

    def scheduled_values(self):
        return {'optim_wrapper.optimizer.lr': self.choices[int(self.distribution.mode())]}

    def applied_values(self):
        return {'optim_wrapper.optimizer.lr': self.current} if hasattr(self, 'current') else None

    def export_fragment(self):
        index = int(self.distribution.mode())
        return self.exported(self.choices[index], index)


class _ExportsTheIndex(_LrSpace):
    exported = staticmethod(lambda lr, index: f'optim_wrapper = dict(optimizer=dict(lr={index}))\n')


class _ReplaysAnother(_LrSpace):
    exported = staticmethod(lambda lr, index: (
        "custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={'optim_wrapper.optimizer.lr': 0.5})]\n"))


class _ReplaysIt(_LrSpace):
    exported = staticmethod(lambda lr, index: (
        "custom_hooks = [dict(type='automl_mm.SetAttributesHook', "
        f"values={{'optim_wrapper.optimizer.lr': {lr!r}}})]\n"))


@pytest.fixture(autouse=True)
def registered():
    classes = (_LrSpace, _ExportsTheIndex, _ReplaysAnother, _ReplaysIt)
    for cls in classes:
        SEARCH_SPACES.register_module(module=cls)
    yield
    for cls in classes:
        SEARCH_SPACES.module_dict.pop(cls.__name__)


def test_an_exported_index_instead_of_the_choice_is_refused_naming_both_values():
    with pytest.raises(AssertionError) as info:
        check_ohl_space(dict(type='_ExportsTheIndex', choices=CHOICES), runner=toy_runner())
    assert str(info.value).splitlines()[0] == (
        '_ExportsTheIndex: export_fragment() sets optim_wrapper.optimizer.lr = 0 but scheduled_values() reports '
        'optim_wrapper.optimizer.lr = 0.1 at the mode of theta: a retrain with the fragment would not train with '
        'the value the search learned')


def test_a_replay_hook_writing_another_value_is_refused():
    with pytest.raises(AssertionError, match=r"custom_hooks\[0\]\.values\['optim_wrapper\.optimizer\.lr'\] = 0\.5 "
                                             r'but scheduled_values\(\) reports optim_wrapper\.optimizer\.lr = 0\.1'):
        check_ohl_space(dict(type='_ReplaysAnother', choices=CHOICES), runner=toy_runner())


@pytest.mark.parametrize('kind', ['_LrSpace', '_ReplaysIt'])
def test_a_fragment_setting_the_learned_value_passes(kind):
    check_ohl_space(dict(type=kind, choices=CHOICES), runner=toy_runner())


def test_the_shipped_attribute_space_s_fragment_is_compared_and_agrees():
    from mmengine.config import Config

    from automl_mm.testing.ohl_spaces import _fragment_values

    space = check_ohl_space(dict(type='AttributeSpace', name='lr', target='optim_wrapper.optimizer.param_groups.*.lr',
                                 choices=[0.1, 0.01], distribution=dict(type='Categorical', num_choices=2)),
                            runner=toy_runner())
    exported = Config.fromstring(space.export_fragment(), file_format='.py').to_dict()
    assert _fragment_values(exported, space.scheduled_values()) == [
        ('optim_wrapper.optimizer.param_groups.*.lr', 0.1,
         "custom_hooks[0].values['optim_wrapper.optimizer.param_groups.*.lr']", 0.1)]


@pytest.mark.parametrize('choices', [[None, 0.5], [[None, 1.0], [2.0, 3.0]]])
@pytest.mark.parametrize('seed', range(4))
def test_a_choice_of_none_is_the_value_exported_and_applied(choices, seed):
    """``None`` (a ``class_weight`` left unset, beside a list) compared as NaN, unequal to itself: the fragment's
    ``values={'extra.x': None}`` for the reported ``None`` was refused, and so was a sampled ``None`` as applied."""
    from types import SimpleNamespace

    from automl_mm.testing.ohl_spaces import _close

    runner = toy_runner(extra=SimpleNamespace(x=choices[1]))
    space = check_ohl_space(dict(type='AttributeSpace', name='x', target='extra.x', choices=choices,
                                 distribution=dict(type='Categorical', num_choices=2)), runner=runner, seed=seed)
    assert space.scheduled_values() == {'extra.x': choices[0]}  # the first of the tied choices: the mode
    assert _close(choices[0], choices[0]) and not _close(choices[0], choices[1])
    assert not _close([None, 1.0], [None, 1.1]) and _close([None, 1.0], (None, 1.0))
