"""Path spaces and samplers: constraints, uniformity over valid paths, rank-identical seeded draws."""
from collections import Counter

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from automl_mm.nas import (
    DilationSpace,
    LayerwiseSpace,
    PathSamplingHook,
    PoolPathSampler,
    StageAllocationSpace,
    UniformPathSampler,
    path_rng,
)


def test_stage_space_enumerates_exactly_the_valid_allocations():
    choices = [[1, 2, 3, 4], [1, 2, 3], [2, 3, 5], [2, 3, 4]]
    space = StageAllocationSpace(choices, total_blocks=10)
    brute = [p for p in np.ndindex(*[len(c) for c in choices]) if sum(space.values(p)) == 10]
    assert list(space.completions(())) == [tuple(p) for p in brute]
    assert space.size() == len(brute)
    assert not space.can_complete((3, 2))  # 4 + 3 leaves 3 for two stages whose minimum is 4
    assert space.path_of([1, 2, 3, 4]) == (0, 1, 1, 2)
    with pytest.raises(ValueError, match='stage 2'):
        space.path_of([1, 2, 4, 3])
    with pytest.raises(ValueError, match='total_blocks=30'):
        StageAllocationSpace(choices, total_blocks=30)
    with pytest.raises(ValueError, match='decision 1 has 3 options'):
        space.check_path((0, 3, 0, 0))


def test_can_complete_sees_gaps_in_the_stage_choices():
    """Min / max bounds took a gap for a reachable sum: with CR-NAS's ResNet-50 choices (METHODS.md §5) the prefix
    [1, 1, 2] "could complete" to 16 blocks though no allocation starts with it, and pool candidates, extensions
    and the completion sampler carried dead prefixes."""
    from automl_mm.testing.contracts import check_path_space

    space = StageAllocationSpace([[1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 6], [2, 3]], total_blocks=7)
    for prefix in [(), (0, ), (0, 0), (0, 0, 0), (0, 0, 1), (2, 3), (1, 1, 3)]:
        reachable = any(True for _ in space.completions(prefix))
        assert space.can_complete(prefix) == reachable, prefix
    gaps = StageAllocationSpace([[1], [1], [2, 5, 6, 9], [2, 3, 6, 9]], total_blocks=14)
    assert not gaps.can_complete((0, 0, 1))  # 1 + 1 + 5 leaves 7: within 2-9 but not among 2, 3, 6, 9
    assert gaps.can_complete((0, 0, 2)) and gaps.extensions((0, 0), 1) == [(0, 0, 2), (0, 0, 3)]
    check_path_space(gaps)  # the contract now checks both directions


def test_repeated_options_and_float_indices_are_refused():
    """[1, 2, 2, 3] drew (2, 2) two times in three; int(1.7) read option 1."""
    with pytest.raises(ValueError, match=r'decision 0 lists 2 more than once'):
        StageAllocationSpace([[1, 2, 2, 3]] * 2, total_blocks=4)
    with pytest.raises(ValueError, match='DilationSpace choices lists 2 more than once'):
        DilationSpace(choices=(1, 2, 2))
    space = StageAllocationSpace([[1, 2, 3]] * 2, total_blocks=4)
    with pytest.raises(ValueError, match='option indices'):
        space.check_path((0.9, 1.7))
    assert space.check_path((np.int64(0), 2)) == (0, 2)
    with pytest.raises(ValueError, match='option indices'):
        PoolPathSampler().set_pool([(0.0, )])
    # floats where counts go were truncated: a 1.5-block stage became 1 (19 allocations became 13)
    with pytest.raises(ValueError, match=r'stage_choices\[0\] .*a block count must be an int'):
        StageAllocationSpace([[1.5, 2, 3]] + [[1, 2, 3]] * 3, total_blocks=8)
    with pytest.raises(ValueError, match='total_blocks must be an int'):
        StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8.9)
    with pytest.raises(ValueError, match='a dilation must be an int'):
        DilationSpace(choices=(1, 2.7))
    from automl_mm.nas.beam import PartialArchitecturePool
    with pytest.raises(ValueError, match='pool_size must be an int'):
        PartialArchitecturePool(space, 2.5)


_SMALL = LayerwiseSpace([[0, 1, 2], [0, 1, 2], [0, 1]])  # 18 paths
_STAGES = StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8)  # 19 allocations


