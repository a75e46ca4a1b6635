"""A value that a setting whose constructor checks nothing cannot use is refused when OHL writes it
(:mod:`automl_mm.ohl.unchecked_ranges`), naming the path, the value and the range, before anything is written.

Inputs that showed the fault: ``set_attribute(runner, 'model.loss_cls.gamma', -1.0)`` on mmdet's ``FocalLoss`` was
written and trained with the focusing inverted; ``alpha=1.5`` weighed the negatives -0.5; ``GIoULoss.eps=0`` gave NaN
on an empty overlap; ``RandomSampler.pos_fraction=1.5`` sampled no negatives; a ``test_cfg.score_thr`` of 1.5 kept no
detection; ``hooks.N.interval`` of 0 on a ``LoggerHook`` turned it off; all silently. Legal sentinels stay
writable: ``max_per_img=-1`` where ``multiclass_nms`` reads it, ``CheckpointHook(interval=-1)`` ("never").
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmcv.ops import SigmoidFocalLoss, SoftmaxFocalLoss
from mmdet.engine.hooks import CheckInvalidLossHook, DetVisualizationHook, MeanTeacherHook, MemoryProfilerHook
from mmdet.models.dense_heads import CenterNetHead, RPNHead
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.models.losses import (
    GHMC,
    GHMR,
    BalancedL1Loss,
    BoundedIoULoss,
    CIoULoss,
    DIoULoss,
    EIoULoss,
    FocalLoss,
    GaussianFocalLoss,
    GIoULoss,
    IoULoss,
    QualityFocalLoss,
    SIoULoss,
    VarifocalLoss,
)
from mmdet.models.losses.focal_loss import FocalCustomLoss
from mmdet.models.roi_heads import SparseRoIHead, StandardRoIHead
from mmdet.models.task_modules import (
    ApproxMaxIoUAssigner,
    ATSSAssigner,
    GridAssigner,
    MaxIoUAssigner,
    OHEMSampler,
    RandomSampler,
)
from mmengine.config import ConfigDict
from mmengine.hooks import CheckpointHook, EarlyStoppingHook, LoggerHook
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import check_written_value, get_attribute, set_attribute
from automl_mm.ohl.unchecked_ranges import AT_LEAST_ONE, COUNTS, TEST_CFG_RANGES, UNCHECKED_RANGES, unchecked_range


def _runner(obj):
    return SimpleNamespace(model=nn.Module(), cfg=None, hooks=[LoggerHook(), obj], param_schedulers=[], obj=obj,
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=None)))


def _bare(cls, **attributes):
    """An instance of ``cls`` without its ``__init__`` (which needs psutil or a visualizer), holding
    ``attributes``."""
    obj = object.__new__(cls)
    obj.__dict__.update(attributes)
    return obj


class _Head(BaseDenseHead):
    """An mmdet dense head holding a ``test_cfg`` and ``train_cfg`` (its ``_bbox_post_process`` slices
    ``results[:max_per_img]``)."""

    def __init__(self):
        super().__init__()
        self.test_cfg = ConfigDict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                                   mask_thr_binary=0.5, rcnn=dict(score_thr=0.05, nms=dict(iou_thr=0.5)))
        self.train_cfg = ConfigDict(rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(iou_threshold=0.7)))

    def loss_by_feat(self, *args, **kwargs):
        raise NotImplementedError


_IOU_CALCULATOR = dict(type='BboxOverlaps2D', _scope_='mmdet')


def _assigner(neg_iou_thr=0.4):
    return MaxIoUAssigner(0.5, neg_iou_thr, iou_calculator=_IOU_CALCULATOR)


# (id, build, path below the object, a value out of range, one inside, the range as the message gives it)
ROWS = [
    ('FocalLoss-gamma', FocalLoss, 'gamma', -1.0, 1.5, '[0, inf)'),
    ('FocalLoss-alpha', FocalLoss, 'alpha', 1.5, 0.5, '[0, 1]'),
    ('FocalLoss-alpha-low', FocalLoss, 'alpha', -0.25, 0.0, '[0, 1]'),
    ('FocalCustomLoss-gamma', lambda: FocalCustomLoss(num_classes=3), 'gamma', -0.5, 0.0, '[0, inf)'),
    ('FocalCustomLoss-alpha', lambda: FocalCustomLoss(num_classes=3), 'alpha', 2.0, 1.0, '[0, 1]'),
    ('GaussianFocalLoss-gamma', GaussianFocalLoss, 'gamma', -4.0, 2.0, '[0, inf)'),
    ('GaussianFocalLoss-alpha', GaussianFocalLoss, 'alpha', -2.0, 1.0, '[0, inf)'),
    *[(f'GaussianFocalLoss-{name}', GaussianFocalLoss, name, -1.0, 2.0, '[0, inf)') for name in ('pos_weight',
                                                                                              'neg_weight')],
    ('mmcv-SigmoidFocalLoss-alpha', lambda: SigmoidFocalLoss(2.0, 0.25), 'alpha', 1.5, 0.75, '[0, 1]'),
    ('mmcv-SigmoidFocalLoss-gamma', lambda: SigmoidFocalLoss(2.0, 0.25), 'gamma', -1.0, 1.0, '[0, inf)'),
    ('mmcv-SoftmaxFocalLoss-alpha', lambda: SoftmaxFocalLoss(2.0, 0.25), 'alpha', -0.5, 2.0, '[0, inf)'),
    ('mmcv-SoftmaxFocalLoss-gamma', lambda: SoftmaxFocalLoss(2.0, 0.25), 'gamma', -1.0, 1.0, '[0, inf)'),
    ('BalancedL1Loss-alpha', BalancedL1Loss, 'alpha', 0.0, 1.0, '(0, inf)'),
    ('BalancedL1Loss-gamma', BalancedL1Loss, 'gamma', -1.5, 3.0, '(0, inf)'),
    ('GHMC-momentum', lambda: GHMC(momentum=0.75), 'momentum', 1.0, 0.5, '[0, 1)'),
    ('GHMR-momentum', lambda: GHMR(momentum=0.75), 'momentum', -0.5, 0.0, '[0, 1)'),
    ('QualityFocalLoss-beta', QualityFocalLoss, 'beta', -2.0, 1.0, '[0, inf)'),
    ('VarifocalLoss-gamma', VarifocalLoss, 'gamma', -2.0, 1.0, '[0, inf)'),
    *[(f'{cls.__name__}-eps', cls, 'eps', 0.0, 1e-5, '(0, inf)')
      for cls in (IoULoss, BoundedIoULoss, GIoULoss, DIoULoss, CIoULoss, EIoULoss, SIoULoss)],
    ('torch-CrossEntropyLoss-label_smoothing', nn.CrossEntropyLoss, 'label_smoothing', 1.5, 0.1, '[0, 1]'),
    ('RandomSampler-pos_fraction', lambda: RandomSampler(num=8, pos_fraction=0.25), 'pos_fraction', 1.5, 0.75,
     '[0, 1]'),
    ('OHEMSampler-pos_fraction', lambda: _bare(OHEMSampler, num=8, pos_fraction=0.25), 'pos_fraction', -0.1, 0.5,
     '[0, 1]'),
    ('RandomSampler-num', lambda: RandomSampler(num=8, pos_fraction=0.25), 'num', 0, 16, '[1, inf)'),
    ('MaxIoUAssigner-pos_iou_thr', _assigner, 'pos_iou_thr', 1.5, 0.7, '[0, 1]'),
    ('MaxIoUAssigner-neg_iou_thr', _assigner, 'neg_iou_thr', -0.1, 0.3, '[0, 1]'),
    ('MaxIoUAssigner-neg_iou_thr-pair', lambda: _assigner((0.0, 0.4)), 'neg_iou_thr.1', 1.2, 0.3,
     '[0, 1]'),
    ('MaxIoUAssigner-min_pos_iou', _assigner, 'min_pos_iou', 1.1, 0.3, '[0, 1]'),
    ('ApproxMaxIoUAssigner-pos_iou_thr', lambda: ApproxMaxIoUAssigner(0.5, 0.4, iou_calculator=_IOU_CALCULATOR),
     'pos_iou_thr', -0.5, 0.6, '[0, 1]'),
    *[(f'GridAssigner-{name}', lambda: GridAssigner(0.5, 0.4, iou_calculator=_IOU_CALCULATOR), name, 1.5, 0.2,
       '[0, 1]') for name in ('pos_iou_thr', 'neg_iou_thr', 'min_pos_iou')],
    ('ATSSAssigner-topk', lambda: ATSSAssigner(topk=9, iou_calculator=_IOU_CALCULATOR), 'topk', 0, 5, '[1, inf)'),
    ('CheckInvalidLossHook-interval', CheckInvalidLossHook, 'interval', 0, 10, '[1, inf)'),
    ('MemoryProfilerHook-interval', lambda: _bare(MemoryProfilerHook, interval=50), 'interval', 0, 10, '[1, inf)'),
    ('MeanTeacherHook-interval', MeanTeacherHook, 'interval', 0, 2, '[1, inf)'),
    ('EarlyStoppingHook-patience', lambda: EarlyStoppingHook(monitor='accuracy/top1'), 'patience', 0, 3, '[1, inf)'),
    # min_delta in the config's form (mmengine holds it negated under rule='less'): below 0 either rule's meaning flips
    ('EarlyStoppingHook-min_delta-greater', lambda: EarlyStoppingHook(monitor='accuracy/top1', min_delta=0.1),
     'min_delta', -0.05, 0.05, '[0, inf)'),
    ('EarlyStoppingHook-min_delta-less', lambda: EarlyStoppingHook(monitor='loss', min_delta=0.1), 'min_delta', -0.05,
     0.05, '[0, inf)'),
    ('DetVisualizationHook-interval', lambda: _bare(DetVisualizationHook, interval=50, score_thr=0.3), 'interval',
     0, 10, '[1, inf)'),
    ('DetVisualizationHook-score_thr', lambda: _bare(DetVisualizationHook, interval=50, score_thr=0.3),
     'score_thr', 1.5, 0.5, '[0, 1]'),
    ('test_cfg-score_thr', _Head, 'test_cfg.score_thr', 1.5, 0.3, '[0, 1]'),
    ('test_cfg-rcnn-score_thr', _Head, 'test_cfg.rcnn.score_thr', -0.5, 0.3, '[0, 1]'),
    ('test_cfg-nms-iou_threshold', _Head, 'test_cfg.nms.iou_threshold', 1.2, 0.6, '[0, 1]'),
    ('test_cfg-nms-iou_thr', _Head, 'test_cfg.rcnn.nms.iou_thr', -0.2, 0.6, '[0, 1]'),
    ('test_cfg-mask_thr_binary', _Head, 'test_cfg.mask_thr_binary', 1.5, 0.4, '[0, 1]'),
    ('test_cfg-max_per_img', _Head, 'test_cfg.max_per_img', 0, 50, '[1, inf)'),
    ('train_cfg-rpn_proposal-max_per_img', _Head, 'train_cfg.rpn_proposal.max_per_img', -1, 500, '[1, inf)'),
    ('train_cfg-rpn_proposal-iou_threshold', _Head, 'train_cfg.rpn_proposal.nms.iou_threshold', 1.5, 0.6, '[0, 1]'),
]


@pytest.mark.parametrize('build, attribute, bad, good, interval', [row[1:] for row in ROWS], ids=[r[0] for r in ROWS])
def test_a_value_the_setting_cannot_use_is_refused_when_written_and_one_it_can_is_written(build, attribute, bad,
                                                                                         good, interval):
    runner = _runner(build())
    setting = re.escape(attribute.split('.')[0])
    for path in (f'obj.{attribute}', f'hooks.1.{attribute}'):  # a hook target is hooks.<i>.<attr>
        before = get_attribute(runner, path)
        with pytest.raises(ValueError, match=rf"attribute path '{re.escape(path)}': {re.escape(repr(bad))} lies "
                                             rf'outside {re.escape(interval)} \(\w+\.{setting}'):
            set_attribute(runner, path, bad)
        assert get_attribute(runner, path) == before  # nothing written
        with pytest.raises(ValueError, match='lies outside'):
            check_written_value(runner, path, bad)  # what a space's choices and a replayed schedule are checked with
    set_attribute(runner, f'obj.{attribute}', good)
    assert get_attribute(runner, f'obj.{attribute}') == [good]


def _class_keys(row):
    return {f'{c.__module__.split(".")[0]}.{c.__name__}' for c in type(row[1]()).__mro__}


def test_every_table_entry_has_a_row():
    """Each ``(class, attribute)`` of :data:`UNCHECKED_RANGES` and each key of :data:`TEST_CFG_RANGES` is written out
    of range by a row above (so dropping an entry turns its row red)."""
    covered = {(key, row[2].split('.')[0]) for row in ROWS for key in _class_keys(row)}
    assert {(key, name) for key, names in UNCHECKED_RANGES.items() for name in names} <= covered
    assert set(TEST_CFG_RANGES) <= {row[2].split('.')[-1] for row in ROWS if row[2].startswith('test_cfg.')}


COUNT_IDS = {'RandomSampler-num', 'ATSSAssigner-topk', 'CheckInvalidLossHook-interval',
             'MemoryProfilerHook-interval', 'MeanTeacherHook-interval', 'EarlyStoppingHook-patience',
             'DetVisualizationHook-interval', 'test_cfg-max_per_img'}


@pytest.mark.parametrize('build, attribute, good', [(r[1], r[2], r[4]) for r in ROWS if r[0] in COUNT_IDS],
                         ids=[r[0] for r in ROWS if r[0] in COUNT_IDS])
def test_a_count_keeps_its_integer_check(build, attribute, good):
    """An interval or a number of samples is an integer: 2.5 written there is refused, in its range or not."""
    runner = _runner(build())
    with pytest.raises(ValueError, match=r'is not an integer'):
        set_attribute(runner, f'obj.{attribute}', good + 0.5)
    assert {(k, n) for k, names in COUNTS.items() for n in names} <= {
        (key, r[2]) for r in ROWS if r[0] in COUNT_IDS for key in _class_keys(r)}


def test_a_real_valued_setting_held_as_an_int_takes_a_float():
    """``FocalLoss(gamma=2)`` holds an int; its range is a real one, so 1.5 is written (not refused as a count)."""
    runner = _runner(FocalLoss(gamma=2))
    set_attribute(runner, 'obj.gamma', 1.5)
    assert runner.obj.gamma == 1.5


def test_a_gaussian_that_can_leave_the_range_is_refused_before_the_first_trunk():
    runner = _runner(FocalLoss())
    space = AttributeSpace(dict(type='DiagGaussian', mean=[0.25], std=0.1), target='obj.alpha', name='alpha')
    with pytest.raises(ValueError, match=r"OHL space 'alpha': attribute path 'obj\.alpha'.*leaves \[0, 1\] "
                                         r'\(FocalLoss\.alpha, a balance'):
        space.check_choices(runner, 'obj.alpha')
    AttributeSpace(dict(type='DiagGaussian', mean=[0.5], std=0.3), target='obj.gamma', transform='exp',
                   name='gamma').check_choices(runner, 'obj.gamma')


def test_a_module_without_a_test_cfg_dict_has_no_test_cfg_range():
    """Only a ``test_cfg`` / ``train_cfg`` dict's keys have the ranges: a setting named so elsewhere is free, and
    so is a key of that dict outside the table (``nms_pre``: -1 keeps every box in some heads)."""
    runner = _runner(SimpleNamespace(score_thr=0.5, other_cfg=dict(score_thr=0.5)))
    set_attribute(runner, 'obj.score_thr', 1.5)
    set_attribute(runner, 'obj.other_cfg.score_thr', 1.5)
    assert runner.obj.score_thr == 1.5 and runner.obj.other_cfg['score_thr'] == 1.5
    head = _runner(_Head())
    set_attribute(head, 'obj.train_cfg.rpn_proposal.nms_pre', -1)
    assert head.obj.train_cfg.rpn_proposal.nms_pre == -1


def _two_stage(test_cfg):
    """A two-stage detector (bare: no backbone) whose ``test_cfg.rpn`` / ``rcnn`` its heads share, as mmdet's
    ``TwoStageDetector.__init__`` hands them over."""
    detector = _bare_module(TwoStageDetector, test_cfg=test_cfg)
    detector.rpn_head = _bare_module(RPNHead, test_cfg=test_cfg.rpn)
    detector.roi_head = _bare_module(StandardRoIHead, test_cfg=test_cfg.rcnn)
    return detector


def _bare_module(cls, **attributes):
    """A module of class ``cls`` built without its ``__init__`` (which builds its layers), holding ``attributes``."""
    module = object.__new__(cls)
    nn.Module.__init__(module)
    module.__dict__.update(attributes)
    return module


def test_max_per_img_of_minus_one_is_written_where_multiclass_nms_reads_it():
    """mmdet's RoI heads pass ``max_per_img`` to ``multiclass_nms``, where -1 (its default) keeps every detection;
    it was refused as outside [1, inf). The RPN and a ``SparseRoIHead`` (``topk``) slice with it: still refused."""
    cfg = ConfigDict(rpn=dict(max_per_img=1000), rcnn=dict(score_thr=0.05, max_per_img=100))
    runner = _runner(_two_stage(cfg))
    set_attribute(runner, 'obj.test_cfg.rcnn.max_per_img', -1)
    set_attribute(runner, 'obj.roi_head.test_cfg.max_per_img', 0)
    assert runner.obj.roi_head.test_cfg.max_per_img == 0
    with pytest.raises(ValueError, match=r"'obj\.test_cfg\.rpn\.max_per_img': -1 lies outside \[1, inf\)"):
        set_attribute(runner, 'obj.test_cfg.rpn.max_per_img', -1)
    with pytest.raises(ValueError, match=r'is not an integer'):
        set_attribute(runner, 'obj.test_cfg.rcnn.max_per_img', 50.5)
    single = ConfigDict(max_per_img=100)
    centernet = _runner(_bare_module(SingleStageDetector, test_cfg=single,
                                     bbox_head=_bare_module(CenterNetHead, test_cfg=single)))
    set_attribute(centernet, 'obj.test_cfg.max_per_img', -1)  # CenterNetHead._bboxes_nms: if max_num > 0
    assert centernet.obj.bbox_head.test_cfg.max_per_img == -1
    sparse = _runner(_bare_module(SparseRoIHead, test_cfg=ConfigDict(max_per_img=100)))
    with pytest.raises(ValueError, match=r'-1 lies outside \[1, inf\)'):
        set_attribute(sparse, 'obj.test_cfg.max_per_img', -1)


def test_a_test_cfg_key_of_a_module_outside_mmdet_is_its_own():
    """A user's own module with a ``test_cfg`` dict gives ``score_thr`` its own meaning (a logit margin here)."""
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.test_cfg = dict(score_thr=0.5, max_per_img=-1)

    runner = _runner(Classifier())
    set_attribute(runner, 'obj.test_cfg.score_thr', 2.5)
    set_attribute(runner, 'obj.test_cfg.max_per_img', -1)
    assert runner.obj.test_cfg == dict(score_thr=2.5, max_per_img=-1)


