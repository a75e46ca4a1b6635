"""A NAS start check that refuses on one rank stops every rank there (2 gloo ranks).

Each rank reads its own files: the retrain config and a latency table by a path relative to its own working
directory, its own checkpoint file, its own copy of the search split. A start check that refused on one rank only
(``train_cfg.retrain_config not found`` on a rank started from another directory, a checkpoint of another search
loop, a search split of fewer batches than ``batches_per_sample``) raised there while the other ranks went on into
their next collective and waited in it until the process group's timeout, naming nothing. Now the ranks agree on
the checks' outcome (:func:`~automl_mm.engine.rank_failures.stopping_together`): the refusing rank raises its error,
the others a ``RankFailure`` naming that rank and its error.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, outcome
from mmengine.config import Config

RETRAIN = {'PCNASLoop': 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py'}
TINY = {'PCNASLoop': {'train_cfg.warmup_iters': 2, 'train_cfg.stage_iters': 1},
        'CRNASLoop': {'train_cfg.stage_iters': 1, 'train_cfg.spatial_iters': 1}}


def _cfg(loop: str, repo: str, tmp: str):
    """The digits search of ``loop`` (tests/test_nas/_cr_digits.py's for CR-NAS), tiny, for 2 gloo ranks on CPUs,
    whose ``train_cfg.retrain_config`` is ``retrain.py`` in the working directory (``tmp/node0/retrain.py``)."""
    from test_nas._cr_digits import DIGITS_CONFIG, digits_cr_cfg

    from automl_mm.engine.dist import gloo_without_gpus

    node0 = osp.join(tmp, 'node0')
    os.makedirs(node0, exist_ok=True)
    cfg = digits_cr_cfg(osp.join(tmp, 'work')) if loop == 'CRNASLoop' else Config.fromfile(DIGITS_CONFIG)
    if loop == 'CRNASLoop':  # the searched network at the reference allocation, trained by a plain loop
        retrain = (f"_base_ = {DIGITS_CONFIG!r}\ntrain_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', "
                   "max_epochs=1)\nmodel = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                   "stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, norm_eval=False), "
                   "head=dict(in_channels=128))\n")
    else:
        retrain = f'_base_ = {osp.join(repo, RETRAIN[loop])!r}\n'
    with open(osp.join(node0, 'retrain.py'), 'w') as f:
        f.write(retrain)
    cfg.merge_from_dict({'work_dir': osp.join(tmp, 'work'), 'launcher': 'pytorch', **TINY[loop],
                         'train_cfg.num_samples': 1, 'train_cfg.batches_per_sample': 1,
                         'train_cfg.retrain_config': 'retrain.py', 'train_dataloader.batch_size': 8,
                         'reward_dataloader.batch_size': 16, 'val_cfg': None, 'val_dataloader': None,
                         'val_evaluator': None})
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    gloo_without_gpus(cfg)  # as tools/train.py: DDP of CPU modules
    return cfg


def _rank(rank: int, loop_type: str, repo: str, tmp: str) -> None:
    from mmengine.runner import Runner

    from automl_mm.nas.hook import PathSamplingHook
    from automl_mm.nas.loop import _SearchStateHook

    # a short timeout: where the ranks did not agree, the other rank waited in a collective (until 30 minutes)
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=60)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2', LOCAL_WORLD_SIZE='2')  # as torchrun
    node0 = osp.join(tmp, 'node0')
    cfg = _cfg(loop_type, repo, tmp)
    runner = Runner.from_cfg(cfg)
    found = {}
    # 1. the loop's start: rank 1 runs from another directory, where the relative retrain_config is not
    os.chdir(node0 if rank == 0 else tmp)
    found['loop'] = outcome(lambda: runner.train_loop)
    os.chdir(node0)
    loop = runner.train_loop  # both ranks from node0: built
    # 2. a resume: rank 1's checkpoint holds another search loop's state
    runner._resume = True
    state = dict(loop.search_state_dict(), seed=loop.seed, scoring=loop.scoring_settings(),
                 loop=loop_type if rank == 0 else 'AnotherLoop')
    found['resume'] = outcome(lambda: _SearchStateHook(loop).after_load_checkpoint(
        runner, {'nas_search': state, 'meta': {'iter': 0}}))
    # 3. PathSamplingHook's resume (under a plain loop; called here alone): rank 1's checkpoint was written with
    # another seed than configured
    hook = PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2)), seed=3)
    found['hook'] = outcome(lambda: hook.after_load_checkpoint(runner, {'path_sampling': {'seed': 3 + rank}}))
    runner._resume = False
    # 4. the search's start: rank 1's search split holds fewer batches than batches_per_sample (its copy of the
    # data, as if another)
    if rank == 1:
        loop.batches_per_sample = 10**6
    found['run'] = outcome(runner.train)
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    torch_dist.destroy_process_group()


@pytest.mark.slow  # two gloo ranks, each building a runner and a search loop (about 12 s on 2 shared cores)
@pytest.mark.parametrize('loop', ['PCNASLoop', 'CRNASLoop'])
def test_a_start_check_refused_on_one_rank_stops_every_rank(tmp_path, loop):
    from conftest import REPO_ROOT

    fork_ranks(_rank, (loop, REPO_ROOT, str(tmp_path)), timeout=300)
    found = [json.load(open(tmp_path / f'rank{rank}.json')) for rank in range(2)]
    own = {'loop': "ValueError: train_cfg.retrain_config not found: 'retrain.py'",
           'resume': 'ValueError: NAS: the checkpoint holds the search state of AnotherLoop',
           'hook': "ValueError: the checkpoint's search has seed 4, this run sets PathSamplingHook.seed=3",
           'run': 'ValueError: train_cfg.batches_per_sample'}
    what = {'loop': f'{loop}: the start checks of train_cfg', 'resume': f'{loop}: the resume checks',
            'hook': 'PathSamplingHook: the resumed checkpoint\'s seed',
            'run': f'{loop}: the start checks of the search split'}
    for check in own:
        assert found[1][check] is not None and found[1][check].startswith(own[check]), (check, found[1][check])
        # rank 0 passed the check itself, and stops with rank 1 instead of waiting for it in a collective
        assert found[0][check] is not None and found[0][check].startswith(f'RankFailure: {what[check]}'), \
            (check, found[0][check])
        assert f'failed on rank 1 ({own[check]}' in found[0][check], (check, found[0][check])
