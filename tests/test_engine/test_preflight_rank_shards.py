"""``train_dataloader.sampler.round_up=False`` (mmengine's ``DefaultSampler``) on several processes with a training set
whose length the world size does not divide: the first ranks took one sample more per epoch, so with batches of one
they ran one more iteration than the others and waited forever in its DDP all-reduce (a resume gave every rank rank
0's scheduler span). ``check_config`` refuses it where the world size is known (a launcher's variable, the OHL
copies tools/train.py starts), naming the key, the sample count and the world size; val / test loaders are left
alone (mmengine's ``collect_results`` gathers unequal parts with ``zip_longest``)."""
from __future__ import annotations

from unittest import mock

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_rank_shards import check_train_shards
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_digits_cfg, tiny_ohl_cfg

WORDS = (r'^train_dataloader\.sampler\.round_up=False \(DefaultSampler\) with 5 training samples on 2 processes '
         r"\(WORLD_SIZE=2 of launcher='pytorch'\), which 2 does not divide: 1 rank\(s\) would take 3 samples per "
         r'epoch and the others 2 \(at train_dataloader\.batch_size=1: 3 and 2 iterations\); '
         r'.*Set train_dataloader\.sampler\.round_up=True .* a multiple of 2$')


def _cfg(samples: int, launcher: str = 'pytorch', batch_size: int = 1, **sampler) -> Config:
    dataset = dict(type='DigitsDataset', split='train', img_size=8, max_samples=samples, pipeline=[])
    sampler.setdefault('type', 'DefaultSampler')
    return Config(dict(launcher=launcher, train_dataloader=dict(
        batch_size=batch_size, dataset=dataset, sampler=dict(shuffle=True, **sampler))))


def test_unequal_shards_of_default_sampler_are_refused(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(ConfigCheckError, match=WORDS):
        check_train_shards(_cfg(5, round_up=False), 'automl_mm')
    check_train_shards(_cfg(6, round_up=False), 'automl_mm')  # 3 + 3
    check_train_shards(_cfg(5), 'automl_mm')  # round_up=True, the default: 3 + 3 (one sample repeated)
    check_train_shards(_cfg(5, round_up=True), 'automl_mm')
    check_train_shards(_cfg(5, launcher='none', round_up=False), 'automl_mm')  # one process
    monkeypatch.setenv('WORLD_SIZE', '1')
    check_train_shards(_cfg(5, round_up=False), 'automl_mm')
    monkeypatch.delenv('WORLD_SIZE')
    check_train_shards(_cfg(5, round_up=False), 'automl_mm')  # not known: left to the run
    monkeypatch.setenv('SLURM_NTASKS', '3')
    with pytest.raises(ConfigCheckError, match=r'with 5 training samples on 3 processes \(SLURM_NTASKS=3 of '
                                               r"launcher='slurm'\), which 3 does not divide: 2 rank\(s\) would "
                                               r'take 2 samples per epoch and the others 1'):
        check_train_shards(_cfg(5, launcher='slurm', round_up=False), 'automl_mm')


def test_the_ranks_of_default_sampler_would_run_different_iteration_counts():
    from mmengine.dataset import DefaultSampler  # what the refusal stands for, on mmengine's own sampler
    lengths = []
    for rank in range(2):
        with mock.patch('mmengine.dataset.sampler.get_dist_info', return_value=(rank, 2)):
            lengths.append(len(list(DefaultSampler(list(range(5)), shuffle=False, seed=0, round_up=False))))
    assert lengths == [3, 2]


def test_a_sliced_epoch_is_not_refused(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '2')
    cfg = _cfg(5, round_up=False)
    cfg.train_dataloader.num_batch_per_epoch = 2  # mmengine slices 2 x 1 x 2 samples: equal shards
    check_train_shards(cfg, 'automl_mm')


def test_check_config_refuses_it_and_leaves_val_loaders_alone(tmp_path, monkeypatch):
    cfg = tiny_digits_cfg(str(tmp_path / 'work'))  # 64 images per split
    cfg.launcher = 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '3')
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=False, round_up=False)  # gathered unequal: fine
    check_config(cfg)
    cfg.train_dataloader.sampler.round_up = False
    check_config(cfg)  # 22 and 21 samples: 2 batches of at most 16 on every rank
    cfg.train_dataloader.batch_size = 1
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.sampler\.round_up=False \(DefaultSampler\) with 64 '
                                               r'training samples on 3 processes'):
        check_config(cfg)
    cfg.train_dataloader.sampler.round_up = True
    cfg.val_dataloader.batch_size = 1
    cfg.model_wrapper_cfg = dict(type='MMFullyShardedDataParallel')  # every forward gathers: 22 and 21 batches hang
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.sampler\.round_up=False \(DefaultSampler\) with 64'):
        check_config(cfg)