def test_a_checkpoint_interval_of_minus_one_is_mmengines_never():
    """``CheckpointHook(interval=-1)`` is its default, documented as "never" (only the last and best are saved)."""
    runner = _runner(CheckpointHook(interval=2))
    set_attribute(runner, 'obj.interval', -1)
    assert runner.obj.interval == -1
    with pytest.raises(ValueError, match=r'is not an integer'):
        set_attribute(runner, 'obj.interval', 2.5)


def test_a_logger_hooks_interval_is_held_by_its_constructors_range_not_as_unchecked():
    """mmengine's ``LoggerHook`` refuses an ``interval`` (and ``interval_exp_name``) <= 0 in its constructor: the
    range is :data:`~automl_mm.ohl.constructor_ranges.CONSTRUCTOR_RANGES`'s, named as its check; the refusal is the
    same."""
    from automl_mm.ohl.constructor_ranges import constructor_range

    hook = LoggerHook()
    assert unchecked_range(hook, 'interval') is None
    for name in ('interval', 'interval_exp_name'):
        assert constructor_range(hook, name) == (AT_LEAST_ONE, f'LoggerHook.{name}, as mmengine.LoggerHook checks it')
        with pytest.raises(ValueError, match=rf"'hooks\.0\.{name}': 0 lies outside \[1, inf\) \(LoggerHook\.{name}, as "
                                             r'mmengine\.LoggerHook checks it\)'):
            set_attribute(_runner(FocalLoss()), f'hooks.0.{name}', 0)


