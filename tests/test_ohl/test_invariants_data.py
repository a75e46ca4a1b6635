"""The OHL engine's invariants of data and random streams: copy-aware sampling, choices reaching the hook
and drawn from the current theta, distinct random streams, dataloader workers (issue #11; helpers in
``_invariants.py``).
"""
from __future__ import annotations

import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.structures import BaseDataElement
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl import (
    CopySampler,
    FactorisedCategorical,
    LivePolicy,
    OHLRandomChoice,
    PipelineChoiceSpace,
)
from automl_mm.ohl.checks import check_train_setup
from automl_mm.ohl.report import choice_label
from automl_mm.ohl.segments import segment_seeds
from automl_mm.registry import RUNNERS
from tests.test_ohl._invariants import (  # noqa: F401  (_fresh_layout: autouse)
    _cfg,
    _Choices,
    _fresh_layout,
    _layout,
    _setup_runner,
    _Tiny,
    _train,
)


def test_packing_transforms_are_made_to_carry_the_choice():
    """Item 5: mmdet's PackDetInputs keeps only its default meta_keys; the space adds ohl_choice to them."""
    from mmdet.datasets.transforms import PackDetInputs

    pack = PackDetInputs()
    assert 'ohl_choice' not in pack.meta_keys
    choice = OHLRandomChoice(transforms=[[], []], key='aug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
        pipeline=SimpleNamespace(transforms=[choice, pack]))))
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=2), key='aug')
    space.setup(runner, _layout(1, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    out = pack(choice({'img': np.zeros((8, 8, 3), np.uint8), 'img_id': 0, 'img_shape': (8, 8),
                       'ori_shape': (8, 8), 'scale_factor': (1.0, 1.0), 'img_path': '', 'flip': False,
                       'flip_direction': None}))
    space.after_train_iter(runner, {'data_samples': [out['data_samples']]})
    assert space.trunk_stats().sum() == 1


def test_several_copies_need_a_copy_aware_sampler():
    """Item 4: DefaultSampler would give each of 2 copies a disjoint half of the data."""
    layout = _layout(2, 1)
    with pytest.raises(ValueError, match=r'num_copies=2 needs a copy-aware train_dataloader.sampler, got '
                                         r'DefaultSampler'):
        check_train_setup(_setup_runner(DefaultSampler(_Tiny())), layout, trunk_epochs=1)
    check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0)), layout, trunk_epochs=1)

    class MySampler(DefaultSampler):
        copy_aware = True  # the documented opt-out

    check_train_setup(_setup_runner(MySampler(_Tiny())), layout, trunk_epochs=1)
    check_train_setup(_setup_runner(DefaultSampler(_Tiny())), _layout(1, 1), trunk_epochs=1)  # one copy: fine


def test_syncbn_is_refused_across_copies_and_restricted_inside_one():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.SyncBatchNorm(4))
    layout = _layout(2, 1)
    with pytest.raises(ValueError, match=r'model.1 is a SyncBatchNorm.*average batch statistics across the OHL '
                                         r'copies'):
        check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0), model), layout, trunk_epochs=1)
    group = object()
    layout = _layout(2, 2, group=group)
    check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0), model), layout, 1)
    assert model[1].process_group is group


