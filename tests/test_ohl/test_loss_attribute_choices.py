"""An OHL space over a loss's ``class_weight`` (or one element of it), ``ignore_index``, ``avg_non_ignore`` or
``reduction`` is refused before the first trunk where a choice is one the loss refuses (``check_accepted``), naming
the space, the path and the choice; an element write is checked at run time too (it goes into the list, past the
loss's check)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from automl_mm.losses import AMLFSLoss
from automl_mm.models.losses import CrossEntropyLoss
from automl_mm.ohl import CopyLayout
from automl_mm.ohl.attributes import recording_writes, set_attribute
from automl_mm.ohl.spaces import AttributeSpace
from automl_mm.ohl.write_order import check_declared_writes

LOSS = 'model.head.loss_module'


def _runner(class_weight=(1.0, 1.0, 1.0), loss_type=CrossEntropyLoss):
    loss = loss_type(class_weight=list(class_weight) if class_weight is not None else None)
    return SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=loss, num_classes=3)))


def _start_checks(runner, target, **space):
    space = AttributeSpace(target=target, name='cw', **space)
    space.resolve(runner)  # the build check's (OHLHook resolves model paths there)
    space.check_choices(runner, target)  # setup's and tools/train.py's


@pytest.mark.parametrize('loss_type', [CrossEntropyLoss, AMLFSLoss])
@pytest.mark.parametrize('target, choices, message', [
    ('class_weight', [[1.0, 1.0, 1.0], [1.0, -1.0, 1.0]], r"choice \[1.0, -1.0, 1.0\]: attribute path "
     r"'model.head.loss_module.class_weight': \w+: class_weight must hold finite numbers >= 0, got \[1.0, -1.0, 1.0\]"),
    ('class_weight.1', [1.0, -1.0], r"choice -1.0: attribute path 'model.head.loss_module.class_weight.1': -1.0 "
     r'makes class_weight \[1.0, -1.0, 1.0\]'),
    ('class_weight.1', [1.0, float('inf')], r"choice inf: .*class_weight must hold finite numbers >= 0"),
    ('ignore_index', [None, 2.0], r"choice 2.0: .*ignore_index must be an int .* got 2.0"),
    ('avg_non_ignore', [False, 'no'], r"choice 'no': .*avg_non_ignore must be True or False, got 'no'"),
    # taken, then the first forward stopped inside mmdet's reduce_loss ('avg is not a valid value for reduction')
    ('reduction', ['mean', 'avg'], r"choice 'avg': .*reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"),
])
def test_a_choice_the_loss_refuses_stops_the_start_checks(loss_type, target, choices, message):
    runner = _runner(loss_type=loss_type)
    with pytest.raises(ValueError, match=rf"^OHL space 'cw': {message}"):
        _start_checks(runner, f'{LOSS}.{target}', distribution=dict(type='Categorical'), choices=choices)
    assert runner.model.head.loss_module.class_weight == [1.0, 1.0, 1.0]  # nothing written


def test_a_whole_list_of_another_length_than_the_head_scores_is_refused():
    runner = _runner(class_weight=None)  # nothing to compare shapes with: the head's 3 scores are
    with pytest.raises(ValueError, match=r"choice \[1.0, 1.0\]: attribute path 'model.head.loss_module.class_weight': "
                                         r'\[1.0, 1.0\] has 2 values, but the head SimpleNamespace gives '
                                         'CrossEntropyLoss 3 scores per row'):
        _start_checks(runner, f'{LOSS}.class_weight', distribution=dict(type='Categorical'),
                      choices=[[1.0, 1.0, 2.0], [1.0, 1.0]])


def test_valid_choices_pass_and_a_gaussian_on_one_weight_needs_a_positive_transform():
    runner = _runner()
    _start_checks(runner, f'{LOSS}.class_weight', distribution=dict(type='Categorical'),
                  choices=[[1.0, 1.0, 1.0], [0.5, 2.0, 0.0]])
    _start_checks(runner, f'{LOSS}.class_weight.2', distribution=dict(type='Categorical'), choices=[0.5, 2.0])
    _start_checks(runner, f'{LOSS}.ignore_index', distribution=dict(type='Categorical'), choices=[None, 2])
    _start_checks(runner, f'{LOSS}.avg_non_ignore', distribution=dict(type='Categorical'), choices=[False, True])
    _start_checks(runner, f'{LOSS}.reduction', distribution=dict(type='Categorical'), choices=['mean', 'sum'])
    _start_checks(runner, f'{LOSS}.class_weight.2', distribution=dict(type='DiagGaussian', mean=[0.0], std=[0.5]),
                  transform='exp')
    with pytest.raises(ValueError, match=r"class_weight.2': a Gaussian sample under transform=None takes any value "
                                         r'.* leaves \[0, inf\) \(CrossEntropyLoss.class_weight\)'):
        _start_checks(runner, f'{LOSS}.class_weight.2', distribution=dict(type='DiagGaussian', mean=[1.0], std=[0.5]))


def test_an_element_write_is_checked_when_written():
    runner = _runner()
    with pytest.raises(ValueError, match=r"attribute path 'model.head.loss_module.class_weight.0': -2.0 makes "):
        set_attribute(runner, f'{LOSS}.class_weight.0', -2.0)
    assert runner.model.head.loss_module.class_weight == [1.0, 1.0, 1.0]
    set_attribute(runner, f'{LOSS}.class_weight.0', 3.0)
    assert runner.model.head.loss_module.class_weight == [3.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="avg_non_ignore must be True or False, got 'no'"):
        set_attribute(runner, f'{LOSS}.avg_non_ignore', 'no')
    assert runner.model.head.loss_module.avg_non_ignore is False


def test_a_space_over_the_whole_class_weight_reports_what_it_writes():
    """The whole list is written through the loss's check into ``_checked_class_weight``, whose elements the state
    comparison sees changed: that is the reported write's own, not an unreported write (OHLHook refused it)."""
    runner = SimpleNamespace(model=nn.Sequential(nn.Linear(2, 3), CrossEntropyLoss(class_weight=[1.0, 1.0, 1.0])))
    space = AttributeSpace(dict(type='Categorical', logits=[-9.0, 9.0]), target='model.1.class_weight',
                           choices=[[1.0, 1.0, 1.0], [0.5, 2.0, 1.0]], name='cw')
    space.resolve(runner)
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    with recording_writes(runner) as wrote:
        space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert runner.model[1].class_weight == [0.5, 2.0, 1.0]
    assert '_checked_class_weight.0' in ' '.join(wrote)  # seen changed beside the reported path
    check_declared_writes(runner, space, wrote, 'trunk 0')  # raised "wrote attribute path ... but reports only"


