"""``tools/test.py`` on the checkpoint a search leaves (``work_dir/last_checkpoint``) tests the network the search's
final validation scored: the searched architecture (not part of the weights: which operators / blocks / dilations
run) and the BN statistics re-estimated for it (``bn_recalibration_batches``). Before, the last checkpoint was saved
before both, so the test ran the config's path (option 0 everywhere) with the supernet's shared statistics: a
PC-NAS digits search validated 50.98 top-5 and its checkpoint tested 49.86, with no word. The scorer is replaced
by one preferring high option indices so that the searched path is not the path the config builds; the digits
config tests on its validation split, so the numbers must be equal, not close."""
from __future__ import annotations

import ast
import importlib.util
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from test_nas._cr_digits import use_cr_resnet

from automl_mm.nas import final_architecture, scoring_setup
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def _cfg(work_dir: str, cr_nas: bool) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.train_dataloader.batch_size = 8
    cfg.reward_dataloader.batch_size = 16
    if cr_nas:
        use_cr_resnet(cfg)
        cfg.train_cfg = dict(type='CRNASLoop', stage_iters=2, spatial_iters=2, flops_input_shape=(3, 16, 16),
                             stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6), dilation_choices=(1, 3),
                             stage_pool_size=2, pool_size=2, num_samples=1, batches_per_sample=1,
                             bn_recalibration_batches=2, search_evaluator=dict(type='Accuracy', topk=(1, )),
                             metric_key='accuracy/top1', checkpoint_interval_s=1e9)
        cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    else:
        cfg.train_cfg.update(warmup_iters=4, stage_iters=2, pool_size=2, num_samples=1, batches_per_sample=1,
                             bn_recalibration_batches=2, checkpoint_interval_s=1e9, flops_limit=None)
    return cfg


def _prefer_high_indices(monkeypatch) -> None:
    """Every candidate scores the sum of its option indices: the search ends off the config's path."""
    def scorer(sampler, evaluate, num_samples, seed, stream, num_decided, accept=None):
        return lambda candidate: float(sum(candidate))

    monkeypatch.setattr(scoring_setup, 'candidate_scorer', scorer)


