"""NAS scoring: BN re-estimation under mmdet's frozen statistics, common random numbers between the candidates
of a step, exact cost-limited completions, the path validated by PathSamplingHook."""
from __future__ import annotations

import glob
import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.models.backbones import CRResNet
from automl_mm.nas import (
    LayerwiseSpace,
    PathSamplingHook,
    StageAllocationSpace,
    UniformPathSampler,
    potential,
    recalibrate_bn,
)
from automl_mm.nas import scoring as scoring_module
from automl_mm.nas.scoring import candidate_scorer

from conftest import REPO_ROOT

COCO_SEARCH_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_*_coco.py')))


def _det_batches(num: int, size: int = 64) -> list[dict]:
    """Seeded images as a detector's training loader yields them (only ``inputs`` reach ``extract_feat``)."""
    from mmdet.structures import DetDataSample

    g = torch.Generator().manual_seed(1)
    return [dict(inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g) for _ in range(2)],
                 data_samples=[DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
                               for _ in range(2)]) for _ in range(num)]


def _build_detector(config: str):
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.utils import register_all_modules as register_mmdet
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    register_mmdet(init_default_scope=False)
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None  # the ImageNet file is not here; its statistics are simulated below
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(cfg.model)
    return cfg, model


def _bn_state(model: nn.Module) -> dict[str, tuple[torch.Tensor, ...]]:
    return {name: (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
            for name, m in model.named_modules() if isinstance(m, _BatchNorm)}


@pytest.mark.parametrize('config', COCO_SEARCH_CONFIGS, ids=osp.basename)
def test_bn_recalibration_keeps_the_statistics_mmdet_keeps_frozen(config):
    """A shipped COCO CR-NAS search model (norm_eval=True): pretrained BN statistics survive a scoring pass."""
    cfg, model = _build_detector(config)
    assert cfg.model.backbone.norm_eval  # the setting of the issue: every COCO search config
    torch.manual_seed(0)
    for m in model.modules():  # stand-ins for the ImageNet statistics a checkpoint would load
        if isinstance(m, _BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(1000)
    backbone = model.backbone
    # An allocation of the config's space with more blocks than mmdet's standard in some stage: the unfilled
    # block runs, so it must be re-estimated, while every standard block keeps its statistics.
    space = StageAllocationSpace(**{k: v for k, v in cfg.train_cfg.stage_space.items() if k != 'type'})
    standard = backbone.standard_stage_blocks
    path = next(p for p in space.completions(()) if any(v > n for v, n in zip(space.values(p), standard)))
    space.apply(path, model)
    unfilled = {id(m) for b in backbone.unfilled_blocks() for m in b.modules()}
    model.train()
    training = {name for name, m in model.named_modules() if isinstance(m, _BatchNorm) and m.training}
    # norm_eval: exactly the BN layers of the blocks no checkpoint fills train (the necks and heads have none)
    assert training == {name for name, m in model.named_modules()
                        if isinstance(m, _BatchNorm) and id(m) in unfilled}
    before = _bn_state(model)
    watched = next(m for b in backbone.unfilled_blocks()
                   if b in list(backbone._active_blocks()) for m in b.modules() if isinstance(m, _BatchNorm))
    seen = []
    watched.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))

    reached = recalibrate_bn(model, _det_batches(2))

    after = _bn_state(model)
    reached_names = {name for name, m in model.named_modules() if any(m is r for r in reached)}
    assert reached_names and reached_names <= training
    for name, (mean, var, count) in before.items():
        if name in reached_names:
            assert int(after[name][2]) == 2  # re-estimated on exactly the 2 batches
            continue
        # eval-mode BN (norm_eval, frozen stages) and BN of blocks the path does not run: bit for bit
        assert torch.equal(after[name][0], mean) and torch.equal(after[name][1], var), name
        assert int(after[name][2]) == int(count) == 1000, name
    # the re-estimated statistics are the exact average over the batches (cumulative moving average)
    assert len(seen) == 2
    means = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen])
    variances = torch.stack([x.transpose(0, 1).flatten(1).var(dim=1, unbiased=True) for x in seen])
    torch.testing.assert_close(watched.running_mean, means.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(watched.running_var, variances.mean(0), rtol=1e-4, atol=1e-5)
    assert watched.momentum == 0.1 and model.training  # momentum and mode restored


def test_bn_recalibration_without_norm_eval_re_estimates_every_reached_bn():
    """norm_eval=False, frozen_stages=1: the stem and layer1 keep theirs, the rest is re-estimated."""
    from automl_mm.models import ImageClassifier  # noqa: F401  (registers the classifier)

    class _Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = CRResNet(depth=18, max_stage_blocks=(2, 2, 2, 2), frozen_stages=1, norm_eval=False)
            self.data_preprocessor = lambda data, training: data

        def extract_feat(self, x):
            return self.backbone(x)

    model = _Model()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.fill_(3.0)
            m.num_batches_tracked.fill_(7)
    reached = recalibrate_bn(model, [dict(inputs=torch.rand(2, 3, 32, 32))])
    frozen = {id(m) for m in [model.backbone.norm1, *model.backbone.layer1.modules()]}
    for name, m in model.named_modules():
        if isinstance(m, _BatchNorm):
            if id(m) in frozen:
                assert int(m.num_batches_tracked) == 7 and torch.all(m.running_mean == 3.0), name
            else:
                assert any(m is r for r in reached) and int(m.num_batches_tracked) == 1, name
                assert not torch.all(m.running_mean == 3.0), name


# --- common random numbers -------------------------------------------------------------------------------


def _network_with_twin_ops(path: tuple, sample_index: int) -> float:
    """A supernet whose options 0 and 1 have identical weights: its score depends on the function computed (the
    path with option 1 read as 0) and on the search batch, like an accuracy on a mini-batch."""
    function = tuple(0 if j == 1 else j for j in path)
    return float(np.random.default_rng([*function, sample_index, 99]).random())


_network_with_twin_ops.batches_per_sample = 1


@pytest.mark.parametrize('limited', [False, True])
def test_candidates_with_identical_weights_get_identical_scores(limited):
    space = LayerwiseSpace([[0, 1, 2]] * 5)
    # a cost limit that, like a latency table, sees the twin ops as equal
    accept = (lambda p: sum(0 if j == 1 else j for j in p) <= 4) if limited else None
    sampler = UniformPathSampler(space)
    for step in range(4):
        prefix = (2, 0, 2)[:step]
        score = candidate_scorer(sampler, _network_with_twin_ops, num_samples=3, seed=5, stream=7, step=step,
                                 accept=accept)
        twin_a, twin_b, other = (score(prefix + (j,)) for j in range(3))
        assert twin_a == twin_b, step
        assert twin_a != other, step  # not trivially equal: the decision scored still matters


def test_candidates_of_a_step_see_the_same_batches_and_completions():
    space = LayerwiseSpace([[0, 1, 2]] * 4)
    calls = []

    def evaluate(path, sample_index):
        calls.append((path, sample_index))
        return 0.5

    evaluate.batches_per_sample = 1
    score = candidate_scorer(UniformPathSampler(space), evaluate, num_samples=4, seed=0, stream=1, step=1)
    for c in [(0, 0), (0, 1), (0, 2)]:
        score(c)
    per_candidate = [calls[i * 4:(i + 1) * 4] for i in range(3)]
    assert all([s for _, s in c] == [4, 5, 6, 7] for c in per_candidate)  # step 1: samples 4..7 for everyone
    assert per_candidate[0][0][0][2:] == per_candidate[1][0][0][2:] == per_candidate[2][0][0][2:]
    assert [p[2:] for p, _ in per_candidate[0]] == [p[2:] for p, _ in per_candidate[2]]


def test_under_a_cost_limit_candidates_keep_the_same_completion_wherever_they_admit_it():
    """A FLOPs-like limit (sum of the path <= 5) admits fewer completions after a costlier decision. Each completion
    used to be drawn from the prefix's own list of admitted completions (index into lists of different lengths),
    so the candidates of a step shared almost no completion; now each keeps the first drawn tail it admits, so
    whenever the cheaper candidate's completion is admitted after the costlier decision too, both use it."""
    space = LayerwiseSpace([[0, 1, 2]] * 5)
    accept = lambda p: sum(p) <= 5  # noqa: E731
    calls: dict[tuple, list] = {}

    def evaluate(path, sample_index):
        calls.setdefault(path[:1], []).append(path[1:])
        return 0.5

    evaluate.batches_per_sample = 1
    shared = checked = 0
    for seed in range(5):
        calls.clear()
        score = candidate_scorer(UniformPathSampler(space), evaluate, num_samples=8, seed=seed, stream=1, step=0,
                                 accept=accept)
        for c in [(0,), (1,), (2,)]:
            score(c)
        for cheap, costly in [((0,), (1,)), ((1,), (2,)), ((0,), (2,))]:
            for tail_cheap, tail_costly in zip(calls[cheap], calls[costly]):
                assert accept(costly + tail_costly)
                if accept(costly + tail_cheap):
                    checked += 1
                    shared += tail_cheap == tail_costly
    assert checked >= 60 and shared == checked


# --- cost-limited completions ----------------------------------------------------------------------------


def test_rare_admitted_completions_are_sampled_exactly():
    """One admitted completion in 10^4: rejection with 1,000 tries missed it about 37 % of the time."""
    space = LayerwiseSpace([list(range(10))] * 5)
    only = (3, 1, 4, 1, 5)
    sampler = UniformPathSampler(space, max_tries=1)
    for seed in range(20):
        assert sampler.complete((3,), np.random.default_rng(seed), lambda p: p == only) == only
    assert potential((3,), sampler, lambda p, s: float(sum(p)), 4, np.random.default_rng(0),
                     lambda p: p == only) == 14.0
    assert sampler.admitted_completions((4,), lambda p: p == only) == []
    # uniform over the admitted completions
    admitted = lambda p: p[1] == 0 and p[2] < 3  # noqa: E731
    counts = Counter(sampler.complete((7,), np.random.default_rng(i), admitted) for i in range(3000))
    assert set(counts) == {(7, 0, a, b, c) for a in range(3) for b in range(10) for c in range(10)}
    assert len(counts) == 300 and max(counts.values()) < 30  # 10 expected each


def test_a_prefix_dropped_for_lack_of_samples_is_named(monkeypatch):
    space = LayerwiseSpace([list(range(10))] * 5)
    warnings = []
    monkeypatch.setattr(scoring_module, 'print_log', lambda msg, **kw: warnings.append((msg, kw.get('level'))))
    rejection_only = UniformPathSampler(space, max_tries=5, enumerate_limit=100)  # 10^4 completions: too many
    only = (3, 1, 4, 1, 5)
    score = potential((3,), rejection_only, lambda p, s: 1.0, 2, np.random.default_rng(0), lambda p: p == only)
    assert score == -np.inf
    assert len(warnings) == 1 and 'prefix (3,)' in warnings[0][0] and 'max_tries=5' in warnings[0][0]
    assert warnings[0][1] == 30  # logging.WARNING
    # a budget large enough finds it; an infeasible but enumerable prefix is dropped without a warning
    warnings.clear()
    assert potential((3,), UniformPathSampler(space, max_tries=200_000, enumerate_limit=100),
                     lambda p, s: 1.0, 1, np.random.default_rng(0), lambda p: p == only) == 1.0
    assert potential((4,), UniformPathSampler(space), lambda p, s: 1.0, 2, np.random.default_rng(0),
                     lambda p: p == only) == -np.inf
    assert warnings == []


def test_sampler_budgets_are_validated():
    with pytest.raises(ValueError, match='max_tries'):
        UniformPathSampler(max_tries=0)
    with pytest.raises(ValueError, match='enumerate_limit'):
        UniformPathSampler(enumerate_limit=-1)


# --- PathSamplingHook: the path validated --------------------------------------------------------------


class _Detector(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.backbone = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), **kwargs)


