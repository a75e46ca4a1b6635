"""The NAS loops' ``train_cfg.metric_rule``: a lower-is-better search metric (an error, a loss) keeps the
candidates of the LOWEST score. Before the rule existed every pool kept the highest: a search on
``metric_key='error/top1'`` exported the architecture of the highest error."""
from __future__ import annotations

import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.spaces import LayerwiseSpace

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
ERROR = {0: 0.30, 1: 0.05, 2: 0.60}  # the planted optimum: option 1 has the LOWEST error


def _scored_pool(rule: str) -> PartialArchitecturePool:
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule=rule)
    for c in pool.candidates():
        pool.record(c, ERROR[c[0]])
    return pool


def test_the_pool_keeps_the_lowest_error_under_less_and_the_highest_under_greater():
    assert _scored_pool('less').select() == [(1,), (0,)]
    assert _scored_pool('greater').select() == [(2,), (0,)]
    pool = _scored_pool('less')
    pool.select()
    assert pool.history[-1]['candidates'][0] == [[1], 0.05]  # recorded as measured, best first


def test_under_less_no_admitted_completion_and_no_metrics_rank_last():
    """-inf (no completion within the cost limit) is not the lowest error, and a candidate whose evaluations gave
    no metrics (scored 0) is not a perfect one."""
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=3, rule='less')
    pool.record((0,), float('-inf'))
    pool.record((1,), 0.0, empty=True)
    pool.record((2,), 0.4)
    assert [c for c, _ in pool.ranking()] == [(2,), (1,), (0,)]
    assert pool.select() == [(2,), (1,)]


def test_a_resume_under_another_rule_is_refused():
    state = _scored_pool('greater').state_dict()
    with pytest.raises(ValueError, match=r"train_cfg\.metric_rule='greater'\), this run sets "
                                         r"train_cfg\.metric_rule='less'"):
        PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule='less').load_state_dict(state)
    state.pop('rule')  # a checkpoint from before the rule: it kept the highest
    with pytest.raises(ValueError, match='metric_rule'):
        PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2, rule='less').load_state_dict(state)


def _pc_nas(work_dir: str, **train_cfg) -> dict:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_cfg.update(warmup_iters=8, stage_iters=2, pool_size=2, num_samples=2, batches_per_sample=2,
                         checkpoint_interval_s=1e9, **train_cfg)
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    Runner.from_cfg(cfg).train()
    with open(osp.join(work_dir, 'search', 'pc_nas_result.json')) as f:
        return json.load(f)


def test_pc_nas_on_an_error_metric_exports_the_lowest_error_path(tmp_path):
    """A real PC-NAS run whose search metric is named ``error/top1`` (the accuracy, reported under that prefix: its
    lowest value is at the path of the lowest accuracy, a planted optimum the run cannot reach by maximising):
    ``metric_rule`` is inferred 'less' and every step keeps its lowest potentials. Red before the rule: the run
    kept the highest."""
    result = _pc_nas(str(tmp_path), metric_key='error/top1',
                     search_evaluator=dict(type='Accuracy', topk=(1, ), prefix='error'))
    ranked = 0
    for step in result['history']:
        scores = [s for _, s in step['candidates'] if s is not None]
        kept = [s for c, s in step['candidates'] if c in step['pool']]
        assert sorted(kept) == sorted(scores)[:len(kept)]
        ranked += len(set(scores)) > 1
    assert ranked  # some step told its candidates apart (ties everywhere would pass under either rule)
    assert result['metric_rule'] == 'less'


def test_an_invalid_rule_is_refused_at_start_naming_the_key(tmp_path):
    with pytest.raises(Exception, match=r"train_cfg\.metric_rule must be 'greater'.*got 'min' for "
                                        r"train_cfg\.metric_key='accuracy/top1'"):
        _pc_nas(str(tmp_path), metric_rule='min')
