"""A value a class's constructor would refuse is refused when OHL writes it onto the built object
(:mod:`automl_mm.ohl.constructor_ranges`), naming the path, the value and the range, before anything is written.

Inputs that showed the fault: ``set_attribute(runner, 'obj.gamma', 0.0)`` on mmdet's ``ExpMomentumEMA`` (whose
``__init__`` asserts ``gamma > 0``) was written, and the next EMA update divided by zero;
``KnowledgeDistillationKLDivLoss.T`` of 0.5, ``Brightness.max_mag`` of 3.0, ``TaskAlignedAssigner.topk`` of 0 and
the rest of :data:`~automl_mm.ohl.constructor_ranges.CONSTRUCTOR_RANGES` were written the same way and trained
silently wrong or stopped deep inside the object.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmcv.cnn.bricks.drop import DropPath
from mmcv.transforms import CenterCrop
from mmdet.datasets.transforms import (
    Brightness,
    CachedMixUp,
    CachedMosaic,
    Color,
    Contrast,
    CutOut,
    Posterize,
    RandomAffine,
    RandomCenterCropPad,
    RandomErasing,
    RandomShift,
    Rotate,
    Sharpness,
    ShearX,
    ShearY,
    Solarize,
    SolarizeAdd,
    TranslateX,
    TranslateY,
)
from mmdet.datasets.transforms import RandomCrop as DetRandomCrop
from mmdet.engine.hooks import MeanTeacherHook
from mmdet.models.layers import DropBlock, ExpMomentumEMA
from mmdet.models.losses import BalancedL1Loss, KnowledgeDistillationKLDivLoss, SmoothL1Loss, VarifocalLoss
from mmdet.models.task_modules import IoUBalancedNegSampler, TaskAlignedAssigner
from mmdet.models.trackers import QuasiDenseTracker
from mmengine.hooks import EMAHook, LoggerHook
from mmengine.model import ExponentialMovingAverage, MomentumAnnealingEMA
from torch import nn

from automl_mm.augment.photometric import Identity
from automl_mm.datasets.transforms import RandomCrop, RandomResizedCrop, ResizeShortEdge
from automl_mm.models.heads import LinearClsHead
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import check_written_value, get_attribute, set_attribute
from automl_mm.ohl.constructor_ranges import CONSTRUCTOR_RANGES, COUNTS, is_count
from automl_mm.ohl.value_ranges import gaussian_on_integer


def _runner(obj):
    return SimpleNamespace(model=nn.Module(), cfg=None, hooks=[], param_schedulers=[], obj=obj,
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=None)))


def _crop_pad():
    return RandomCenterCropPad(crop_size=(32, 32), ratios=(1.0,), mean=[0, 10.5, 20.0], std=[1.0, 1.0, 1.0],
                               to_rgb=True, test_pad_mode=None)


def _task_aligned():
    return TaskAlignedAssigner(topk=13, iou_calculator=dict(type='BboxOverlaps2D', _scope_='mmdet'))


def _mags(cls, high):
    def build():
        return cls(min_mag=0.1 * high, max_mag=0.9 * high)
    return [(f'{cls.__name__}-min', build, 'min_mag', -0.5, 0.2 * high, f'[0, {high:g}]'),
            (f'{cls.__name__}-max', build, 'max_mag', high + 1.0, 0.8 * high, f'[0, {high:g}]')]


# (id, build, attribute path below the object, a value out of range, one inside, the range as the message gives it)
ROWS = [
    ('EMA-momentum', lambda: ExponentialMovingAverage(nn.Linear(1, 1), momentum=0.1), 'momentum', 1.0, 0.2, '(0, 1)'),
    ('annealing-EMA-gamma', lambda: MomentumAnnealingEMA(nn.Linear(1, 1), momentum=0.1), 'gamma', 0.0, 50.0,
     '(0, inf)'),
    ('ExpMomentumEMA-gamma', lambda: ExpMomentumEMA(nn.Linear(1, 1)), 'gamma', 0.0, 100.0, '(0, inf)'),
    ('ExpMomentumEMA-momentum', lambda: ExpMomentumEMA(nn.Linear(1, 1)), 'momentum', 0.0, 0.001, '(0, 1)'),
    ('MeanTeacherHook-momentum', lambda: MeanTeacherHook(), 'momentum', 1.5, 0.01, '(0, 1)'),
    ('EMAHook-begin_iter', EMAHook, 'begin_iter', -1, 100, '[0, inf)'),
    ('EMAHook-begin_epoch', EMAHook, 'begin_epoch', -1, 3, '[0, inf)'),
    ('LoggerHook-interval', LoggerHook, 'interval', -1, 20, '[1, inf)'),
    ('LoggerHook-interval_exp_name', LoggerHook, 'interval_exp_name', 0, 500, '[1, inf)'),
    ('distillation-T', lambda: KnowledgeDistillationKLDivLoss(), 'T', 0.5, 4.0, '[1, inf)'),
    ('Varifocal-alpha', lambda: VarifocalLoss(), 'alpha', -0.1, 0.5, '[0, inf)'),
    ('SmoothL1-beta', lambda: SmoothL1Loss(), 'beta', 0.0, 0.5, '(0, inf)'),
    ('BalancedL1-beta', lambda: BalancedL1Loss(), 'beta', -1.0, 0.5, '(0, inf)'),
    ('DropBlock-drop_prob', lambda: DropBlock(0.1, 3), 'drop_prob', 0.0, 0.3, '(0, 1]'),
    ('DropBlock-warmup_iters', lambda: DropBlock(0.1, 3), 'warmup_iters', -1, 100, '[0, inf)'),
    ('TaskAligned-topk', lambda: _task_aligned(), 'topk', 0, 9, '[1, inf)'),
    ('IoUBalanced-num_bins', lambda: IoUBalancedNegSampler(num=8, pos_fraction=0.25), 'num_bins', 0, 2, '[1, inf)'),
    ('QDTrack-memo_momentum', QuasiDenseTracker, 'memo_momentum', 1.2, 0.5, '[0, 1]'),
    ('QDTrack-tracklet_frames', QuasiDenseTracker, 'memo_tracklet_frames', -1, 5, '[0, inf)'),
    ('QDTrack-backdrop_frames', QuasiDenseTracker, 'memo_backdrop_frames', -1, 2, '[0, inf)'),
    ('ColorTransform-level', lambda: Brightness(level=5), 'level', 11, 3, '[0, 10]'),
    ('GeomTransform-level', lambda: ShearX(level=5), 'level', -1, 3, '[0, 10]'),
    ('GeomTransform-reversal_prob', ShearX, 'reversal_prob', 1.5, 0.25, '[0, 1]'),
    ('GeomTransform-img_border_value', Rotate, 'img_border_value.1', 300.0, 64.0, '[0, 255]'),
    ('GeomTransform-img_border_value-whole', Rotate, 'img_border_value', (1.0, -2.0, 3.0), (1.0, 2.0, 3.0),
     '[0, 255]'),
    *_mags(Color, 2.0), *_mags(Brightness, 2.0), *_mags(Contrast, 2.0), *_mags(Sharpness, 2.0),
    *_mags(Solarize, 256.0), *_mags(SolarizeAdd, 110.0), *_mags(Posterize, 8.0), *_mags(ShearX, 90.0),
    *_mags(ShearY, 90.0), *_mags(Rotate, 180.0), *_mags(TranslateX, 1.0), *_mags(TranslateY, 1.0),
    ('RandomAffine-max_translate_ratio', RandomAffine, 'max_translate_ratio', 1.5, 0.2, '[0, 1]'),
    ('RandomAffine-scaling_ratio_range', RandomAffine, 'scaling_ratio_range.0', 0.0, 0.8, '(0, inf)'),
    ('RandomShift-max_shift_px', RandomShift, 'max_shift_px', -4, 16, '[0, inf)'),
    ('CutOut-n_holes', lambda: CutOut(n_holes=(1, 3), cutout_shape=(4, 4)), 'n_holes', (-1, 3), (0, 2), '[0, inf)'),
    ('RandomErasing-n_patches', lambda: RandomErasing(n_patches=(1, 3), ratio=(0.1, 0.5)), 'n_patches.0', -1, 0,
     '[0, inf)'),
    ('RandomErasing-ratio', lambda: RandomErasing(n_patches=(1, 3), ratio=(0.1, 0.5)), 'ratio.1', 1.5, 0.6,
     '[0, 1]'),
    ('CachedMosaic-max_cached_images', CachedMosaic, 'max_cached_images', 3, 10, '[4, inf)'),
    ('CachedMixUp-max_cached_images', CachedMixUp, 'max_cached_images', 1, 10, '[2, inf)'),
    ('mmdet-RandomCrop-relative', lambda: DetRandomCrop(crop_size=(0.5, 0.5), crop_type='relative'),
     'crop_size.0', 1.5, 0.7, '(0, 1]'),
    ('mmdet-RandomCrop-absolute', lambda: DetRandomCrop(crop_size=(16, 16)), 'crop_size', (0, 16), (8, 8),
     '[1, inf)'),
    ('RandomCenterCropPad-crop_size', _crop_pad, 'crop_size.1', 0, 16, '[1, inf)'),
    ('mmcv-CenterCrop-crop_size', lambda: CenterCrop(crop_size=(8, 8)), 'crop_size.0', 0, 4, '[1, inf)'),
    ('automl_mm-RandomCrop-crop_size', lambda: RandomCrop(crop_size=4), 'crop_size.0', 0, 3, '[1, inf)'),
    ('automl_mm-RandomCrop-padding', lambda: RandomCrop(crop_size=4), 'padding', -1, 2, '[0, inf)'),
    ('automl_mm-RandomCrop-pad_val', lambda: RandomCrop(crop_size=4), 'pad_val', 300, 128, '[0, 255]'),
    ('RandomResizedCrop-scale', lambda: RandomResizedCrop(scale=8), 'scale', 0, 16, '[1, inf)'),
    ('RandomResizedCrop-max_attempts', lambda: RandomResizedCrop(scale=8), 'max_attempts', 0, 3, '[1, inf)'),
    ('RandomResizedCrop-crop_ratio_range', lambda: RandomResizedCrop(scale=8), 'crop_ratio_range.1', 1.5, 0.9,
     '(0, 1]'),
    ('ResizeShortEdge-size', lambda: ResizeShortEdge(size=8), 'size', 0, 12, '[1, inf)'),
    ('augment-op-fill', Identity, 'fill', 256, 0, '[0, 255]'),
    # automl_mm's heads refuse dropout=1 when built; torch's Dropout(p=1) builds and zeroes every feature
    ('head-dropout-p', lambda: LinearClsHead(num_classes=3, in_channels=4, dropout=0.2), 'dropout.p', 1.0, 0.5,
     '[0, 1)'),
    # mmcv's DropPath checks nothing: drop_prob=1 made every kept path NaN, 1.5 dropped as 0.5 does
    ('mmcv-DropPath-drop_prob', lambda: DropPath(0.1), 'drop_prob', 1.0, 0.3, '[0, 1)'),
]


@pytest.mark.parametrize('build, attribute, bad, good, interval', [row[1:] for row in ROWS], ids=[r[0] for r in ROWS])
def test_a_value_the_constructor_refuses_is_refused_when_written_and_one_it_takes_is_written(build, attribute, bad,
                                                                                             good, interval):
    runner = _runner(build())
    path = f'obj.{attribute}'
    before = get_attribute(runner, path)
    with pytest.raises(ValueError, match=rf"attribute path '{re.escape(path)}': {re.escape(repr(bad))} lies outside "
                                         rf'{re.escape(interval)} \(.*(checks it|zeros|nothing)\)'):
        set_attribute(runner, path, bad)
    assert get_attribute(runner, path) == before  # nothing written
    with pytest.raises(ValueError, match='lies outside'):
        check_written_value(runner, path, bad)  # what a space's choices are checked with at setup
    set_attribute(runner, path, good)
    assert get_attribute(runner, path) == [good]


def test_every_table_entry_has_a_row():
    """Each ``(class, attribute)`` of the table is written out of range by a row above (so dropping an entry turns
    its row red)."""
    rows = {(type(row[1]()).__mro__, row[2].split('.')[0]) for row in ROWS}
    covered = {(key, name) for key, names in CONSTRUCTOR_RANGES.items() for name in names
               if any(name == attribute and any(f'{c.__module__.split(".")[0]}.{c.__name__}' == key for c in mro)
                      for mro, attribute in rows)}
    assert covered == {(key, name) for key, names in CONSTRUCTOR_RANGES.items() for name in names}


def test_a_count_with_a_range_keeps_its_integer_check():
    runner = _runner(_task_aligned())
    with pytest.raises(ValueError, match=r"attribute path 'obj\.topk' holds an int \(13\), and 2\.5 is not an "
                                         'integer'):
        set_attribute(runner, 'obj.topk', 2.5)
    assert runner.obj.topk == 13


def test_a_gaussian_that_can_leave_the_constructor_range_is_refused_before_the_first_trunk():
    runner = _runner(ExpMomentumEMA(nn.Linear(1, 1)))
    space = AttributeSpace(dict(type='DiagGaussian', mean=[7.0], std=0.3), target='obj.gamma', name='ema')
    with pytest.raises(ValueError, match=r"OHL space 'ema': attribute path 'obj\.gamma'.*transform=None.*leaves "
                                         r'\(0, inf\) \(ExpMomentumEMA\.gamma, as mmdet\.ExpMomentumEMA checks it\)'):
        space.check_choices(runner, 'obj.gamma')
    AttributeSpace(dict(type='DiagGaussian', mean=[7.0], std=0.3), target='obj.gamma', transform='exp',
                   name='ema').check_choices(runner, 'obj.gamma')


def _floated(value):
    return value + 0.5 if isinstance(value, (int, float)) else tuple(v + 0.5 for v in value)


# the rows of a count (named, not read from COUNTS: dropping an entry there turns its row red)
COUNT_IDS = {'EMAHook-begin_iter', 'EMAHook-begin_epoch', 'LoggerHook-interval', 'LoggerHook-interval_exp_name',
             'DropBlock-warmup_iters', 'TaskAligned-topk', 'IoUBalanced-num_bins', 'QDTrack-tracklet_frames',
             'QDTrack-backdrop_frames', 'ColorTransform-level', 'GeomTransform-level', 'RandomShift-max_shift_px',
             'CutOut-n_holes', 'RandomErasing-n_patches', 'CachedMosaic-max_cached_images',
             'CachedMixUp-max_cached_images', 'mmdet-RandomCrop-absolute', 'RandomCenterCropPad-crop_size',
             'mmcv-CenterCrop-crop_size', 'automl_mm-RandomCrop-crop_size', 'automl_mm-RandomCrop-padding',
             'automl_mm-RandomCrop-pad_val', 'RandomResizedCrop-scale', 'RandomResizedCrop-max_attempts',
             'ResizeShortEdge-size', 'augment-op-fill'}
COUNT_ROWS = [row for row in ROWS if row[0] in COUNT_IDS]


@pytest.mark.parametrize('build, attribute, good', [(r[1], r[2], r[4]) for r in COUNT_ROWS],
                         ids=[r[0] for r in COUNT_ROWS])
def test_every_count_keeps_its_integer_check(build, attribute, good):
    """A count of :data:`COUNTS` (its constructor takes integers) is refused a float inside its range, naming it as
    a count; and every entry of :data:`COUNTS` has a row here (dropping one turns its row red)."""
    with pytest.raises(ValueError, match=r'is not (an|all) integers?.*is a count, an integer in its constructor'):
        set_attribute(_runner(build()), f'obj.{attribute}', _floated(good))


def test_every_count_has_a_row_and_no_other_row_is_a_count():
    assert {row[0] for row in ROWS if is_count(row[1](), row[2].split('.')[0])} == COUNT_IDS
    rows = {(type(row[1]()).__mro__, row[2].split('.')[0]) for row in COUNT_ROWS}
    assert {(key, name) for key, names in COUNTS.items() for name in names} == {
        (key, name) for key, names in COUNTS.items() for name in names
        if any(name == attribute and any(f'{c.__module__.split(".")[0]}.{c.__name__}' == key for c in mro)
               for mro, attribute in rows)}


def test_a_count_holding_none_takes_integers_and_none_only():
    """mmdet's ``level=None`` (a magnitude drawn at each call) is a count all the same: its constructor asserts an
    int level, and 5.5 written there was written (the integer check reads what is held, None)."""
    runner = _runner(Brightness())
    with pytest.raises(ValueError, match=r"'obj\.level' holds None, where a count goes, and 5\.5 is not an integer.*"
                                         r'Brightness\.level is a count'):
        set_attribute(runner, 'obj.level', 5.5)
    assert runner.obj.level is None
    assert gaussian_on_integer(runner, 'obj.level') == 'holds None, where a count goes'  # a Gaussian is refused
    set_attribute(runner, 'obj.level', 5)
    set_attribute(runner, 'obj.level', None)  # back to a drawn magnitude, as the constructor takes
    assert runner.obj.level is None


def test_a_relative_crop_size_held_as_ints_takes_fractions():
    """mmdet's ``RandomCrop(crop_size=(0.5, 1), crop_type='relative_range')``: the 1 is a fraction (the whole
    width), not a count of pixels; under an absolute ``crop_type`` the same int is a count."""
    runner = _runner(DetRandomCrop(crop_size=(0.5, 1), crop_type='relative_range'))
    set_attribute(runner, 'obj.crop_size.1', 0.9)
    assert runner.obj.crop_size[1] == 0.9
    with pytest.raises(ValueError, match='is a count'):
        set_attribute(_runner(DetRandomCrop(crop_size=(16, 16))), 'obj.crop_size.1', 8.5)


def test_a_class_named_as_one_of_the_table_elsewhere_has_no_range_and_a_subclass_inherits_it():
    """The table is keyed by package and class: a user's ``RandomCrop`` is not automl_mm's (whose ``pad_val`` is a
    grey level in [0, 255]); a user's subclass of mmdet's ``CutOut`` is ``CutOut`` (its ``n_holes`` >= 0)."""
    class RandomCrop:  # a user's own, named as mmdet's and automl_mm's
        def __init__(self):
            self.pad_val = 0

    runner = _runner(RandomCrop())
    set_attribute(runner, 'obj.pad_val', 1000)
    assert runner.obj.pad_val == 1000

    class MyCutOut(CutOut):
        pass

    with pytest.raises(ValueError, match=r'lies outside \[0, inf\) \(MyCutOut\.n_holes, as mmdet\.CutOut checks it'):
        set_attribute(_runner(MyCutOut(n_holes=(1, 3), cutout_shape=(4, 4))), 'obj.n_holes', (-1, 3))
