"""An OHL search resumed from a checkpoint must be the same search: copies, ranks per copy, the space's choices,
trunk length and seed, and no partial last trunk before more training; a derived space's controller is built before
a resume loads θ, and ``load_from`` (no resume) takes the weights only."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from automl_mm.ohl import OHLRandomChoice
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)

#: Three sub-pipelines that change nothing, each its own config (0, 1 and 2 mmcv ToTensor(keys=[])): one listed
#: twice is refused under a learning controller (its probability would be split between two logits).
NO_OP_CHOICES = [[dict(type='mmcv.ToTensor', keys=[])] * n for n in range(3)]


def _choice_hook(num_copies, **kwargs):
    """An OHLHook over one 3-way PipelineChoiceSpace (for the resume checks); ``kwargs``: the trunk length, etc."""
    from automl_mm.ohl import OHLHook

    return OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                distribution=dict(type='Categorical', num_choices=3))],
                   num_copies=num_copies, reward_key='acc', **kwargs)


def _resuming_runner():
    """A stand-in runner of that space's pipeline, resuming."""
    runner = _pipeline_runner(OHLRandomChoice(transforms=NO_OP_CHOICES, key='aug'))
    runner.logger = SimpleNamespace(warning=lambda *a: None)
    runner._resume = True
    return runner


def test_a_resume_with_another_number_of_copies_is_refused():
    """Resuming a 2-copy search with 4 copies continued theta and appended trunks of 4 rewards to a history of
    2, silently."""
    def hook(copies):
        return _choice_hook(copies, trunk_iters=5)

    runner = _resuming_runner()
    checkpoint = {}
    hook(2).before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r'the checkpoint is a search of 2 copies, this run has '
                                         r'OHLHook\.num_copies=4'):
        hook(4).after_load_checkpoint(runner, checkpoint)
    hook(2).after_load_checkpoint(runner, checkpoint)
    del checkpoint['ohl']['num_copies']  # an older checkpoint: the copies are counted from its history
    checkpoint['ohl']['history'] = [dict(trunk=0, rewards=[70.0, 71.0])]
    with pytest.raises(ValueError, match=r'a search of 2 copies'):
        hook(4).after_load_checkpoint(runner, checkpoint)


def test_a_resume_with_another_number_of_ranks_per_copy_is_refused():
    """A 2 x 2 search resumed with ranks_per_copy=1 (on 2 processes) was accepted silently: the checkpoint saved
    ranks_per_copy but nothing read it, and each copy went on with half its batch and twice the iterations per
    epoch (trunks of 10 iterations, then 19); with an iteration-converted schedule the refusal blamed
    train_cfg.max_epochs."""
    def hook(ranks):
        return _choice_hook(2, ranks_per_copy=ranks, trunk_epochs=1)

    runner = _resuming_runner()
    checkpoint = {}
    hook(2).before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r'the checkpoint is a search of 2 copies of 2 ranks each \(world size 4\), '
                                         r'this run has OHLHook\.ranks_per_copy=1 \(world size 2\)'):
        hook(1).after_load_checkpoint(runner, checkpoint)
    hook(2).after_load_checkpoint(runner, checkpoint)  # the same layout: resumed
    del checkpoint['ohl']['ranks_per_copy']  # written before the count was saved: not checked
    hook(1).after_load_checkpoint(runner, checkpoint)