@pytest.mark.parametrize('monitor, scores', [('loss', (1.0, 0.97)), ('accuracy/top1', (0.5, 0.53))])
def test_an_early_stopping_min_delta_is_written_in_the_configs_form_under_either_rule(monitor, scores):
    """mmengine's ``EarlyStoppingHook`` holds ``min_delta`` negated under ``rule='less'`` (a loss): a written 0.05 was
    held as +0.05 there, which counts a loss up to 0.05 worse than the best as a gain (the best drifts up and the run
    never stops); -0.05 under ``'greater'`` did the same. Written in the config's form, 0.05 means what
    ``min_delta=0.05`` means in the config: a gain of 0.03 is no gain; a negative one is refused."""
    hook = EarlyStoppingHook(monitor=monitor, min_delta=0.1)
    runner = _runner(hook)
    assert get_attribute(runner, 'obj.min_delta') == [0.1]  # the config's form, whatever mmengine holds
    set_attribute(runner, 'obj.min_delta', 0.05)
    assert hook.min_delta == (-0.05 if monitor == 'loss' else 0.05)
    hook.best_score = scores[0]
    hook._check_stop_condition(scores[1])  # improved by 0.03 < min_delta: no gain
    assert (hook.wait_count, hook.best_score) == (1, scores[0])
    with pytest.raises(ValueError, match=r"'obj\.min_delta': -0\.05 lies outside \[0, inf\) \(EarlyStoppingHook\."
                                         r'min_delta, the margin'):
        set_attribute(runner, 'obj.min_delta', -0.05)
    assert hook.min_delta == (-0.05 if monitor == 'loss' else 0.05)