def test_no_two_random_streams_of_a_small_run_are_equal():
    """Item 7: 4 copies x 4 epochs: 16 distinct sampler orders (seed + copy + epoch gave 14 repeated pairs); choice
    streams of every (copy, rank, trunk, segment, worker) differ."""
    orders = []
    for copy_id in range(4):
        _layout(4, 1, rank=copy_id)
        sampler = CopySampler(_Tiny(), seed=0)
        for epoch in range(4):
            sampler.set_epoch(epoch)
            orders.append(tuple(sampler))
    assert len(set(orders)) == 16

    # the trainer's Python / numpy / torch streams: 2 copies x 2 ranks x 2 trunks of 2 epochs of 4 iterations
    seeds = [segment_seeds(0, c, r, epoch // 2, epoch, it) for c in range(2) for r in range(2) for epoch in range(4)
             for it in range(epoch * 4, epoch * 4 + 4)]
    for kind in ('python', 'numpy', 'torch'):
        assert len({s[kind] for s in seeds}) == len(seeds)

    transform = OHLRandomChoice(transforms=[[]] * 1000, key='aug')
    live, streams = LivePolicy(1000), set()
    for copy_id in range(2):
        for rank in range(2):
            transform.bind(live, seed=0, copy_id=copy_id, rank_in_copy=rank)
            for trunk in range(2):
                for segment in (0, 4, 8):
                    live.publish(torch.full((1000,), 1e-3), trunk, segment)
                    streams.add(tuple(transform({})['ohl_choice']['aug'] for _ in range(8)))
    assert len(streams) == 2 * 2 * 2 * 3


def test_shared_order_gives_every_copy_the_same_order_and_each_epoch_a_new_one():
    """``shared_order=True``: common random numbers across copies (one order per epoch for all, ranks of a copy
    interleaved shards of it); the default keeps one order per (copy, epoch)."""
    def orders(shared, ranks_per_copy=1):
        out = {}
        for copy_id in range(3):
            for rank in range(ranks_per_copy):
                _layout(3, ranks_per_copy, rank=copy_id * ranks_per_copy + rank)
                sampler = CopySampler(_Tiny(), seed=0, shared_order=shared)
                for epoch in range(3):
                    sampler.set_epoch(epoch)
                    out[copy_id, rank, epoch] = list(sampler)
        return out

    shared = orders(True)
    for epoch in range(3):
        assert shared[0, 0, epoch] == shared[1, 0, epoch] == shared[2, 0, epoch]
    assert len({tuple(shared[0, 0, e]) for e in range(3)}) == 3
    assert sorted(shared[0, 0, 0]) == list(range(len(_Tiny())))
    assert len({tuple(v) for v in orders(False).values()}) == 9
    two_ranks = orders(True, ranks_per_copy=2)
    for copy_id in range(3):  # the two ranks' shards interleave back into the copy-independent order
        merged = [i for pair in zip(two_ranks[copy_id, 0, 1], two_ranks[copy_id, 1, 1]) for i in pair]
        assert merged == shared[0, 0, 1][:len(merged)]
    with pytest.raises(TypeError, match='shared_order must be a bool'):
        CopySampler(_Tiny(), seed=0, shared_order='yes')


def test_epochs_of_one_trunk_do_not_replay_with_non_persistent_workers():
    """Item 7: each epoch starts fresh workers; their draws depend on the segment (epoch start) too."""
    transform = OHLRandomChoice(transforms=[[]] * 100, key='aug')
    live = LivePolicy(100)
    transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
    loader = DataLoader(_Choices(transform), batch_size=4, num_workers=1, persistent_workers=False)
    epochs = []
    for segment in (0, 4):  # the hook publishes the iteration at each epoch start
        live.publish(torch.full((100,), 0.01), version=0, segment=segment)
        epochs.append(torch.cat(list(loader)).tolist())
    assert epochs[0] != epochs[1]


def test_choices_drawn_from_the_previous_theta_are_not_counted():
    """Item 6: batches prefetched by workers before the trunk started carry the old version and are dropped."""
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=3), key='aug')
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    transform.bind(space.live, seed=0, copy_id=0, rank_in_copy=0)
    space.transforms = [transform]

    class Samples(Dataset):

        def __len__(self):
            return 64

        def __getitem__(self, i):
            return BaseDataElement(metainfo={'ohl_choice': transform({})['ohl_choice']})

    loader = DataLoader(Samples(), batch_size=4, num_workers=2, prefetch_factor=4,
                        collate_fn=lambda b: {'data_samples': b})
    space.distribution.load_state_dict({'logits': torch.tensor([30.0, 0.0, 0.0])})
    space.begin_trunk(None, 0, torch.Generator())  # θ of trunk 0 picks choice 0
    it = iter(loader)
    first = next(it)
    space.after_train_iter(None, first)
    space.reset_stats()
    space.distribution.load_state_dict({'logits': torch.tensor([0.0, 0.0, 30.0])})
    space.begin_trunk(None, 1, torch.Generator())  # θ of trunk 1 picks choice 2; batches already in flight don't
    for batch in it:
        space.after_train_iter(None, batch)
    stats = space.trunk_stats()
    assert stats[0] == 0 and stats[1] == 0  # nothing drawn from trunk 0's θ is counted as trunk 1's
    assert stats[2] + space.stale_count() == 60


