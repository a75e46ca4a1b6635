"""The loaders a search builds itself (the OHL reward split, a NAS search split, BN re-estimation batches) refuse the
keys of mmengine's loader config they would not apply: ``build_local_loader`` dropped ``sampler``,
``batch_sampler`` and ``drop_last`` without a word, so ``reward_dataloader.drop_last=True`` (8 of 10 images at
``batch_size=4`` in mmengine) scored all 10, and ``sampler=dict(type='ClassAwareSampler')`` read the split in
dataset order. Keys that change nothing in the reading (an in-order ``DefaultSampler`` on a scored split, a
shuffling one on BN batches, ``drop_last`` on full BN batches) pass; a ``num_batch_per_epoch`` of
``train_dataloader`` is applied as mmengine's training loader applies it."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.evaluate import build_local_loader, check_local_loader
from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import OHL, PC_NAS


def _cfg(**kwargs):
    import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)

    return dict(dataset=dict(type='DigitsDataset', split='reward', img_size=8, pipeline=[], max_samples=10),
                batch_size=4, **kwargs)


@pytest.mark.parametrize('key, value, named', [
    ('drop_last', True, r'reward_dataloader\.drop_last=True would score a subset of the split'),
    ('sampler', dict(type='ClassAwareSampler'), r"reward_dataloader\.sampler=.*ClassAwareSampler.* would not be "
                                                r"applied.*dict\(type='DefaultSampler', shuffle=False\)"),
    ('sampler', dict(type='DefaultSampler'), r'reward_dataloader\.sampler=.*would not be applied'),
    ('sampler', dict(type='mmengine.DefaultSampler', shuffle=True), r'reward_dataloader\.sampler=.*not be applied'),
    ('batch_sampler', dict(type='AspectRatioBatchSampler'), r'reward_dataloader\.batch_sampler=.*Remove '),
    ('shuffle', True, r'reward_dataloader\.shuffle=True would not be applied'),
    ('num_batch_per_epoch', 1, r'reward_dataloader\.num_batch_per_epoch=1 would not be applied'),
])
def test_a_scored_split_refuses_what_it_would_not_apply(key, value, named):
    with pytest.raises(ValueError, match=named):
        build_local_loader(_cfg(**{key: value}), 'reward_dataloader')


def test_a_scored_split_reads_every_item_in_order_with_what_it_applies():
    loader = build_local_loader(_cfg(drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False,
                                                                   round_up=True), disable_subprocess_warning=True),
                                'reward_dataloader')
    sizes = [len(next(iter(batch.values()))) for batch in loader]
    assert sizes == [4, 4, 2]  # all 10 images, the last partial batch too


def test_an_own_reward_loader_is_refused_when_the_hook_is_built():
    from automl_mm.ohl.hook import OHLHook

    with pytest.raises(ValueError, match=r'OHLHook\.reward_dataloader\.drop_last=True would score a subset'):
        OHLHook(spaces=[dict(type='AttributeSpace', name='a', target='model.x', choices=[1, 2],
                             distribution=dict(type='Categorical'))], num_copies=2,
                reward_key='accuracy/top1', trunk_iters=2, reward_dataloader=_cfg(drop_last=True))


@pytest.mark.parametrize('sampler', [None, dict(type='DefaultSampler'), dict(type='InfiniteSampler', shuffle=True),
                                     dict(type='automl_mm.CopySampler', shuffle=True)])
def test_bn_batches_take_a_shuffling_sampler_and_either_drop_last(sampler):
    for drop_last in (True, False):
        check_local_loader(_cfg(sampler=sampler, drop_last=drop_last), 'bn', 'sample')


@pytest.mark.parametrize('key, value', [('sampler', dict(type='DefaultSampler', shuffle=False)),
                                        ('sampler', dict(type='ClassAwareSampler')),
                                        ('batch_sampler', dict(type='AspectRatioBatchSampler')),
                                        ('shuffle', False), ('num_batch_per_epoch', 2)])
def test_bn_batches_refuse_what_they_would_not_apply(key, value):
    with pytest.raises(ValueError, match=rf'OHLHook\.bn_recalibration_dataloader\.{key}=.*(not be applied|Remove)'):
        build_local_loader(_cfg(**{key: value}), 'OHLHook.bn_recalibration_dataloader', 'sample')


def test_train_dataloader_keeps_its_training_keys_and_applies_num_batch_per_epoch():
    """BN batches of train_dataloader: its sampler / batch_sampler say how training draws (not refused), and
    num_batch_per_epoch keeps the items mmengine's training loader reads (it failed in torch's DataLoader,
    'unexpected keyword argument', naming no key)."""
    loader = build_local_loader(_cfg(sampler=dict(type='ClassAwareSampler'), batch_sampler=dict(type='X'),
                                     drop_last=True, num_batch_per_epoch=2), 'train_dataloader', 'train')
    assert len(loader.dataset) == 8  # 2 batches of 4 on one process
    loader = build_local_loader(_cfg(num_batch_per_epoch=1), 'train_dataloader', 'train', reading_ranks=2)
    assert len(loader.dataset) == 8  # 1 batch of 4 on each of 2 ranks (an OHL copy's)


def test_the_config_check_refuses_them_at_start():
    cfg = Config.fromfile(OHL)
    check_config(cfg)
    cfg.reward_dataloader.drop_last = True
    with pytest.raises(ConfigCheckError, match=r'^reward_dataloader\.drop_last=True would score a subset'):
        check_config(cfg)
    cfg.reward_dataloader.drop_last = False
    hook = cfg.custom_hooks[0]
    hook.bn_recalibration_batches = 2
    clean = dict(cfg.train_dataloader, dataset=dict(cfg.train_dataloader.dataset, pipeline=cfg.test_pipeline))
    hook.bn_recalibration_dataloader = clean  # the training loader's CopySampler: a shuffling sampler
    check_config(cfg)
    hook.bn_recalibration_dataloader = dict(clean, sampler=dict(type='DefaultSampler', shuffle=False))
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.bn_recalibration_dataloader\.sampler=.*would '
                                               r'not be applied'):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    check_config(nas)
    loader = nas.train_cfg.get('search_dataloader') and 'train_cfg.search_dataloader' or next(
        k for k in ('search_dataloader', 'reward_dataloader') if nas.get(k))
    target = nas.train_cfg.search_dataloader if loader.startswith('train_cfg') else nas[loader]
    target['batch_sampler'] = dict(type='AspectRatioBatchSampler')
    with pytest.raises(ConfigCheckError, match=rf'{loader}\.batch_sampler=.*Remove'):
        check_config(nas)


def test_a_misspelled_loading_key_of_a_scored_split_is_named_at_start():
    """The keys build_local_loader hands torch's DataLoader were checked for train / val / test loaders only: a
    reward_dataloader.batch_szie failed when the hook built the split, in every worker, with torch's 'unexpected
    keyword argument', naming no key."""
    cfg = Config.fromfile(OHL)
    cfg.reward_dataloader.batch_szie = cfg.reward_dataloader.pop('batch_size')
    with pytest.raises(ConfigCheckError, match=r'reward_dataloader\.batch_szie: DataLoader takes no argument '
                                               r"'batch_szie'.*did you mean reward_dataloader\.batch_size"):
        check_config(cfg)
    cfg.reward_dataloader.batch_size = cfg.reward_dataloader.pop('batch_szie')
    cfg.reward_dataloader.batch_size = 'abc'
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.batch_size='abc' is not a number"):
        check_config(cfg)