@pytest.mark.parametrize('target, space', [
    ('class_weight', dict(choices=[[1.0, 1.0, 1.0], [1.0, -1.0, 1.0]])),
    ('class_weight.1', dict(choices=[1.0, -1.0])),
    ('class_weight.1', dict(distribution=dict(type='DiagGaussian', mean=[1.0], std=[0.5]))),
])
def test_mmdets_unchecked_class_weight_has_the_range_of_a_weight(target, space):
    """mmdet's CrossEntropyLoss keeps class_weight as given and trains with a negative weight, silently (that class's
    loss ascended): each weight's range is >= 0, a list choice compared element by element."""
    from mmdet.models.losses import CrossEntropyLoss as MMDetCrossEntropyLoss

    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(
        loss_cls=MMDetCrossEntropyLoss(class_weight=[1.0, 1.0, 1.0]))))
    space.setdefault('distribution', dict(type='Categorical'))
    with pytest.raises(ValueError, match=rf"^OHL space 'cw': attribute path 'model.head.loss_cls.{target}': .*"
                                         r'\[0, inf\) \(CrossEntropyLoss.class_weight, each a class weight'):
        _start_checks(runner, f'model.head.loss_cls.{target}', **space)
    _start_checks(runner, 'model.head.loss_cls.class_weight', distribution=dict(type='Categorical'),
                  choices=[[1.0, 1.0, 1.0], [0.5, 2.0, 0.0]])


@pytest.mark.parametrize('check', ['check_written_value', 'check_value', 'set_attribute'])
@pytest.mark.parametrize('target, value', [('class_weight', [1.0, -1.0, 1.0]), ('class_weight.1', -1.0)])
def test_a_negative_weight_written_to_mmdets_class_weight_is_refused(check, target, value):
    """What a replay (SetAttributesHook's check_written_value, TrunkScheduleHook's check_value) and a space's write
    give mmdet's class_weight: refused, not trained with."""
    from mmdet.models.losses import CrossEntropyLoss as MMDetCrossEntropyLoss

    from automl_mm.ohl import attributes, value_ranges

    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(
        loss_cls=MMDetCrossEntropyLoss(class_weight=[1.0, 1.0, 1.0]))))
    function = getattr(attributes, check, None) or getattr(value_ranges, check)
    message = (rf"^attribute path 'model.head.loss_cls.{target}': {re.escape(repr(value))} lies outside "
               r'\[0, inf\) \(CrossEntropyLoss.class_weight, each a class weight')
    with pytest.raises(ValueError, match=message):
        function(runner, f'model.head.loss_cls.{target}', value)
    assert runner.model.head.loss_cls.class_weight == [1.0, 1.0, 1.0]
