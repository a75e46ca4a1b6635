"""OHLHook(bn_recalibration_batches=n): each copy's reward is read with BatchNorm statistics re-estimated on clean
training images, and the copy keeps training with its own statistics. A real 2-copy run with the option (the
default clean loader built from the config): test_ohl_runs.py, the run that ends inside a trunk."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.engine.evaluate import (
    HeldOutEvaluator,
    build_local_loader,
    cycle_batches,
    kept_bn_statistics,
    recalibrate_bn,
)
from automl_mm.ohl.reward import clean_train_loader_cfg
from automl_mm.registry import HOOKS, METRICS, MODELS

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for m in model.modules() if isinstance(m, _BatchNorm) for b in m.buffers()]


def _planted_model(cfg: Config, batches: list[dict]) -> nn.Module:
    """The digits classifier trained a little on clean ``batches``, then its running statistics moved by
    brightened, higher-contrast ("augmented") versions of them."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(20):
        for data in batches:
            loss = sum(model(**model.data_preprocessor(data, True), mode='loss').values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        for data in batches:
            model.extract_feat(model.data_preprocessor(data, True)['inputs'] * 3.0 + 2.0)
    return model


def test_kept_bn_statistics_puts_back_what_recalibration_changed_also_after_an_error():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4))
    model.train()
    model(torch.randn(8, 1, 6, 6) + 5)
    before = _bn_buffers(model)
    with pytest.raises(RuntimeError, match='inside'):
        with kept_bn_statistics(model):
            for m in model.modules():
                if isinstance(m, _BatchNorm):
                    m.reset_running_stats()
            raise RuntimeError('inside')
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_buffers(model)))


def test_the_reward_is_read_with_clean_statistics_and_the_copy_keeps_its_own():
    cfg = Config.fromfile(OHL)
    cfg.train_dataloader.dataset.max_samples = 48
    clean_cfg, _ = clean_train_loader_cfg(cfg, None)
    clean = build_local_loader(dict(clean_cfg, batch_size=16), 'clean', 'train')
    reward_loader = dict(cfg.reward_dataloader, batch_size=32)
    reward_loader['dataset'] = dict(reward_loader['dataset'], max_samples=64)
    runner = SimpleNamespace(cfg=cfg, build_evaluator=lambda m: Evaluator([METRICS.build(m)]))
    held_out = HeldOutEvaluator('reward', 'log_likelihood/mean', 'OHLHook', reward_loader,
                                dict(type='LogLikelihood')).build(runner)
    hook = HOOKS.build(dict(cfg.custom_hooks[0], bn_recalibration_batches=2))
    hook.scorer.held_out, hook.scorer.bn_batches = held_out, list(cycle_batches(clean, 0, 2))
    model = _planted_model(cfg, list(cycle_batches(clean, 0, 3)))
    trained_with = _bn_buffers(model)

    reward, empty = hook.scorer.score(model)

    assert not empty
    assert all(torch.equal(a, b) for a, b in zip(trained_with, _bn_buffers(model)))  # the copy keeps its own
    expected = copy.deepcopy(model)
    recalibrate_bn(expected, cycle_batches(clean, 0, 2))  # the first 2 clean batches, every copy and trunk alike
    assert reward == held_out.score(expected)[0]
    plain, _ = held_out.score(model)
    assert reward > plain + 0.5  # the shifted statistics cost log-likelihood; the clean ones take that cost away
    hook.scorer.bn_recalibration_batches = 0
    assert hook.scorer.score(model)[0] == plain


