"""CR-NAS's stage search scores exactly the allocations within the FLOPs band around the reference's FLOPs,
reference x (1 -+ flops_tolerance) (METHODS.md §5: a reallocation keeps the reference's computation): an allocation
outside it on either side is never scored, hence never chosen, and one inside it, at either edge, is (an upper bound
alone admitted a CR-MobileNetV2 allocation 11-14 % cheaper than the reference and ranked it as a reallocation of
it; a budget of reference x (1 - tolerance) before that dropped the costlier ones inside). With
``max_stage_candidates`` a seeded uniform sample of those is scored, never one outside the band. The stage supernet
trains on those allocations only: it trained on every allocation of the total block count, 185 of the 362 of the
CR-MobileNetV2 COCO space outside the band, which the search never scores."""
from __future__ import annotations

from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg


def _loop(work_dir: str, **train_cfg):
    runner = Runner.from_cfg(digits_cr_cfg(work_dir, **{'stage_pool_size': 1, **train_cfg}))
    return runner.build_train_loop(runner._train_loop)


def _planted(loop) -> tuple[list, dict, dict]:
    """Planted FLOPs: reference 100, band 95 to 105 at tolerance 0.05; the best-scoring allocation costs 89 (11 %
    cheaper than the reference), the second best 110."""
    allocations = list(loop.stage_space.completions(()))
    assert len(allocations) == 6 and loop.reference_path in allocations
    others = [a for a in allocations if a != loop.reference_path]
    planted = {loop.reference_path: 100.0, others[0]: 104.0, others[1]: 110.0, others[2]: 89.0, others[3]: 95.0,
               others[4]: 105.0}
    scores = {others[2]: 10.0, others[1]: 9.0, others[0]: 5.0, others[3]: 6.0, loop.reference_path: 3.0,
              others[4]: 4.0}
    return others, planted, scores


def _stage_search(loop, planted: dict, scores: dict) -> list:
    """Run the loop's stage search on the planted FLOPs and scores; returns the scored allocations."""
    loop.flops = dict(planted)  # allocation_flops reads its cache
    scored = []

    def run_step(name, pool, score_fn, describe, evaluate, trained_by=''):
        for candidate in pool.candidates():
            scored.append(candidate)
            pool.record(candidate, scores[candidate])
        pool.select()

    loop.path_evaluator = lambda space, batches_per_sample: None
    loop.run_step = run_step
    loop._stage_search()
    return scored


def test_the_stage_search_scores_only_allocations_within_the_flops_band(tmp_path):
    loop = _loop(str(tmp_path / 'run'), flops_tolerance=0.05)
    others, planted, scores = _planted(loop)
    scored = _stage_search(loop, planted, scores)
    assert sorted(scored) == sorted([loop.reference_path, others[0], others[3], others[4]])
    assert others[2] not in scored and others[1] not in scored  # 11 % cheaper, 10 % costlier: outside the band
    assert loop.stage_pool.pool == [others[3]]  # the best inside the band (its lower edge), not the better outside
    assert loop.flops_band() == (95.0, 105.0)
    assert [loop.within_band(a) for a in (others[2], others[3], loop.reference_path, others[4], others[1])] == [
        False, True, True, True, False]


def test_a_band_that_holds_no_allocation_but_the_reference_is_refused_naming_the_nearest(tmp_path):
    """Before any training: the band of flops_tolerance=0.03 (97 to 103) holds only the reference; the message
    names the key, the nearest allocation (104: +4 %) and the tolerance that admits it."""
    import re

    import pytest

    loop = _loop(str(tmp_path / 'run'), flops_tolerance=0.03)
    others, planted, _ = _planted(loop)
    loop.flops = dict(planted)
    nearest = re.escape(str(list(loop.stage_space.values(others[0]))))
    with pytest.raises(ValueError, match=r'^train_cfg\.flops_tolerance=0\.03: the FLOPs band 0\.0000 to 0\.0000 '
                                         r'GFLOPs .* holds no allocation of stage_space but the reference itself.*'
                                         rf'The nearest, {nearest}, costs 0\.0000 GFLOPs \(\+4\.00%\); '
                                         r'flops_tolerance=0\.04 admits it'):
        loop.check_budget()
    loop.flops_tolerance = 0.04
    loop.check_budget()  # 104 lies on the band's upper edge
    # the nearest on the cheaper side: 94 (-6 %), everything else further out
    loop.flops_tolerance = 0.05
    loop.flops.update({others[0]: 94.0, others[3]: 93.0, others[4]: 107.0})
    with pytest.raises(ValueError, match=rf'The nearest, {nearest}, costs '
                                         r'0\.0000 GFLOPs \(-6\.00%\); flops_tolerance=0\.06 admits it'):
        loop.check_budget()
    loop.flops_tolerance = 0.06
    loop.check_budget()


