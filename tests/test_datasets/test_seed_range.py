"""A user's seed is an int in [0, 2**32) wherever it is given. numpy's SeedSequence reads a list such as
``[seed, 1]`` as one integer of 32-bit words: ``FashionMNISTDataset(samples_per_class=...)`` draws its per-class
subset from ``default_rng([seed, 1])``, which is ``default_rng(seed + 2**32)``, the stream that carved the train /
reward split of ``seed + 2**32``; ``CopySampler(seed=s + 2**32)``'s ``[seed, copy, epoch]`` for copy c at epoch 0
was seed s's copy 1 at epoch c. Such seeds were taken silently (or failed in numpy, naming no key); now each is
refused naming its key or option, and an in-range seed draws what it drew before."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from test_fashion_mnist import write_fashion

from automl_mm.datasets import FashionMNISTDataset

from conftest import REPO_ROOT

TOO_LARGE = 2 ** 32 + 5
RANGE = r'must be an int in \[0, 2\*\*32\), got 4294967301: numpy\'s SeedSequence reads a seed list'


def test_the_premise_the_subset_stream_of_a_seed_is_the_int_seed_plus_2_32():
    assert np.array_equal(np.random.default_rng([5, 1]).random(4), np.random.default_rng(TOO_LARGE).random(4))
    assert np.array_equal(np.random.default_rng([TOO_LARGE, 7]).random(4), np.random.default_rng([5, 1, 7]).random(4))
    from automl_mm.ohl.copies import CopySampler

    def order(seed, copy_id, epoch):  # CopySampler.order of a sampler of 50 items (it needs no copy layout)
        sampler = SimpleNamespace(shuffle=True, shared_order=False, size=50, seed=seed, copy_id=copy_id)
        return CopySampler.order(sampler, epoch)

    assert order(TOO_LARGE, 3, 0) == order(5, 1, 3) != order(5, 3, 0)


def test_fashion_mnist_refuses_a_seed_of_2_32_or_more_naming_its_loader_key(tmp_path):
    from automl_mm.engine.loader_keys import build_named_dataset

    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    cfg = dict(type='FashionMNISTDataset', data_root=root, reward_size=10, samples_per_class=2, seed=TOO_LARGE,
               pipeline=[])
    with pytest.raises(ValueError, match=r'^train_dataloader\.dataset: FashionMNISTDataset\.seed ' + RANGE +
                       r'.* so \[4294967301, k\] is \[5, 1, k\], seed 5\'s list'):
        build_named_dataset('train_dataloader.dataset', cfg)


def test_an_in_range_seed_draws_what_it_drew_before(tmp_path):
    """The indices before the bound (no README figure changes), and the largest seed is taken."""
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    drawn = {}
    for seed in (3, 2 ** 32 - 1):
        ds = FashionMNISTDataset(split='train', data_root=root, reward_size=10, samples_per_class=2, seed=seed,
                                 pipeline=[])
        drawn[seed] = [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]
    assert drawn == {3: [2, 4, 11, 14, 18, 20, 22, 27, 31, 33, 35, 36, 37, 38, 40, 46, 49, 53, 55, 59],
                     2 ** 32 - 1: [1, 4, 5, 7, 13, 25, 28, 31, 32, 36, 38, 40, 44, 46, 49, 50, 52, 53, 57, 59]}


@pytest.mark.parametrize('dataset, args', [('DigitsDataset', dict(split='train')),
                                            ('CIFAR10Dataset', dict(data_root='/nonexist')),
                                            ('NoisyLabelDataset', dict(dataset=dict(type='DigitsDataset'),
                                                                       noise_ratio=0.1))])
def test_every_dataset_refuses_a_seed_of_2_32_naming_its_key(dataset, args):
    """As FashionMNISTDataset, before any file is read; the hooks and samplers: test_engine/test_seeds.py."""
    from automl_mm.registry import DATASETS

    with pytest.raises(ValueError, match=rf'^{dataset}\.seed {RANGE}'):
        DATASETS.build(dict(type=dataset, seed=TOO_LARGE, **args))


def test_randomness_seed_of_2_32_is_refused_by_the_config_check():
    """mmengine's np.random.seed refused it at the runner's start with numpy's 'Seed must be between 0 and
    2**32 - 1', naming no key."""
    from automl_mm.engine.preflight_runner_args import check_runner_arguments
    from automl_mm.engine.preflight_walk import ConfigCheckError

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.randomness = dict(seed=TOO_LARGE)
    with pytest.raises(ConfigCheckError, match=rf'^randomness\.seed {RANGE}'):
        check_runner_arguments(cfg, 'automl_mm')
    cfg.randomness = dict(seed=2 ** 32 - 1)
    check_runner_arguments(cfg, 'automl_mm')


