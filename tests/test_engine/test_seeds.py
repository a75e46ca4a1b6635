"""Seeds are checked where the user gives them, and a resume does not replace a configured one silently."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config

from automl_mm.utils.seeding import as_seed


def test_as_seed_takes_non_negative_integers_only():
    assert as_seed(np.int64(3), 'k') == 3 and as_seed(0, 'k') == 0 and as_seed(None, 'k', allow_none=True) is None
    for bad in (-1, 1.7, True, '3', None):
        with pytest.raises(ValueError, match=r'^k must be a non-negative int, got'):
            as_seed(bad, 'k')


@pytest.mark.parametrize('bad', [-1, 1.7, True, 2 ** 32 + 5])
def test_every_configured_seed_is_refused_at_construction_naming_its_key(bad, tmp_path):
    """Each was accepted: -1 failed at the first segment (OHLHook) or epoch (CopySampler) with numpy's 'expected
    non-negative integer', or drew the streams of 2**32 - 1 (PathSamplingHook, the NAS loops: the streams mask
    the seed); 1.7 was read as 1 by all of them, and by the generated detection sets; 2**32 + 5 drew seed 5's
    masked streams, or the lists [5, 1, ...] of seed 5 (test_datasets/test_seed_range.py)."""
    from automl_mm.datasets.fmnist_det import generate_fmnist_det
    from automl_mm.datasets.synthetic_coco import generate_coco
    from automl_mm.nas.hook import PathSamplingHook
    from automl_mm.ohl import OHLHook
    from automl_mm.ohl.copies import CopySampler

    builders = {
        'OHLHook.seed': lambda: OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug')], num_copies=1,
                                        trunk_epochs=1, reward_key='acc', seed=bad),
        'PathSamplingHook.seed': lambda: PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2)),
                                                          seed=bad),
        'CopySampler.seed': lambda: CopySampler(list(range(8)), seed=bad),
        'seed': lambda: generate_coco(str(tmp_path / 'coco'), num_train=1, num_val=1, seed=bad),
    }
    refused = r'must be an int in \[0, 2\*\*32\), got 4294967301: ' if bad == 2 ** 32 + 5 else \
        rf'must be (None or )?a non-negative int, got {bad!r}'
    for key, build in builders.items():
        with pytest.raises(ValueError, match=rf'^{key} {refused}'):
            build()
    with pytest.raises(ValueError, match=rf'^seed {refused}'):
        generate_fmnist_det(str(tmp_path / 'det'), 1, 1, 1, 1, seed=bad, data_root=str(tmp_path / 'none'))
    assert not (tmp_path / 'coco').exists() and not (tmp_path / 'det').exists()  # refused before writing


def _search_state_hook(seed, given):
    from automl_mm.nas.loop import _SearchStateHook

    loop = SimpleNamespace(seed=seed, _configured_seed=seed if given else None, search_state_dict=lambda: {},
                           load_search_state_dict=dict, _epoch=3, scoring_settings=dict,
                           check_resumed_scoring=lambda saved, checkpoint=None: None)
    return _SearchStateHook(loop), loop


def test_a_nas_resume_with_another_configured_seed_is_refused():
    """train_cfg.seed=5 resumed from a search of seed 7 continued with 7 without a word (the configured value
    silently replaced); unset, the checkpoint's seed is taken, as before."""
    runner = SimpleNamespace(_resume=True, cfg=Config({}))
    checkpoint = {}
    _search_state_hook(7, True)[0].before_save_checkpoint(runner, checkpoint)
    hook, loop = _search_state_hook(5, True)
    with pytest.raises(ValueError, match=r"checkpoint's search has seed 7, this run sets train_cfg.seed=5"):
        hook.after_load_checkpoint(runner, checkpoint)
    for seed, given in ((7, True), (123, False)):  # the same seed, or none configured (the run's seed)
        hook, loop = _search_state_hook(seed, given)
        hook.after_load_checkpoint(runner, checkpoint)
        assert loop.seed == 7 and loop._epoch == 0


def test_a_path_sampling_resume_keeps_the_checkpoint_seed_and_refuses_another():
    """PathSamplingHook saved no seed: a resume with PathSamplingHook.seed changed (or a configured seed dropped for
    the run's) sampled every later path from another stream without a word. The checkpoint's seed is taken now,
    a different configured one refused; load_from (no resume) keeps the configured seed."""
    from automl_mm.nas.hook import PathSamplingHook

    def hook(seed):
        return PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2, 3)), seed=seed)

    checkpoint = {}
    hook(7).before_save_checkpoint(SimpleNamespace(), checkpoint)
    resume, load_from = SimpleNamespace(_resume=True, cfg=Config({})), SimpleNamespace(_resume=False)
    with pytest.raises(ValueError, match=r"checkpoint's search has seed 7, this run sets PathSamplingHook.seed=5"):
        hook(5).after_load_checkpoint(resume, checkpoint)
    for seed in (7, None):
        resumed = hook(seed)
        resumed.after_load_checkpoint(resume, checkpoint)
        assert resumed.seed == 7  # every path is drawn from (seed, iteration): the saved run's from here on
    in_config = SimpleNamespace(_resume=True, cfg=Config(dict(custom_hooks=[
        dict(type='OHLProgressHook'), dict(type='automl_mm.PathSamplingHook', seed=5)])))
    with pytest.raises(ValueError, match=r'PathSamplingHook.seed=5.*\(this PathSamplingHook is custom_hooks\[1\] of '
                                         r'the config: --cfg-options custom_hooks.1.<key>=<value> sets its keys\)'):
        hook(5).after_load_checkpoint(in_config, checkpoint)
    fresh = hook(5)
    fresh.after_load_checkpoint(load_from, checkpoint)
    assert fresh.seed == 5
    old = hook(5)
    old.after_load_checkpoint(resume, {})  # a checkpoint saved before the seed was: as before
    assert old.seed == 5
