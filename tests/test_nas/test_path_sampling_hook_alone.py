"""Two ``PathSamplingHook``s in one run (one per space, e.g. a CR supernet's allocation and its dilations under a
plain loop) drew tied paths: each draws iteration i's path from ``path_rng(seed, i)``, both seeded by the run's
seed, so the first block's dilation was a function of the allocation drawn (allocations with 1 block in stage 1
always trained it at dilation 1, those with 3 at dilation 3), silently; and their seeds share one checkpoint record,
so a resume gave both the last writer's. A second hook is refused before training. Real mmengine Runners on the
tiny CR-ResNet-18 digits classifier."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg

from automl_mm.nas import DilationSpace, StageAllocationSpace, UniformPathSampler

STAGES = dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6)
DILATIONS = dict(type='DilationSpace', choices=(1, 2, 3))


def test_two_samplers_of_one_seed_draw_tied_decisions():
    """Why: the same seed and iteration give both samplers the same stream, and the first draw of each is the same
    uniform number scaled to its options."""
    stages = UniformPathSampler(StageAllocationSpace([[1, 2, 3]] * 4, 8))
    dilations = UniformPathSampler(DilationSpace((1, 2, 3), 8))
    first = {}
    for it in range(600):
        first.setdefault(stages.sample_at(0, it), set()).add(dilations.sample_at(0, it)[0])
    assert len(first) == 19 and sum(len(d) for d in first.values()) < 19 + 5  # about one dilation per allocation


def _runner(work_dir: str, hooks: list) -> Runner:
    cfg = digits_cr_cfg(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.custom_hooks = hooks
    return Runner.from_cfg(cfg)


def test_a_second_path_sampling_hook_is_refused_before_training(tmp_path):
    runner = _runner(str(tmp_path), [dict(type='PathSamplingHook', space=STAGES),
                                     dict(type='PathSamplingHook', space=DILATIONS, seed=7)])
    with pytest.raises(ValueError, match=r'custom_hooks\[0\] and custom_hooks\[1\] are both PathSamplingHooks '
                                         r'\(StageAllocationSpace, DilationSpace\)'):
        runner.train()
    assert runner.iter == 0



def test_a_second_hook_registered_outside_custom_hooks_is_refused_by_count(tmp_path):
    """A hook registered with ``runner.register_hook`` has no ``custom_hooks`` entry: the refusal counts the hooks
    (``_check_alone``'s documented fallback) and still names their spaces."""
    from automl_mm.nas import PathSamplingHook

    runner = _runner(str(tmp_path), [dict(type='PathSamplingHook', space=STAGES)])
    runner.register_hook(PathSamplingHook(space=DILATIONS, seed=7))
    with pytest.raises(ValueError, match=r'^2 registered hooks are both PathSamplingHooks '
                                         r'\(StageAllocationSpace, DilationSpace\)'):
        runner.train()
    assert runner.iter == 0


def test_resuming_a_two_hook_checkpoint_names_the_second_hook_first(tmp_path):
    """A checkpoint written before a second hook was refused holds one seed, the last writer's: resumed, the other
    hook's seed check refused first ("PathSamplingHook.seed ... the checkpoint's"), hiding the reason. The resume
    names the two hooks first."""
    runner = _runner(str(tmp_path), [dict(type='PathSamplingHook', space=STAGES, seed=3),
                                     dict(type='PathSamplingHook', space=DILATIONS, seed=7)])
    runner._resume = True  # as mmengine's load_or_resume sets it for --resume
    checkpoint = dict(path_sampling=dict(seed=7), meta=dict(iter=1))
    hook = next(h for h in runner.hooks if type(h).__name__ == 'PathSamplingHook')
    with pytest.raises(ValueError, match=r'custom_hooks\[0\] and custom_hooks\[1\] are both PathSamplingHooks'):
        hook.after_load_checkpoint(runner, checkpoint)
