"""The NAS loops' ``train_cfg.metric_rule``: a lower-is-better search metric (an error, a loss) keeps the
candidates of the LOWEST score. Before the rule existed every pool kept the highest: a search on
``metric_key='error/top1'`` exported the architecture of the highest error."""
from __future__ import annotations

import json
import math
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from torch import nn

from automl_mm.nas import loop as loop_module
from automl_mm.nas import search_step  # run_step's module: its warnings are patched there
from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.samplers import UniformPathSampler
from automl_mm.nas.scoring import PathEvaluator, potential
from automl_mm.nas.spaces import LayerwiseSpace

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
ERROR = {0: 0.30, 1: 0.05, 2: 0.60}  # the planted optimum: option 1 has the LOWEST error


def _scored_pool(rule: str) -> PartialArchitecturePool:
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule=rule)
    for c in pool.candidates():
        pool.record(c, ERROR[c[0]])
    return pool


def test_the_pool_keeps_the_lowest_error_under_less_and_the_highest_under_greater():
    assert _scored_pool('less').select() == [(1,), (0,)]
    assert _scored_pool('greater').select() == [(2,), (0,)]
    pool = _scored_pool('less')
    pool.select()
    assert pool.history[-1]['candidates'][0] == [[1], 0.05]  # recorded as measured, best first


def test_under_less_no_admitted_completion_and_no_metrics_rank_last():
    """-inf (no completion within the cost limit) is not the lowest error, and a candidate whose evaluations gave
    no metrics (scored 0) is not a perfect one."""
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=3, rule='less')
    pool.record((0,), float('-inf'))
    pool.record((1,), 0.0, empty=True)
    pool.record((2,), 0.4)
    assert [c for c, _ in pool.ranking()] == [(2,), (1,), (0,)]
    assert pool.select() == [(2,), (1,)]


class _SearchSplit:
    """A stand-in for a built :class:`~automl_mm.engine.evaluate.HeldOutEvaluator` of an error metric over 2
    batches: path ``(p,)`` reads ``ERROR[p]`` on every batch, except that path 0 gets no metrics on batch 1 (mmdet's
    ``CocoMetric`` returns nothing when no box is predicted). Paths are applied by :class:`_Space`."""
    metric_key = 'error/top1'
    loader = [0, 1]
    path: tuple = ()

    def score(self, model, batches):
        batch = list(batches)[0]
        if self.path[0] == 0 and batch == 1:
            return 0.0, True
        return ERROR[self.path[0]], False


def _evaluator(rule: str) -> PathEvaluator:
    split = _SearchSplit()
    space = SimpleNamespace(apply=lambda path, model: setattr(split, 'path', tuple(path)))
    return PathEvaluator(nn.Identity(), space, split, batches_per_sample=1, rule=rule)


def test_under_less_an_empty_evaluation_scores_the_worst_not_a_perfect_0():
    """Path 0 (error 0.30, no metrics on its second batch) against path 2 (error 0.60 on both): under 'less' the
    potential of path 0 averaged a 0 in, 0.15, a better error than path 2's and even than the planted optimum's, and
    the pool kept it first. Now the empty evaluation is +inf and path 0 ranks after every finite potential; under
    'greater' (an accuracy, an mAP) it still scores 0, the lowest value."""
    space = LayerwiseSpace([[0, 1, 2]])
    sampler = UniformPathSampler(space)
    evaluate = _evaluator('less')
    potentials = {(p,): potential((p,), sampler, evaluate, 2, np.random.default_rng(0)) for p in range(3)}
    assert potentials == {(0,): math.inf, (1,): 0.05, (2,): 0.60}
    assert evaluate.empty_evaluations == 1
    pool = PartialArchitecturePool(space, pool_size=3, rule='less')
    for candidate, value in potentials.items():
        pool.record(candidate, value)
    assert [c for c, _ in pool.ranking()] == [(1,), (2,), (0,)]
    assert pool.select() == [(1,), (2,), (0,)]  # kept only after every finite one
    assert pool.history[-1]['candidates'] == [[[1], 0.05], [[2], 0.60], [[0], None]]  # JSON has no infinity
    assert potential((0,), sampler, _evaluator('greater'), 2, np.random.default_rng(0)) == pytest.approx(0.15)
    with pytest.raises(ValueError, match=r"PathEvaluator rule must be one of \('greater', 'less'\)"):
        _evaluator('min')
    # the search loops score with their train_cfg.metric_rule
    search = SimpleNamespace(runner=SimpleNamespace(model=nn.Identity()), metric_rule='less',
                             held_out=SimpleNamespace(build=lambda runner: _SearchSplit()),
                             bn_recalibration_batches=0, _bn_loader=lambda: None, readings={})
    assert loop_module.SearchLoopBase.path_evaluator(search, space, 1).empty_score == math.inf