def _at_most_three(path):  # a cost limit admitting 10 of the 18 paths of _SMALL
    return sum(path) <= 3


_UNIFORM_CASES = [
    ('independent', lambda g: UniformPathSampler(_SMALL).sample(g), list(_SMALL.completions(()))),
    # under a limit: first by rejection, then from the enumerated admitted paths (max_tries=1 falls back at once)
    *[(f'limit, max_tries={t}, enumerate_limit={e}',
       lambda g, t=t, e=e: UniformPathSampler(_SMALL, max_tries=t, enumerate_limit=e).complete((), g, _at_most_three),
       [p for p in _SMALL.completions(()) if _at_most_three(p)]) for t, e in ((10_000, 0), (10_000, 100), (1, 100))],
    ('constrained, enumerated', lambda g: UniformPathSampler(_STAGES).sample(g), list(_STAGES.completions(()))),
    ('constrained, rejection', lambda g: UniformPathSampler(_STAGES, enumerate_limit=0).sample(g),
     list(_STAGES.completions(()))),
    ('constrained prefix', lambda g: UniformPathSampler(_STAGES, enumerate_limit=0).complete((0, ), g),
     list(_STAGES.completions((0, )))),
    ('pool', lambda g: PoolPathSampler(_SMALL, pool=[(0, ), (2, )]).sample(g),
     [p for p in _SMALL.completions(()) if p[0] in (0, 2)]),
    ('pool, constrained', lambda g: PoolPathSampler(_STAGES, pool=[(0, ), (2, )]).sample(g),
     [p for p in _STAGES.completions(()) if p[0] in (0, 2)]),
]


@pytest.mark.parametrize('name, draw, support', _UNIFORM_CASES, ids=[case[0] for case in _UNIFORM_CASES])
def test_samplers_are_uniform_over_what_they_claim(name, draw, support):
    """Chi-square goodness of fit (fixed seed, 60 draws expected per path) against the uniform distribution over
    exactly the claimed support: the valid paths, those the cost limit admits, the pool's completions."""
    from scipy.stats import chisquare

    draws = Counter(draw(path_rng(7, i)) for i in range(60 * len(support)))
    assert set(draws) == set(support), name
    assert chisquare([draws[p] for p in support]).pvalue > 1e-3, (name, draws)


def test_fair_sampler_single_paths_are_uniform_and_each_block_fair():
    """FairNAS: over a block of m iterations every layer runs each candidate once (m = 4 here; the 2-candidate layer
    twice each), and a single path of a block is uniform over the whole space (chi-square, fixed seed)."""
    from scipy.stats import chisquare

    from automl_mm.nas import FairPathSampler

    space = LayerwiseSpace([[0, 1, 2, 3], [0, 1], [0, 1, 2, 3]])
    sampler = FairPathSampler(space)
    paths = [sampler.sample_at(3, it) for it in range(32 * 60)]
    for b in range(0, len(paths), 4):
        block = paths[b:b + 4]
        assert sorted(p[0] for p in block) == sorted(p[2] for p in block) == [0, 1, 2, 3]
        assert sorted(p[1] for p in block) == [0, 0, 1, 1]
    draws = Counter(paths)
    support = list(space.completions(()))
    assert set(draws) == set(support)
    assert chisquare([draws[p] for p in support]).pvalue > 1e-3


def test_draws_depend_on_seed_and_iteration_only():
    space = LayerwiseSpace([[0, 1, 2, 3]] * 6)
    a = [UniformPathSampler(space).sample(path_rng(3, i)) for i in range(20)]
    b = [UniformPathSampler(space).sample(path_rng(3, i)) for i in range(20)]
    c = [UniformPathSampler(space).sample(path_rng(4, i)) for i in range(20)]
    assert a == b and a != c


def test_pool_sampler_restricts_the_prefix():
    space = LayerwiseSpace([[0, 1, 2]] * 4)
    sampler = PoolPathSampler(space, pool=[(0, 2), (1, 1)])
    paths = [sampler.sample(path_rng(0, i)) for i in range(200)]
    assert {p[:2] for p in paths} == {(0, 2), (1, 1)}
    assert {p[2:] for p in paths} == {(i, j) for i in range(3) for j in range(3)}
    sampler.load_state_dict({'pool': [[2]]})
    assert sampler.sample(path_rng(0, 0))[0] == 2
    with pytest.raises(ValueError, match='same number'):
        sampler.set_pool([(0,), (0, 1)])


