"""A count option below its minimum (epochs, images, copies, the val interval) is refused at argument parsing
(argparse's exit 2, naming the option, nothing run): ``autoaug_det.py --train-images -5`` trained every arm on the
*last* 5 training images (mmengine's negative ``indices``) under a header of '-5 training images', and
``--epochs 0`` or ``--copies 0`` reached the first run's ``tools/train.py``."""
from __future__ import annotations

import importlib
import sys

import pytest

from tests.test_tools.test_benchmark_options import _refused

#: What starts work in these benchmarks: stubbed to fail the test.
_WORK = ('run_arms', 'ensure_fmnist_det', 'run_ohl', 'run_other', 'worker')


@pytest.mark.parametrize('name, argv, says', [
    ('autoaug_det', ['--arms', 'flip', '--train-images', '-5'], '--train-images must be a whole number >= 1, got -5'),
    ('autoaug_det', ['--arms', 'flip', '--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
    ('det_regime', ['--arms', 'flip', '--train-images', '0'], '--train-images must be a whole number >= 1, got 0'),
    ('det_regime', ['--arms', 'flip', '--epochs', '-24'], '--epochs must be a whole number >= 1, got -24'),
    ('det_regime', ['--arms', 'flip', '--val-interval', '-8'], '--val-interval must be a whole number >= 0, got -8'),
    ('autoaug_fmnist', ['--arms', 'none', '--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
    ('autoaug_fmnist', ['--arms', 'none', '--samples-per-class', '0'],
     '--samples-per-class must be a whole number >= 1, got 0'),
    ('autoaug_fmnist', ['--arms', 'none', '--reward-samples', '-1'],
     '--reward-samples must be a whole number >= 1, got -1'),
    ('autoaug_fmnist', ['--arms', 'none', '--copies', '0'], '--copies must be a whole number >= 1, got 0'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--epochs', '-1'], '--epochs must be a whole number >= 1, got -1'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--copies', '0'], '--copies must be a whole number >= 1, got 0'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--train-per-class', '0'], '--train-per-class must be a whole number >= 1'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--reward-per-class', '0'], '--reward-per-class must be a whole number >= 1'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--test-per-class', '-2'], '--test-per-class must be a whole number >= 1'),
    ('am_lfs_digits', ['--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
    ('autoaug_digits', ['--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--epochs', '0'], '--epochs must be a whole number >= 1, got 0'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--samples-per-class', '0'], '--samples-per-class must be a whole number >= 1'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--reward-samples', '0'], '--reward-samples must be a whole number >= 1'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--cpus', '0'], '--cpus must be a whole number >= 1, got 0'),
])
def test_a_count_below_its_minimum_is_refused_before_any_run(arms, monkeypatch, capsys, name, argv, says):
    assert says in _refused(importlib.import_module(name), argv, monkeypatch, capsys, _WORK)


@pytest.mark.parametrize('name, argv', [
    ('det_regime', ['--arms', 'flip', '--val-interval', '0', '--train-images', '1', '--epochs', '1']),
    ('autoaug_fmnist', ['--arms', 'none', '--epochs', '1', '--samples-per-class', '1', '--reward-samples', '1',
                        '--copies', '1']),
])
def test_the_smallest_counts_still_run(arms, monkeypatch, name, argv):
    module = importlib.import_module(name)
    monkeypatch.setattr(module, 'run_arms', lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 0


@pytest.mark.parametrize('name, argv, says', [
    # mmcv's RandomApply takes any number: 1.5 gave every image a pair, 0 and -0.1 none, so the ohl arm searched
    # nothing and the uniform arm was crop + flip, under the arm's name
    ('autoaug_fmnist', ['--arms', 'ohl', '--pair-prob', '-0.1'], '--pair-prob must be a share in (0, 1], got -0.1'),
    ('autoaug_fmnist', ['--arms', 'uniform', '--pair-prob', '0'], '--pair-prob must be a share in (0, 1], got 0.0'),
    ('autoaug_fmnist', ['--arms', 'ohl', '--pair-prob', '1.5'], '--pair-prob must be a share in (0, 1], got 1.5'),
    # refused before too, but inside the first run's tools/train.py, naming the config key it set
    ('autoaug_fmnist', ['--arms', 'ohl', '--lr', '0'], '--lr must be a finite number > 0, got 0.0'),
    ('autoaug_fmnist', ['--arms', 'ohl', '--lr', 'nan'], '--lr must be a finite number > 0, got nan'),
    ('am_lfs_fmnist', ['--arms', 'am-lfs', '--std', '0'], '--std must be a finite number > 0, got 0.0'),
    ('am_lfs_fmnist', ['--arms', 'am-lfs', '--controller-lr', '-0.1'],
     '--controller-lr must be a finite number > 0, got -0.1'),
    ('am_lfs_digits', ['--std', 'inf'], '--std must be a finite number > 0, got inf'),
    # autoaug_det.py's own check (``not lr > 0``) let inf through to the ohl arm's controller, after the other arms
    ('autoaug_det', ['--arms', 'none', 'ohl', '--lr', 'inf'], '--lr must be a finite number > 0, got inf'),
    ('autoaug_det', ['--arms', 'ohl', '--lr', '0'], '--lr must be a finite number > 0, got 0.0'),
])
def test_a_rate_or_share_out_of_range_is_refused_before_any_run(arms, monkeypatch, capsys, name, argv, says):
    test_a_count_below_its_minimum_is_refused_before_any_run(arms, monkeypatch, capsys, name, argv, says)


def test_a_pair_for_every_image_still_runs(arms, monkeypatch):
    test_the_smallest_counts_still_run(arms, monkeypatch, 'autoaug_fmnist', ['--arms', 'ohl', '--pair-prob', '1'])



@pytest.mark.parametrize('name', ['autoaug_det', 'det_regime'])
def test_more_training_images_than_the_split_holds_are_refused(arms, monkeypatch, capsys, tmp_path, name):
    """``--train-images 3000`` on the default 2,000-image set: mmengine's ``indices=3000`` keeps all 2,000, and
    every arm trained on them under a header of '3000 training images'. The split's own count is the limit."""
    import json

    (tmp_path / 'annotations').mkdir()
    for split, count in (('train', 3), ('test', 1)):  # a test split: ensure_fmnist_det generates nothing
        images = [dict(id=i, file_name=f'{i}.png', width=8, height=8) for i in range(count)]
        (tmp_path / 'annotations' / f'instances_{split}.json').write_text(json.dumps(dict(images=images)))
    module = importlib.import_module(name)
    monkeypatch.setattr(module, 'run_arms', lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    for images, code in (('4', 2), ('3', 0)):
        monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--arms', 'flip', '--data-root', str(tmp_path),
                                          '--train-images', images])
        with pytest.raises(SystemExit) as exit_info:
            module.main()
        assert exit_info.value.code == code, images
    assert (f'--train-images 4: {tmp_path}/annotations/instances_train.json holds 3 training images'
            in capsys.readouterr().err)


@pytest.mark.parametrize('name, arm', [('autoaug_fmnist', 'none'), ('ohl_vs_pbt', 'ohl')])
def test_more_reward_images_than_the_split_holds_are_refused(arms, monkeypatch, capsys, name, arm):
    """``--reward-samples 6000``: the config's reward split holds 5,000 images and ``max_samples=6000`` keeps them
    all, so every choice read 5,000 under a header of '6000 reward images' (ohl_vs_pbt.py's)."""
    test_a_count_below_its_minimum_is_refused_before_any_run(
        arms, monkeypatch, capsys, name, ['--arms', arm, '--reward-samples', '6000'],
        "--reward-samples 6000: the config's reward split (reward_size) holds 5000 images")
