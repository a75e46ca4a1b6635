"""``PipelineChoiceSpace(policy_size=K)``: the controller's sample of a copy is the K choices it drew at the trunk
start (its policy), which its images sample among. Images that dataloader workers prefetched before the trunk began
carry the previous trunk's policy (counted as stale). A trunk whose images were all prefetched trained with none of
its own policy: the copies' rewards say nothing about the K draws, yet the controller was given them as the copies'
samples and stepped θ, silently (where a per-image space stopped the run, or, in a run's partial last trunk, left θ
alone). Now a copy that trained with no image of its trunk's policy counts no sample, as under per-image draws."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
import torch

from automl_mm.ohl import CopyLayout, OHLRandomChoice, PipelineChoiceSpace
from automl_mm.ohl.reward import combine_copy_rows, settle_rewards, trunk_row
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)


def _hook_after_a_trunk_of(versions):
    """Trunk 2 of copy 0 (rank 0 of 2 copies) of an ``OHLHook`` with a ``policy_size=2`` space, whose images carried
    the policy versions ``versions`` (1: prefetched under trunk 1's policy); copy 1's row the same."""
    from mmengine.structures import BaseDataElement

    from automl_mm.ohl.hook import OHLHook

    no_op = dict(type='mmcv.ToTensor', keys=[])  # changes nothing; the two choices are distinct configs
    runner = _pipeline_runner(OHLRandomChoice(transforms=[[], [no_op]], key='aug'))
    runner.__dict__.update(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100, iter=10)
    hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug', policy_size=2,
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='acc', trunk_iters=5, seed=0, verify_sync=False, reward_rule='greater')
    hook.resolve_spaces(runner)
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (0.5, False), metric_names=lambda: ['acc'], reward_key='acc',
                                  rule='greater', sign=1.0)
    hook._report, hook.trunk = mock.Mock(), 2
    space = hook.spaces[0]
    space.begin_trunk(runner, 2, torch.Generator().manual_seed(0))
    space.after_train_iter(runner, {'data_samples': [  # the images used the policy's first draw
        BaseDataElement(metainfo={'ohl_choice': {'aug': space.policy[0], 'aug@version': v}}) for v in versions]})
    hook._in_trunk, hook._trunk_iters = True, 1
    return hook, runner


@pytest.mark.parametrize('partial', [True, False], ids=['partial', 'whole'])
def test_the_hook_does_not_step_theta_on_a_trunk_whose_images_all_carried_the_trunk_befores_policy(partial):
    """An iteration loop of 11 iterations in trunks of 5 with 2 workers (2 x 2 batches prefetched) ends with a
    partial trunk whose one batch sampled among trunk 1's policy: it counts no sample of its own policy, the
    controller does not step, θ stays (it stepped, on rewards those draws never earned); a whole such trunk stops
    the run naming the trunk length, as under per-image draws. An image of the trunk's own policy keeps the
    step."""
    hook, runner = _hook_after_a_trunk_of([1, 1])
    theta = hook.spaces[0].distribution.logits.detach().clone()
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=lambda row: torch.stack([row, row])), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        if not partial:
            with pytest.raises(RuntimeError, match=r'OHL trunk 2: .*prefetched every batch of the trunk'):
                hook._end_trunk(runner, epoch=0, iters=5, partial=False)
            return
        hook._end_trunk(runner, epoch=0, iters=11, partial=True)
    record = hook.history[-1]
    assert record['stale_samples']['aug'] == [2, 2] and record['samples']['aug'] == [0.0, 0.0]
    assert record['controller']['aug'] == {} and torch.equal(hook.spaces[0].distribution.logits.detach(), theta)
    hook, runner = _hook_after_a_trunk_of([1, 2])
    used = float(hook.spaces[0].policy.count(hook.spaces[0].policy[0]))  # the draws of the choice its image used
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=lambda row: torch.stack([row, row])), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=0, iters=11, partial=True)
    assert hook.history[-1]['samples']['aug'] == [used, used] and hook.history[-1]['controller']['aug']


def _policy_copy(copy_id, versions):
    """Copy ``copy_id`` (of 2, one rank each) at the end of trunk 4 with a policy of 3 of 6 choices, having trained
    with images whose choices carry the policy versions ``versions`` (3: prefetched under trunk 3's policy)."""
    from mmengine.structures import BaseDataElement

    runner = _pipeline_runner(OHLRandomChoice(transforms=[[]] * 6, key='aug'))
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=6), key='aug', policy_size=3)
    space.resolve(runner)
    space.setup(runner, CopyLayout(num_copies=2, ranks_per_copy=1, rank=copy_id, world_size=2), seed=3)
    space.begin_trunk(None, 4, torch.Generator().manual_seed(copy_id))
    space.after_train_iter(None, {'data_samples': [
        BaseDataElement(metainfo={'ohl_choice': {'aug': space.policy[0], 'aug@version': v}}) for v in versions]})
    return space