def test_under_less_inf_ranks_before_no_admitted_completion_and_is_refused_under_greater():
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=2, rule='less')
    pool.record((0,), -math.inf)  # no completion within the cost limit: never kept
    pool.record((1,), math.inf)  # an evaluation with no metrics: the worst score, still an architecture
    pool.record((2,), 0.9)
    assert pool.select() == [(2,), (1,)]
    with pytest.raises(ValueError, match=r'candidate \(0,\) scored inf'):
        PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=2).record((0,), math.inf)


def test_a_less_step_where_every_candidate_had_an_empty_evaluation_is_refused(monkeypatch):
    """Every candidate +inf is a tie-break, refused as a step whose every evaluation was empty is; a step with one
    finite candidate warns, naming how many scored +inf."""
    warnings = []
    monkeypatch.setattr(search_step, 'warn', warnings.append)
    stand_in = SimpleNamespace(metric_key='error/top1', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1, rule='less')
    with pytest.raises(RuntimeError, match=r"\[step\] every one of the 2 candidates with an admitted completion "
                                           r"had an evaluation that gave no metrics.*error/top1=\+inf"):
        loop_module.SearchLoopBase.run_step(stand_in, 'step', pool,
                                            lambda c: [math.inf, -math.inf, math.inf][c[0]], str)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1, rule='less')
    loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c: [math.inf, 0.7, math.inf][c[0]], str)
    assert pool.pool == [(1,)]
    assert any('2 in some evaluation: they score +inf' in w for w in warnings), warnings


def test_a_resume_under_another_rule_is_refused():
    state = _scored_pool('greater').state_dict()
    with pytest.raises(ValueError, match=r"train_cfg\.metric_rule='greater'\), this run ranks by "
                                         r"train_cfg\.metric_rule='less' \(as set, or inferred from "
                                         r"train_cfg\.metric_key's name"):
        PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule='less').load_state_dict(state)
    state.pop('rule')  # a checkpoint from before the rule: it kept the highest
    with pytest.raises(ValueError, match='metric_rule'):
        PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule='less').load_state_dict(state)


def _pc_nas(work_dir: str, **train_cfg) -> dict:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_cfg.update(warmup_iters=8, stage_iters=2, pool_size=2, num_samples=2, batches_per_sample=2,
                         checkpoint_interval_s=1e9, **train_cfg)
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    Runner.from_cfg(cfg).train()
    with open(osp.join(work_dir, 'search', 'pc_nas_result.json')) as f:
        return json.load(f)


def test_pc_nas_on_an_error_metric_exports_the_lowest_error_path(tmp_path):
    """A real PC-NAS run whose search metric is named ``error/top1`` (the accuracy, reported under that prefix: its
    lowest value is at the path of the lowest accuracy, a planted optimum the run cannot reach by maximising):
    ``metric_rule`` is inferred 'less' and every step keeps its lowest potentials. Red before the rule: the run
    kept the highest."""
    result = _pc_nas(str(tmp_path), metric_key='error/top1',
                     search_evaluator=dict(type='Accuracy', topk=(1, ), prefix='error'))
    ranked = 0
    for step in result['history']:
        scores = [s for _, s in step['candidates'] if s is not None]
        kept = [s for c, s in step['candidates'] if c in step['pool']]
        assert sorted(kept) == sorted(scores)[:len(kept)]
        ranked += len(set(scores)) > 1
    assert ranked  # some step told its candidates apart (ties everywhere would pass under either rule)
    assert result['metric_rule'] == 'less'


