"""A number that is not an integer written over an integer attribute is refused before anything is written, by every
writer (``AttributeSpace``'s Gaussian at resolve / setup, its choices, ``SetAttributesHook`` /
``TrunkScheduleHook`` values, any ``set_attribute``), naming the path and what it holds
(:func:`automl_mm.ohl.value_ranges.integer_mismatch`).

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[3.0], std=1.0),
target='train_dataloader.dataset.pipeline.transforms.0.max_num_pasted')`` on mmdet's ``CopyPaste(max_num_pasted=100)``
passed every start check and each copy wrote its sample (2.7) over the int: mmdet's ``CopyPaste`` then stopped inside
``np.random.randint(0, 2.7)``; a transform's ``num_ops`` stops in ``range(2.7)``, a multiplier silently changes
meaning, and the history credited 2.7. Attributes known to take real numbers (an optimiser group's settings, a loss's
``loss_weight``, a scheduler's ``eta_min``: :func:`~automl_mm.ohl.setting_ranges.attribute_range`) pass with an int
config value (``weight_decay=0``, ``eta_min=0``)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from mmdet.datasets.transforms import CopyPaste
from mmdet.models.losses import L1Loss
from mmengine.optim.scheduler import CosineAnnealingLR
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import check_written_value, get_attribute, set_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from tests.test_ohl.test_draw_ranges import GROUPS, re_path

PASTED = 'train_dataloader.dataset.pipeline.transforms.0.max_num_pasted'


class _Ops(nn.Module):
    """A model module with integer settings (a RandAugment-like ``num_ops``, a flag, a scale pair)."""

    def __init__(self):
        super().__init__()
        self.num_ops = 2
        self.use_l1 = False
        self.scale = (64, 64)
        self.ratio = 0.5
        self.ratio_range = (0.5, 1.5)


def _runner():
    model = nn.Sequential(nn.Linear(2, 2))
    model.ops = _Ops()
    model.l1 = L1Loss(loss_weight=1)  # an int config value of a real-valued attribute
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0)
    wrapper = SimpleNamespace(optimizer=optimizer)
    scheduler = CosineAnnealingLR(optimizer, T_max=4, eta_min=0)
    pipeline = SimpleNamespace(transforms=[CopyPaste(max_num_pasted=100)])
    return SimpleNamespace(model=model, optim_wrapper=wrapper, param_schedulers=[scheduler], cfg=None, hooks=[],
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))


def _gaussian(target, mean=(3.0,), **kwargs):
    return AttributeSpace(dict(type='DiagGaussian', mean=list(mean), std=1.0), target=target, name='n', **kwargs)


@pytest.mark.parametrize('path, mean, holds', [
    (PASTED, [3.0], r'an int \(100\)'),
    ('model.ops.num_ops', [2.0], r'an int \(2\)'),
    ('model.ops.use_l1', [0.0], r'a bool \(False\)'),
    ('model.ops.scale', [64.0, 64.0], r'ints \(a tuple: \(64, 64\)\)'),
    ('model.ops.scale.0', [64.0], r'an int \(64\)'),
])
def test_a_gaussian_on_an_integer_attribute_is_refused_at_start(path, mean, holds):
    runner = _runner()
    message = (rf"OHL space 'n': attribute path '{re_path(path)}' holds {holds}, but a "
               rf'{len(mean)}-dimensional DiagGaussian writes .* that are not integers.*Categorical')
    with pytest.raises(ValueError, match=message):
        _gaussian(path, mean).check_choices(runner, path)  # setup, and the config check of pipeline paths
    if path.startswith('model.'):  # refused where the launching process resolves the space, too
        with pytest.raises(ValueError, match=message):
            _gaussian(path, mean).resolve(runner)
    with pytest.raises(ValueError, match=r"under transform='exp' writes samples that are not integers"):
        _gaussian(path, mean, transform='exp').check_choices(runner, path)


@pytest.mark.parametrize('path, value, holds', [
    (PASTED, 2.7, r'an int \(100\)'), ('model.ops.num_ops', 3.0, r'an int \(2\)'),
    ('model.ops.use_l1', 1.0, r'a bool \(False\)'), ('model.ops.scale', [48.0, 48.5], r'ints \(a tuple: \(64, 64\)\)'),
    ('model.ops.scale.1', 32.5, r'an int \(64\)'), ('model.ops.num_ops', torch.tensor(2.5), r'an int \(2\)'),
])
def test_a_float_written_over_an_integer_is_refused_and_nothing_is_written(path, value, holds):
    runner = _runner()
    match = (rf"attribute path '{re_path(path)}' holds {holds}, and .* is not (an integer|all integers): .*write an "
             'integer')
    with pytest.raises(ValueError, match=match):
        set_attribute(runner, path, value)
    with pytest.raises(ValueError, match=match):
        check_written_value(runner, path, value)
    assert runner.model.ops.num_ops == 2 and runner.model.ops.scale == (64, 64) and runner.model.ops.use_l1 is False
    assert runner.train_dataloader.dataset.pipeline.transforms[0].max_num_pasted == 100
    # a categorical's float choices: at setup, naming the choice
    with pytest.raises(ValueError, match=rf"OHL space 'c': choice .*: {match}"):
        AttributeSpace(dict(type='Categorical'), target=path, choices=[value, value], name='c').check_choices(
            runner, path)


def test_replay_hooks_refuse_a_float_over_an_integer_before_training():
    runner = _runner()
    runner.epoch = runner.iter = 0
    runner.train_loop = SimpleNamespace(dataloader=runner.train_dataloader)
    hook = TrunkScheduleHook(values={'model.ops.num_ops': [2, 2.7]}, trunk_epochs=1)
    with pytest.raises(ValueError, match=r"TrunkScheduleHook: trunk 1: attribute path 'model\.ops\.num_ops' holds an "
                                         r'int \(2\), and 2\.7 is not an integer'):
        hook.before_train(runner)
    with pytest.raises(ValueError, match=r"'model\.ops\.num_ops' holds an int \(2\), and 2\.7 is not an integer"):
        SetAttributesHook(values={'model.ops.num_ops': 2.7}).before_train(runner)
    assert runner.model.ops.num_ops == 2


def test_integers_and_real_valued_targets_pass():
    runner = _runner()
    for path, value in (('model.ops.num_ops', 3), (PASTED, 50), ('model.ops.scale', (32, 32)),
                        ('model.ops.use_l1', True), ('model.ops.ratio', 0.7)):
        set_attribute(runner, path, value)
    assert runner.model.ops.num_ops == 3 and runner.model.ops.use_l1 is True
    # an int config value of an attribute known to take real numbers: an optimiser's weight_decay=0, a loss's
    # loss_weight=1, a scheduler's eta_min=0
    for path in (GROUPS + 'weight_decay', 'model.l1.loss_weight', 'param_schedulers.0.eta_min', 'model.ops.ratio'):
        _gaussian(path, transform='exp').check_choices(runner, path)
        set_attribute(runner, path, 0.25)
    AttributeSpace(dict(type='Categorical'), target='model.ops.num_ops', choices=[1, 2, 3], name='c').check_choices(
        runner, 'model.ops.num_ops')


def test_an_int_written_over_a_float_keeps_it_a_float_so_the_next_float_write_passes():
    """A float setting searched with mixed choices (``choices=[0, 0.5]``, checked at setup against the config's
    float) got the int 0 at one trunk, and the next write of 0.5 (the next trunk, a ``TrunkScheduleHook``'s next
    value, the best copy's value broadcast after a trunk: only on the ranks whose copy drew 0) was refused mid-run as
    a float over an int. An int written where a float is held is written as a float."""
    runner = _runner()
    AttributeSpace(dict(type='Categorical'), target='model.ops.ratio', choices=[0, 0.5], name='c').check_choices(
        runner, 'model.ops.ratio')
    set_attribute(runner, 'model.ops.ratio', 0)
    assert type(runner.model.ops.ratio) is float and runner.model.ops.ratio == 0.0
    set_attribute(runner, 'model.ops.ratio', 0.5)
    assert runner.model.ops.ratio == 0.5
    set_attribute(runner, 'model.ops.ratio_range', [1, 2])  # element by element: a list of ints over float pairs
    assert runner.model.ops.ratio_range == [1.0, 2.0] and all(type(v) is float for v in runner.model.ops.ratio_range)
    set_attribute(runner, 'model.ops.ratio_range', (0.5, 1.5))
    set_attribute(runner, 'model.ops.ratio_range.0', 1)
    assert runner.model.ops.ratio_range == (1.0, 1.5) and type(runner.model.ops.ratio_range[0]) is float
    set_attribute(runner, 'model.ops.ratio_range.0', 0.5)
    # a TrunkScheduleHook's per-trunk values: every trunk's value checked before training, each written at its trunk
    runner = _runner()
    runner.epoch = runner.iter = 0
    runner.train_loop = SimpleNamespace(dataloader=runner.train_dataloader)
    hook = TrunkScheduleHook(values={'model.ops.ratio': [0, 0.7]}, trunk_epochs=1)
    hook.before_train(runner)
    hook._apply(runner, 1)
    assert runner.model.ops.ratio == 0.7
    set_attribute(runner, 'model.ops.num_ops', 3)  # an int setting stays an int, and a float over it is refused
    assert type(runner.model.ops.num_ops) is int
    with pytest.raises(ValueError, match=r"'model\.ops\.num_ops' holds an int \(3\), and 2\.5 is not an integer"):
        set_attribute(runner, 'model.ops.num_ops', 2.5)


def test_stock_real_valued_settings_written_as_ints_take_a_gaussian():
    """mmdet's photometric / geometric augmentation magnitudes and mmengine's gradient clipping threshold take real
    numbers although their defaults and stock configs write ints (``PhotoMetricDistortion()``'s
    ``brightness_delta=32``, ``YOLOXHSVRandomAug()``'s ``hue_delta=5``, ``Expand``'s ``ratio_range=(1, 4)``,
    ``clip_grad=dict(max_norm=35, norm_type=2)``): mmdet draws ``uniform(-delta, delta)`` from them. A Gaussian on
    them, the augmentation search OHL is for, was refused as a float over an integer setting."""
    from mmdet.datasets.transforms import (
        CachedMixUp,
        CachedMosaic,
        Expand,
        MixUp,
        Mosaic,
        PhotoMetricDistortion,
        RandomAffine,
        YOLOXHSVRandomAug,
    )
    from mmengine.optim import OptimWrapper

    runner = _runner()
    runner.train_dataloader.dataset.pipeline.transforms += [
        PhotoMetricDistortion(), YOLOXHSVRandomAug(), Expand(), RandomAffine(max_rotate_degree=0, max_shear_degree=0),
        Mosaic(pad_val=114), MixUp(pad_val=114), CachedMosaic(pad_val=114), CachedMixUp(pad_val=(114, 114, 114))]
    runner.optim_wrapper = OptimWrapper(runner.optim_wrapper.optimizer, clip_grad=dict(max_norm=35, norm_type=2))
    at = 'train_dataloader.dataset.pipeline.transforms.'
    for path in (at + '1.brightness_delta', at + '1.hue_delta', at + '2.hue_delta', at + '2.saturation_delta',
                 at + '2.value_delta', at + '3.min_ratio', at + '3.max_ratio', at + '4.max_rotate_degree',
                 at + '4.max_shear_degree', at + '4.border_val', at + '5.pad_val', at + '6.pad_val', at + '7.pad_val',
                 at + '8.pad_val', 'optim_wrapper.clip_grad_kwargs.max_norm',
                 'optim_wrapper.clip_grad_kwargs.norm_type'):
        held = get_attribute(runner, path)[0]
        mean = [float(v) for v in held] if isinstance(held, tuple) else [float(held)]
        ranged = path.endswith('max_norm')  # > 0 (setting_ranges._CLIP_GRAD): a Gaussian there takes a transform
        _gaussian(path, [math.log(v) for v in mean] if ranged else mean,
                  **dict(transform='exp') if ranged else {}).check_choices(runner, path)
        set_attribute(runner, path, type(held)(v + 0.5 for v in mean) if isinstance(held, tuple) else mean[0] + 0.5)
    # a count of mmdet's stays an integer setting
    with pytest.raises(ValueError, match=r'holds an int \(100\), but a 1-dimensional DiagGaussian'):
        _gaussian(PASTED).check_choices(runner, PASTED)
