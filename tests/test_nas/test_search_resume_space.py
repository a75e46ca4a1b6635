"""A resumed CR-NAS search continues in the configured space, at the configured FLOPs input, or is refused.

Real mmengine Runners on a tiny CR-ResNet-18 digits classifier (about 8 s per search): a search is run once, then
resumed from its checkpoints under changed settings.
"""
from __future__ import annotations

import json
import os.path as osp
import re

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas._resume import CR_SEARCH, checkpointed_every_iteration, resuming

from automl_mm.nas.latency import count_flops

SEARCH = dict(CR_SEARCH, flops_input_shape=(3, 32, 32), reference_allocation=(2, 2, 1, 1))


def _cfg(work_dir: str, **override):
    return checkpointed_every_iteration(digits_cr_cfg(work_dir, **{**SEARCH, **override}), keep=10)


@pytest.fixture(scope='module')
def searched(tmp_path_factory) -> str:
    """The work dir of one finished search (stage choices [[1, 2]] * 4, total 6, dilations (1, 2))."""
    work = str(tmp_path_factory.mktemp('cr_resume_space') / 'run')
    Runner.from_cfg(_cfg(work)).train()
    return work


def _resume(checkpoint: str, work_dir: str, backbone: dict | None = None, **override):
    cfg = _cfg(work_dir, **override)
    cfg.model.backbone.update(backbone or {})
    return Runner.from_cfg(resuming(cfg, checkpoint))


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


@pytest.mark.parametrize('checkpoint', ['iter_3.pth', 'search_final_iter_4.pth'])
def test_a_resume_after_the_stage_search_at_another_input_shape_is_refused(searched, tmp_path, checkpoint):
    """Resumed from iteration 3 (the stage search done) or from the finished search at 30 x 30: the checkpoint's
    allocations were admitted to the FLOPs band by counts at 32 x 32; the finished one's result (its
    flops_input_shape [3, 32, 32] and GFLOPs) was exported again as this run's, the other's ranking recounted under
    a band it was never filtered by."""
    work = str(tmp_path / 'thirty')
    runner = _resume(osp.join(searched, checkpoint), work, flops_input_shape=(3, 30, 30))
    with pytest.raises(ValueError, match=r'admitted its allocations to the FLOPs band under '
                                         r'train_cfg\.flops_input_shape=\[3, 32, 32\], this run sets '
                                         r'train_cfg\.flops_input_shape=\[3, 30, 30\]'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


@pytest.mark.parametrize('checkpoint', ['iter_3.pth', 'search_final_iter_4.pth'])
def test_a_resume_after_the_stage_search_on_another_backbone_is_refused(searched, tmp_path, checkpoint):
    """The same weights in another network: strides (1, 2, 2, 1) keep every tensor's shape (the checkpoint loads)
    and change every allocation's FLOPs; the checkpoint's counts, band and result were of the (1, 2, 2, 2) one."""
    work = str(tmp_path / 'strides')
    runner = _resume(osp.join(searched, checkpoint), work, backbone=dict(strides=(1, 2, 2, 1)))
    with pytest.raises(ValueError, match=r'under model\.backbone\.strides=\'\(unset\)\', this run sets '
                                         r'model\.backbone\.strides=\[1, 2, 2, 1\]'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))
    # a key that does not change what an allocation computes resumes (and ends) with the checkpoint's counts
    _resume(osp.join(searched, checkpoint), str(tmp_path / 'frozen'), backbone=dict(frozen_stages=1)).train()


def test_a_resume_in_the_stage_supernet_on_another_backbone_is_refused_where_its_band_changes(searched, tmp_path,
                                                                                             monkeypatch):
    """Resumed from iteration 1 on the strides-(1, 2, 2, 1) network: the checkpoint's counts are dropped with a
    warning naming the key and both values, and counted again; the last stage at twice the resolution leaves 3 of the
    6 allocations in the 5 % band, which the supernet would have trained on from iteration 1 (this test accepted
    that before the forty-seventh session). The input shape 30 x 30 keeps the band's allocations and resumes
    (test_flops_counted_before_a_resume_at_another_input_shape_are_counted_again)."""
    from automl_mm.nas import cr_nas

    messages = []
    monkeypatch.setattr(cr_nas, 'warn', messages.append)
    work = str(tmp_path / 'strides')
    runner = _resume(osp.join(searched, 'iter_1.pth'), work, backbone=dict(strides=(1, 2, 2, 1)))
    with pytest.raises(ValueError, match=r'on the 6 allocations of its FLOPs band, this run\'s band holds 3 \(3 '
                                         r'trained and no longer searched, .*\): '
                                         r'model\.backbone\.strides=\'\(unset\)\' in the checkpoint, '
                                         r'this run sets model\.backbone\.strides=\[1, 2, 2, 1\]'):
        runner.train()
    assert any("model.backbone.strides='(unset)'" in m and 'this run sets model.backbone.strides=[1, 2, 2, 1]' in m
               and 'counted again' in m for m in messages), messages
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


