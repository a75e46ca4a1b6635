"""Ranges of settings whose constructors check nothing, held against every OHL write of them.

mmdet's losses, samplers and assigners, its heads' ``test_cfg`` and mmengine's / mmdet's hooks keep most numbers as
given: ``FocalLoss(gamma=-1.0)`` builds and trains with the focusing inverted, ``RandomSampler(pos_fraction=1.5)`` asks
for more positives than the batch holds, a ``CheckInvalidLossHook`` interval of 0 never checks. An OHL space or a replay
hook writing such a value onto the built object trained something other than what was searched, silently, or stopped the
run later. :data:`UNCHECKED_RANGES` gives, per class (matched along the owner's MRO by ``'<package>.<class>'``, as
:data:`~automl_mm.ohl.constructor_ranges.CONSTRUCTOR_RANGES`) and attribute, the range of a number written there and why
the values outside it go wrong (the source: mmdet 3.3, mmengine 0.10, torch); :data:`TEST_CFG_RANGES` those of the keys
of a head's or detector's ``test_cfg`` and ``train_cfg`` (``model.roi_head.test_cfg.score_thr``,
``model.test_cfg.rcnn.nms.iou_threshold``, ``model.train_cfg.rpn_proposal.max_per_img``).
:func:`~automl_mm.ohl.setting_ranges.attribute_range` reads both.

Left out, as any value is legal or the sentinel is the config's own: ``MaxIoUAssigner.ignore_iof_thr`` (-1: off),
``neg_pos_ub`` (-1: no bound), ``test_cfg.nms_pre`` (-1 or 0: keep all, by head), ``CheckpointHook.max_keep_ckpts``
(-1: keep all) and ``interval`` (-1, its default, is mmengine's documented "never": only the last and best
checkpoints are saved, as at any value <= 0), ``test_cfg.max_per_img`` where ``multiclass_nms`` or the like reads it
(:data:`_MAX_PER_IMG_KEEPS_ALL`: -1 keeps every detection); a loss's ``loss_weight`` and
``class_weight`` (>= 0, held by
:mod:`automl_mm.ohl.setting_ranges` for every loss module: below 0 a loss or a class is ascended), automl_mm's own
losses' label smoothing and the like (declared :class:`~automl_mm.models.losses.CheckedFloat` with their
interval); mmpretrain's ``LabelSmoothLoss`` is not installed here (torch's ``CrossEntropyLoss.label_smoothing`` is
in the table). The assigner and sampler settings under a ``train_cfg`` dict (``train_cfg.rcnn.sampler.
pos_fraction``) are read only when the head is built and are refused as such
(:mod:`automl_mm.ohl.build_time_targets`): their ranges are those of the built objects.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl_mm.utils.intervals import INF, NON_NEGATIVE, UNIT, UNIT_OPEN, Interval

POSITIVE = Interval(0.0, INF, low_open=True)
AT_LEAST_ONE = Interval(1.0, INF)

_GAMMA = (NON_NEGATIVE, 'a focusing exponent: below 0 the easy examples weigh more than the hard ones (the focusing '
                        'is inverted) and a probability of 0 gives an infinite weight')
_FOCAL_ALPHA = (UNIT, 'a balance between positives (alpha) and negatives (1 - alpha): outside [0, 1] one side gets a '
                      'negative weight and its loss is ascended')
_PART_WEIGHT = (NON_NEGATIVE, 'the weight of the positive or negative part of the loss: below 0 that part is '
                              'ascended')
_EPS = (POSITIVE, "the floor that keeps the IoU from 0 or a denominator from vanishing: at or below 0 IoULoss's "
                  "log mode gives log(0) on an empty overlap, and a degenerate pair of boxes (an empty union or "
                  "enclosing box, a target of width 0) a division by 0: an inf or NaN loss")
_PROB = (UNIT, 'a score, a probability in [0, 1]: above 1 nothing is kept, below 0 what 0 keeps, so the value used '
               'is not the one written')
_IOU = (UNIT, 'an IoU threshold, an IoU lies in [0, 1]: above 1 no box passes, below 0 every box does, as at 1 or 0')
_INTERVAL = (AT_LEAST_ONE, "every n iterations or epochs: mmengine's Hook.every_n_* is False for n <= 0, so 0 or a "
                           'negative interval silently turns the hook off')

#: ``{'<package>.<class>': {attribute: (range, why)}}``; the first class of the owner's MRO with an entry for the
#: attribute gives its range. Sources, each a place that reads the attribute without checking it:
#:
#: * ``mmdet/models/losses/focal_loss.py`` (``py_sigmoid_focal_loss``: ``alpha * t + (1 - alpha) * (1 - t)`` and
#:   ``pt.pow(gamma)``; ``FocalCustomLoss`` the same), ``gaussian_focal_loss.py`` (``gaussian_focal_loss``:
#:   ``(1 - pred).pow(alpha)``, ``(1 - gaussian_target).pow(gamma)``), ``gfocal_loss.py`` (``quality_focal_loss``:
#:   ``scale_factor.pow(beta)``), ``varifocal_loss.py`` (``varifocal_loss``: ``(pred - target).abs().pow(gamma)``;
#:   its ``alpha`` >= 0 is a constructor check, in ``constructor_ranges``); ``gaussian_focal_loss``'s ``pos_weight *
#:   pos_loss + neg_weight * neg_loss``; mmcv's ``ops/csrc/common/cuda/sigmoid_focal_loss_cuda_kernel.cuh`` (``alpha``
#:   and ``1 - alpha`` sides, as mmdet's) and ``softmax_focal_loss_cuda_kernel.cuh`` (``-alpha * pow(1 - p, gamma) *
#:   log(p)``: one factor, no upper bound); ``balanced_l1_loss.py`` (``balanced_l1_loss``: ``b = np.e**(gamma /
#:   alpha) - 1``, ``alpha / b``, ``log(b * diff / beta + 1)``); ``ghm_loss.py`` (``GHMC`` / ``GHMR.forward``:
#:   ``if mmt > 0: acc_sum = mmt * acc_sum + (1 - mmt) * num_in_bin``, ``tot / acc_sum``).
#: * ``mmdet/models/losses/iou_loss.py`` (``iou_loss``: ``clamp(min=eps).log()``; ``giou_loss`` / ``diou_loss`` /
#:   ``ciou_loss`` / ``eiou_loss`` / ``siou_loss``: ``union + eps``, ``enclose_area + eps``; ``bounded_iou_loss``:
#:   ``target_w + eps`` in a division).
#: * ``torch/nn/modules/loss.py`` (``CrossEntropyLoss.forward`` passes ``label_smoothing`` to ``F.cross_entropy``,
#:   which refuses it outside [0, 1] at the forward: the copy that drew it stopped the run mid-trunk).
#: * ``mmdet/models/task_modules/samplers/base_sampler.py`` (``BaseSampler.sample``: ``int(self.num *
#:   self.pos_fraction)`` positives and ``num`` minus those negatives; above 1 more positives than ``num``, no
#:   negatives; below 0 a negative count, no positives).
#: * ``mmdet/models/task_modules/assigners/max_iou_assigner.py`` (``assign_wrt_overlaps``: ``max_overlaps >=
#:   pos_iou_thr``, ``< neg_iou_thr``, ``>= min_pos_iou``; ``ApproxMaxIoUAssigner`` and ``MultiInstanceAssigner``
#:   inherit it), ``grid_assigner.py`` (``GridAssigner.assign``: the same comparisons), ``atss_assigner.py``
#:   (``ATSSAssigner.assign``: ``distances.topk(min(self.topk, priors_per_level))``).
#: * ``mmengine/hooks/hook.py`` (``every_n_epochs`` / ``every_n_train_iters`` / ``every_n_inner_iters``: False for ``n
#:   <= 0``), read by mmdet's ``CheckInvalidLossHook`` and ``MemoryProfilerHook`` (mmengine's ``LoggerHook`` reads it
#:   too, but its constructor refuses an ``interval`` <= 0: ``constructor_ranges``);
#:   ``mmdet/engine/hooks/mean_teacher_hook.py`` (``after_train_iter``: ``(runner.iter + 1) % self.interval``, a
#:   ZeroDivisionError at 0), ``mmengine/hooks/early_stopping_hook.py`` (``after_val_epoch``: ``self.wait_count >=
#:   self.patience`` after ``wait_count += 1``; ``_check_stop_condition``: ``compare(self.best_score + self.min_delta,
#:   current_score)`` counts no gain, else the score becomes the best; ``min_delta`` is held negated under
#:   ``rule='less'`` and written in the config's form: ``stored_forms``) and ``visualization_hook.py``
#:   (``DetVisualizationHook.after_val_iter``: ``% self.interval``; ``score_thr`` a score).
UNCHECKED_RANGES: dict[str, dict[str, tuple[Interval, str]]] = {
    'mmdet.FocalLoss': dict(gamma=_GAMMA, alpha=_FOCAL_ALPHA),
    'mmdet.FocalCustomLoss': dict(gamma=_GAMMA, alpha=_FOCAL_ALPHA),
    'mmdet.GaussianFocalLoss': dict(gamma=_GAMMA, alpha=(NON_NEGATIVE, 'an exponent on the predicted score: below '
                                                                       '0 the focusing is inverted'),
                                    pos_weight=_PART_WEIGHT, neg_weight=_PART_WEIGHT),
    'mmcv.SigmoidFocalLoss': dict(gamma=_GAMMA, alpha=_FOCAL_ALPHA),
    'mmcv.SoftmaxFocalLoss': dict(gamma=_GAMMA, alpha=(NON_NEGATIVE, "a factor on every class's loss (the softmax "
                                                                     'kernel has no 1 - alpha side): below 0 the '
                                                                     'loss is ascended')),
    'mmdet.BalancedL1Loss': dict(alpha=(POSITIVE, 'the denominator of b = e^(gamma / alpha) - 1: at 0 a division by '
                                                  'zero, below 0 b < 0 and the log of a negative number, NaN'),
                                 gamma=(POSITIVE, 'the numerator of b = e^(gamma / alpha) - 1: at 0 b = 0 and alpha '
                                                  '/ b divides by zero, below 0 the log of a negative number, NaN')),
    **{f'mmdet.{name}': dict(momentum=(UNIT_OPEN, 'the moving average of the bin counts: at 1 the average stays 0 '
                                                  'and the weights are tot / 0, inf; below 0 no average is kept, as '
                                                  'at 0')) for name in ('GHMC', 'GHMR')},
    'mmdet.QualityFocalLoss': dict(beta=(NON_NEGATIVE, 'an exponent on the score gap: below 0 the focusing is '
                                                       'inverted and a gap of 0 gives an infinite weight')),
    'mmdet.VarifocalLoss': dict(gamma=_GAMMA),
    **{f'mmdet.{name}': dict(eps=_EPS) for name in ('IoULoss', 'BoundedIoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss',
                                                     'EIoULoss', 'SIoULoss')},
    'torch.CrossEntropyLoss': dict(label_smoothing=(UNIT, "a share of the target mass spread over the classes: torch's "
                                                          'cross_entropy refuses it outside [0, 1] at the forward')),
    'mmdet.BaseSampler': dict(
        pos_fraction=(UNIT, 'the share of positives among the num samples: above 1 the sampler asks for more '
                            'positives than num and takes no negatives, below 0 it takes no positives'),
        num=(AT_LEAST_ONE, 'the number of samples per image: at 0 nothing is sampled and the head trains on '
                           'nothing, below 0 the counts go negative')),
    'mmdet.MaxIoUAssigner': dict(pos_iou_thr=_IOU, neg_iou_thr=_IOU, min_pos_iou=_IOU),
    'mmdet.GridAssigner': dict(pos_iou_thr=_IOU, neg_iou_thr=_IOU, min_pos_iou=_IOU),
    'mmdet.ATSSAssigner': dict(topk=(AT_LEAST_ONE, 'the candidates kept per level: at 0 no prior is a candidate '
                                                   'and every one is negative, below 0 torch.topk raises')),
    'mmdet.CheckInvalidLossHook': dict(interval=_INTERVAL),
    'mmdet.MemoryProfilerHook': dict(interval=_INTERVAL),
    'mmdet.MeanTeacherHook': dict(interval=(AT_LEAST_ONE, 'the teacher is updated every interval iterations: 0 '
                                                          'stops the run with a division by zero')),
    'mmengine.EarlyStoppingHook': dict(patience=(AT_LEAST_ONE, 'the validations without improvement before the run '
                                                               'stops: the count reaches any value below 1 at the '
                                                               'first one, so 0 or -3 stop as 1 does'),
                                       min_delta=(NON_NEGATIVE, "the margin a score must beat the best by to count as "
                                                                "a gain, in the config's form under either rule: "
                                                                'below 0 a worse score counts as a gain and becomes '
                                                                'the best, so the run never stops for want of one')),
    'mmdet.DetVisualizationHook': dict(interval=(AT_LEAST_ONE, 'it draws every interval images: 0 stops the '
                                                               'validation with a division by zero'),
                                       score_thr=_PROB),
}

#: ``{'<package>.<class>': attributes}`` of :data:`UNCHECKED_RANGES` that are counts: integers, whose integer check
#: (:mod:`automl_mm.ohl.integer_settings`) their range does not lift.
COUNTS: dict[str, frozenset[str]] = {
    'mmdet.BaseSampler': frozenset({'num'}),
    'mmdet.ATSSAssigner': frozenset({'topk'}),
    'mmdet.CheckInvalidLossHook': frozenset({'interval'}),
    'mmdet.MemoryProfilerHook': frozenset({'interval'}),
    'mmdet.MeanTeacherHook': frozenset({'interval'}),
    'mmengine.EarlyStoppingHook': frozenset({'patience'}),
    'mmdet.DetVisualizationHook': frozenset({'interval'}),
}

#: ``{last key: (range, why)}`` of a setting under an mmdet module's ``test_cfg`` or ``train_cfg`` (a dict, at any
#: depth: ``test_cfg.score_thr``, ``test_cfg.rcnn.nms.iou_threshold``, ``train_cfg.rpn_proposal.max_per_img``).
#: Sources: ``mmdet/models/layers/bbox_nms.py`` (``multiclass_nms``: ``scores > score_thr``), mmcv's ``nms``
#: (``iou_threshold``, an IoU), ``mmdet/models/roi_heads/mask_heads/fcn_mask_head.py`` (``_predict_by_feat_single``:
#: ``masks >= mask_thr_binary``; below 0 it pastes soft uint8 masks instead, "for visualization and debugging") and
#: ``mmdet/models/dense_heads/rtmdet_ins_head.py`` (``masks > mask_thr_binary``); ``max_per_img`` is
#: :data:`_MAX_PER_IMG`'s, by the module that reads it.
TEST_CFG_RANGES: dict[str, tuple[Interval, str]] = {
    'score_thr': _PROB,
    'iou_threshold': _IOU,
    'iou_thr': _IOU,
    'mask_thr_binary': (UNIT, 'a mask probability threshold: above 1 every mask is empty; below 0 RTMDetInsHead keeps '
                              "every pixel and FCNMaskHead returns soft uint8 masks (its debugging output), not masks"),
    'max_per_img': (AT_LEAST_ONE, 'the detections kept per image: the head that reads it slices its results with it '
                                  '(results[:max_per_img]: 0 keeps none, -1 drops the last one) or takes its topk '
                                  '(-1 raises)'),
}

#: ``{'<package>.<class>': whether max_per_img <= 0 keeps every detection}``, the first class of the reading module's
#: MRO with an entry deciding. mmdet's ``multiclass_nms`` / ``fast_nms`` / ``mask_matrix_nms`` cut at ``max_num``
#: only ``if max_num > 0`` (-1, their default, keeps all): the RoI heads' bbox heads (``BBoxHead`` /
#: ``SABLHead.predict_by_feat``; ``TridentRoIHead`` cuts ``if max_per_img > 0`` too), ``CenterNetHead`` /
#: ``CornerHead._bboxes_nms``, ``SOLOHead`` (``mask_matrix_nms``), ``PAAHead``, ``GuidedAnchorHead`` and
#: ``YOLACTHead``: any integer is legal there. ``SparseRoIHead`` (``topk(max_per_img)``), ``MultiInstanceRoIHead``
#: (``set_nms``: ``[:max_num]``), ``GARPNHead`` (``proposals[:max_per_img]``) and every other head
#: (``BaseDenseHead._bbox_post_process``: ``results[:cfg.max_per_img]``; the DETR heads' ``topk``) hold
#: :data:`TEST_CFG_RANGES`'s ``max_per_img`` range.
_MAX_PER_IMG_KEEPS_ALL: dict[str, bool] = {
    'mmdet.SparseRoIHead': False,
    'mmdet.MultiInstanceRoIHead': False,
    'mmdet.BaseRoIHead': True,
    'mmdet.CenterNetHead': True,
    'mmdet.CornerHead': True,
    'mmdet.SOLOHead': True,
    'mmdet.PAAHead': True,
    'mmdet.GARPNHead': False,
    'mmdet.GuidedAnchorHead': True,
    'mmdet.YOLACTHead': True,
}

#: The attributes whose dict keys :data:`TEST_CFG_RANGES` judges: a head's or detector's ``test_cfg``, and its
#: ``train_cfg``, whose ``rpn_proposal`` (``nms.iou_threshold``, ``max_per_img``: a two-stage detector's
#: ``train_cfg``) the RPN reads at every training step as ``test_cfg`` is read at test.
_CFG_DICTS = ('test_cfg', 'train_cfg')

#: A detector's sub-dict of ``test_cfg`` / ``train_cfg`` and the module it goes to (mmdet's ``TwoStageDetector``
#: hands ``test_cfg.rpn`` to its ``rpn_head`` and ``test_cfg.rcnn`` to its ``roi_head``; ``loss`` reads
#: ``train_cfg.rpn_proposal`` for the ``rpn_head``); a single-stage detector's ``test_cfg`` goes to its ``bbox_head``.
_SUB_CFG_READER = {'rpn': 'rpn_head', 'rpn_proposal': 'rpn_head', 'rcnn': 'roi_head'}


def _qualified(cls: type) -> str:
    return f'{cls.__module__.split(".")[0]}.{cls.__name__}'


def _from_mmdet(owner: Any) -> bool:
    """Whether ``owner`` is an mmdet module (a detector, a head, or a user's subclass of one): the keys of its
    ``test_cfg`` / ``train_cfg`` mean what mmdet reads them as; a dict named so on any other object is its own."""
    return any(cls.__module__.split('.')[0] == 'mmdet' for cls in type(owner).__mro__)


def _max_per_img_keeps_all(owner: Any, parts: list[str]) -> bool:
    """Whether the module that reads ``owner``'s ``<parts>`` (``test_cfg.rcnn.max_per_img``, ...) keeps every
    detection at ``max_per_img <= 0`` (:data:`_MAX_PER_IMG_KEEPS_ALL`)."""
    reader = owner
    if len(parts) > 2 and parts[1] in _SUB_CFG_READER:
        reader = getattr(owner, _SUB_CFG_READER[parts[1]], None) or owner
    elif not any(_qualified(c) in _MAX_PER_IMG_KEEPS_ALL for c in type(owner).__mro__):
        reader = getattr(owner, 'bbox_head', None) or owner
    for cls in type(reader).__mro__:
        keeps_all = _MAX_PER_IMG_KEEPS_ALL.get(_qualified(cls))
        if keeps_all is not None:
            return keeps_all
    return False


def unchecked_range(owner: Any, name: str) -> tuple[Interval, str] | None:
    """``(range, source)`` of the setting ``name`` of ``owner`` (an attribute, or ``test_cfg.<key>...`` /
    ``train_cfg.<key>...`` of an mmdet module, the name the
    tables use: :attr:`~automl_mm.ohl.element_paths.Element.setting`) from :data:`UNCHECKED_RANGES` (the first class
    of its MRO with an entry) or :data:`TEST_CFG_RANGES` (``max_per_img`` only where its reader does not keep every
    detection at 0 or -1), else ``None``; the source names the class, the setting and what goes wrong outside the
    range."""
    for cls in type(owner).__mro__:
        found = UNCHECKED_RANGES.get(_qualified(cls), {}).get(name)
        if found is not None:
            return found[0], f'{type(owner).__name__}.{name}, {found[1]}'
    parts = name.split('.')
    if (len(parts) >= 2 and parts[0] in _CFG_DICTS and isinstance(getattr(owner, parts[0], None), Mapping)
            and _from_mmdet(owner)):
        found = TEST_CFG_RANGES.get(parts[-1])
        if parts[-1] == 'max_per_img' and _max_per_img_keeps_all(owner, parts):
            return None  # multiclass_nms and the like: -1 (their default) or 0 keeps every detection
        if found is not None:
            return found[0], f'{type(owner).__name__}.{name}, {found[1]}'
    return None


def is_unchecked_count(owner: Any, name: str) -> bool:
    """Whether the attribute ``name`` of ``owner`` is a count of :data:`COUNTS`."""
    return any(name in COUNTS.get(_qualified(cls), ()) for cls in type(owner).__mro__)