def test_an_invalid_rule_is_refused_at_start_naming_the_key(tmp_path):
    with pytest.raises(Exception, match=r"train_cfg\.metric_rule must be 'greater'.*got 'min' for "
                                        r"train_cfg\.metric_key='accuracy/top1'"):
        _pc_nas(str(tmp_path), metric_rule='min')


def test_a_step_without_metrics_names_the_training_length_and_score_threshold_keys():
    """A tiny search (a CR-NAS Faster R-CNN supernet trained 20 iterations, as a user cuts the README's command)
    predicts no box above mmdet's ``score_thr=0.05``; the refusal named no key to change ("train it longer", "the
    model's test_cfg score threshold"). It names the length keys the loop passes and every ``score_thr`` of
    ``model``'s ``test_cfg`` entries, with their values."""
    model = dict(type='FasterRCNN', test_cfg=dict(rpn=dict(nms_pre=500), rcnn=dict(score_thr=0.05, max_per_img=50)),
                 train_cfg=dict(rcnn=dict(score_thr=0.9)), roi_head=dict(test_cfg=None))
    assert loop_module.score_threshold_keys(model) == ['model.test_cfg.rcnn.score_thr=0.05']  # not train_cfg's
    assert loop_module.score_threshold_keys(dict(type='RetinaNet', test_cfg=dict(score_thr=0))) == [
        'model.test_cfg.score_thr=0']
    assert loop_module.score_threshold_keys(dict(type='ImageClassifier')) == []
    stand_in = SimpleNamespace(metric_key='coco/bbox_mAP', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0, runner=SimpleNamespace(cfg=Config(
                                   dict(model=model))))
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=1, rule='less')
    with pytest.raises(RuntimeError) as err:
        loop_module.SearchLoopBase.run_step(stand_in, 'stage_search', pool, lambda c: math.inf, str,
                                            trained_by='train_cfg.stage_iters=20')
    assert ("train the supernet longer (train_cfg.stage_iters=20), lower the model's score threshold "
            "(model.test_cfg.rcnn.score_thr=0.05, e.g. to 0.0 with --cfg-options)") in str(err.value)



@pytest.mark.parametrize('empty_first', [True, False])
def test_under_greater_an_empty_evaluation_beside_negative_readings_is_refused(empty_first, monkeypatch):
    """Under 'greater' an empty evaluation scores 0, the worst of an AP or an accuracy; of a metric that reads
    negative values (a log-likelihood) that 0 ranked the candidate that read nothing above every other. Both seen,
    in either order, the search stops naming the metric; an empty evaluation beside non-negative readings scores 0."""
    evaluate = _evaluator('greater')
    assert evaluate((0,), 1) == 0.0 and evaluate((1,), 0) == ERROR[1]  # non-negative readings: the empty 0 stays
    monkeypatch.setitem(globals(), 'ERROR', {0: -0.3, 1: -0.05, 2: -0.6})  # path 0 is empty on its second batch
    evaluate = _evaluator('greater')
    first, second = (((0,), 1), ((1,), 0)) if empty_first else (((1,), 0), ((0,), 1))
    evaluate(*first)
    with pytest.raises(RuntimeError, match=r'error/top1 reads negative values .*gave no metrics'):
        evaluate(*second)


