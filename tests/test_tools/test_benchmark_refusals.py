"""Every benchmark refuses a bad seed, count, rate, number of jobs or cores, and a per-class count above a class's
images in its Fashion-MNIST split, at argument parsing (argparse's exit 2 naming the option and the value) before
any run, data read beyond the labels, or model build. Each row was seen red with its refusal removed.

Before: ``--seeds -1`` reached the first run (mmengine's ``np.random.seed`` failed with numpy's message);
``cr_nas_fmnist_det.py --jobs 0`` ran one job at a time; ``ohl_vs_pbt.py --cpus 8`` on 2 cores sized Ray and the
pools for 8 under a header of 2 cores; ``--test-per-class 1001`` failed inside the first run (the dataset's
``samples_per_class`` refusal), after the arms before it; ``--trunks 0`` printed the start as a result."""
from __future__ import annotations

import argparse
import importlib
import sys

import numpy as np
import pytest

from tests.test_tools.test_benchmark_options import _refused

#: What starts work (a run, a search, data, a model, a timing) in any of the benchmarks: stubbed to fail the test
#: (``mp`` and ``subprocess``-free scripts fail on the stub's missing attribute, as loudly).
_WORK = ('run_arms', 'ensure_fmnist_det', 'run_ohl', 'run_other', 'worker', 'train_one', 'architectures',
         'simulate', 'run', 'load_split', 'run_seed', 'LayerwiseSpace', 'check_work_root', 'ThreadPoolExecutor',
         '_interleaved', 'MODELS', 'CRResNet', 'ResNet', '_ours', '_torchvision', '_samples', '_record', 'OHLReport',
         'usable_cpus', 'mp')


def _cores() -> int:
    from automl_mm.engine.launch import usable_cpus

    return usable_cpus()