def test_the_clean_loader_defaults_to_the_training_images_read_with_the_test_pipeline():
    cfg = Config(dict(test_pipeline=[dict(type='PackClsInputs')],
                      train_dataloader=dict(batch_size=8, sampler=dict(type='CopySampler'),
                                            dataset=dict(type='D', split='train', pipeline=[dict(type='Crop')]))))
    loader, key = clean_train_loader_cfg(cfg, None)
    assert loader['dataset'] == dict(type='D', split='train', pipeline=[dict(type='PackClsInputs')])
    assert loader['batch_size'] == 8 and 'test_pipeline' in key
    assert cfg.train_dataloader.dataset.pipeline == [dict(type='Crop')]  # the training loader is left alone
    explicit = dict(dataset=dict(type='D'))
    assert clean_train_loader_cfg(cfg, explicit) == (explicit, 'OHLHook.bn_recalibration_dataloader')
    wrapped = Config(dict(test_pipeline=cfg.test_pipeline,
                          train_dataloader=dict(dataset=dict(type='RepeatDataset', dataset=dict(type='D')))))
    for bad in (wrapped, Config(dict(train_dataloader=cfg.train_dataloader))):
        with pytest.raises(ValueError, match='bn_recalibration_dataloader.*test_pipeline'):
            clean_train_loader_cfg(bad, None)
    hook_cfg = Config.fromfile(OHL).custom_hooks[0]
    for bad_count in (-1, 1.5):
        with pytest.raises(ValueError, match='bn_recalibration_batches'):
            HOOKS.build(dict(hook_cfg, bn_recalibration_batches=bad_count))


def test_syncbn_in_copies_of_several_ranks_is_refused():
    from automl_mm.ohl.checks import check_bn_recalibration

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.SyncBatchNorm(4))
    check_bn_recalibration(model, ranks_per_copy=1)  # one rank per copy: the lead is the copy
    check_bn_recalibration(nn.Sequential(nn.BatchNorm2d(4)), ranks_per_copy=2)
    with pytest.raises(ValueError, match=r'model\.1 is a SyncBatchNorm.*bn_recalibration_batches=0'):
        check_bn_recalibration(model, ranks_per_copy=2)


def test_the_clean_batches_are_drawn_with_the_run_seed_not_the_ranks(monkeypatch):
    """Under randomness.diff_rank_seed runner.seed is seed + rank: the clean batches were drawn with each copy's
    own seed, so copies recalibrated on different images whenever the clean pipeline draws anything."""
    from automl_mm.ohl import reward as reward_module

    drawn = []
    monkeypatch.setattr(reward_module, 'fixed_batches', lambda loader, n, seed: drawn.append((n, seed)) or [])
    monkeypatch.setattr(reward_module, 'build_local_loader', lambda *args: 'loader')
    cfg = Config.fromfile(OHL)
    hook = HOOKS.build(dict(cfg.custom_hooks[0], bn_recalibration_batches=2))
    monkeypatch.setattr(hook.scorer.held_out, 'build', lambda runner: None)
    rank_1 = SimpleNamespace(cfg=cfg, model=nn.Sequential(nn.BatchNorm2d(2)), seed=7)  # seed 6, rank 1
    hook.scorer.build(rank_1, ranks_per_copy=1, seed=6)
    assert drawn == [(2, 6)]


def test_only_a_copys_lead_loads_the_clean_batches(monkeypatch):
    """With several ranks per copy the lead alone re-estimates the statistics (RewardScorer.score, then broadcast
    within the copy): its other ranks loaded the clean batches too, and never used them."""
    from automl_mm.ohl import reward as reward_module

    drawn = []
    monkeypatch.setattr(reward_module, 'fixed_batches', lambda loader, n, seed: drawn.append((n, seed)) or ['b'])
    monkeypatch.setattr(reward_module, 'build_local_loader', lambda *args: 'loader')
    hook = HOOKS.build(dict(Config.fromfile(OHL).custom_hooks[0], bn_recalibration_batches=2))
    monkeypatch.setattr(hook.scorer.held_out, 'build', lambda runner: None)
    runner = SimpleNamespace(cfg=Config.fromfile(OHL), model=nn.Sequential(nn.BatchNorm2d(2)))
    hook.scorer.build(runner, ranks_per_copy=2, seed=6, is_lead=False)
    assert drawn == [] and hook.scorer.bn_batches is None
    with pytest.raises(ValueError, match='SyncBatchNorm'):  # the layer check still runs on every rank
        hook.scorer.build(SimpleNamespace(cfg=runner.cfg, model=nn.Sequential(nn.SyncBatchNorm(2))), 2, 6, False)
    hook.scorer.build(runner, ranks_per_copy=2, seed=6, is_lead=True)
    assert drawn == [(2, 6)] and hook.scorer.bn_batches == ['b']


