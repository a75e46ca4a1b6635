"""A Gaussian ``AttributeSpace`` whose dimension does not match what its target holds is refused at start, naming
the space, its dimension, the path and the target's type (:meth:`AttributeSpace.check_dimension`,
:func:`automl_mm.ohl.value_ranges.shape_mismatch`); a write of another shape is refused without writing.

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[0.0, 0.5], std=0.1),
target='model.l1.loss_weight', transform='exp')`` on mmdet's ``L1Loss`` passed every start check (``_scalar`` skips
a list, so nothing compared it); each copy wrote the list ``[1.22, 2.23]`` over the float and stopped at its first
forward (``TypeError: only integer tensors of a single element can be converted to an index`` from ``loss_weight *
loss``). On ``...param_groups.*.lr`` the list was written into every group and the optimiser's first step failed;
the base ``optim_wrapper.optimizer.lr`` refused it only at the first trunk; a 1-d Gaussian on Adam's ``betas``
wrote one number over the pair."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.losses import L1Loss

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.value_ranges import shape_mismatch, value_shape
from tests.test_ohl.test_draw_ranges import GROUPS, _runner, re_path


def _gaussian(target, mean):
    return AttributeSpace(dict(type='DiagGaussian', mean=mean, std=0.1), target=target, transform='exp', name='w')


def _adam_runner():
    runner = _runner('Adam')
    runner.model.l1 = L1Loss(loss_weight=1.0)  # mmdet's loss: a plain float
    return runner


@pytest.mark.parametrize('path, mean, holds', [
    ('model.l1.loss_weight', [0.0, 0.5], r'one number \(a float: 1\.0\)'),
    (GROUPS + 'lr', [0.0, 0.5], r'one number \(a float: 0\.1\)'),
    ('optim_wrapper.optimizer.lr', [0.0, 0.5], r'one number \(a float: 0\.1\)'),  # the base form
    (GROUPS + 'betas', [-0.1], r'2 numbers \(a tuple: \(0\.9, 0\.999\)\)'),
    (GROUPS + 'betas', [-0.1, -0.2, -0.3], r'2 numbers \(a tuple'),
])
def test_a_gaussian_of_another_dimension_than_its_target_is_refused_at_start(path, mean, holds):
    runner = _adam_runner()
    dim = len(mean)
    with pytest.raises(ValueError, match=rf"OHL space 'w': a {dim}-dimensional DiagGaussian writes .* to attribute "
                                         rf"path '{re_path(path)}', but it holds {holds}"):
        _gaussian(path, mean).check_choices(runner, path)
    if path.startswith('model.'):  # refused where the launching process resolves the space, too
        with pytest.raises(ValueError, match=rf"{dim}-dimensional DiagGaussian.*{re_path(path)}.*a float"):
            _gaussian(path, mean).resolve(runner)


def test_a_gaussian_of_the_target_dimension_passes_and_writes_what_it_drew():
    runner = _adam_runner()
    _gaussian('model.l1.loss_weight', [0.0]).check_choices(runner, 'model.l1.loss_weight')
    space = AttributeSpace(dict(type='DiagGaussian', mean=[0.9, 0.99], std=0.01), target=GROUPS + 'betas', name='b')
    space.check_dimension(runner, GROUPS + 'betas')
    space.apply(torch.tensor([0.8, 0.95], dtype=torch.float64), runner)
    assert list(runner.optim_wrapper.optimizer.param_groups[0]['betas']) == [0.8, 0.95]


@pytest.mark.parametrize('path, value, message', [
    ('model.l1.loss_weight', [1.0, 2.0], r'holds one number \(a float: 1\.0\), and \[1\.0, 2\.0\] is 2 numbers'),
    (GROUPS + 'lr', [0.1, 0.2], r'holds one number .* is 2 numbers'),
    (GROUPS + 'betas', 0.9, r'holds 2 numbers \(a tuple: \(0\.9, 0\.999\)\), and 0\.9 is one number'),
])
def test_a_write_of_another_shape_is_refused_and_nothing_is_written(path, value, message):
    runner = _adam_runner()
    with pytest.raises(ValueError, match=rf"attribute path '{re_path(path)}': it {message}"):
        set_attribute(runner, path, value)
    assert runner.model.l1.loss_weight == 1.0
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.1
    assert runner.optim_wrapper.optimizer.param_groups[0]['betas'] == (0.9, 0.999)


def test_what_is_compared():
    assert [value_shape(v) for v in (1, 0.5, torch.tensor([2.0]), (0.9, 0.999), [1, 2, 3], torch.zeros(4))] == \
        [0, 0, 0, 2, 3, 4]
    # not compared: a list of scales, a 2-D tensor, None, strings, bools
    assert [value_shape(v) for v in ([(32, 32)], torch.zeros(2, 2), None, 'x', True, [])] == [None] * 6
    assert shape_mismatch(1.0, 2) is None and shape_mismatch((0.9, 0.99), [0.8, 0.9]) is None
    assert shape_mismatch([(64, 64)], [(48, 48)]) is None  # a resize's list of scales: written whole
