"""Every value an ``AttributeSpace`` can draw lies in the range of what its target writes, checked before the first
trunk (:mod:`automl_mm.ohl.value_ranges`).

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[-0.1], std=0.3),
target='optim_wrapper.optimizer.param_groups.*.momentum', transform='exp')`` passed the start check (it refused only
a Gaussian *without* transform there) although ``exp`` draws above 1: SGD, whose constructor refuses only a negative
momentum, trained with momentum 1.2 and diverged, without a word. The same held for a choice of 1.2, SGD's
``dampening`` above 1 (the update ascends the loss), RMSprop's ``alpha`` above 1 (a negative square average), a
Gaussian on a loss's ``label_smoothing`` (refused only at the trunk that drew it) and on a transform's ``prob``
(above 1: always applied)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from mmcv.transforms import RandomFlip
from mmengine.optim import build_optim_wrapper
from torch import nn

from automl_mm.losses.am_lfs import AMLFSLoss
from automl_mm.models.losses import CrossEntropyLoss, GeneralizedCrossEntropyLoss
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.value_ranges import TRANSFORM_IMAGES
from automl_mm.utils.intervals import Interval

GROUPS = 'optim_wrapper.optimizer.param_groups.*.'
GAUSSIAN = dict(type='DiagGaussian', mean=[-0.1], std=0.3)


def _runner(optimizer='SGD', **kwargs):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    model[0].gain = 1.0  # a float setting of no known range (its weight is a parameter: refused as a target)
    model.loss = CrossEntropyLoss()
    model.gce = GeneralizedCrossEntropyLoss()
    model.am_lfs = AMLFSLoss(num_intervals=2)
    optimizer = dict(type=optimizer, lr=0.1, weight_decay=1e-4, **kwargs)
    wrapper = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=optimizer))
    pipeline = SimpleNamespace(transforms=[RandomFlip(prob=0.5)])
    return SimpleNamespace(model=model, optim_wrapper=wrapper, param_schedulers=[], cfg=None,
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))


def _space(target, transform=None, choices=None):
    distribution = GAUSSIAN if choices is None else dict(type='Categorical')
    return AttributeSpace(distribution, target=target, transform=transform, choices=choices, name='searched')


@pytest.mark.parametrize('optimizer, kwargs, path, transform, interval', [
    ('SGD', dict(momentum=0.9), GROUPS + 'momentum', 'exp', r'\[0, 1\)'),  # exp draws above 1
    ('SGD', dict(momentum=0.9), GROUPS + 'momentum', 'pow10', r'\[0, 1\)'),
    ('SGD', dict(momentum=0.9), GROUPS + 'dampening', 'exp', r'\[0, 1\]'),
    ('RMSprop', {}, GROUPS + 'alpha', 'exp', r'\[0, 1\]'),
    ('RMSprop', {}, GROUPS + 'momentum', None, r'\[0, 1\)'),
    ('Adadelta', {}, GROUPS + 'rho', 'exp', r'\[0, 1\]'),
    ('Adam', {}, GROUPS + 'betas.1', 'exp', r'\[0, 1\)'),
    ('Adagrad', {}, GROUPS + 'lr_decay', None, r'\[0, inf\)'),
    ('SGD', {}, 'optim_wrapper.optimizer.lr', None, r'\[0, inf\)'),  # the base form
])
def test_a_gaussian_whose_transform_leaves_the_optimiser_key_range_is_refused_at_start(optimizer, kwargs, path,
                                                                                       transform, interval):
    runner = _runner(optimizer, **kwargs)
    key = path.split('.')[-1] if not path.endswith('.1') else 'betas'
    with pytest.raises(ValueError, match=rf"OHL space 'searched': attribute path '{re_path(path)}'.*"
                                         rf"transform={transform!r}.*leaves {interval} \(torch\.optim\.{optimizer}'s "
                                         rf'{key}\)'):
        _space(path, transform).check_choices(runner, path)


def re_path(path):
    return path.replace('.', r'\.').replace('*', r'\*')


@pytest.mark.parametrize('optimizer, path, transform', [
    ('SGD', GROUPS + 'lr', 'exp'), ('SGD', GROUPS + 'weight_decay', 'pow10'), ('Adam', GROUPS + 'eps', 'exp'),
    ('Adagrad', GROUPS + 'lr_decay', 'exp'), ('SGD', 'optim_wrapper.optimizer.weight_decay', 'exp'),
])
def test_a_gaussian_whose_transform_stays_inside_the_range_passes(optimizer, path, transform):
    _space(path, transform).check_choices(_runner(optimizer), path)


@pytest.mark.parametrize('optimizer, path, value, message', [
    ('SGD', GROUPS + 'momentum', 1.5, r'momentum=1\.5 lies outside \[0, 1\)'),
    ('SGD', GROUPS + 'momentum', 1.0, r'momentum=1\.0 lies outside \[0, 1\)'),  # never forgets a gradient
    ('SGD', GROUPS + 'dampening', 1.5, r'dampening=1\.5 lies outside \[0, 1\]'),
    ('RMSprop', GROUPS + 'alpha', 1.5, r'alpha=1\.5 lies outside \[0, 1\]'),
])
def test_a_written_value_torch_accepts_but_cannot_use_is_refused_and_nothing_is_written(optimizer, path, value,
                                                                                        message):
    runner = _runner(optimizer, **({'momentum': 0.9} if optimizer == 'SGD' else {}))
    key = path.split('.')[-1]
    before = [group[key] for group in runner.optim_wrapper.optimizer.param_groups]
    with pytest.raises(ValueError, match=rf"attribute path '{re_path(path)}'.*{message}"):
        set_attribute(runner, path, value)
    assert [group[key] for group in runner.optim_wrapper.optimizer.param_groups] == before


def test_choices_outside_the_range_are_refused_at_start_and_choices_inside_pass():
    runner = _runner('SGD', momentum=0.9)
    with pytest.raises(ValueError, match=r"OHL space 'searched': choice 1\.2: .*momentum=1\.2 lies outside \[0, 1\)"):
        _space(GROUPS + 'momentum', choices=[0.9, 1.2]).check_choices(runner, GROUPS + 'momentum')
    _space(GROUPS + 'momentum', choices=[0.0, 0.9, 0.99]).check_choices(runner, GROUPS + 'momentum')
    set_attribute(runner, GROUPS + 'momentum', 0.99)
    assert runner.optim_wrapper.optimizer.param_groups[0]['momentum'] == 0.99


@pytest.mark.parametrize('path, transform, choices, interval', [
    ('model.loss.label_smoothing', None, None, r'\[0, 1\)'),
    ('model.loss.label_smoothing', 'exp', None, r'\[0, 1\)'),
    ('model.loss.loss_weight', None, None, r'\[0, inf\)'),
    ('model.gce.q', 'exp', None, r'\(0, 1\]'),
    ('model.1.p', None, None, r'\[0, 1\)'),  # torch's Dropout (at 1 training sees only zeros)
    ('model.am_lfs.eps', 'exp', None, r'\(0, 1\) \(AMLFSLoss\.eps\)'),  # AM-LFS's loss parameters
    ('model.loss.label_smoothing', None, [0.0, 1.0], r'\[0, 1\)'),
])
def test_a_model_attribute_draw_outside_its_range_is_refused_when_the_space_resolves(path, transform, choices,
                                                                                      interval):
    with pytest.raises(ValueError, match=rf"OHL space 'searched': attribute path '{re_path(path)}'.*{interval}"):
        _space(path, transform, choices).resolve(_runner())


@pytest.mark.parametrize('path, transform, choices', [
    ('model.loss.loss_weight', 'exp', None), ('model.loss.label_smoothing', None, [0.0, 0.1, 0.2]),
    ('model.0.gain', None, None),  # no known range: not checked
])
def test_a_model_attribute_draw_inside_its_range_resolves(path, transform, choices):
    _space(path, transform, choices).resolve(_runner())


def test_a_transform_prob_outside_zero_one_is_refused_and_inside_passes():
    runner, path = _runner(), 'train_dataloader.dataset.pipeline.transforms.0.prob'
    with pytest.raises(ValueError, match=r"transforms\.0\.prob'.*transform='exp'.*leaves \[0, 1\] \(RandomFlip\.prob"):
        _space(path, 'exp').check_choices(runner, path)
    with pytest.raises(ValueError, match=r"choice 1\.5: attribute path '.*prob': 1\.5 lies outside \[0, 1\]"):
        _space(path, choices=[0.5, 1.5]).check_choices(runner, path)
    _space(path, choices=[0.0, 0.5, 1.0]).check_choices(runner, path)


def test_transform_images_hold_what_the_space_writes():
    """The image each transform is compared by holds every value ``value_of`` writes (exp and 10**x of a sample
    far below the mean are still > 0, of one far above still finite), and no value outside it is written."""
    for transform, image in TRANSFORM_IMAGES.items():
        space = _space('model.0.gain', transform)
        for sample in (-30.0, -1.0, 0.0, 1.0, 30.0):
            value = space.value_of(torch.tensor([sample], dtype=torch.float64))
            assert image.contains(value) and math.isfinite(value), (transform, sample, value)
    assert not TRANSFORM_IMAGES['exp'].contains(0.0) and Interval(0.0, 1.0).covers(Interval(0.0, 1.0, True, True))
    assert not Interval(0.0, 1.0, high_open=True).covers(TRANSFORM_IMAGES['exp'])


@pytest.mark.parametrize('transform, inverse', [(None, lambda v: v), ('exp', math.log), ('pow10', math.log10)])
def test_the_statistic_reinforce_reads_is_the_sample_behind_the_written_value(transform, inverse):
    """Under every transform the controller's statistic [count, Σx, Σx²] is the Gaussian's own sample x (whose
    log-density θ drew it with), and x maps to the value the copy trained with."""
    runner = _runner()
    runner.model.temperature = 1.0  # an attribute with no known range
    space = _space('model.temperature', transform)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(3))
    x = inverse(runner.model.temperature)
    torch.testing.assert_close(space.trunk_stats(), torch.tensor([1.0, x, x * x], dtype=torch.float64))
    assert space.applied_values() == {'model.temperature': runner.model.temperature}


def test_a_value_outside_a_transform_prob_is_refused_when_written_and_nothing_is_written():
    runner, path = _runner(), 'train_dataloader.dataset.pipeline.transforms.0.prob'
    with pytest.raises(ValueError, match=r"transforms\.0\.prob': 1\.5 lies outside \[0, 1\] \(RandomFlip\.prob"):
        SetAttributesHook({path: 1.5}).before_train(runner)
    assert runner.train_dataloader.dataset.pipeline.transforms[0].prob == 0.5
    set_attribute(runner, path, 1.0)
    assert runner.train_dataloader.dataset.pipeline.transforms[0].prob == 1.0


@pytest.mark.parametrize('path, values, message', [
    (GROUPS + 'momentum', [0.9, 0.9, 1.2], r'trunk 2: .*momentum=1\.2 lies outside \[0, 1\)'),
    ('model.loss.label_smoothing', [0.1, 1.5], r"trunk 1: attribute path 'model\.loss\.label_smoothing': 1\.5 lies "
                                               r'outside \[0, 1\) \(CrossEntropyLoss\.label_smoothing\)'),
])
def test_a_replayed_schedule_is_checked_trunk_by_trunk_at_start(path, values, message):
    runner = _runner('SGD', momentum=0.9)
    runner.train_loop, runner.epoch, runner.iter = SimpleNamespace(), 0, 0
    with pytest.raises(ValueError, match=rf'TrunkScheduleHook: {message}'):
        TrunkScheduleHook({path: values}, trunk_iters=2).before_train(runner)
    TrunkScheduleHook({path: values[:-1]}, trunk_iters=2).before_train(runner)  # the values inside pass


def test_an_mmdet_loss_weight_is_kept_at_or_above_zero():
    """mmdet's losses keep ``loss_weight`` as a plain float: a Gaussian without transform on it drew negative
    weights, and the copy ascended the box loss without a word."""
    from mmdet.models.losses import L1Loss

    runner = _runner()
    runner.model.loss_bbox = L1Loss(loss_weight=1.0)
    path = 'model.loss_bbox.loss_weight'
    with pytest.raises(ValueError, match=r"transform=None.*leaves \[0, inf\) \(L1Loss\.loss_weight, a loss weight"):
        _space(path).resolve(runner)
    _space(path, 'exp').resolve(runner)
    with pytest.raises(ValueError, match=r"'model\.loss_bbox\.loss_weight': -0\.5 lies outside \[0, inf\)"):
        set_attribute(runner, path, -0.5)
    set_attribute(runner, path, 0.0)
    assert runner.model.loss_bbox.loss_weight == 0.0


def _scheduled_runner(**schedulers):
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR, PolyLR, StepLR

    runner = _runner('SGD', momentum=0.9)
    built = dict(cosine=lambda: CosineAnnealingLR(runner.optim_wrapper, T_max=10, eta_min=0.0),
                 ratio=lambda: CosineAnnealingLR(runner.optim_wrapper, T_max=10, eta_min_ratio=0.01),
                 poly=lambda: PolyLR(runner.optim_wrapper, power=1.0, end=10),
                 step=lambda: StepLR(runner.optim_wrapper, step_size=2, gamma=0.5),
                 linear=lambda: LinearLR(runner.optim_wrapper, start_factor=0.1, end=2))
    runner.param_schedulers = [built[name]() for name in schedulers]
    return runner


@pytest.mark.parametrize('scheduler, key, transform, choices, message', [
    # a Gaussian eta_min without transform drew a negative lr floor: the cosine ended in gradient ascent
    ('cosine', 'eta_min', None, None, r"leaves \[0, inf\) \(CosineAnnealingLR\.eta_min, the floor of "
                                      r"torch\.optim\.SGD's lr\)"),
    # eta_min_ratio likewise: the floor is base × ratio (a Gaussian drew a negative one)
    ('ratio', 'eta_min_ratio', None, None, r'leaves \[0, inf\) \(CosineAnnealingLR\.eta_min_ratio, the floor over '
                                           r'the base value'),
    ('ratio', 'eta_min_ratio', None, [0.01, -0.01], r'-0\.01 lies outside \[0, inf\) \(CosineAnnealingLR\.eta_min_'),
    # PolyLR's power: (1 - 1 / (T - t + 1)) ** power, so a negative one raised the lr at every step
    ('poly', 'power', None, [1.0, -1.0], r'-1\.0 lies outside \[0, inf\) \(PolyLR\.power, the decay exponent'),
    ('step', 'gamma', None, None, r'leaves \[0, inf\) \(StepLR\.gamma'),
    ('step', 'gamma', None, [0.5, -0.5], r'-0\.5 lies outside \[0, inf\) \(StepLR\.gamma'),
    ('linear', 'start_factor', 'exp', None, r"leaves \[0, 1\] \(LinearLR\.start_factor \(mmengine's check\)\)"),
])
def test_a_draw_outside_a_parameter_scheduler_range_is_refused_at_start(scheduler, key, transform, choices, message):
    runner, path = _scheduled_runner(**{scheduler: True}), f'param_schedulers.0.{key}'
    with pytest.raises(ValueError, match=rf"OHL space 'searched': .*attribute path '{re_path(path)}'.*{message}"):
        _space(path, transform, choices).check_choices(runner, path)


def test_a_parameter_scheduler_value_inside_its_range_passes_and_a_negative_gamma_is_not_written():
    runner = _scheduled_runner(cosine=True, step=True)
    _space('param_schedulers.0.eta_min', 'exp').check_choices(runner, 'param_schedulers.0.eta_min')
    _space('param_schedulers.1.gamma', choices=[0.1, 0.5]).check_choices(runner, 'param_schedulers.1.gamma')
    with pytest.raises(ValueError, match=r"'param_schedulers\.1\.gamma': -0\.5 lies outside \[0, inf\)"):
        set_attribute(runner, 'param_schedulers.1.gamma', -0.5)
    assert runner.param_schedulers[1].gamma == 0.5


def test_an_augmentation_magnitude_stays_in_its_magnitude_range():
    from automl_mm.augment.ops import Rotate

    runner = _runner()
    runner.op = Rotate(30.0)
    with pytest.raises(ValueError, match=r"'op\.magnitude'.*transform='exp'.*leaves \[0, 180\] \(Rotate\."
                                         r'magnitude_range\)'):
        _space('op.magnitude', 'exp').check_choices(runner, 'op.magnitude')
    with pytest.raises(ValueError, match=r"'op\.magnitude': 270\.0 lies outside \[0, 180\]"):
        set_attribute(runner, 'op.magnitude', 270.0)
    _space('op.magnitude', choices=[0.0, 30.0, 180.0]).check_choices(runner, 'op.magnitude')
