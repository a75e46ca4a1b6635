"""A path ending in an index (``border_val.0``, ``class_weight.1``, ``_theta.0``) is checked as the attribute that
holds the element: what is known of the attribute holds for each of its elements.

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[114.0], std=8.0),
target='train_dataloader.dataset.pipeline.transforms.0.border_val.0')`` on mmdet's ``RandomAffine`` (a colour
channel, real-valued: ``value_ranges.REAL_VALUED_ATTRIBUTES``) was refused as a Gaussian on an integer setting, as
was one on an mmdet loss's ``class_weight.1`` (a weight with a known range): the checks looked the element's index
up in the table, not the attribute. A Gaussian on AM-LFS's ``_theta.0`` (an element of the buffer) got past the
tensor-slot check and was refused as "Tensor has no attribute '0'", naming neither the buffer nor the space to use."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmdet.datasets.transforms import Expand, RandomAffine
from mmdet.models.losses import CrossEntropyLoss
from torch import nn

from automl_mm.losses import AMLFSLoss
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import check_written_value, get_attribute, set_attribute
from automl_mm.ohl.ownership import check_owned_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook
from automl_mm.ohl.value_ranges import gaussian_on_integer

AT = 'train_dataloader.dataset.pipeline.transforms.'


def _runner():
    model = nn.Module()
    model.loss = CrossEntropyLoss(class_weight=[1, 1, 1])  # ints, as configs write them
    model.loss_module = AMLFSLoss(num_intervals=2)
    model.scales = nn.Module()
    model.scales.sizes = (64, 64)  # an integer setting: its elements stay integers
    model.plist = nn.ParameterList([nn.Parameter(nn.init.zeros_(nn.Linear(1, 1).weight))])
    pipeline = SimpleNamespace(transforms=[RandomAffine(), Expand()])
    return SimpleNamespace(model=model, cfg=None, hooks=[], param_schedulers=[],
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))


def _gaussian(path, mean, **kwargs):
    return AttributeSpace(dict(type='DiagGaussian', mean=[mean], std=1.0), target=path, name='g', **kwargs)


@pytest.mark.parametrize('path, mean, transform', [
    (AT + '0.border_val.0', 114.0, None),  # RandomAffine's fill colour: (114, 114, 114)
    (AT + '1.mean.1', 0.0, None),  # Expand's fill colour (0, 0, 0)
    ('model.loss.class_weight.1', 1.0, 'exp'),  # mmdet's plain list, each weight >= 0
])
def test_an_element_of_a_real_valued_attribute_takes_a_gaussian(path, mean, transform):
    runner = _runner()
    assert isinstance(get_attribute(runner, path)[0], int)
    assert gaussian_on_integer(runner, path) is None
    _gaussian(path, mean, transform=transform).check_choices(runner, path)
    check_written_value(runner, path, mean + 0.5)  # a TrunkScheduleHook's values, a Categorical's choices
    set_attribute(runner, path, mean + 0.5)
    assert get_attribute(runner, path)[0] == mean + 0.5


def test_an_element_of_nested_lists_is_judged_by_the_attribute_that_holds_them():
    runner = _runner()
    runner.train_dataloader.dataset.pipeline.transforms[0].border_val = [[114, 114], [114, 114]]
    assert gaussian_on_integer(runner, AT + '0.border_val.1.0') is None


def test_expands_ratio_range_is_read_only_at_init():
    """Expand draws its ratio between ``min_ratio`` and ``max_ratio``, unpacked from ``ratio_range`` at
    ``__init__``: a write of ``ratio_range.1`` (which the table of real-valued attributes let a Gaussian take)
    changed no image."""
    runner = _runner()
    with pytest.raises(ValueError, match=r"Expand \(train_dataloader\.dataset\.pipeline\.transforms\.1\) reads "
                                         r"'ratio_range' only at __init__, to make min_ratio / max_ratio: .*target "
                                         'min_ratio / max_ratio'):
        check_owned_attribute(runner, AT + '1.ratio_range.1', 'me')
    check_owned_attribute(runner, AT + '1.max_ratio', 'me')


def test_an_element_of_an_integer_attribute_stays_refused():
    runner = _runner()
    with pytest.raises(ValueError, match=r"'model\.scales\.sizes\.0' holds an int \(64\), but a 1-dimensional"):
        _gaussian('model.scales.sizes.0', 64.0).check_choices(runner, 'model.scales.sizes.0')
    with pytest.raises(ValueError, match=r"'model\.scales\.sizes\.0' holds an int \(64\), and 32\.5 is not an "
                                         'integer'):
        set_attribute(runner, 'model.scales.sizes.0', 32.5)


def test_an_element_of_a_tensor_slot_is_refused_as_the_slot():
    runner = _runner()
    path = 'model.loss_module._theta.0'
    match = (r"OHL space 'g': attribute path 'model\.loss_module\._theta\.0' indexes into the buffer '_theta' of the "
             r"module AMLFSLoss \(a tensor\).*LossFunctionSpace\(target='model\.loss_module\.theta'")
    for check in (lambda space: space.resolve(runner), lambda space: space.setup(runner, None, 0),
                  lambda space: space.check_choices(runner, path)):
        with pytest.raises(ValueError, match=match):
            check(_gaussian(path, 1.0))
    with pytest.raises(ValueError, match=r"^SetAttributesHook: attribute path 'model\.loss_module\._theta\.0' "
                                         r"indexes into the buffer '_theta'.*model\.loss_module\.theta"):
        SetAttributesHook({path: 0.5}).before_train(runner)
    # a parameter registered by an nn.ParameterList, which the path's walk does index
    with pytest.raises(ValueError, match=r"'model\.plist\.0' is the parameter '0' of the module ParameterList"):
        set_attribute(runner, 'model.plist.0', 0.5)
