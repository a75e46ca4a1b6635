"""``automl_mm.nas.loop`` split by concept (the sixty-second session): a search step (``run_step`` and its advice)
moved to ``automl_mm.nas.search_step``, what candidates are scored with (the search split's evaluator, the BN
re-estimation batches, the scoring settings) to ``automl_mm.nas.scoring_setup``; both are bases of
``SearchLoopBase``. The loop module still serves every name it served; a test that patches there a name only the
moved code reads is caught by ``tests/test_patch_targets.py``."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from automl_mm.nas import loop, scoring_setup, search_step

STEP_METHODS = ('run_step',)
SETUP_METHODS = ('scoring_settings', 'bn_pool_items', 'held_out_splits', 'path_evaluator', 'check_search_batches',
                 '_bn_loader', 'potential_scorer')
SERVED = {'score_threshold_keys': search_step, '_empty_step_advice': search_step, '_missed_named': search_step,
          'share_rank0_statistics': search_step, 'warn': search_step, 'score_text': search_step,
          'unscored_reasons': search_step, 'BN_POOL_RANKS': scoring_setup}


def test_the_loops_inherit_the_moved_methods_and_are_still_registered():
    import automl_mm  # noqa: F401
    from automl_mm.nas import CRNASLoop, PCNASLoop, SearchLoopBase
    from automl_mm.registry import LOOPS

    assert LOOPS.get('PCNASLoop') is PCNASLoop and LOOPS.get('CRNASLoop') is CRNASLoop
    for base, names in ((search_step.SearchStepScoring, STEP_METHODS), (scoring_setup.ScoringSetup, SETUP_METHODS)):
        assert issubclass(SearchLoopBase, base)
        for name in names:
            assert name not in SearchLoopBase.__dict__, name
            assert getattr(SearchLoopBase, name) is base.__dict__[name], name
            for cls in (PCNASLoop, CRNASLoop):  # their own scoring_settings extend it through super()
                assert name in cls.__dict__ or getattr(cls, name) is base.__dict__[name], (cls.__name__, name)


@pytest.mark.parametrize('name', sorted(SERVED))
def test_the_loop_module_still_serves_the_moved_name(name):
    assert getattr(loop, name) is getattr(SERVED[name], name)


@pytest.mark.parametrize('name', ['broadcast_object_list', 'candidate_scorer', 'score_step', 'build_local_loader',
                                  'fixed_batches', 'per_epoch_items', 'new_readings', 'check_batches_per_sample',
                                  'loader_setting', 'broadcast_buffers_', 'is_model_wrapper'])
def test_a_patch_of_a_name_only_the_moved_code_read_fails(name, monkeypatch):
    """loop.py no longer imports what only the moved code reads (red where it still does)."""
    with pytest.raises(AttributeError, match=name):
        monkeypatch.setattr(loop, name, object())


def test_a_patch_in_the_step_module_reaches_run_step(monkeypatch):
    """Where run_step reads its warnings now: a tie-break warned (red where run_step reads other names)."""
    warned = []
    monkeypatch.setattr(search_step, 'warn', warned.append)
    monkeypatch.setattr(search_step, 'print_log', lambda message, **kw: None)
    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool

    stand_in = SimpleNamespace(metric_key='accuracy/top1', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=1)
    loop.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c: 0.5, str)
    assert any('tie-break' in w for w in warned), warned


def test_a_patch_in_the_scoring_setup_module_reaches_potential_scorer(monkeypatch):
    def scorer(sampler, evaluate, num_samples, seed, stream, num_decided, accept=None):
        return ('patched', num_samples, seed, stream, num_decided)

    monkeypatch.setattr(scoring_setup, 'candidate_scorer', scorer)
    stand_in = SimpleNamespace(seed=7)
    pool = SimpleNamespace(num_decided=2)
    assert loop.SearchLoopBase.potential_scorer(stand_in, pool, None, None, 3, 11) == ('patched', 3, 7, 11, 2)
