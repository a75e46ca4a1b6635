"""A misspelled part of an attribute path (a pasted ``SetAttributesHook(values={'model.roi_head.bbox_head.loss_bbox.
loss_weigth': 2.0})`` in a stock mmdet config) was refused with ``L1Loss has no attribute 'loss_weigth'`` alone,
whether the part was the last or one inside the path, or a dict key (a param group's ``weight_decy``): each now
offers the closest name the node has."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from automl_mm.ohl import get_attribute, set_attribute


def _runner():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.SmoothL1Loss())
    model.loss_bbox = torch.nn.L1Loss()
    model.loss_bbox.loss_weight = 1.0
    optim = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.0)
    return SimpleNamespace(model=model, optim_wrapper=SimpleNamespace(optimizer=optim))


@pytest.mark.parametrize('path, problem', [
    ('model.loss_bbox.loss_weigth', "L1Loss has no attribute 'loss_weigth'; did you mean 'loss_weight'?"),
    ('model.loss_bboxx.loss_weight', "Sequential has no attribute 'loss_bboxx'; did you mean 'loss_bbox'?"),
    ('optim_wrapper.optimizer.param_groups.*.weight_decy', "key 'weight_decy' not found; did you mean "
                                                           "'weight_decay'?"),
])
def test_a_misspelled_part_is_offered_the_closest_name(path, problem):
    for call in (lambda: get_attribute(_runner(), path), lambda: set_attribute(_runner(), path, 2.0)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f'attribute path {path!r}: {problem}'


def test_a_name_close_to_nothing_gets_no_guess():
    with pytest.raises(ValueError) as info:
        get_attribute(_runner(), 'model.loss_bbox.zzz')
    assert str(info.value) == "attribute path 'model.loss_bbox.zzz': L1Loss has no attribute 'zzz'"


class EMAHook:
    def __init__(self):
        self.momentum = 0.1


class OtherHook:
    pass


def test_a_list_element_named_by_its_class_is_offered_its_index():
    """runner.hooks is a list in priority order: ``hooks.EMAHook.momentum`` was refused with ``list has no attribute
    'EMAHook'``, and the index to write took trial and error (``hooks.4`` was a DistSamplerSeedHook)."""
    runner = SimpleNamespace(hooks=[OtherHook(), EMAHook()])
    for path, meant in (('hooks.EMAHook.momentum', 'hooks.1.momentum'), ('hooks.EMAHook', 'hooks.1')):
        with pytest.raises(ValueError) as info:
            get_attribute(runner, path)
        assert f"did you mean {meant!r} (its element 1 is an EMAHook)?" in str(info.value), info.value
    with pytest.raises(ValueError) as info:
        get_attribute(runner, 'hooks.MissingHook.momentum')
    assert 'did you mean' not in str(info.value)


class MyEMAHook(EMAHook):
    pass


def test_a_list_element_of_a_subclass_of_the_class_named_is_offered_its_index():
    """The range tables key a class along the owner's MRO (a subclass of mmengine's ``EMAHook`` has its ranges), so
    ``hooks.EMAHook`` names a user's ``MyEMAHook`` too: it was offered nothing, the exact name being the only match."""
    runner = SimpleNamespace(hooks=[OtherHook(), EMAHook(), MyEMAHook()])
    with pytest.raises(ValueError) as info:
        get_attribute(runner, 'hooks.EMAHook.momentum')
    assert ("did you mean 'hooks.1.momentum' (its element 1 is an EMAHook) or 'hooks.2.momentum' (its element 2 is "
            "a MyEMAHook, a subclass of EMAHook)?") in str(info.value), info.value
    with pytest.raises(ValueError) as info:
        get_attribute(runner, 'hooks.object.momentum')  # every class is one: not a hint
    assert 'did you mean' not in str(info.value)