# mmdet 3.3's own lower-is-better keys, as its metrics report them: CrowdHumanMetric's log-average miss rate
# (``eval_results['mMR']``, prefix 'crowd_human'; evaluation/metrics/crowdhuman_metric.py) and MOTChallengeMetric's
# error counts (CLEAR's IDSW / FP / FN / Frag / ML, Identity's IDFP / IDFN; prefix 'motchallenge-metric')
MMDET_LOWER = ['crowd_human/mMR', 'motchallenge-metric/IDSW', 'motchallenge-metric/FP', 'motchallenge-metric/FN',
               'motchallenge-metric/Frag', 'motchallenge-metric/ML', 'motchallenge-metric/IDFP',
               'motchallenge-metric/IDFN']
# ... and their higher-is-better neighbours (TrackEval's MOTP is a mean IoU similarity); the abbreviations count as
# the metric's own name only, not as a prefix
MMDET_HIGHER = ['ml/accuracy', 'fp/top1', 'crowd_human/mAP', 'crowd_human/JI', 'motchallenge-metric/HOTA',
                'motchallenge-metric/MOTA', 'motchallenge-metric/MOTP', 'motchallenge-metric/IDF1',
                'motchallenge-metric/MT', 'motchallenge-metric/TP', 'motchallenge-metric/IDTP',
                'motchallenge-metric/IDP', 'motchallenge-metric/IDR', 'motchallenge-metric/AssA',
                'motchallenge-metric/DetA']


@pytest.mark.parametrize('key', MMDET_LOWER)
def test_mmdets_miss_rate_and_error_counts_keep_the_lowest(key):
    """A search on ``metric_key='crowd_human/mMR'`` (mmdet's CrowdHuman miss rate: lower is better) inferred
    ``metric_rule='greater'``: no token of the key was a known lower-is-better name, so every pool kept the
    candidates of the HIGHEST miss rate and the search exported the worst detector it scored. Red before mmdet's
    lower-is-better names were added (every key here read 'greater')."""
    from automl_mm.utils.metric_rule import resolve_rule

    rule = resolve_rule(None, key, 'train_cfg.metric_rule', 'train_cfg.metric_key')  # as SearchLoopBase resolves it
    assert rule == 'less'
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=1, rule=rule)
    for c in pool.candidates():
        pool.record(c, ERROR[c[0]])
    assert pool.select() == [(1,)]  # the lowest miss rate


@pytest.mark.parametrize('key', MMDET_HIGHER)
def test_mmdets_other_crowdhuman_and_tracking_keys_keep_the_highest(key):
    from automl_mm.utils.metric_rule import infer_rule

    assert infer_rule(key) == 'greater'


