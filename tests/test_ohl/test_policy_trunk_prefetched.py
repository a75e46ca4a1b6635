"""``PipelineChoiceSpace(policy_size=K)``: the controller's sample of a copy is the K choices it drew at the trunk
start (its policy), which its images sample among. Images that dataloader workers prefetched before the trunk began
carry the previous trunk's policy (counted as stale). A trunk whose images were all prefetched trained with none of
its own policy: the copies' rewards say nothing about the K draws, yet the controller was given them as the copies'
samples and stepped θ, silently (where a per-image space stopped the run, or, in a run's partial last trunk, left θ
alone). Now a copy that trained with no image of its trunk's policy counts no sample, as under per-image draws; a
copy that did is credited with its K draws, each weighted by the probability that one of its images used it and
counted at its expectation p_θ for the rest (``policy_credit``, unbiased: ``test_policy_credit_unbiased.py``)."""
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
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=lambda row: torch.stack([row, row])), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=0, iters=11, partial=True)
    # the K = 2 draws credited (a draw no image used at its expectation)
    assert hook.history[-1]['samples']['aug'] == [2.0, 2.0] and hook.history[-1]['controller']['aug']


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


def _credit(distribution, policy, images):
    """The statistics a copy of ``policy`` is credited with where ``images[k]`` of its images applied the choice of
    draw k: draw k weighted by w = 1 - (1 - 1/c)^n (c draws of its choice, n images of it), p_θ for the rest."""
    stats = torch.zeros(distribution.num_choices, dtype=torch.float64)
    weights = [1 - (1 - 1 / policy.count(a)) ** n for a, n in zip(policy, images)]
    for a, w in zip(policy, weights):
        stats[a] += w
    return stats + (len(policy) - sum(weights)) * distribution.probs()


def _first_draws(space, fresh):
    """:func:`_credit` of ``space``'s policy when ``fresh`` images applied its first draw's choice (as the images of
    ``_policy_copy`` do)."""
    policy = space.policy
    return _credit(space.distribution, policy, [fresh if a == policy[0] else 0 for a in policy])


def _settled(versions_per_copy, partial):
    spaces = [_policy_copy(c, versions) for c, versions in enumerate(versions_per_copy)]
    rows = torch.stack([trunk_row(r, True, False, [s]) for r, s in zip((0.5, 0.6), spaces)])
    layout = CopyLayout(num_copies=2, ranks_per_copy=1, rank=0, world_size=2)
    trunk = combine_copy_rows(rows, layout, spaces[:1])
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    _, counts, _ = settle_rewards(trunk, spaces[:1], scorer, None, 4, 2, partial)
    fresh = [sum(v == 4 for v in versions) for versions in versions_per_copy]
    return trunk, counts, [_first_draws(s, n) for s, n in zip(spaces, fresh)]


def test_a_copy_whose_images_all_carried_the_trunk_befores_policy_counts_no_sample():
    """Copy 0 trained only with images prefetched under trunk 3's policy, copy 1 with two of its own: in the run's
    partial last trunk copy 0's statistics count 0 samples (its reward is not its policy's), copy 1 is credited
    with its 3 draws, the draws its images used weighted by the chance that they did; in a whole trunk it stops
    the run naming the trunk length, as a per-image space does."""
    trunk, counts, drawn = _settled([(3, 3), (3, 4, 4)], partial=True)
    assert trunk['stale']['aug'] == [2, 1] and trunk['fresh']['aug'] == [0, 2]
    assert counts['aug'] == [0.0, 3.0]
    assert trunk['stats']['aug'][0].tolist() == [0.0] * 6 and torch.allclose(trunk['stats']['aug'][1], drawn[1])
    with pytest.raises(RuntimeError, match=r"OHL trunk 4: space 'aug' counted no choices of this trunk .*"
                                           r'prefetched every batch of the trunk'):
        _settled([(3, 3), (3, 4, 4)], partial=False)
    # a copy with one image of its own policy is credited with its draws
    trunk, counts, drawn = _settled([(3, 4), (4,)], partial=False)
    assert counts['aug'] == [3.0, 3.0]
    assert all(torch.allclose(a, b) for a, b in zip(trunk['stats']['aug'], drawn))


def test_a_copys_fresh_images_are_summed_over_its_ranks():
    """A copy of 2 ranks whose lead trained only with images prefetched under trunk 3's policy and whose other rank
    with one image of trunk 4's: the copy used its policy, and it is credited with that image (the fresh counts
    and the images of each draw are summed over the copy's ranks, as the stale ones; read from the lead alone, the
    copy counted none). A rank that counts none (-1) leaves the space uncounted."""
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
    used = _first_draws(spaces[0], 1)
    assert counts['aug'] == [3.0] and torch.allclose(trunk['stats']['aug'][0], used)
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
    policy, both of its first draw's choice: the reward says something of the draws they picked only, yet all 4
    draws were credited with it (and blamed). Now each draw is credited by the chance that one of the copy's own
    images picked it (images of its ranks together), and a draw none did at its expectation p_θ, which moves θ by
    nothing; a trunk whose images surely used every draw keeps the 4 draws' statistics exactly (what a trunk longer
    than the prefetch gives)."""
    from automl_mm.ohl.distributions import Categorical

    dist = Categorical(num_choices=6)
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (None, 3), (0, 4), (0, 4)]])
    images = [2 if c == policy[0] else 0 for c in policy]
    assert images.count(0) > 0, policy  # the premise: some draws of the policy were not used
    assert torch.allclose(stats, _credit(dist, policy, images)) and count == 4
    # the step it gives: (1/4) Σ_k w_k ∇log p(a_k), the unused draws' scores left out
    weights = [1 - (1 - 1 / policy.count(a)) ** n for a, n in zip(policy, images)]
    assert torch.allclose(dist.grad_mean_log_prob(stats)[0],
                          sum(w * (torch.eye(6, dtype=torch.float64)[a] - dist.probs())
                              for a, w in zip(policy, weights)) / 4)
    # two ranks of the copy: each rank's images used one draw's choice; the copy's images are both ranks'
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (0, 4)], [(None, 3), (2, 4)]])
    images = [(c == policy[0]) + (c == policy[2]) for c in policy]
    assert torch.allclose(stats, _credit(dist, policy, images)) and count == 4
    # one image per draw: equal draws (the policy holds one choice twice) may have been picked by both images
    policy, stats, count = _partly_prefetched_copy([[(None, 3), (0, 4), (1, 4), (2, 4), (3, 4)]])
    assert len(set(policy)) < 4, policy  # the premise
    assert torch.allclose(stats, _credit(dist, policy, [policy.count(c) for c in policy])) and count == 4
    # many images of every draw (a trunk longer than the prefetch): every draw surely used, the 4 draws' statistics
    policy, stats, count = _partly_prefetched_copy([[(None, 3)] + [(k, 4) for k in range(4) for _ in range(30)]])
    assert stats.tolist() == dist.sufficient_stats(torch.tensor(policy)).tolist() and count == 4