def test_a_resume_whose_space_means_other_choices_is_refused():
    """theta has one coordinate per choice: a config whose choices were reordered (or replaced, same count) loaded
    the old theta onto other choices without complaint."""
    from automl_mm.ohl import OHLHook

    flip, crop = dict(type='RandomFlip', prob=1.0), dict(type='CenterCrop', crop_size=4)

    def resumed(transforms, resume=True):
        hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                    distribution=dict(type='Categorical', num_choices=3))],
                       num_copies=1, reward_key='acc', trunk_iters=5)
        runner = _pipeline_runner(OHLRandomChoice(transforms=transforms, key='aug'))
        runner.logger = SimpleNamespace(warning=lambda *a: None)
        runner._resume = resume
        hook.resolve_spaces(runner)
        return hook, runner

    trained, runner = resumed([[], [flip], [crop]])
    checkpoint = {}
    trained.before_save_checkpoint(runner, checkpoint)
    hook, runner = resumed([[], [crop], [flip]])
    with pytest.raises(ValueError, match=r"OHL: space 'aug' of the checkpoint searched "
                                         r".*RandomFlip.*CenterCrop.*, this run's is .*CenterCrop.*RandomFlip"):
        hook.after_load_checkpoint(runner, checkpoint)
    hook, runner = resumed([[], [flip], [crop]])
    hook.after_load_checkpoint(runner, checkpoint)  # the same space: resumed
    del checkpoint['ohl']['signatures']  # written before the signatures were saved: not checked
    hook, runner = resumed([[], [crop], [flip]])
    hook.after_load_checkpoint(runner, checkpoint)


@pytest.mark.parametrize('trunk_length', [dict(trunk_epochs=2), dict(trunk_iters=5)])
def test_a_resume_past_a_partial_last_trunk_is_refused(trunk_length):
    """A 5-epoch run with 2-epoch trunks ends with a 1-epoch trunk 2; resumed to 7 epochs, trunk 3 covered epoch 6
    alone (its position says trunk 2's second half) and the exported schedule replayed trunk 3's value in epoch 6,
    where the final model had trained with trunk 4's."""
    def hook():
        return _choice_hook(1, **trunk_length)

    runner = _resuming_runner()
    trained = hook()
    trained.trunk = 3
    trained.history = [dict(trunk=0, iter=10, partial=False), dict(trunk=1, iter=20, partial=False),
                       dict(trunk=2, iter=25, partial=True)]
    checkpoint = {}
    trained.before_save_checkpoint(runner, checkpoint)
    runner.max_iters = 25  # the same length: resumes (nothing left to train, or the exports rewritten)
    hook().after_load_checkpoint(runner, checkpoint)
    runner.max_iters = 35
    with pytest.raises(ValueError, match=r"ended with a partial trunk 2 \(its training stopped at iteration 25, "
                                         r"inside the trunk\), and this run goes on to iteration 35"):
        hook().after_load_checkpoint(runner, checkpoint)
    checkpoint['ohl']['history'][-1]['partial'] = False  # a full last trunk: the run can be extended
    hook().after_load_checkpoint(runner, checkpoint)


def test_a_resume_with_another_configured_seed_is_refused():
    """OHLHook(seed=5) resumed from a search of seed 7 continued with 7 without a word: the configured seed was
    silently replaced by the checkpoint's. Unset, the checkpoint's seed is taken (the run's own seed may differ)."""
    runner = _resuming_runner()
    checkpoint = {}
    saved = _choice_hook(2, trunk_iters=4)
    saved.seed = 7
    saved.before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r"checkpoint's search has seed 7, this run sets OHLHook.seed=5"):
        _choice_hook(2, trunk_iters=4, seed=5).after_load_checkpoint(runner, checkpoint)
    for seed in (7, None):
        hook = _choice_hook(2, trunk_iters=4, seed=seed)
        hook.after_load_checkpoint(runner, checkpoint)
        assert hook.seed == 7


def test_a_resume_with_another_trunk_length_is_refused():
    """A 4-iteration-trunk search resumed with trunk_iters=3 ran a 1-iteration trunk 2 recorded as whole, and the
    exported schedule replayed trunks 0-1 as 3 iterations each (iterations 6-7 got trunk 2's value)."""
    def hook(**length):
        return _choice_hook(2, **length)

    runner = _resuming_runner()
    checkpoint = {}
    hook(trunk_iters=4).before_save_checkpoint(runner, checkpoint)
    for other in (dict(trunk_iters=3), dict(trunk_epochs=1)):
        with pytest.raises(ValueError, match=r"checkpoint's trunks were OHLHook\.trunk_iters=4, this run has "
                                             r"OHLHook\.trunk_"):
            hook(**other).after_load_checkpoint(runner, checkpoint)
    hook(trunk_iters=4).after_load_checkpoint(runner, checkpoint)
    for key in ('trunk_epochs', 'trunk_iters'):  # written before the lengths were saved: not checked
        del checkpoint['ohl'][key]
    hook(trunk_iters=3).after_load_checkpoint(runner, checkpoint)