def test_factorised_pair_spaces_get_readable_pair_names():
    """Item 11: the flat pair names of OHLAutoAugment were assigned as per-factor labels (single characters)."""
    from automl_mm.augment import OHLAutoAugment

    transform = OHLAutoAugment(key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
        pipeline=SimpleNamespace(transforms=[transform]))))
    space = PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(36, 36)), key='autoaug')
    space.setup(runner, _layout(1, 1), seed=0)
    names = transform.choice_names()
    top = space.distribution.summary(top_k=3)['top']
    assert [t['choice'] for t in top] == names[:3] and ' + ' in top[0]['choice']
    # per-factor labels given in the config stay, and read as pairs in plots
    dist = FactorisedCategorical([2, 2], labels=[['a', 'b'], ['c', 'd']])
    dist.set_choice_names(['1', '2', '3', '4'], overwrite=False)
    assert dist.summary(top_k=1)['top'][0]['choice'] == ['a', 'c'] and choice_label(['a', 'c']) == 'a + c'


@pytest.mark.parametrize('persistent', [True, False])
def test_an_iteration_loop_with_workers_draws_from_theta(tmp_path, persistent):
    """mmengine's IterBasedTrainLoop starts its dataloader workers when it is built, before OHLHook.before_train
    binds the choice transforms: the workers' unbound copies drew uniform pairs for the whole run (125 distinct
    pairs of 128 images under a theta with all its mass on pair 0), recorded no policy version, and were counted
    as theta's samples."""
    from mmengine.config import Config
    from mmengine.hooks import Hook

    from conftest import REPO_ROOT

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py'))
    hook = cfg.custom_hooks[0]
    logits = [-30.0] * 1296
    logits[0] = 30.0
    hook.update(num_copies=1, plot=False, trunk_iters=6)  # longer than the 4 batches the workers prefetch
    hook.pop('trunk_epochs')
    hook.spaces[0].distribution = dict(type='Categorical', num_choices=1296, logits=logits)
    cfg.custom_hooks = [hook]
    cfg.model.backbone.channels = (8, 16)
    cfg.model.head.in_channels = 16
    cfg.train_dataloader.update(num_workers=2, persistent_workers=persistent, batch_size=16)
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.reward_dataloader.dataset.max_samples = 32
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=1000)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.param_scheduler = []
    cfg.reward_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    seen = []

    class _Spy(Hook):
        priority = 'VERY_LOW'

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.extend(dict(s.metainfo['ohl_choice']) for s in data_batch['data_samples'])

    runner = RUNNERS.build(cfg)
    runner.register_hook(_Spy())
    runner.train()
    assert len(seen) == 192 and all('autoaug@version' in r for r in seen)
    assert all(r['autoaug'] == 0 for r in seen)  # theta's pair, not uniform draws
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert all(h['samples']['autoaug'][0] > 0 for h in history)



def test_a_space_generator_never_replays_a_copy_data_order():
    """A trunk's sample and the data order are separate streams: seeded from ``SeedSequence([seed, copy, trunk,
    0])``, space 0's generator was the copy's order generator of epoch ``trunk`` (numpy pads the missing word with
    0; torch keeps 32 bits of the seed), so the sample and the epoch's first images came from the same numbers."""
    from automl_mm.ohl.segments import space_generator
    n = 1000
    orders = set()
    for shared in (False, True):  # the two modes are alternatives (one run uses one)
        of_mode = set()
        for copy_id in range(3):
            _layout(3, 1, rank=copy_id)
            sampler = CopySampler(list(range(n)), seed=0, shared_order=shared)
            of_mode.update(tuple(sampler.order(epoch)) for epoch in range(4))
        assert len(of_mode) == (4 if shared else 3 * 4)
        orders |= of_mode
    replayed = [(c, t, k) for c in range(3) for t in range(4) for k in range(2)
                if tuple(torch.randperm(n, generator=space_generator(0, c, t, k)).tolist()) in orders]
    assert replayed == []
