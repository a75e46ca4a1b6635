"""A list (dict, set, tuple) written at an attribute path is each place's own copy (``automl_mm.ohl.attributes._own``).

Until the fifty-sixth session ``set_attribute`` wrote one object to every place: the ``*`` fan-out over a Cascade
R-CNN's stages gave the three ``loss_cls`` one ``class_weight`` list, so an element write for stage 0
(``...bbox_head.0.loss_cls.class_weight.1``, a second space or a replay beside the covering one) set the weight of
class 1 in all three; and an ``AttributeSpace`` with list choices wrote its choice object itself, so that element
write changed the space's choice ``[2.0, 2.0, 2.0]`` into ``[2.0, 3.0, 2.0]``: its ``copy_values``, export and resume
signature named a list it never drew (mmdet's ``CrossEntropyLoss`` keeps ``class_weight`` as the list given)."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from mmdet.models.losses import CrossEntropyLoss
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute


class _Stage(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_cls = CrossEntropyLoss(class_weight=[1.0, 1.0, 1.0])


class _Cascade(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList([_Stage(), _Stage(), _Stage()])
        self.other = _Stage()


def test_an_element_write_reaches_its_stage_only():
    runner = SimpleNamespace(model=_Cascade())
    set_attribute(runner, 'model.stages.*.loss_cls.class_weight', [2.0, 2.0, 2.0])
    set_attribute(runner, 'model.stages.0.loss_cls.class_weight.1', 5.0)
    assert [s.loss_cls.class_weight for s in runner.model.stages] == [[2.0, 5.0, 2.0], [2.0, 2.0, 2.0],
                                                                      [2.0, 2.0, 2.0]]


def test_a_space_keeps_its_choices_and_reports_what_it_wrote():
    runner = SimpleNamespace(model=_Cascade())
    lists = AttributeSpace(dict(type='Categorical'), target=['model.stages.0.loss_cls.class_weight',
                                                             'model.other.loss_cls.class_weight'],
                           choices=[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], name='cw')
    element = AttributeSpace(dict(type='Categorical'), target='model.stages.0.loss_cls.class_weight.1',
                             choices=[0.5, 3.0], name='cw1')
    signature = lists.signature()
    lists.apply(torch.tensor(1), runner)
    element.apply(torch.tensor(1), runner)  # after the covering path, as the hook orders them
    assert runner.model.stages[0].loss_cls.class_weight == [2.0, 3.0, 2.0]
    assert runner.model.other.loss_cls.class_weight == [2.0, 2.0, 2.0]  # the space's other target
    assert lists.choices == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert lists.applied_values() == {'model.stages.0.loss_cls.class_weight': [2.0, 2.0, 2.0],
                                      'model.other.loss_cls.class_weight': [2.0, 2.0, 2.0]}
    assert lists.signature() == signature


def test_the_objects_a_written_container_holds_are_written_as_they_are():
    """Only the containers are each place's own: a module or tensor inside a written list / dict is the object given
    (deep-copied, a module written to share its weights got copies of them, and a tensor outside autograd's leaves,
    ``weight * 2`` of a parameter, stopped the write with torch's "Only Tensors created explicitly by the user ...
    support the deepcopy protocol")."""
    class _Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = [nn.Identity()]  # a plain list attribute, as a head's list of hooks or scales
            self.extras = {'scale': torch.ones(1)}

    runner = SimpleNamespace(model=nn.ModuleList([_Holder(), _Holder()]))
    shared = nn.Linear(2, 2)
    scaled = shared.weight * 2  # not a leaf
    value = [shared, scaled]
    set_attribute(runner, 'model.*.parts', value)
    set_attribute(runner, 'model.*.extras', {'scale': scaled, 'names': ['a']})
    for holder in runner.model:
        assert holder.parts is not value and holder.parts[0] is shared and holder.parts[1] is scaled
        assert holder.extras['scale'] is scaled
    assert runner.model[0].extras['names'] is not runner.model[1].extras['names']  # each place's own list