def test_hook_builds_the_controller_of_a_derived_space_before_a_resume_loads_it():
    from automl_mm.ohl import OHLHook

    hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug')], num_copies=1, reward_key='acc',
                   trunk_iters=5)
    assert hook.controllers == [None]
    runner = _pipeline_runner(OHLRandomChoice(transforms=NO_OP_CHOICES, key='aug'))
    warnings = []
    runner.logger = SimpleNamespace(warning=warnings.append)
    runner._resume = True
    checkpoint = {}
    trained = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                   distribution=dict(type='Categorical', num_choices=3))],
                      num_copies=1, reward_key='acc', trunk_iters=5)
    trained.controllers[0].distribution.logits.data += torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    trained.before_save_checkpoint(runner, checkpoint)
    trained.trunk, trained.history = 3, [{'trunk': t} for t in range(3)]
    trained.before_save_checkpoint(runner, checkpoint)
    hook.after_load_checkpoint(runner, checkpoint)
    assert hook.spaces[0].distribution is hook.controllers[0].distribution
    assert torch.equal(hook.spaces[0].distribution.probs(), trained.spaces[0].distribution.probs())
    assert (hook.trunk, len(hook.history)) == (3, 3) and not warnings
    # load_from (no resume) takes the weights only: a new run inherited theta, the trunk counter and the history,
    # and its exported schedule replayed the old run's trunks first
    fresh = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                 distribution=dict(type='Categorical', num_choices=3))],
                    num_copies=1, reward_key='acc', trunk_iters=5)
    runner._resume = False
    fresh.after_load_checkpoint(runner, checkpoint)
    assert (fresh.trunk, fresh.history) == (0, [])
    assert torch.allclose(fresh.controllers[0].distribution.probs(), torch.full((3, ), 1 / 3, dtype=torch.float64))
    assert len(warnings) == 1 and 'load_from takes the checkpoint\'s weights only' in warnings[0]


def test_a_resume_under_another_configured_start_says_the_checkpoints_theta_goes_on():
    """A search started at logits [0, 0, 0] and resumed under a config starting at [2, 0, 0] continued the
    checkpoint's theta (right: a resume continues the search) without a word: the resume's config comparison leaves
    the hook's spaces to the OHL check, which compared the choices and settings only. The start is saved from the
    first resolve on and carried through resumes."""
    from automl_mm.ohl import OHLHook

    def hook(logits=None):
        distribution = dict(type='Categorical', num_choices=3, **({} if logits is None else dict(logits=logits)))
        return OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug', distribution=distribution)],
                       num_copies=1, reward_key='acc', trunk_iters=5)

    runner = _resuming_runner()
    warnings = []
    runner.logger = SimpleNamespace(warning=warnings.append)
    trained = hook()
    trained.resolve_spaces(runner)  # as before_train: the start is recorded
    trained.controllers[0].distribution.logits.data += torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)  # learned
    trained.trunk = 3
    checkpoint = {}
    trained.before_save_checkpoint(runner, checkpoint)
    same = hook()
    same.after_load_checkpoint(runner, checkpoint)
    assert warnings == []  # the same start: the learned theta differs from it, as it should
    edited = hook(logits=[2.0, 0.0, 0.0])
    edited.after_load_checkpoint(runner, checkpoint)
    assert torch.equal(edited.controllers[0].distribution.logits, trained.controllers[0].distribution.logits)
    assert len(warnings) == 1
    assert "space 'aug': this run's OHLHook.spaces[0].distribution starts the search at {'logits': [2.0, 0.0, 0.0]}" \
        in warnings[0] and "started at {'logits': [0.0, 0.0, 0.0]}" in warnings[0] and 'trunk 3' in warnings[0]
    again = {}
    edited.before_save_checkpoint(runner, again)  # the resumed run saves the search's start, not its own config's
    hook(logits=[2.0, 0.0, 0.0]).after_load_checkpoint(runner, again)
    assert len(warnings) == 2