def _first_draws(space):
    """The statistics of the draws of ``space``'s policy equal to its first (the images of ``_policy_copy`` used it)."""
    return space.distribution.sufficient_stats(torch.tensor([c for c in space.policy if c == space.policy[0]]))


def _settled(versions_per_copy, partial):
    spaces = [_policy_copy(c, versions) for c, versions in enumerate(versions_per_copy)]
    rows = torch.stack([trunk_row(r, True, False, [s]) for r, s in zip((0.5, 0.6), spaces)])
    layout = CopyLayout(num_copies=2, ranks_per_copy=1, rank=0, world_size=2)
    trunk = combine_copy_rows(rows, layout, spaces[:1])
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    _, counts, _ = settle_rewards(trunk, spaces[:1], scorer, None, 4, 2, partial)
    return trunk, counts, [_first_draws(s) for s in spaces]


def test_a_copy_whose_images_all_carried_the_trunk_befores_policy_counts_no_sample():
    """Copy 0 trained only with images prefetched under trunk 3's policy, copy 1 with two of its own: in the run's
    partial last trunk copy 0's statistics count 0 samples (its reward is not its policy's), copy 1 keeps the
    draws its images used; in a whole trunk it stops the run naming the trunk length, as a per-image space does."""
    trunk, counts, drawn = _settled([(3, 3), (3, 4, 4)], partial=True)
    assert trunk['stale']['aug'] == [2, 1] and trunk['fresh']['aug'] == [0, 2]
    assert counts['aug'] == [0.0, float(drawn[1].sum())]
    assert trunk['stats']['aug'][0].tolist() == [0.0] * 6 and torch.equal(trunk['stats']['aug'][1], drawn[1])
    with pytest.raises(RuntimeError, match=r"OHL trunk 4: space 'aug' counted no choices of this trunk .*"
                                           r'prefetched every batch of the trunk'):
        _settled([(3, 3), (3, 4, 4)], partial=False)
    # a copy with one image of its own policy keeps the draws of that image's choice
    trunk, counts, drawn = _settled([(3, 4), (4,)], partial=False)
    assert counts['aug'] == [float(d.sum()) for d in drawn]
    assert all(torch.equal(a, b) for a, b in zip(trunk['stats']['aug'], drawn))


def test_a_copys_fresh_images_are_summed_over_its_ranks():
    """A copy of 2 ranks whose lead trained only with images prefetched under trunk 3's policy and whose other rank
    with one image of trunk 4's: the copy used its policy, and the draws of that image's choice count (the fresh
    counts are summed over the copy's ranks, as the stale ones; read from the lead alone, the copy counted none). A
    rank that counts none (-1) leaves the space uncounted."""
    from mmengine.structures import BaseDataElement

    def rank(r, versions):
        runner = _pipeline_runner(OHLRandomChoice(transforms=[[]] * 6, key='aug'))
        space = PipelineChoiceSpace(dict(type='Categorical', num_choices=6), key='aug', policy_size=3)
        space.resolve(runner)
        space.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=2, rank=r, world_size=2), seed=3)
        space.begin_trunk(None, 4, torch.Generator().manual_seed(0))  # the copy's draw: the same on both ranks
        space.after_train_iter(None, {'data_samples': [
            BaseDataElement(metainfo={'ohl_choice': {'aug': space.policy[0], 'aug@version': v}}) for v in versions]})
        return space

    spaces = [rank(0, (3, 3)), rank(1, (3, 4))]
    rows = torch.stack([trunk_row(0.5, True, False, [s]) for s in spaces])
    layout = CopyLayout(num_copies=1, ranks_per_copy=2, rank=0, world_size=2)
    trunk = combine_copy_rows(rows, layout, spaces[:1])
    assert trunk['stale']['aug'] == [3] and trunk['fresh']['aug'] == [1]
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    _, counts, _ = settle_rewards(trunk, spaces[:1], scorer, None, 4, 2, partial=False)
    used = _first_draws(spaces[0])
    assert counts['aug'] == [float(used.sum())] and torch.equal(trunk['stats']['aug'][0], used)
    rows[1, 4] = -1.0  # rank 1's fresh count: none
    assert combine_copy_rows(rows, layout, spaces[:1])['fresh']['aug'] is None