def _rows() -> list:
    too_many = str(_cores() + 1)
    return [
        # seeds: outside [0, 2**32) (automl_mm.utils.seeding.as_seed), in every benchmark that takes seeds
        ('am_lfs_digits', ['--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('am_lfs_fmnist', ['--arms', 'ce', '--seeds', '0', '-1'], '--seeds must be a non-negative int, got -1'),
        ('autoaug_det', ['--arms', 'flip', '--seeds', '-3'], '--seeds must be a non-negative int, got -3'),
        ('autoaug_digits', ['--seeds', '4294967296'], '--seeds must be an int in [0, 2**32), got 4294967296'),
        ('autoaug_fmnist', ['--arms', 'none', '--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('det_regime', ['--arms', 'flip', '--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('ohl_vs_pbt', ['--arms', 'ohl', '--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('cr_nas_fmnist_det', ['--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('cr_nas_fmnist_det', ['--search-seeds', '0', '-2'], '--search-seeds must be a non-negative int, got -2'),
        ('nas_ground_truth_fmnist', ['--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('pc_nas_kendall_digits', ['--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('pc_nas_ranking_fmnist', ['--seeds', '-1'], '--seeds must be a non-negative int, got -1'),
        ('reward_horizon', ['--seed', '-1'], '--seed must be a non-negative int, got -1'),
        ('cr_backbone_speed', ['--seed', '-1'], '--seed must be a non-negative int, got -1'),
        ('channels_last_speed', ['--seed', '-1'], '--seed must be a non-negative int, got -1'),
        # runs at a time, cores, threads
        ('cr_nas_fmnist_det', ['--jobs', '0'], '--jobs must be a number of runs at a time >= 1, got 0'),
        ('cr_nas_fmnist_det', ['--jobs', '-2'], '--jobs must be a number of runs at a time >= 1, got -2'),
        ('nas_ground_truth_fmnist', ['--workers', '0'], '--workers must be a number of runs at a time >= 1, got 0'),
        ('ohl_vs_pbt', ['--arms', 'ohl', '--cpus', too_many],
         f'--cpus must be a number of cores in [1, {_cores()}]: this process may run on {_cores()} '
         f'(os.sched_getaffinity), got {too_many}'),
        ('cr_backbone_speed', ['--threads', '-1'], f"--threads must be a number of cores in [0, {_cores()}]"),
        ('cr_backbone_speed', ['--threads', too_many], f'got {too_many}'),
        ('channels_last_speed', ['--threads', too_many], f"--threads must be a number of cores in [0, {_cores()}]"),
        # counts
        ('cr_nas_fmnist_det', ['--allocation', '2', '2', '0', '2'], '--allocation must be a whole number >= 1, got 0'),
        ('cr_nas_fmnist_det', ['--allocation', '1', '1', '1', '1', '--dilations', '1', '0', '1', '1'],
         '--dilations must be a whole number >= 1, got 0'),
        ('nas_ground_truth_fmnist', ['--iters', '0'], '--iters must be a whole number >= 1, got 0'),
        ('ohl_overhead', ['--copies', '0'], '--copies must be a whole number >= 1, got 0'),
        ('ohl_overhead', ['--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
        ('ohl_overhead', ['--train-samples', '0'], '--train-samples must be a whole number >= 1, got 0'),
        ('ohl_overhead', ['--train-samples', '1079'],
         '--train-samples 1079: the digits train split (configs/baselines/baseline_convnet_1x1_30e_digits.py) holds '
         '1078 images'),
        ('ohl_report_cost', ['--trunks', '100', '0'], '--trunks must be a whole number >= 1, got 0'),
        ('ohl_report_cost', ['--logits', '0'], '--logits must be a whole number >= 1, got 0'),
        ('ohl_report_cost', ['--copies', '-1'], '--copies must be a whole number >= 1, got -1'),
        ('augment_throughput', ['--small', '0'], '--small must be a whole number >= 1, got 0'),
        ('augment_throughput', ['--large', '-1'], '--large must be a whole number >= 1, got -1'),
        ('coco_mask_area_cost', ['--images', '0'], '--images must be a whole number >= 1, got 0'),
        ('coco_mask_area_cost', ['--objects', '0'], '--objects must be a whole number >= 1, got 0'),
        ('coco_mask_area_cost', ['--repeats', '0'], '--repeats must be a whole number >= 1, got 0'),
        ('cr_backbone_speed', ['--size', '0'], '--size must be a whole number >= 1, got 0'),
        ('cr_backbone_speed', ['--batch', '0'], '--batch must be a whole number >= 1, got 0'),
        ('cr_backbone_speed', ['--num-archs', '0'], '--num-archs must be a whole number >= 1, got 0'),
        ('channels_last_speed', ['--size', '0'], '--size must be a whole number >= 1, got 0'),
        ('channels_last_speed', ['--eval-batch', '8', '0'], '--eval-batch must be a whole number >= 1, got 0'),
        ('autoaug_power', ['--trunks', '0'], '--trunks must be a whole number >= 1, got 0'),
        ('autoaug_power', ['--images', '0'], '--images must be a whole number >= 1, got 0'),
        ('autoaug_power', ['--copies', '0', '--noise', '1'], '--copies must be a whole number >= 1, got 0'),
        ('autoaug_power', ['--noise', '-1'], '--noise must be a finite number >= 0, got -1.0'),
        ('autoaug_power', ['--deltas', '1', 'nan', '-1'], '--deltas must be a finite number >= 0, got nan -1.0'),
        ('reinforce_noise_drift', ['--trunks', '0'], '--trunks must be a whole number >= 1, got 0'),
        ('reinforce_noise_drift', ['--copies', '0'], '--copies must be a whole number >= 1, got 0'),
        ('reinforce_noise_drift', ['--dims', '1'], '--dims must be a whole number >= 2'),
        ('reinforce_noise_drift', ['--std', '0'], '--std must be a finite number > 0, got 0.0'),
        ('reinforce_noise_drift', ['--gains', '1', '-1', 'nan'], '--gains must be a finite number >= 0, got -1.0 nan'),
        ('reward_horizon', ['--per-class', '0'], '--per-class must be a whole number >= 1, got 0'),
        ('reward_horizon', ['--every', '-1'], '--every must be a whole number >= 0, got -1'),
        ('sharded_reward_reading', ['--batch-size', '0'], '--batch-size must be a whole number >= 1, got 0'),
    ]


@pytest.mark.parametrize('name, argv, says', _rows())
def test_a_bad_option_is_refused_naming_it_and_its_value_before_any_run(arms, monkeypatch, capsys, name, argv,
                                                                        says):
    err = _refused(importlib.import_module(name), argv, monkeypatch, capsys, _WORK)
    assert says in err, err


def test_fmnist_regime_refuses_a_negative_seed(arms, monkeypatch, capsys):
    """SEED -1 failed in numpy's ``default_rng([-1, 7])`` once the data was read. The positional argument is named
    by its metavar."""
    module = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('data was read'))
    monkeypatch.setattr(sys, 'argv', ['fmnist_regime.py', '50', '1', 'none', '-1'])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    assert 'SEED must be a non-negative int, got -1' in capsys.readouterr().err


def _idx_labels(path, labels) -> None:
    """An idx file of unsigned-byte labels (magic ``00 00 08 01``, the count, the bytes)."""
    path.write_bytes(bytes([0, 0, 8, 1]) + len(labels).to_bytes(4, 'big') + bytes(np.asarray(labels, np.uint8)))


@pytest.fixture
def fmnist_labels(tmp_path, monkeypatch):
    """The two Fashion-MNIST labels files (the official class sizes: 6,000 training and 1,000 test images of each
    class; no images file) as the dataset's only default location: the train split of ``reward_size=5000`` then
    holds 5,500 of a class, the reward split 500. Returns the official training labels."""
    from automl_mm.datasets import fashion_mnist

    train = np.tile(np.arange(10), 6000)
    _idx_labels(tmp_path / 'train-labels-idx1-ubyte', train)
    _idx_labels(tmp_path / 't10k-labels-idx1-ubyte', np.tile(np.arange(10), 1000))
    monkeypatch.setattr(fashion_mnist, 'DEFAULT_ROOTS', (str(tmp_path), ))
    return train


@pytest.mark.parametrize('name, argv, says', [
    ('am_lfs_fmnist', ['--arms', 'ce', '--test-per-class', '1001'],
     '--test-per-class 1001: the Fashion-MNIST test split holds 1000 images of its smallest class'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--reward-per-class', '501'],
     '--reward-per-class 501: the Fashion-MNIST reward split holds 500 images of its smallest class'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--train-per-class', '5501'],
     '--train-per-class 5501: the Fashion-MNIST train split holds 5500 images'),
    ('autoaug_fmnist', ['--arms', 'none', '--samples-per-class', '5501'],
     '--samples-per-class 5501: the Fashion-MNIST train split holds 5500'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--samples-per-class', '6000'],
     '--samples-per-class 6000: the Fashion-MNIST train split holds 5500'),
    ('nas_ground_truth_fmnist', ['--samples-per-class', '5501'],
     '--samples-per-class 5501: the Fashion-MNIST train split holds 5500'),
    ('nas_ground_truth_fmnist', ['--test-per-class', '1001'], '--test-per-class 1001: the Fashion-MNIST test split'),
    ('nas_ground_truth_fmnist', ['--reward-per-class', '501'], '--reward-per-class 501: the Fashion-MNIST reward'),
    ('pc_nas_ranking_fmnist', ['--samples-per-class', '5501'], '--samples-per-class 5501: the Fashion-MNIST train'),
    ('pc_nas_ranking_fmnist', ['--reward-per-class', '501'], '--reward-per-class 501: the Fashion-MNIST reward'),
])
def test_a_per_class_count_above_the_split_is_refused_before_any_run(arms, fmnist_labels, monkeypatch, capsys, name,
                                                                     argv, says):
    err = _refused(importlib.import_module(name), argv, monkeypatch, capsys, _WORK)
    assert says in err and 'give at most' in err


def test_per_class_counts_a_class_can_give_still_run(arms, fmnist_labels, monkeypatch):
    """The whole class in every split still reaches the runs."""
    module = importlib.import_module('am_lfs_fmnist')

    class Reached(Exception):
        pass

    monkeypatch.setattr(module, 'run_arms', lambda *a, **k: (_ for _ in ()).throw(Reached))
    monkeypatch.setattr(sys, 'argv', ['am_lfs_fmnist.py', '--arms', 'ce', '--train-per-class', '5500',
                                      '--reward-per-class', '500', '--test-per-class', '1000'])
    with pytest.raises(Reached):
        module.main()


@pytest.mark.parametrize('name, argv', [
    ('reward_horizon', ['--per-class', '5600']),
    ('fmnist_regime', ['5600', '1', 'none', '0']),
])
def test_more_per_class_than_the_regime_pool_is_refused_before_the_data_split(arms, fmnist_labels, monkeypatch,
                                                                               capsys, name, argv):
    """The regime scripts draw from the training images less 5,000 held out (about 5,500 of a class): numpy's
    'Cannot take a larger sample than population' named neither the count nor the class."""
    regime = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(regime, 'load_fashion_mnist', lambda root, part: (None, fmnist_labels))
    module = importlib.import_module(name)
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('the data was split'))
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    said = capsys.readouterr().err if exit_info.value.code == 2 else str(exit_info.value.code)
    assert '5600 training images per class: the pool' in said and 'give at most' in said, said


def test_the_per_class_limit_is_the_smallest_class(arms, tmp_path, capsys):
    """A split whose classes differ in size (another copy of the files, ``data_root``): the smallest class bounds the
    count, and the message names it. The official files hold every class alike, so no other test tells the smallest
    class from any other."""
    labels = np.concatenate([np.tile(np.arange(10), 5), [c for c in range(10) if c != 3]])  # class 3: 5, others 6
    _idx_labels(tmp_path / 't10k-labels-idx1-ubyte', labels)
    parser = argparse.ArgumentParser(prog='b')
    test_set = dict(type='FashionMNISTDataset', split='test', data_root=str(tmp_path), samples_per_class=5)
    arms.refuse_more_per_class_than_split(parser, {'--test-per-class': test_set})  # 5 of each class: there
    with pytest.raises(SystemExit):
        arms.refuse_more_per_class_than_split(parser, {'--test-per-class': dict(test_set, samples_per_class=6)})
    assert 'holds 5 images of its smallest class (class 3' in capsys.readouterr().err


def test_the_regime_pool_limit_is_its_smallest_class(arms, fmnist_labels):
    """The pool is the training images less the first 5,000 of seed 0's permutation; its classes differ in size."""
    regime = importlib.import_module('fmnist_regime')
    sizes = np.bincount(fmnist_labels[np.random.default_rng(0).permutation(len(fmnist_labels))[5000:]])
    assert sizes.min() < sizes.max()
    regime.refuse_more_per_class_than_pool(int(sizes.min()), fmnist_labels)
    with pytest.raises(ValueError, match=f'holds {sizes.min()} images of class {sizes.argmin()}; give at most'):
        regime.refuse_more_per_class_than_pool(int(sizes.min()) + 1, fmnist_labels)


class _Reached(Exception):
    pass


def test_ohl_overhead_still_trains_on_the_whole_digits_split(arms, monkeypatch):
    """``--train-samples 1078`` (its default and the README's 'all') is the whole split, not above it."""
    module = importlib.import_module('ohl_overhead')
    monkeypatch.setattr(module, 'usable_cpus', lambda: (_ for _ in ()).throw(_Reached))  # the first step after
    monkeypatch.setattr(sys, 'argv', ['ohl_overhead.py', '--train-samples', '1078'])
    with pytest.raises(_Reached):
        module.main()


def test_ohl_vs_pbt_default_cores_fit_a_one_core_process(arms, fmnist_labels, monkeypatch, capsys):
    """The default of 2 cores on a process that may run on one runs on that one (it was refused, naming a --cpus
    the user never typed, and every ohl_vs_pbt test failed on such a machine); a --cpus 2 typed there is refused."""
    from automl_mm.engine import launch

    module = importlib.import_module('ohl_vs_pbt')
    monkeypatch.setattr(launch, 'usable_cpus', lambda: 1)
    monkeypatch.setattr(module, '_missing_extras', lambda arms: [])
    monkeypatch.setattr(module, 'run_ohl', lambda args, *a: (_ for _ in ()).throw(_Reached(args.cpus)))
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--arms', 'ohl'])
    with pytest.raises(_Reached) as reached:
        module.main()
    assert reached.value.args == (1, )
    err = _refused(module, ['--arms', 'ohl', '--cpus', '2'], monkeypatch, capsys, _WORK)
    assert '--cpus must be a number of cores in [1, 1]' in err and 'got 2' in err
