"""An OHL search of two copies of two ranks each (4 gloo processes, ``tools/train.py``'s main in forked ranks:
tests/_train_ranks.py) resumed from its checkpoint continues the saved search on every rank.

A resume with ``ranks_per_copy > 1`` had no committed test (a reviewer checked by hand that it was neither refused
nor restarted). Here a one-trunk run saves ``epoch_1.pth`` and ``--resume`` continues it for a second trunk; right
after the load (``before_train``, after ``OHLHook``'s own) each rank records what it holds, and the test compares it
with the saved file: θ and each controller's whole state (optimiser moments, baseline, update count), the trunk
counter, the seed and the history, and each copy's weights and optimiser state, on every rank (so the two ranks of a
copy agree, and the copies agree with each other, as they left the broadcast that preceded the save).

Red when the resume restarts the search (the search state not loaded: trunk 0, the configured θ) and when one rank
of a copy loads another file (rank 1 given a copy of ``epoch_1.pth`` with another θ after tools/train.py's
start-alike check: ``OHLHook``'s agreement check refuses on every rank, naming ranks [0, 2, 3]'s ``epoch_1.pth``
and rank 1's file, which differ in ``controllers.aug``).
"""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from _train_ranks import train_ranks

from conftest import tiny_ohl_cfg

PLUGIN = '''
import os
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from automl_mm.ohl import get_copy_layout
from automl_mm.registry import HOOKS


@HOOKS.register_module()
class ResumedStateProbe(Hook):
    """Saves, per rank, what it holds when training (re)starts, after OHLHook's before_train (priority below it)."""

    priority = 'VERY_LOW'

    def before_train(self, runner):
        ohl = next(h for h in runner.hooks if type(h).__name__ == 'OHLHook')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        layout = get_copy_layout()
        state = dict(copy=layout.copy_id, rank_in_copy=layout.rank_in_copy, trunk=ohl.trunk, seed=ohl.seed,
                     in_trunk=ohl._in_trunk, history=ohl.history,
                     theta={s.name: [p.detach().clone() for p in s.distribution.parameters()] for s in ohl.spaces},
                     controllers={s.name: c.state_dict() for s, c in zip(ohl.spaces, ohl.controllers)},
                     model={k: v.detach().clone() for k, v in model.state_dict().items()},
                     optimizer=runner.optim_wrapper.state_dict(), iter=runner.iter, epoch=runner.epoch)
        torch.save(state, osp.join(os.environ['PROBE_DIR'], f'start_rank{layout.rank}_iter{runner.iter}.pth'))
'''


def _same(a, b, where: str = 'state') -> None:
    """Assert ``a`` equals ``b`` exactly, tensors by content (dtype and values), containers item by item."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), f'{where}: {type(a)} vs {type(b)}'
        assert a.dtype == b.dtype and torch.equal(a, b), f'{where}: {a} vs {b}'
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(map(str, a)) == sorted(map(str, b)), f'{where}: keys {a.keys()} vs ' \
                                                                                   f'{b.keys()}'
        for key in a:
            _same(a[key], b[key], f'{where}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f'{where}: {a} vs {b}'
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} vs {b!r}'


def _without_seconds(history: list[dict]) -> list[dict]:
    """The history without what each rank measured for itself (its seconds per step)."""
    return [{k: v for k, v in record.items() if k != 'seconds'} for record in history]


@pytest.mark.slow  # two 4-process runs of one trunk each, about a minute on 2 busy cores
def test_a_search_of_two_copies_of_two_ranks_resumes_its_saved_state_on_every_rank(tmp_path, monkeypatch):
    (tmp_path / 'resume_probe_plugin.py').write_text(PLUGIN)
    work = str(tmp_path / 'work')
    cfg = tiny_ohl_cfg(work, seed=0)
    cfg.custom_hooks[0].update(num_copies=2, ranks_per_copy=2)
    cfg.train_cfg.max_epochs = 2  # trunks of one epoch (the config's trunk_epochs)
    cfg.train_dataloader.batch_size = 8  # 64 images: 4 iterations per rank and epoch
    cfg.reward_dataloader.dataset.max_samples = 16
    cfg.custom_imports = dict(imports=['resume_probe_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='ResumedStateProbe'))
    cfg.pop('launcher')
    cfg.dump(str(tmp_path / 'cfg.py'))
    argv = [str(tmp_path / 'cfg.py'), '--work-dir', work]
    monkeypatch.setenv('PROBE_DIR', str(tmp_path))  # the ranks take the test's environment (fork_ranks)
    # the first run, stopped after its first trunk (its checkpoint epoch_1.pth), then resumed for the second
    train_ranks([*argv, '--cfg-options', 'train_cfg.max_epochs=1'], 4, sys_path=[str(tmp_path)])
    saved = torch.load(osp.join(work, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    train_ranks([*argv, '--resume'], 4, sys_path=[str(tmp_path)])

    ohl = saved['ohl']
    assert ohl['trunk'] == 1 and not ohl['in_trunk'] and ohl['ranks_per_copy'] == 2 and len(ohl['history']) == 1
    iteration = saved['meta']['iter']
    assert iteration == 4
    starts = [torch.load(tmp_path / f'start_rank{rank}_iter{iteration}.pth', weights_only=False) for rank in range(4)]
    assert [(s['copy'], s['rank_in_copy']) for s in starts] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for rank, start in enumerate(starts):
        where = f'rank {rank} (copy {start["copy"]}, rank {start["rank_in_copy"]} of it)'
        # the search: the trunk counter, seed, θ and the controllers' whole state, the history
        assert (start['trunk'], start['in_trunk'], start['seed'], start['epoch']) == (1, False, ohl['seed'], 1), where
        _same(start['controllers'], ohl['controllers'], f'{where}: controllers')
        for name, params in start['theta'].items():
            assert len(params) == 1  # a Categorical's logits: θ is the controller's saved distribution state
            _same(params[0], ohl['controllers'][name]['distribution']['logits'], f'{where}: theta of {name}')
        _same(_without_seconds(start['history']), _without_seconds(ohl['history']), f'{where}: history')
        # the copy's state: the saved (best copy's) weights and optimiser state
        _same(start['model'], saved['state_dict'], f'{where}: model')
        _same(start['optimizer'], saved['optimizer'], f'{where}: optimizer')
    for first, second in ((0, 1), (2, 3)):  # the two ranks of a copy agree (implied above; said once more)
        _same(starts[first]['model'], starts[second]['model'], f'ranks {first} and {second}: model')
        _same(starts[first]['controllers'], starts[second]['controllers'], f'ranks {first} and {second}: controllers')
    # and the resumed run went on from there: its second trunk, recorded after the saved one
    resumed = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu', weights_only=False)['ohl']
    assert resumed['trunk'] == 2
    _same(_without_seconds(resumed['history'][:1]), _without_seconds(ohl['history']), 'the resumed history')