class _Runner:
    seed = 0
    iter = 0

    def __init__(self, model):
        self.model = model


@pytest.mark.parametrize('space,read', [
    (dict(type='StageAllocationSpace', stage_choices=[[1, 2, 3]] * 4, total_blocks=8),
     lambda m: m.backbone.active_stage_blocks),
    (dict(type='DilationSpace', choices=(1, 2, 3)), lambda m: m.backbone.active_dilations),
])
def test_hook_validates_and_tests_the_path_in_place_before_training(space, read):
    runner = _Runner(_Detector(stage_blocks=(2, 2, 2, 2), dilations_per_block=[1, 2, 1, 3, 1, 1, 2, 1]))
    before = read(runner.model)
    hook = PathSamplingHook(space=space)
    hook.before_train(runner)
    for stage in ('val', 'test'):
        sampled = set()
        for _ in range(5):
            hook.before_train_iter(runner, runner.iter)
            sampled.add(tuple(read(runner.model)))
            runner.iter += 1
        assert sampled - {tuple(before)}  # training ran other paths
        getattr(hook, f'before_{stage}_epoch')(runner)
        assert tuple(read(runner.model)) == tuple(before), stage


def test_hook_refuses_a_pre_training_path_outside_its_space():
    runner = _Runner(_Detector(stage_blocks=(2, 2, 2, 2)))
    hook = PathSamplingHook(space=dict(type='StageAllocationSpace', stage_choices=[[1, 3]] * 4, total_blocks=8))
    with pytest.raises(ValueError, match='2 blocks in stage 0'):
        hook.before_train(runner)


