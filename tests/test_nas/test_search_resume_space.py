"""A resumed CR-NAS search continues in the configured space, at the configured FLOPs input, or is refused.

Real mmengine Runners on a tiny CR-ResNet-18 digits classifier (about 8 s per search): a search is run once, then
resumed from its checkpoints under changed settings.
"""
from __future__ import annotations

import json
import os.path as osp

import pytest
from mmengine.runner import Runner
from test_nas.test_cr_nas_loop import _digits_cr_cfg

from automl_mm.nas.latency import count_flops

SEARCH = dict(dilation_choices=(1, 2), stage_pool_size=2, pool_size=2, num_samples=1, batches_per_sample=1,
              flops_input_shape=(3, 32, 32), reference_allocation=(2, 2, 1, 1))


def _cfg(work_dir: str, **override):
    cfg = _digits_cr_cfg(work_dir, **{**SEARCH, **override})
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=10)
    return cfg


@pytest.fixture(scope='module')
def searched(tmp_path_factory) -> str:
    """The work dir of one finished search (stage choices [[1, 2]] * 4, total 6, dilations (1, 2))."""
    work = str(tmp_path_factory.mktemp('cr_resume_space') / 'run')
    Runner.from_cfg(_cfg(work)).train()
    return work


def _resume(checkpoint: str, work_dir: str, **override):
    cfg = _cfg(work_dir, **override)
    cfg.load_from, cfg.resume = checkpoint, True
    return Runner.from_cfg(cfg)


def _result(work_dir: str) -> dict:
    with open(osp.join(work_dir, 'search', 'cr_nas_result.json')) as f:
        return json.load(f)


def test_a_resume_under_another_total_block_count_is_refused(searched, tmp_path):
    """The options ([1, 2] per stage) are the same, the constraint is not: the checkpoint's allocation of 6 blocks
    was exported as the result of a search over 5."""
    runner = _resume(osp.join(searched, 'search_final_iter_4.pth'), str(tmp_path / 'five'),
                     stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=5), reference_allocation=(2, 1, 1, 1))
    with pytest.raises(ValueError, match=r'the checkpoint holds the path \[.*\] \(values \[.*\]\), which the '
                                         r'config\'s StageAllocationSpace does not admit'):
        runner.train()
    assert not osp.exists(osp.join(tmp_path, 'five', 'search', 'cr_nas_result.json'))


def test_a_finished_spatial_search_resumed_under_other_dilations_is_refused(searched, tmp_path):
    """The dilation space is bound after the stage search, and its saved options were compared only at its next
    step: a finished one exported the checkpoint's dilations and left the model running other ones (its indices
    applied to the new choices)."""
    runner = _resume(osp.join(searched, 'search_final_iter_4.pth'), str(tmp_path / 'other'), dilation_choices=(1, 3))
    with pytest.raises(ValueError, match=r'searched over other options than the config\'s DilationSpace'):
        runner.train()
    # the same settings resume (and end) as before, the model running the exported dilations
    runner = _resume(osp.join(searched, 'search_final_iter_4.pth'), str(tmp_path / 'same'))
    runner.train()
    backbone = runner.model.backbone
    assert list(backbone.active_dilations) == _result(str(tmp_path / 'same'))['dilations_per_block']


def test_flops_counted_before_a_resume_at_another_input_shape_are_counted_again(searched, tmp_path):
    """The checkpoint of iteration 1 (stage supernet training) holds the reference FLOPs counted at 32 x 32; the
    resumed run at 30 x 30 budgeted its allocations, counted at 30 x 30, against them and reported them as the
    reference's FLOPs at 30 x 30."""
    work = str(tmp_path / 'thirty')
    runner = _resume(osp.join(searched, 'iter_1.pth'), work, flops_input_shape=(3, 30, 30))
    runner.train()
    backbone = runner.model.backbone
    backbone.set_allocation((2, 2, 1, 1))
    expected = count_flops(backbone.eval(), (1, 3, 30, 30)) / 1e9
    result = _result(work)
    assert result['flops_input_shape'] == [3, 30, 30]
    assert result['reference_gflops'] == pytest.approx(expected)
    fresh = str(tmp_path / 'fresh')
    Runner.from_cfg(_cfg(fresh, flops_input_shape=(3, 30, 30))).train()
    assert [e['stage_blocks'] for e in result['stage_ranking']] != [] and \
        sorted(map(tuple, (e['stage_blocks'] for e in result['stage_ranking']))) == \
        sorted(map(tuple, (e['stage_blocks'] for e in _result(fresh)['stage_ranking'])))


def test_the_reported_stage_ranking_flops_are_counted_at_the_resumed_input_shape(searched, tmp_path):
    """Resumed from iteration 3 (after the stage search) at 30 x 30, the ranking's FLOPs were the checkpoint's
    counts at 32 x 32 reported under the new shape (and, once those were dropped, 0)."""
    work = str(tmp_path / 'thirty')
    runner = _resume(osp.join(searched, 'iter_3.pth'), work, flops_input_shape=(3, 30, 30))
    runner.train()
    backbone = runner.model.backbone.eval()
    # counting them set each ranked allocation on the supernet: the search still ends on (validates and saves) the
    # architecture it exports
    result = _result(work)
    assert [list(backbone.active_stage_blocks), list(backbone.active_dilations)] == [
        result['stage_blocks'], result['dilations_per_block']]
    for entry in _result(work)['stage_ranking']:
        backbone.set_allocation(entry['stage_blocks'])
        assert entry['gflops'] == pytest.approx(count_flops(backbone, (1, 3, 30, 30)) / 1e9)