def test_max_stage_candidates_scores_a_seeded_sample_within_the_budget(tmp_path):
    within = None
    samples = set()
    for seed in range(4):
        loop = _loop(str(tmp_path / f'seed{seed}'), flops_tolerance=0.05, max_stage_candidates=2, seed=seed)
        _, planted, scores = _planted(loop)
        within = {a for a, f in planted.items() if f <= 105.0}
        scored = _stage_search(loop, planted, scores)
        assert len(scored) == 2 and set(scored) <= within, seed
        if seed == 0:
            again = _stage_search(_loop(str(tmp_path / 'again'), flops_tolerance=0.05, max_stage_candidates=2,
                                        seed=seed), planted, scores)
            assert again == scored  # seeded
        samples.add(frozenset(scored))
    assert len(samples) >= 2  # a sample, not always the same two


def test_a_resume_inside_the_stage_step_under_another_max_stage_candidates_is_refused(tmp_path):
    """The step's candidates are saved once drawn: a resume under max_stage_candidates=4 scored the checkpoint's
    sample of 2 (and under 1 a subset of it, dropping scored candidates), silently."""
    import pytest

    loop = _loop(str(tmp_path / 'run'), flops_tolerance=0.05, max_stage_candidates=2)
    saved = loop.scoring_settings()
    assert saved['train_cfg.max_stage_candidates'] == 2
    assert saved['train_cfg.completion_sampler']['type'] == 'UniformPathSampler'  # the spatial search's potentials
    loop.stage_pool.record(loop.stage_pool.candidates(depth=loop.stage_space.num_decisions)[0], 0.5)  # partly scored
    loop.check_resumed_scoring(saved)  # the same settings resume
    loop.max_stage_candidates = 4
    with pytest.raises(ValueError, match=r'train_cfg.max_stage_candidates=2, this run sets '
                                         r'train_cfg.max_stage_candidates=4'):
        loop.check_resumed_scoring(saved)


class _Stop(Exception):
    pass


def _stage_supernet_draws(loop, planted: dict) -> list:
    """The allocations ``run`` trains the stage supernet on (``stage_iters`` iterations), on the planted FLOPs: the
    training step records the allocation the backbone runs; the stage search stops the run."""
    loop.flops = dict(planted)
    drawn = []

    def run_iter(data_batch):
        drawn.append(loop.stage_space.path_of(tuple(loop.backbone.active_stage_blocks)))
        loop._iter += 1

    def stop():
        raise _Stop

    loop.run_iter = run_iter
    loop._stage_search = stop
    try:
        loop.run()
    except _Stop:
        pass
    return drawn


def test_the_stage_supernet_trains_only_the_allocations_within_the_flops_band(tmp_path, monkeypatch):
    """Planted FLOPs: 4 of the 6 allocations lie within the band 95 to 105 (89 and 110 do not). Over 40 iterations
    the supernet trains on those 4 only, each of them (uniform among them: (2/3)^40 that no draw left the band under
    the old uniform draw over all 6), and the log says so (flops_band.py's print_log since the 61st session)."""
    from automl_mm.nas import flops_band

    logged = []
    monkeypatch.setattr(flops_band, 'print_log', lambda msg, **kw: logged.append(msg))
    loop = _loop(str(tmp_path / 'run'), flops_tolerance=0.05, stage_iters=40)
    others, planted, _ = _planted(loop)
    drawn = _stage_supernet_draws(loop, planted)
    assert len(drawn) == 40
    assert set(drawn) == {loop.reference_path, others[0], others[3], others[4]}
    assert len(logged) == 1 and logged[0].startswith('[stage supernet] training on the 4 of 6 allocations within '
                                                     'the FLOPs band'), logged


def test_the_stage_supernet_draws_are_the_uniform_ones_when_every_allocation_lies_in_the_band(tmp_path):
    """A ResNet space (every allocation of one block count within 0.1 %): the band admits all, and the supernet
    trains on exactly the paths the sampler drew before the band restricted it (the demos' draws are unchanged)."""
    loop = _loop(str(tmp_path / 'run'), flops_tolerance=0.05, stage_iters=12)
    planted = {path: 100.0 for path in loop.stage_space.completions(())}
    drawn = _stage_supernet_draws(loop, planted)
    assert drawn == [loop.stage_sampler.sample_at(loop.seed, it) for it in range(12)]
    assert len(set(drawn)) > 1