def test_path_evaluator_re_estimates_every_path_on_the_same_images_from_a_random_pipeline():
    """Given a loader whose pipeline draws at random (crops, flips), BN used to be re-estimated on newly drawn
    images at every call: one path scored differently each time. Now the first batches are drawn once (seeded)."""
    from types import SimpleNamespace

    from automl_mm.nas import PathEvaluator

    class RandomPipeline(torch.utils.data.Dataset):  # a training pipeline: numpy's global RNG, as mmcv's
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.tensor(np.random.normal(i, 1.0, size=(1, 2, 2)), dtype=torch.float32)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(1)
            self.data_preprocessor = lambda data, training: dict(inputs=data)

        def extract_feat(self, x):
            return self.bn(x)

    model = Model()
    held_out = SimpleNamespace(loader=[None], metric_key='stat',
                               score=lambda m, batches: (float(m.bn.running_mean.sum()), False))
    loader = torch.utils.data.DataLoader(RandomPipeline(), batch_size=2)
    make = lambda seed: PathEvaluator(model, SimpleNamespace(apply=lambda p, m: None), held_out,  # noqa: E731
                                      bn_batches=2, bn_loader=loader, bn_seed=seed)
    evaluate = make(0)
    scores = [evaluate((0, ), 0) for _ in range(3)]
    assert scores[0] == scores[1] == scores[2]
    np.random.seed(5)
    assert make(0)((0, ), 0) == scores[0]  # another evaluator (rank, resumed run) with the same seed
    assert make(1)((0, ), 0) != scores[0]  # the draw does depend on the seed: the pipeline is random


