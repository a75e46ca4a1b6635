"""A user's OHL space that writes without ``set_attribute`` escaped the record of what it writes.

Input that showed the fault: a ``PerCopySpace`` writing ``setattr(runner.model[1], 'negative_slope', v)`` in its
``apply`` (an object it reached itself) while reporting only ``model.extra``. ``recording_writes`` listed the paths
``set_attribute`` wrote, so the write was not in the record: ``check_declared_writes`` passed, and the write escaped
the order check against the other spaces, the replay of the space's exports and the best copy's values, as a
``set_attribute`` write did before the forty-fourth session. The same for ``module.__dict__[name] = v``, an
optimiser group's dict entry (``optimizer.param_groups[0]['lr'] = v``) and a transform's attribute
(``transform.prob = v``). ``recording_writes(runner)`` now also compares the values where a space's samples act
before and after the space ran (``automl_mm.ohl.state_writes``), and ``OHLHook`` / ``check_ohl_space`` refuse such a
path as they refuse an unreported ``set_attribute`` write.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import Compose
from mmengine.optim import OptimWrapper
from torch import nn

from automl_mm.ohl.attributes import recording_writes
from automl_mm.ohl.state_writes import changed_paths, snapshot
from tests.test_ohl._spaces import UnreportedWrites, begin_trunk


class _Writes(UnreportedWrites):
    """Writes with ``write(runner, value)`` (the drawn choice's value), reporting ``reports`` only."""

    setup_value = 0.25

    def __init__(self, write, reports, in_setup=False):
        super().__init__('raw', reports, in_setup)
        self._write = write

    def write(self, runner, value):
        self._write(runner, value)


def _runner():
    model = nn.Sequential(nn.LeakyReLU(0.01), nn.LeakyReLU(0.01))
    model.extra = 0.0
    optimizer = torch.optim.Adam(nn.Linear(2, 2).parameters(), lr=0.01, betas=(0.9, 0.999))
    pipeline = Compose([dict(type='mmcv.RandomFlip', prob=0.5), dict(type='mmcv.RandomFlip', prob=0.5)])
    dataset = SimpleNamespace(pipeline=pipeline)
    return SimpleNamespace(model=model, optim_wrapper=OptimWrapper(optimizer),
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(dataset=dataset)))


def _set_slope(runner, value):  # a plain setattr on a module the space reached itself
    name = 'negative_slope'
    setattr(runner.model[1], name, value)


def _dict_slope(runner, value):  # the module's __dict__ written directly
    runner.model[0].__dict__['negative_slope'] = value


def _group_lr(runner, value):  # an optimiser group's dict entry
    runner.optim_wrapper.optimizer.param_groups[0]['lr'] = value


def _transform_prob(runner, value):  # a transform's attribute
    runner.train_dataloader.dataset.dataset.pipeline.transforms[1].prob = value


def _beta1(runner, value):  # a tuple element, replacing the tuple as set_attribute does
    group = runner.optim_wrapper.optimizer.param_groups[0]
    group['betas'] = (1.0 - value, group['betas'][1])


ROUTES = [
    (_set_slope, 'model.1.negative_slope'),
    (_dict_slope, 'model.0.negative_slope'),
    (_group_lr, 'optim_wrapper.optimizer.param_groups.0.lr'),
    (_transform_prob, 'train_dataloader.dataset.dataset.pipeline.transforms.1.prob'),
    (_beta1, 'optim_wrapper.optimizer.param_groups.0.betas.0'),
]


@pytest.mark.parametrize('write,path', ROUTES, ids=[w.__name__ for w, _ in ROUTES])
def test_a_write_not_through_set_attribute_is_refused_at_the_first_trunk(write, path):
    runner = _runner()
    with pytest.raises(ValueError, match=rf"OHL space 'raw' \(_Writes\) wrote attribute path '{path}' in trunk 0 "
                                         r"but reports only \['model\.extra'\]"):
        begin_trunk([_Writes(write, reports=['model.extra'])], runner)


@pytest.mark.parametrize('write,path', ROUTES, ids=[w.__name__ for w, _ in ROUTES])
def test_the_same_write_reported_by_the_space_passes(write, path):
    runner = _runner()
    space = _Writes(write, reports=[path])
    begin_trunk([space], runner)
    assert space.current in (0.1, 0.2)