class _Supernet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.blocks = 5
        self.dilations = None

    @property
    def num_active_blocks(self):
        return self.blocks

    def set_dilations(self, dilations):
        self.dilations = list(dilations)

    @property
    def active_dilations(self):
        return tuple(self.dilations or [1] * self.blocks)


class _Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = _Supernet()


def test_dilation_space_binds_to_the_backbone_and_hook_samples_per_iter():
    model = _Detector()
    space = DilationSpace((1, 2, 3))
    space.bind(model)
    assert space.num_decisions == 5 and space.size() == 3**5
    space.apply((0, 1, 2, 1, 0), model)
    assert model.backbone.dilations == [1, 2, 3, 2, 1]
    with pytest.raises(ValueError, match='set_allocation'):
        StageAllocationSpace([[1]], 1).bind(model)

    class _Runner:
        seed = 7
        iter = 0
        model = _Detector()

    runner = _Runner()
    hook = PathSamplingHook(space=dict(type='DilationSpace'), val_path=(0,) * 5)
    hook.before_train(runner)
    seen = []
    for it in range(10):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append(tuple(runner.model.backbone.dilations))
    assert len(set(seen)) > 5
    hook.before_val_epoch(runner)
    assert runner.model.backbone.dilations == [1] * 5
    # another rank with the same seed draws the same paths
    other = PathSamplingHook(space=dict(type='DilationSpace'))
    runner2 = _Runner()
    other.before_train(runner2)
    for it in range(10):
        runner2.iter = it
        other.before_train_iter(runner2, it)
        assert tuple(runner2.model.backbone.dilations) == seen[it]
    torch.manual_seed(0)  # the hook never touches the global RNGs


class _PathModel(BaseModel):
    """A real mmengine model around ``_Supernet``: the loss depends on the applied dilations."""

    def __init__(self):
        super().__init__()
        self.backbone = _Supernet()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, inputs=None, data_samples=None, mode='loss'):
        return dict(loss=self.scale * float(sum(self.backbone.active_dilations)))


class _RecordPaths(Hook):
    priority = 'LOW'  # after PathSamplingHook (ABOVE_NORMAL) applied the iteration's path

    def __init__(self, seen):
        self.seen = seen

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen[runner.iter] = tuple(runner.model.backbone.active_dilations)


def _path_run(work_dir, seed, seen, resume=False):
    runner = Runner(
        model=_PathModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=[dict(inputs=0)] * 4, sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=1, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=8), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False), logger=None),
        custom_hooks=[dict(type='PathSamplingHook', space=dict(type='DilationSpace', choices=(1, 2, 3)), seed=seed),
                      _RecordPaths(seen)],
        randomness=dict(seed=0), default_scope='automl_mm', resume=resume,
        load_from=str(work_dir / 'iter_4.pth') if resume else None)
    runner.train()


def test_a_resumed_run_samples_the_paths_of_the_saved_run(tmp_path):
    """A real Runner: resumed after iteration 4, iterations 4-7 run the reference run's paths; a resume with
    another PathSamplingHook.seed was continued on another stream without a word and is refused now."""
    reference, resumed = {}, {}
    _path_run(tmp_path / 'ref', 3, reference)
    (tmp_path / 'ref' / 'iter_8.pth').unlink()
    _path_run(tmp_path / 'ref', None, resumed, resume=True)  # unset: the checkpoint's seed, not the run's 0
    assert sorted(resumed) == [4, 5, 6, 7]
    assert all(resumed[it] == reference[it] for it in resumed) and len(set(reference.values())) > 2
    with pytest.raises(ValueError, match="checkpoint's search has seed 3, this run sets PathSamplingHook.seed=4"):
        _path_run(tmp_path / 'ref', 4, {}, resume=True)


def test_a_space_in_the_path_sampling_hooks_sampler_config_is_refused():
    """The hook sets its sampler's space from PathSamplingHook.space: one written in the sampler's config was
    replaced without a word."""
    with pytest.raises(ValueError, match=r'PathSamplingHook\.sampler\.space=.*PathSamplingHook\.space'):
        PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2, 3)),
                         sampler=dict(type='UniformPathSampler', space=dict(type='DilationSpace', choices=(1, 2))))