def test_search_streams_never_replay_a_training_path():
    """Step 0's completions were drawn from ``path_rng(seed, stream, 0)``, which numpy seeds exactly as
    ``path_rng(seed, stream)``: the path trained at iteration ``stream`` (7919 for PC-NAS, 104729 for CR-NAS). A
    step's candidate subset (``seeded_subset(.., seed, step)``) was the path generator of iteration ``step``. Both
    are streams of their own now."""
    from automl_mm.nas import path_rng
    from automl_mm.nas.beam import seeded_subset

    space = LayerwiseSpace([[0, 1, 2, 3, 4, 5, 6, 7]] * 12)
    sampler = UniformPathSampler(space)
    completions = []

    def evaluate(path, sample_index):
        completions.append(path)
        return 0.0

    evaluate.batches_per_sample = 1
    for stream in (7919, 104729):
        for step in range(3):
            candidate_scorer(sampler, evaluate, num_samples=1, seed=5, stream=stream, step=step)(())
    training = {sampler.sample(path_rng(5, i)) for i in [*range(10), 7919, 104729]}
    assert len(set(completions)) == 6 and not training & set(completions)

    items = list(range(1000))
    for step in (1, 2, 7919):
        subset = seeded_subset(items, 10, 5, step)
        assert subset == seeded_subset(items, 10, 5, step) and len(subset) == 10
        assert subset != sorted(path_rng(5, step).choice(1000, 10, replace=False).tolist())