def test_a_plateau_scheduler_on_the_miss_rate_passes_the_config_check():
    """The same inference behind the config check of a metric chooser without ``rule``: a ``ReduceOnPlateauLR``
    on ``'crowd_human/mMR'`` (mmengine's default ``rule='less'``, right for a miss rate) was refused with the advice
    to set ``rule='greater'``."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_evaluators import check_selection_rules

    check_selection_rules(Config(dict(param_scheduler=[dict(type='ReduceOnPlateauLR', monitor='crowd_human/mMR',
                                                             patience=2)])))


# The other keys mmdet 3.3's metrics (evaluation/metrics/*.py, default prefixes) and mmengine 0.10's ValLoop / TestLoop
# report (mmpretrain is not installed): mmengine's validation losses (``_parse_losses``: each loss of the model's
# loss dict, under its own name, and their sum ``val_loss`` / ``test_loss``; mmdet's heads name theirs 'loss_*', with
# DETR's 'd<i>.' / 'enc_' / 'dn_' and Cascade R-CNN's 's<i>.' prefixes) are lower-is-better; every mmdet metric other
# than the miss rate and the tracking error counts above is higher-is-better (its classwise keys end in
# '_precision'; 'acc' / 'pos_acc' are accuracies in the loss dict).
MMENGINE_LOSSES = ['val_loss', 'test_loss', 'loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss_centerness', 'loss_mask',
                   'd5.loss_cls', 'd0.dn_loss_iou', 'enc_loss_bbox', 's0.loss_cls', 'rpn_loss_cls', 'triplet_loss',
                   'ce_loss', 'loss_rcnn_emd', 'loss_semantic_seg', 'loss_track_aux', 'val/loss_dice']
MMDET_METRICS_HIGHER = [
    'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_s', 'coco/segm_mAP_l', 'coco/AR@100', 'coco/AR_s@1000',
    'coco/person_precision', 'coco/occluded_recall', 'coco/separated_recall', 'coco/novel_ap50', 'coco/base_ap',
    'pascal_voc/mAP', 'pascal_voc/AP50', 'pascal_voc/recall@100@0.5', 'pascal_voc/AR@100', 'recall/AR@100',
    'lvis/bbox_AP', 'lvis/bbox_APr', 'lvis/segm_APf', 'lvis/AR@300', 'lvis/ARs@300', 'lvis_fixed_ap/AP',
    'cityscapes/mAP', 'cityscapes/AP@50', 'coco_panoptic/PQ', 'coco_panoptic/SQ_th', 'coco_panoptic/RQ_st',
    'openimages/mAP', 'openimages/AP50', 'reid-metric/mAP', 'reid-metric/R1', 'youtube_vis/segm_mAP', 'dod/mAP_short',
    'refexp/refcoco_precision@1', 'grefcoco/F1_score', 'grefcoco/T_acc', 'grefcoco/N_acc', 'mIoU', 'cIoU', 'aAcc',
    'mDice', 'mFscore', 'mPrecision', 'mRecall', 'Bleu_4', 'CIDEr', 'acc', 's0.acc', 'pos_acc', 'mot/HOTA', 'MOTA',
    'IDF1']


@pytest.mark.parametrize('key', MMENGINE_LOSSES)
def test_mmengines_validation_losses_are_lower_is_better(key):
    from automl_mm.utils.metric_rule import infer_rule

    assert infer_rule(key) == 'less'


@pytest.mark.parametrize('key', MMDET_METRICS_HIGHER)
def test_mmdets_other_metrics_are_higher_is_better(key):
    from automl_mm.utils.metric_rule import infer_rule

    assert infer_rule(key) == 'greater'


# Lower-is-better keys of OpenMMLab packages not installed here, as their metrics name them: mmdet3d's nuScenes
# true-positive errors, mmpose's (P-)MPJPE, mmagic's matting errors and generation distances; and higher-is-better
# keys of the same packages, which must stay 'greater'.
OTHER_PACKAGES_LOWER = ['NuScenes metric/pred_instances_3d_NuScenes/mATE', 'pred_instances_3d_NuScenes/mASE',
                        'pred_instances_3d_NuScenes/mAOE', 'pred_instances_3d_NuScenes/mAVE',
                        'pred_instances_3d_NuScenes/mAAE', 'MPJPE', 'P-MPJPE', 'SAD', 'GRAD', 'CONN', 'NIQE',
                        'PPL', 'SWD']
OTHER_PACKAGES_HIGHER = ['pred_instances_3d_NuScenes/NDS', 'pred_instances_3d_NuScenes/mAP', 'PCK', 'AUC',
                         'coco/AP', 'PSNR', 'SSIM', 'IS', 'Precision', 'Recall']


@pytest.mark.parametrize('key', OTHER_PACKAGES_LOWER)
def test_other_openmmlab_lower_is_better_keys_keep_the_lowest(key):
    """mmdet3d / mmpose / mmagic lower-is-better metrics read 'greater' before they were listed (a search on
    'MPJPE' kept the largest joint error)."""
    from automl_mm.utils.metric_rule import infer_rule

    assert infer_rule(key) == 'less'


@pytest.mark.parametrize('key', OTHER_PACKAGES_HIGHER)
def test_other_openmmlab_higher_is_better_keys_keep_the_highest(key):
    from automl_mm.utils.metric_rule import infer_rule

    assert infer_rule(key) == 'greater'