@pytest.mark.parametrize('build, path, choice, use', [
    (FocalLoss, 'obj.gamma', -1.0, 'train with it'),
    (_Head, 'obj.train_cfg.rpn_proposal.max_per_img', 0, 'train with it'),  # the RPN reads it at each training step
    (_Head, 'obj.test_cfg.score_thr', 1.5, 'predict with it (its reward at each trunk end and its validations would '
                                           'score the predictions of that value)'),
    (CheckInvalidLossHook, 'obj.interval', 0, 'run its CheckInvalidLossHook with it'),
    (lambda: EarlyStoppingHook(monitor='loss'), 'obj.patience', 0, 'run its EarlyStoppingHook with it')])
def test_a_choice_out_of_range_is_refused_with_what_a_copy_does_with_it_by_the_settings_use(build, path, choice, use):
    """The refusal said "a copy that drew it would train with it" of a test_cfg's score_thr (read only to predict)
    and of a hook's interval (its schedule) too; a Gaussian's refusal the same."""
    from automl_mm.ohl.value_ranges import check_draws

    runner = _runner(build())
    space = AttributeSpace(dict(type='Categorical'), target=path, choices=[choice, choice + 1], name='s')
    with pytest.raises(ValueError) as err:
        check_draws(space, runner, path)  # a choice's range, after the write checks (check_choices) passed it
    assert str(err.value).endswith(f'; a copy that drew it would {use}'), str(err.value)
    if isinstance(choice, float):  # a real-valued setting: a Gaussian on it
        gaussian = AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=0.1), target=path, name='g')
        with pytest.raises(ValueError, match=rf'the copy that drew such a value would {re.escape(use)} or stop'):
            gaussian.check_choices(runner, path)


