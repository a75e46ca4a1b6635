"""Two OHL copies over real torch.distributed whose spaces cannot change training (two identical sub-pipelines,
``FrozenController``) and whose data orders are the same (``shuffle=False``) train alike, so every trunk ties, the
best copy is copy 0 and each broadcast hands copy 1 the weights, optimiser and scheduler state it already has. The
final checkpoint then equals the plain run's bit for bit: weights, optimiser state and parameter groups, scheduler
state (trunk ends with broadcasts add or skip no scheduler step; warm-up, a per-epoch cosine converted to
iterations, accumulation over 2, trunks of 2 iterations inside epochs of 4)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from _equivalence import plain_counterpart
from _train_ranks import train_ranks

from conftest import tiny_ohl_cfg


def _configs(tmp_path):
    ohl = tiny_ohl_cfg(str(tmp_path / 'ohl'), trunk_iters=2)
    ohl.custom_hooks[0].num_copies = 2
    ohl.train_dataloader.dataset.pipeline = [dict(type='OHLRandomChoice', key='aug', transforms=[[], []]),
                                             dict(type='PackClsInputs')]
    ohl.train_dataloader.sampler = dict(type='CopySampler', shuffle=False)
    ohl.custom_hooks[0].spaces = [dict(type='PipelineChoiceSpace', key='aug',
                                       distribution=dict(type='Categorical', num_choices=2))]
    ohl.custom_hooks[0].controller = dict(type='FrozenController')
    ohl.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
                           dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)]
    ohl.optim_wrapper.accumulative_counts = 2
    plain = plain_counterpart(ohl, str(tmp_path / 'plain'))
    return ohl, plain


@pytest.mark.slow
def test_two_tied_copies_end_with_the_plain_runs_checkpoint(tmp_path):
    ohl, plain = _configs(tmp_path)
    runs = []
    for name, cfg, world_size, launcher in (('ohl', ohl, 2, 'pytorch'), ('plain', plain, 1, 'none')):
        runs.append(([str(tmp_path / f'{name}.py')], world_size, (), launcher))
        cfg.pop('launcher')  # the tool's --launcher: 2 ranks as torchrun starts them; the plain run in one process
        cfg.dump(runs[-1][0][0])
    with ThreadPoolExecutor(2) as pool:  # side by side, as the two subprocesses ran
        list(pool.map(lambda run: train_ranks(*run), runs))
    saved = [torch.load(f'{cfg.work_dir}/epoch_3.pth', weights_only=False) for cfg in (ohl, plain)]
    weights = [{k.removeprefix('module.'): v for k, v in c['state_dict'].items()} for c in saved]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[1])
    groups = [[{k: v for k, v in g.items() if k != 'params'} for g in c['optimizer']['param_groups']] for c in saved]
    assert groups[0] == groups[1]
    momenta = [[s['momentum_buffer'] for s in c['optimizer']['state'].values()] for c in saved]
    assert all(torch.equal(a, b) for a, b in zip(*momenta)) and len(momenta[0]) == len(momenta[1])
    assert saved[0]['param_schedulers'] == saved[1]['param_schedulers']