def test_randomness_seed_plus_the_last_rank_under_diff_rank_seed_is_refused_on_every_rank(monkeypatch):
    """mmengine's set_random_seed adds the rank under randomness.diff_rank_seed=True: 2**32 - 2 on 4 ranks passed
    the check, and ranks 2 and 3 failed in np.random.seed with numpy's message while ranks 0 and 1 went on (and
    waited for them). The largest seed allowed is 2**32 - world_size, refused alike on every rank."""
    from automl_mm.engine.preflight_runner_args import check_runner_arguments
    from automl_mm.engine.preflight_walk import ConfigCheckError

    with pytest.raises(ValueError, match='Seed must be between 0 and 2\\*\\*32 - 1'):
        np.random.seed(2 ** 32 - 2 + 3)  # the premise: rank 3's seed
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.launcher = 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '4')
    cfg.randomness = dict(seed=2 ** 32 - 2, diff_rank_seed=True)
    with pytest.raises(ConfigCheckError, match=r'^randomness\.seed=4294967294 with randomness\.diff_rank_seed=True '
                       r'.*4 ranks \(WORLD_SIZE=4\).*the largest seed allowed is 2\*\*32 - 4 = 4294967292'):
        check_runner_arguments(cfg, 'automl_mm')
    cfg.randomness = dict(seed=2 ** 32 - 4, diff_rank_seed=True)
    check_runner_arguments(cfg, 'automl_mm')
    cfg.randomness = dict(seed=2 ** 32 - 1)  # the same seed on every rank
    check_runner_arguments(cfg, 'automl_mm')
    cfg.launcher = 'none'  # one process
    cfg.randomness = dict(seed=2 ** 32 - 1, diff_rank_seed=True)
    check_runner_arguments(cfg, 'automl_mm')


@pytest.mark.parametrize('bad', [TOO_LARGE, -1])
def test_a_loader_sampler_seed_outside_32_bits_is_refused_by_the_config_check(bad):
    """mmengine's DefaultSampler seeds a torch generator, which keeps a seed's low 32 bits: train_dataloader.sampler
    .seed=2**32 + 5 shuffled as seed 5 and -1 as 2**32 - 1, silently, where every other configured seed is refused."""
    from mmengine.dataset import DefaultSampler

    from automl_mm.engine.preflight_training import check_loaders
    from automl_mm.engine.preflight_walk import ConfigCheckError

    def order(seed):
        return list(DefaultSampler(list(range(20)), shuffle=True, seed=seed))

    assert order(bad) == order(bad % 2 ** 32) != order(bad % 2 ** 32 + 1)  # the premise
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True, seed=bad)
    refused = RANGE if bad > 0 else r'must be a non-negative int, got -1'
    with pytest.raises(ConfigCheckError, match=rf'^train_dataloader\.sampler\.seed {refused}'):
        check_loaders(cfg, 'automl_mm')
    for seed in (None, 0, 2 ** 32 - 1):
        cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True, seed=seed)
        check_loaders(cfg, 'automl_mm')


def test_split_coco_refuses_the_seed_as_its_option_before_reading(tmp_path, monkeypatch):
    from automl_mm.datasets.coco_split import split_coco

    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps({'images': [{'id': i, 'file_name': f'{i}.png'} for i in range(1, 5)],
                               'annotations': [], 'categories': []}))
    spec = importlib.util.spec_from_file_location('_split_coco_tool', osp.join(REPO_ROOT, 'tools', 'data',
                                                                               'split_coco.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for seed in (str(TOO_LARGE), '-1'):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
            monkeypatch.setattr('sys.argv', ['split_coco.py', str(ann), str(tmp_path / 'out'), '--val-images', '1',
                                             '--seed', seed])
            module.main()
        assert exited.value.code == 2, err.getvalue()
        assert f'split_coco.py: error: argument --seed: {seed} is outside [0, 2**32)' in err.getvalue()
    with pytest.raises(ValueError, match=rf'^seed {RANGE}'):
        split_coco(str(tmp_path / 'missing.json'), str(tmp_path / 'out'), val_images=1, seed=TOO_LARGE)
    module.main([str(ann), str(tmp_path / 'out'), '--val-images', '1', '--seed', str(2 ** 32 - 1)])
    assert not osp.exists(tmp_path / 'missing.json')