def test_a_finished_search_counted_by_another_counter_reports_fresh_counts(searched, tmp_path):
    """Counts of another counter (checkpoints before the forty-second session) are counted again; a finished
    search's result, which reported them, is rebuilt from its pools, and counting the ranked allocations on the
    supernet leaves it on (validating and saving) the architecture it exports."""
    import torch

    checkpoint = torch.load(osp.join(searched, 'search_final_iter_4.pth'), map_location='cpu', weights_only=False)
    checkpoint['nas_search']['flops_counter'] = 'an older counter'
    checkpoint['nas_search']['flops'] = [[k, 1.0] for k, _ in checkpoint['nas_search']['flops']]
    checkpoint['nas_search']['result']['backbone_gflops'] = 1e-9
    old = str(tmp_path / 'old_counter.pth')
    torch.save(checkpoint, old)
    work = str(tmp_path / 'recounted')
    runner = _resume(old, work)
    runner.train()
    backbone = runner.model.backbone.eval()
    result = _result(work)
    assert [list(backbone.active_stage_blocks), list(backbone.active_dilations)] == [
        result['stage_blocks'], result['dilations_per_block']]
    assert result['stage_blocks'] == _result(searched)['stage_blocks']
    for entry in result['stage_ranking']:
        backbone.set_allocation(entry['stage_blocks'])
        assert entry['gflops'] == pytest.approx(count_flops(backbone, (1, 3, 32, 32)) / 1e9)
    backbone.set_allocation(result['stage_blocks'])
    assert result['backbone_gflops'] == pytest.approx(count_flops(backbone, (1, 3, 32, 32)) / 1e9)