def _partly_prefetched_copy(ranks):
    """One copy of ``len(ranks)`` ranks at the end of trunk 4, policy_size=4 over 6 choices; rank r trained with
    images of the choices ``ranks[r]`` as ``(slot, version)``: slot k of the copy's policy (None: a choice outside it,
    from trunk 3's policy), version 3 prefetched under trunk 3's policy, 4 this trunk's."""
    from mmengine.structures import BaseDataElement

    spaces = []
    for r, images in enumerate(ranks):
        runner = _pipeline_runner(OHLRandomChoice(transforms=[[]] * 6, key='aug'))
        space = PipelineChoiceSpace(dict(type='Categorical', num_choices=6), key='aug', policy_size=4)
        space.resolve(runner)
        space.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=len(ranks), rank=r, world_size=len(ranks)),
                    seed=3)
        space.begin_trunk(None, 4, torch.Generator().manual_seed(5))  # the copy's draw: the same on every rank
        outside = next(i for i in range(6) if i not in space.policy)
        space.after_train_iter(None, {'data_samples': [
            BaseDataElement(metainfo={'ohl_choice': {'aug': outside if k is None else space.policy[k],
                                                     'aug@version': v}}) for k, v in images]})
        spaces.append(space)
    rows = torch.stack([trunk_row(0.5, True, False, [s]) for s in spaces])
    layout = CopyLayout(num_copies=1, ranks_per_copy=len(ranks), rank=0, world_size=len(ranks))
    trunk = combine_copy_rows(rows, layout, spaces[:1])
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    _, counts, _ = settle_rewards(trunk, spaces[:1], scorer, None, 4, 2, partial=True)
    return spaces[0].policy, trunk['stats']['aug'][0], counts['aug'][0]


def test_a_partly_prefetched_copy_is_credited_with_the_draws_its_images_used_only():
    """A copy whose trunk began with images prefetched under trunk 3's policy trained with two images of its own
    policy, both of its first draw: the reward says something of that draw only, yet all 4 draws were credited
    with it (and blamed). Now the copy's sample is the draws whose choice one of its trunk's own images used (all
    the draws of that choice, as the images cannot tell equal draws apart), over its ranks; a trunk whose images
    used every draw keeps all 4 (what a trunk longer than the prefetch gives)."""
    from automl_mm.ohl.distributions import Categorical

    dist = Categorical(num_choices=6)
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (None, 3), (0, 4), (0, 4)]])
    used = [c for c in policy if c == policy[0]]
    assert len(used) < 4, policy  # the premise: some draws of the policy were not used
    assert stats.tolist() == dist.sufficient_stats(torch.tensor(used)).tolist() and count == len(used)
    # two ranks of the copy: each rank's images used one draw; the copy used both
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (0, 4)], [(None, 3), (2, 4)]])
    used = [c for c in policy if c in (policy[0], policy[2])]
    assert stats.tolist() == dist.sufficient_stats(torch.tensor(used)).tolist() and count == len(used)
    # every draw used: all 4 credited
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (0, 4), (1, 4), (2, 4), (3, 4)]])
    assert stats.tolist() == dist.sufficient_stats(torch.tensor(policy)).tolist() and count == 4