def test_a_setting_under_a_val_loader_is_refused_as_predicted_with():
    from mmcv.transforms import RandomFlip

    from automl_mm.ohl.value_ranges import TESTS_WITH_IT, check_draws

    runner = SimpleNamespace(val_dataloader=SimpleNamespace(flip=RandomFlip(prob=0.5)))
    space = AttributeSpace(dict(type='Categorical'), target='val_dataloader.flip.prob', choices=[1.5, 0.5], name='s')
    with pytest.raises(ValueError, match=rf'a copy that drew it would {re.escape(TESTS_WITH_IT)}$'):
        check_draws(space, runner, 'val_dataloader.flip.prob')


@pytest.mark.parametrize('build, path, choice, use', [
    (FocalLoss, 'obj.gamma', -1.0, 'train with it'),
    (_Head, 'obj.test_cfg.score_thr', 1.5, 'predict with it'),
    (CheckInvalidLossHook, 'obj.interval', 0, 'run its CheckInvalidLossHook with it'),
    (LoggerHook, 'obj.interval', 0, 'run its LoggerHook with it')])  # a constructor's range
def test_a_space_refusing_a_choice_at_its_write_check_says_what_a_copy_would_do_with_it(build, path, choice, use):
    """``check_choices`` refuses an out-of-range choice at its write check (``check_written_value``), before
    ``check_draws``: that refusal named no consequence, while ``check_draws``' said it by the setting's use."""
    runner = _runner(build())
    space = AttributeSpace(dict(type='Categorical'), target=path, choices=[choice, choice + 1], name='s')
    with pytest.raises(ValueError, match=rf"^OHL space 's': choice {re.escape(repr(choice))}: attribute path "
                                         rf"'{re.escape(path)}': .* lies outside .*; a copy that drew it would "
                                         rf'{re.escape(use)}'):
        space.check_choices(runner, path)


@pytest.mark.parametrize('holder', ['val_dataloader', 'test_dataloader', 'val_loop', 'test_loop', 'val_evaluator',
                                    'test_evaluator'])
def test_every_holder_read_only_to_validate_or_test_is_predicted_with(holder):
    """Each loop, loader and evaluator a run reads only to validate or test (``_TEST_HOLDERS``): only the val loader
    was tested, and dropping the others from the set left every test green."""
    from mmcv.transforms import RandomFlip

    from automl_mm.ohl.value_ranges import TESTS_WITH_IT, TRAINS_WITH_IT, draw_use

    runner = SimpleNamespace(**{holder: SimpleNamespace(flip=RandomFlip(prob=0.5))},
                             train_dataloader=SimpleNamespace(flip=RandomFlip(prob=0.5)))
    assert draw_use(runner, f'{holder}.flip.prob') == TESTS_WITH_IT
    assert draw_use(runner, 'train_dataloader.flip.prob') == TRAINS_WITH_IT