def test_a_clean_loader_without_recalibration_batches_is_refused():
    # bn_recalibration_dataloader is read only with bn_recalibration_batches > 0: alone it changed nothing
    hook_cfg = Config.fromfile(OHL).custom_hooks[0]
    loader = dict(batch_size=8, dataset=dict(type='DigitsDataset', split='train'))
    with pytest.raises(ValueError, match=r'OHLHook\.bn_recalibration_dataloader.*bn_recalibration_batches=0'):
        HOOKS.build(dict(hook_cfg, bn_recalibration_dataloader=loader))
    hook = HOOKS.build(dict(hook_cfg, bn_recalibration_dataloader=loader, bn_recalibration_batches=2))
    assert hook.scorer.bn_recalibration_batches == 2


def test_recalibration_applies_no_batch_augment_and_leaves_its_state_to_training():
    """mmdet's BatchSyncRandomResize (YOLOX, RTMDet) draws the size of the next training iterations inside the data
    preprocessor's training pass: the re-estimation at a trunk end resized its clean batches at random and left its
    own last draw (96 x 96) for the training that followed, which had drawn 32 x 32; with one rank per copy every
    copy's lead also ran its world-wide barrier and broadcast. The statistics are now of the batches as the reward's
    evaluation reads them (no batch augment), and training keeps its size."""
    from mmdet.models.data_preprocessors import DetDataPreprocessor
    from mmdet.structures import DetDataSample
    from mmengine.logging import MessageHub
    from mmengine.structures import InstanceData

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.data_preprocessor = DetDataPreprocessor(batch_augments=[dict(
                type='mmdet.BatchSyncRandomResize', random_size_range=(32, 96), interval=10, size_divisor=32)])
            self.bn = nn.BatchNorm2d(3)
            self.sizes = []

        def extract_feat(self, inputs):
            self.sizes.append(tuple(inputs.shape[-2:]))
            return self.bn(inputs)

    def batch():
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[1., 1., 10., 10.]]), labels=torch.tensor([0]))
        return dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)], data_samples=[sample])

    torch.manual_seed(0)
    MessageHub.get_instance('test_recalibration_batch_augments').update_info('iter', 9)
    model = Detector()
    resize = model.data_preprocessor.batch_augments[0]
    model.data_preprocessor(batch(), True)  # iteration 9 draws the size of iterations 10-19
    drawn = resize._input_size
    recalibrate_bn(model, [batch(), batch()])
    assert model.sizes == [(64, 64), (64, 64)]
    assert resize._input_size == drawn
    assert model.data_preprocessor.batch_augments[0] is resize  # put back


def test_a_re_estimated_reading_puts_back_every_running_statistic_not_only_batchnorms():
    """An InstanceNorm that tracks running statistics (``InstanceNorm2d(track_running_stats=True)``) is no
    ``_BatchNorm``: the training-mode pass of a re-estimation moved its statistics by momentum 0.1 toward the clean
    batches, and they were not put back, so the copy trained on (and a NAS supernet scored its next path) with
    statistics the reading had changed. Hand-computed: channel means 0 before, a pass over inputs of mean 5 moves
    them to 0.5; they must read 0 after the block."""
    model = nn.Sequential(nn.InstanceNorm1d(2, track_running_stats=True), nn.BatchNorm1d(2))
    model.extract_feat = model.forward
    model.data_preprocessor = lambda data, training: data
    before = model[0].running_mean.clone()
    with kept_bn_statistics(model):
        recalibrate_bn(model, [dict(inputs=torch.full((4, 2, 3), 5.0))])
        assert torch.allclose(model[0].running_mean, torch.full((2, ), 0.5))  # the reading's pass moved them
    assert torch.equal(model[0].running_mean, before) and int(model[0].num_batches_tracked) == 0