def test_a_resume_after_the_stage_search_with_another_reference_allocation_is_refused(searched, tmp_path):
    """The band was centred on (2, 2, 1, 1)'s FLOPs; resumed between steps (where scoring settings may change) with
    reference (1, 1, 2, 2), the result named the new reference for allocations admitted around the old one."""
    work = str(tmp_path / 'other_reference')
    runner = _resume(osp.join(searched, 'iter_3.pth'), work, reference_allocation=(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r'under train_cfg\.reference_allocation=\[2, 2, 1, 1\], this run sets '
                                         r'train_cfg\.reference_allocation=\[1, 1, 2, 2\]'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


def test_a_resumed_stage_search_that_chose_outside_the_band_is_refused(searched, tmp_path):
    """A checkpoint whose stage search ended under the old upper bound may hold a choice cheaper than the band (the
    CR-MobileNetV2 space admitted ones 5-14 % cheaper): planted here as the chosen allocation's count at 89 % of the
    reference's. The resume used to carry it into the spatial search and the export."""
    import torch

    checkpoint = torch.load(osp.join(searched, 'iter_3.pth'), map_location='cpu', weights_only=False)
    state = checkpoint['nas_search']
    chosen = state['stage_pool']['pool'][0]
    flops = {tuple(k): v for k, v in state['flops']}
    reference = next(tuple(k) for k in flops if k != tuple(chosen) and flops[tuple(k)] == max(flops.values()))
    reference_values = [i + 1 for i in reference]  # stage_choices [[1, 2]] * 4: index i is i + 1 blocks
    flops[tuple(chosen)] = 0.89 * flops[reference]
    state['flops'] = [[list(k), v] for k, v in flops.items()]
    state['scoring']['train_cfg.reference_allocation'] = reference_values
    planted = str(tmp_path / 'old_choice.pth')
    torch.save(checkpoint, planted)
    work = str(tmp_path / 'resumed')
    runner = _resume(planted, work, reference_allocation=tuple(reference_values))
    values = [i + 1 for i in chosen]
    with pytest.raises(ValueError, match=rf'the stage search chose stage_blocks={re.escape(str(values))} at .* '
                                         r'\(-11\.00% of reference_allocation .*outside the FLOPs band .* of '
                                         r'train_cfg\.flops_tolerance=0\.05'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


@pytest.mark.parametrize('tolerance', [0.0, 0.5])
def test_a_resume_after_the_stage_search_with_another_flops_tolerance_is_refused(searched, tmp_path, tolerance):
    """The band's half-width decides which allocations the stage search chose among: resumed between steps with
    another one, a narrower band was refused as a choice made 'before the band' (a misleading cause) and a wider one
    kept a choice among fewer allocations than this run's band holds."""
    work = str(tmp_path / f'tolerance_{tolerance}')
    runner = _resume(osp.join(searched, 'iter_3.pth'), work, flops_tolerance=tolerance)
    with pytest.raises(ValueError, match=rf'under train_cfg\.flops_tolerance=0\.05, this run sets '
                                         rf'train_cfg\.flops_tolerance={tolerance}'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


def test_a_resume_naming_the_backbone_type_with_its_scope_is_the_same_backbone(searched, tmp_path):
    """The checkpoint's backbone was configured as 'CRResNet'; 'automl_mm.CRResNet' builds the same class, and was
    refused after the stage search as another backbone (model.backbone.type='CRResNet', this run sets ...)."""
    work = str(tmp_path / 'scoped')
    runner = _resume(osp.join(searched, 'iter_3.pth'), work, backbone=dict(type='automl_mm.CRResNet'))
    runner.train()
    assert _result(work)['stage_blocks'] == _result(searched)['stage_blocks']


def test_a_resume_with_another_initial_allocation_keeps_the_counts_of_the_same_network(searched, tmp_path):
    """model.backbone.stage_blocks is the allocation the backbone starts at, which the search replaces: every
    allocation's FLOPs stay the same (the counts are keyed by allocation). With train_cfg.reference_allocation given,
    a resume after the stage search at stage_blocks (1, 1, 2, 2) was refused as FLOPs counted on another backbone;
    left to default to stage_blocks, the band's centre moves and it is refused as another reference_allocation."""
    work = str(tmp_path / 'initial')
    runner = _resume(osp.join(searched, 'iter_3.pth'), work, backbone=dict(stage_blocks=(1, 1, 2, 2)))
    runner.train()
    assert _result(work)['stage_blocks'] == _result(searched)['stage_blocks']
    assert _result(work)['reference_allocation'] == [2, 2, 1, 1]
    runner = _resume(osp.join(searched, 'iter_3.pth'), str(tmp_path / 'default_reference'),
                     backbone=dict(stage_blocks=(1, 1, 2, 2)), reference_allocation=None)
    with pytest.raises(ValueError, match=r'under train_cfg\.reference_allocation=\[2, 2, 1, 1\], this run sets '
                                         r'train_cfg\.reference_allocation=\[1, 1, 2, 2\]'):
        runner.train()


@pytest.mark.parametrize('checkpoint', ['iter_1.pth', 'iter_2.pth'])
def test_a_resume_in_the_stage_supernet_with_a_band_of_other_allocations_is_refused(searched, tmp_path, checkpoint):
    """Resumed in phase 1 (iteration 1) or at its end (iteration 2, the stage search not begun) under
    flops_tolerance 0.0005: the checkpoint's supernet trained on all 6 allocations (band of 5 %), this run's band
    holds 2 ((2, 2, 1, 1) and (2, 1, 2, 1), within 1,024 FLOPs of 2,198,784): it trained the rest on, and scored, 2
    of them with only mmengine's 'config differs' warning."""
    work = str(tmp_path / 'narrow')
    runner = _resume(osp.join(searched, checkpoint), work, flops_tolerance=0.0005)
    with pytest.raises(ValueError, match=rf'trained iterations 0 to {checkpoint[5]} on the 6 allocations of its FLOPs '
                                         r'band, this run\'s band holds 2 \(4 trained and no longer searched, e\.g\. '
                                         r'\[1, 1, 2, 2\]\): train_cfg\.flops_tolerance=0\.05 in the checkpoint, this '
                                         r'run sets train_cfg\.flops_tolerance=0\.0005\.'):
        runner.train()
    assert not osp.exists(osp.join(work, 'search', 'cr_nas_result.json'))


def test_a_resume_in_the_stage_supernet_under_another_stage_space_is_refused(searched, tmp_path):
    """total_blocks 5 in the middle of phase 1: the stage pool holds no path yet, so the space check had nothing to
    compare; the supernet trained 6-block allocations, then 5-block ones."""
    runner = _resume(osp.join(searched, 'iter_1.pth'), str(tmp_path / 'five'), reference_allocation=(2, 1, 1, 1),
                     stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=5))
    with pytest.raises(ValueError, match=r'on the 6 allocations of its FLOPs band, this run\'s band holds 4 \(4 never '
                                         r'trained so far, e\.g\. \[1, 1, 1, 2\], 6 trained and no longer searched, '
                                         r'e\.g\. \[1, 1, 2, 2\]\): train_cfg\.reference_allocation=\[2, 2, 1, 1\] in '
                                         r'the checkpoint, .*train_cfg\.stage_space=.*\'total_blocks\': 6.* this run '
                                         r'sets train_cfg\.stage_space=.*\'total_blocks\': 5'):
        runner.train()


def test_a_resume_in_the_stage_supernet_whose_band_holds_the_same_allocations_goes_on(searched, tmp_path):
    """Another reference_allocation whose 5 % band holds the same 6 allocations: the supernet trains on as before
    (the band is compared by its allocations, not by its settings), and the result names the new reference."""
    work = str(tmp_path / 'same_band')
    _resume(osp.join(searched, 'iter_1.pth'), work, reference_allocation=(1, 1, 2, 2)).train()
    assert _result(work)['reference_allocation'] == [1, 1, 2, 2]


def _without_band(searched: str, tmp_path, drop_count: bool = False) -> str:
    """iter_1.pth as written before the band's allocations were saved (optionally with a FLOPs count missing)."""
    import torch

    checkpoint = torch.load(osp.join(searched, 'iter_1.pth'), map_location='cpu', weights_only=False)
    assert checkpoint['nas_search'].pop('band_allocations') is not None
    if drop_count:
        checkpoint['nas_search']['flops'] = checkpoint['nas_search']['flops'][:-1]
    old = str(tmp_path / f'old{int(drop_count)}.pth')
    torch.save(checkpoint, old)
    return old


def test_a_checkpoint_without_its_band_is_judged_by_the_band_of_its_own_counts(searched, tmp_path):
    """A checkpoint written before the band's allocations were saved: its band is told from its own FLOPs counts and
    band settings. Another reference_allocation whose 5 % band holds the same 6 allocations goes on (it was refused
    for any change of a band setting, though the new-checkpoint resume of the same change goes on); a band of other
    allocations (flops_tolerance 0.0005: 2 of the 6) is refused with the allocations lost, as for a new checkpoint;
    with a count missing the band cannot be told and any change of a band setting is refused."""
    old = _without_band(searched, tmp_path)
    work = str(tmp_path / 'same_band')
    _resume(old, work, reference_allocation=(1, 1, 2, 2)).train()
    assert _result(work)['reference_allocation'] == [1, 1, 2, 2]
    runner = _resume(old, str(tmp_path / 'narrow'), flops_tolerance=0.0005)
    with pytest.raises(ValueError, match=r'trained iterations 0 to 1 on the 6 allocations of its FLOPs band, this '
                                         r'run\'s band holds 2 \(4 trained and no longer searched'):
        runner.train()
    runner = _resume(_without_band(searched, tmp_path, drop_count=True), str(tmp_path / 'other'),
                     reference_allocation=(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r'trained iterations 0 to 1 on its FLOPs band \(the checkpoint, written '
                                         r'before the band\'s allocations were saved, cannot tell which\): '
                                         r'train_cfg\.reference_allocation=\[2, 2, 1, 1\] in the checkpoint'):
        runner.train()
    _resume(_without_band(searched, tmp_path, drop_count=True), str(tmp_path / 'same')).train()  # its settings


@pytest.mark.parametrize('checkpoint', ['iter_1.pth', 'iter_3.pth'])
def test_a_resume_spelling_the_stage_space_type_with_its_scope_is_the_same_space(searched, tmp_path, checkpoint):
    """The saved stage_space config is compared only to name a change where the band's allocations differ (before
    the stage search); after it the stage pool checks the space itself: 'automl_mm.StageAllocationSpace' is the
    space the checkpoint searched (refused as another train_cfg.stage_space after the stage search, when first
    saved)."""
    work = str(tmp_path / 'scoped')
    _resume(osp.join(searched, checkpoint), work, stage_space=dict(
        type='automl_mm.StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6)).train()
    assert _result(work)['stage_blocks'] == _result(searched)['stage_blocks']
