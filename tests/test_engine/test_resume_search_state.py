"""A resume continues a search only from a checkpoint that holds that search's state.

Without it, mmengine resumed the iteration counter while the search restarted at its beginning: an OHL run
resumed at iteration 4 recorded its trunk 0 there (history ``iter`` 8 for the trunk that the schedule replays
at iterations 0-3) and re-drew trunk 0's random streams, with a warning that the search "starts from scratch".
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import tiny_ohl_cfg, train_copy_runner


def _ohl_checkpoint(tmp_path, edit) -> str:
    """Train one epoch (4 iterations) of the tiny OHL run; the checkpoint after ``edit(checkpoint)``."""
    cfg = tiny_ohl_cfg(str(tmp_path / 'first'))
    cfg.train_cfg.max_epochs = 1
    train_copy_runner(cfg)
    checkpoint = torch.load(str(tmp_path / 'first' / 'epoch_1.pth'), map_location='cpu', weights_only=False)
    edit(checkpoint)
    path = str(tmp_path / 'edited.pth')
    torch.save(checkpoint, path)
    return path


def _ohl_history(runner) -> list[tuple[int, int]]:
    hook = next(h for h in runner.hooks if type(h).__name__ == 'OHLHook')
    return [(record['trunk'], record['iter']) for record in hook.history]


def test_an_ohl_resume_from_a_checkpoint_without_ohl_state_is_refused_and_load_from_starts_afresh(tmp_path):
    path = _ohl_checkpoint(tmp_path, lambda checkpoint: checkpoint.pop('ohl'))
    cfg = tiny_ohl_cfg(str(tmp_path / 'resumed'))
    cfg.resume, cfg.load_from = True, path
    with pytest.raises(ValueError, match=r'^OHL: the checkpoint \(iteration 4\) has no OHL search state.*'
                                         r'misaligned.*load_from \(resume=False'):
        train_copy_runner(cfg)
    cfg.resume = False  # weights only: the search and the iterations both start at 0, aligned
    runner = train_copy_runner(cfg)
    assert _ohl_history(runner) == [(0, 4), (1, 8), (2, 12)]


def test_an_ohl_resume_of_a_state_missing_keys_names_them(tmp_path):
    """An OHL state without ``seed`` (written by another version, or edited) failed with ``KeyError: 'seed'``."""
    path = _ohl_checkpoint(tmp_path, lambda checkpoint: checkpoint['ohl'].pop('seed'))
    cfg = tiny_ohl_cfg(str(tmp_path / 'resumed'))
    cfg.resume, cfg.load_from = True, path
    with pytest.raises(ValueError, match=r"OHL state has no \['seed'\] \(it has \[.*'controllers'.*\]\).*load_from"):
        train_copy_runner(cfg)


def test_an_ohl_resume_of_its_own_checkpoint_continues_the_trunks(tmp_path):
    """The control: with its state, the resume goes on from trunk 1 at iteration 8, aligned."""
    path = _ohl_checkpoint(tmp_path, lambda checkpoint: None)
    cfg = tiny_ohl_cfg(str(tmp_path / 'resumed'))
    cfg.resume, cfg.load_from = True, path
    assert _ohl_history(train_copy_runner(cfg)) == [(0, 4), (1, 8), (2, 12)]


def _nas_hook(name: str, keys: tuple[str, ...]):
    from automl_mm.nas.loop import _SearchStateHook

    loop_class = type(name, (), {})
    loop = loop_class()
    loop.__dict__.update(seed=3, _configured_seed=None, _epoch=3, scoring_settings=lambda: None,
                         search_state_dict=lambda: {k: [] for k in keys}, loaded=[],
                         check_resumed_scoring=lambda saved: None)
    loop.load_search_state_dict = loop.loaded.append
    return _SearchStateHook(loop), loop


PC, CR = ('PCNASLoop', ('pool', 'results')), ('CRNASLoop', ('stage_pool', 'dilation_pool', 'flops', 'result'))


def test_a_nas_checkpoint_of_another_loop_or_without_search_state_is_refused_naming_both():
    """A PC-NAS checkpoint resumed by a CRNASLoop failed with ``KeyError: 'stage_pool'``; one without search state
    (a plain supernet run) restarted the pools at step 0 at the resumed iteration without a word."""
    resume = SimpleNamespace(_resume=True, cfg=Config({}))
    saved = {'meta': {'iter': 6}}
    _nas_hook(*PC)[0].before_save_checkpoint(resume, saved)
    assert saved['nas_search']['loop'] == 'PCNASLoop'
    hook, loop = _nas_hook(*CR)
    with pytest.raises(ValueError, match=r"search state of PCNASLoop .*train_cfg.type is CRNASLoop, which needs "
                                         r"\['dilation_pool', 'flops', 'result', 'stage_pool'\].*load_from"):
        hook.after_load_checkpoint(resume, saved)
    older = copy.deepcopy(saved)
    del older['nas_search']['loop']  # written before the loop's name was saved: told by its keys
    with pytest.raises(ValueError, match=r'search state of another search loop .*CRNASLoop, which needs'):
        hook.after_load_checkpoint(resume, older)
    with pytest.raises(ValueError, match=r'^NAS: the checkpoint \(iteration 6\) has no NAS search state: it was '
                                         r'written by a run without a CRNASLoop \(train_cfg.type\)'):
        hook.after_load_checkpoint(resume, {'meta': {'iter': 6}})
    assert loop.loaded == []
    hook.after_load_checkpoint(resume, {'meta': {'iter': 0}})  # nothing trained yet: a fresh search, as before
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), {'meta': {'iter': 6}})  # load_from: weights only
    hook, loop = _nas_hook(*PC)
    hook.after_load_checkpoint(resume, older)  # the same loop, an older checkpoint: loaded
    assert loop.loaded == [older['nas_search']] and loop.seed == 3 and loop._epoch == 0


def test_a_pc_nas_checkpoint_without_its_search_state_is_refused_on_resume(tmp_path):
    """End to end with the real PCNASLoop: its iteration-9 checkpoint (mid-search) with the search state
    removed, as a plain supernet run writes it, resumed."""
    from test_nas.test_pc_nas_loop import _cfg

    Runner.from_cfg(_cfg(str(tmp_path / 'first'))).train()
    checkpoint = torch.load(str(tmp_path / 'first' / 'iter_9.pth'), map_location='cpu', weights_only=False)
    assert checkpoint['nas_search']['loop'] == 'PCNASLoop'
    del checkpoint['nas_search']
    torch.save(checkpoint, str(tmp_path / 'plain.pth'))
    cfg = _cfg(str(tmp_path / 'resumed'))
    cfg.resume, cfg.load_from = True, str(tmp_path / 'plain.pth')
    with pytest.raises(ValueError, match=r'^NAS: the checkpoint \(iteration 9\) has no NAS search state.*PCNASLoop'):
        Runner.from_cfg(cfg).train()