def test_a_covering_report_passes_a_narrower_raw_write():
    runner = _runner()
    begin_trunk([_Writes(_set_slope, reports=['model.*.negative_slope'])], runner)
    begin_trunk([_Writes(_beta1, reports=['optim_wrapper.optimizer.param_groups.*.betas'])], runner)
    begin_trunk([_Writes(_group_lr, reports=['optim_wrapper.optimizer.lr'])], runner)  # the base form


def test_a_raw_write_in_setup_is_recorded_with_its_path():
    runner = _runner()
    space = _Writes(_transform_prob, reports=['model.extra'], in_setup=True)
    with recording_writes(runner) as wrote:
        space.setup(runner, None, 0)
    assert wrote == ['train_dataloader.dataset.dataset.pipeline.transforms.1.prob']
    with recording_writes() as wrote:  # without the runner: set_attribute's writes only, as before
        space.setup(runner, None, 0.5)
    assert wrote == []


def test_the_contract_check_refuses_a_raw_write_it_does_not_report():
    from automl_mm.testing import check_ohl_space

    with pytest.raises(AssertionError, match=r"wrote attribute path 'model\.1\.negative_slope' in trunk 0"):
        check_ohl_space(_Writes(_set_slope, reports=['model.extra']), _runner())
    check_ohl_space(_Writes(_set_slope, reports=['model.1.negative_slope']), _runner())


def test_unchanged_values_nan_included_and_skipped_names_are_not_reported():
    runner = _runner()
    runner.model.extra = math.nan
    before = snapshot(runner)
    runner.model.extra = float('nan')  # another NaN object: the same value
    runner.model[0].negative_slope = 0.01  # the value it held
    assert changed_paths(before, snapshot(runner)) == []
    before = snapshot(runner, skip=('prob',))
    _transform_prob(runner, 0.9)
    assert changed_paths(before, snapshot(runner, skip=('prob',))) == []
    assert 'model.0.training' not in before  # torch's bookkeeping is left out


def test_a_setters_own_state_beside_a_reported_attribute_is_not_refused():
    """A reported write through a property setter changes the object's other attributes: an OHL-Auto-Aug element's
    magnitude setter sets ``_magnitude``, Posterize's ``bits`` and its table; a loss's checked ``label_smoothing``
    lives in ``_checked_label_smoothing``. They are that write's own (``check_declared_writes``), written with
    ``set_attribute`` or a plain setattr alike."""
    from automl_mm.augment.policy import OHLAutoAugment
    from automl_mm.models.losses import CrossEntropyLoss
    from automl_mm.ohl.attribute_space import AttributeSpace

    runner = _runner()
    runner.model.loss = CrossEntropyLoss()
    runner.train_dataloader.dataset.dataset.pipeline.transforms.append(
        OHLAutoAugment(key='autoaug', elements=[('Posterize', 4.4), ('Invert', None)]))
    bits = 'train_dataloader.dataset.dataset.pipeline.transforms.2.elements.0.magnitude'
    begin_trunk([AttributeSpace(dict(type='Categorical'), target=bits, choices=[6.8, 7.6], name='m')], runner)
    assert runner.train_dataloader.dataset.dataset.pipeline.transforms[2].elements[0].bits in (7, 8)
    begin_trunk([AttributeSpace(dict(type='Categorical'), target='model.loss.label_smoothing',
                                choices=[0.1, 0.2], name='ls')], runner)

    def raw_smoothing(runner, value):
        runner.model.loss.label_smoothing = value

    begin_trunk([_Writes(raw_smoothing, reports=['model.loss.label_smoothing'])], runner)
    assert runner.model.loss.label_smoothing in (0.1, 0.2)


def test_another_key_of_a_reported_optimiser_group_is_refused():
    """A dict has no setter: a raw write of a group's momentum beside its reported lr is the space's own write."""
    def lr_and_eps(runner, value):
        group = runner.optim_wrapper.optimizer.param_groups[0]
        group['lr'], group['eps'] = value, value * 1e-6

    with pytest.raises(ValueError, match=r"wrote attribute path 'optim_wrapper\.optimizer\.param_groups\.0\.eps'"):
        begin_trunk([_Writes(lr_and_eps, reports=['optim_wrapper.optimizer.param_groups.0.lr'])], _runner())