def _tool_test(monkeypatch, capsys, config: str, checkpoint: str, work_dir: str, *options: str) -> tuple[dict, dict]:
    """tools/test.py's printed metrics and the state (weights, BN statistics) of the model it tested."""
    spec = importlib.util.spec_from_file_location('_tool_test_search_ckpt', osp.join(REPO_ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tested = {}
    original = Runner.test

    def test(self):
        metrics = original(self)
        tested['state'] = {k: v.clone() for k, v in self.model.state_dict().items()}
        tested['model'] = self.model
        return metrics

    monkeypatch.setattr(Runner, 'test', test)
    monkeypatch.setattr(sys, 'argv', ['test.py', config, checkpoint, '--work-dir', work_dir, *options])
    capsys.readouterr()
    tool.main()
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    return ast.literal_eval(printed), tested


def _search_then_test(tmp_path, monkeypatch, capsys, cr_nas: bool):
    cfg = _cfg(str(tmp_path / 'search'), cr_nas)
    _prefer_high_indices(monkeypatch)
    runner = Runner.from_cfg(cfg)
    runner.train()
    validated = {k: runner.message_hub.get_scalar(f'val/{k}').current() for k in ('accuracy/top1', 'accuracy/top5')}
    final_state = runner.model.state_dict()
    config = osp.join(cfg.work_dir, osp.basename(CONFIG))  # the run's own config dump
    with open(osp.join(cfg.work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    metrics, tested = _tool_test(monkeypatch, capsys, config, last, str(tmp_path / 'test'))
    return runner, validated, final_state, metrics, tested, config


def _assert_same_state(final_state: dict, tested_state: dict) -> None:
    assert final_state.keys() == tested_state.keys()
    differ = [k for k, v in final_state.items() if not torch.equal(v.cpu(), tested_state[k].cpu())]
    assert not differ, f'the tested model differs from the validated one in {differ[:5]}'


def test_pc_nas_last_checkpoint_tests_as_the_final_validation(tmp_path, monkeypatch, capsys):
    runner, validated, final_state, metrics, tested, config = _search_then_test(tmp_path, monkeypatch, capsys,
                                                                                   False)
    searched = tuple(runner.train_loop.space.current_path(runner.model))
    assert searched != (0, 0, 0, 0)  # off the config's path: the test must apply it
    assert tuple(runner.train_loop.space.current_path(tested['model'])) == searched
    _assert_same_state(final_state, tested['state'])
    assert metrics == {k: round(v, 4) for k, v in validated.items()}
    # the exported stand-alone network (search/pc_nas_backbone.py's arch) with the checkpoint's weights of its path
    exported = str(tmp_path / 'exported.py')
    with open(exported, 'w') as f:
        f.write(f'_base_ = [{config!r}]\nmodel = dict(backbone=dict(arch={runner.model.backbone.arch_names()!r}))\n')
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    standalone, _ = _tool_test(monkeypatch, capsys, exported, last, str(tmp_path / 'test_exported'), '--allow-partial')
    assert standalone == metrics


def test_cr_nas_last_checkpoint_tests_as_the_final_validation(tmp_path, monkeypatch, capsys):
    runner, validated, final_state, metrics, tested, config = _search_then_test(tmp_path, monkeypatch, capsys,
                                                                                   True)
    backbone = runner.train_loop.backbone
    tested_backbone = tested['model'].backbone
    assert set(backbone.active_dilations) != {1}  # off the as-built dilations: the test must apply them
    assert tested_backbone.active_stage_blocks == backbone.active_stage_blocks
    assert tested_backbone.active_dilations == backbone.active_dilations
    _assert_same_state(final_state, tested['state'])
    assert metrics == {k: round(v, 4) for k, v in validated.items()}
    # the exported plain network (search/cr_nas_backbone.py's allocation and dilations) with the checkpoint's weights
    exported = str(tmp_path / 'exported.py')
    with open(exported, 'w') as f:
        f.write(f'_base_ = [{config!r}]\n'
                f'model = dict(backbone=dict(stage_blocks={list(backbone.active_stage_blocks)!r}, '
                f'dilations_per_block={list(backbone.active_dilations)!r}, max_stage_blocks=None))\n')
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    standalone, _ = _tool_test(monkeypatch, capsys, exported, last, str(tmp_path / 'test_exported'), '--allow-partial')
    assert standalone == metrics


def test_a_checkpoint_saved_before_the_search_ended_is_tested_with_a_warning(tmp_path, monkeypatch, capsys):
    runner, _, _, _, _, config = _search_then_test(tmp_path, monkeypatch, capsys, False)
    warnings = []
    monkeypatch.setattr(final_architecture, 'warn', warnings.append)
    last_iter = osp.join(runner.work_dir, f'iter_{runner.iter}.pth')  # the checkpoint hook's, mid-search
    assert osp.isfile(last_iter)
    _tool_test(monkeypatch, capsys, config, last_iter, str(tmp_path / 'test_iter'))
    assert len(warnings) == 1 and 'before its search ended' in warnings[0] and 'search_final_iter_' in warnings[0]


def test_a_stock_runner_testing_the_final_checkpoint_runs_the_searched_path(tmp_path, monkeypatch, capsys):
    """``Runner.from_cfg(cfg).test()`` with ``load_from`` (mmdet's / mmengine's tools/test.py) ran the config's path."""
    runner, validated, final_state, _, _, config = _search_then_test(tmp_path, monkeypatch, capsys, False)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'stock')
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        cfg.load_from = f.read().strip()
    stock = Runner.from_cfg(cfg)
    metrics = stock.test()
    assert tuple(runner.train_loop.space.current_path(stock.model)) == tuple(
        runner.train_loop.space.current_path(runner.model))
    _assert_same_state(final_state, stock.model.state_dict())
    assert metrics == validated