def test_the_ranks_of_one_ohl_copy_are_counted_without_a_launcher(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].update(num_copies=1, ranks_per_copy=2)
    cfg.train_dataloader.dataset.max_samples = 5
    cfg.train_dataloader.batch_size = 1  # 3 and 2 iterations
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True, round_up=False)
    with pytest.raises(ConfigCheckError, match=r'with 5 training samples on 2 processes \(the OHLHook'):
        check_config(cfg)


def test_shards_of_as_many_batches_are_not_refused(monkeypatch):
    """3 and 2 samples: at batch_size=3 one batch on each rank (also 1 and 1 at 2 with drop_last), nothing hangs;
    at batch_size=2 two batches against one."""
    monkeypatch.setenv('WORLD_SIZE', '2')
    check_train_shards(_cfg(5, batch_size=3, round_up=False), 'automl_mm')
    cfg = _cfg(5, batch_size=2, round_up=False)
    with pytest.raises(ConfigCheckError, match=r'the others 2 \(at train_dataloader\.batch_size=2: 2 and 1 iter'):
        check_train_shards(cfg, 'automl_mm')
    cfg.train_dataloader.drop_last = True
    check_train_shards(cfg, 'automl_mm')


def test_a_registered_partial_sampler_is_checked_too(monkeypatch):
    import functools

    from mmengine.dataset import DefaultSampler

    from automl_mm.registry import DATA_SAMPLERS

    monkeypatch.setenv('WORLD_SIZE', '2')
    name = '_PartialSamplerForRankShards'
    DATA_SAMPLERS.register_module(name=name, module=functools.partial(DefaultSampler, shuffle=True))
    try:  # (config_class takes classes only: the check was skipped)
        with pytest.raises(ConfigCheckError, match=r'round_up=False \(partial\(DefaultSampler\)\) with 5'):
            check_train_shards(_cfg(5, type=f'automl_mm.{name}', round_up=False), 'automl_mm')
        with pytest.raises(ConfigCheckError, match=r'round_up=False \(partial\(DefaultSampler\)\) with 5'):
            check_train_shards(_cfg(5, type=functools.partial(DefaultSampler), round_up=False), 'automl_mm')
    finally:
        DATA_SAMPLERS.module_dict.pop(name, None)


def test_eval_loaders_are_refused_only_where_every_forward_gathers(monkeypatch):
    """With FSDP (or DeepSpeed ZeRO-3) a val / test forward all-gathers the parameters: the rank with one batch
    more waits forever. With mmengine's DDP (no model_wrapper_cfg) the unequal parts are fine."""
    from automl_mm.engine.preflight_rank_shards import check_eval_shards

    monkeypatch.setenv('WORLD_SIZE', '2')
    cfg = _cfg(5, round_up=False)
    cfg.val_dataloader = cfg.pop('train_dataloader')
    check_eval_shards(cfg, 'automl_mm')  # DDP: collect_results gathers 3 and 2
    cfg.model_wrapper_cfg = dict(type='MMFullyShardedDataParallel')
    with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.round_up=False \(DefaultSampler\) with 5 "
                                               r'samples on 2 processes .*model_wrapper_cfg \(MMFullyShardedDataParal'
                                               r'lel\) gathers the parameters in every forward'):
        check_eval_shards(cfg, 'automl_mm')
    check_eval_shards(cfg, 'automl_mm', test_only=True, split='test')  # tools/test.py reads the test loader only
    cfg.pop('model_wrapper_cfg')
    cfg.strategy = dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=3))
    with pytest.raises(ConfigCheckError, match=r'strategy \(DeepSpeedStrategy, zero_optimization\.stage=3\)'):
        check_eval_shards(cfg, 'automl_mm')
    cfg.strategy.zero_optimization.stage = 2
    check_eval_shards(cfg, 'automl_mm')
