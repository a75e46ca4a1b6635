"""benchmarks/_arms.py, the runner every OHL evidence benchmark shares: ``--work-dir`` keeps each run in
``DIR/<arm><seed>/`` and never overwrites one; every benchmark built on it passes the option through; the uniform
pair entropy is ``2 ln |elements|``."""
from __future__ import annotations

import importlib
import json
import math
import os
import os.path as osp
import sys

import pytest

from conftest import REPO_ROOT

BENCHMARKS = {'am_lfs_digits': 'ce', 'am_lfs_fmnist': 'ce', 'autoaug_det': 'flip', 'autoaug_digits': 'none',
              'autoaug_fmnist': 'ohl', 'det_regime': 'flip'}  # each with one of its arms


@pytest.fixture
def arms(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('_arms')


class _FakeTrain:
    """Stands in for ``tools/train.py`` (unit test only): writes one ``scalars.json`` row per run into the work dir
    named on the command line and remembers the work dirs."""

    def __init__(self):
        self.work_dirs = []

    def __call__(self, argv, **kwargs):
        work = argv[argv.index('--work-dir') + 1]
        self.work_dirs.append(work)
        os.makedirs(osp.join(work, 'vis_data'), exist_ok=True)
        with open(osp.join(work, 'vis_data', 'scalars.json'), 'w') as f:
            f.write(json.dumps({'accuracy/top1': 50.0 + len(self.work_dirs)}) + '\n')
        return type('Done', (), {'returncode': 0, 'stderr': ''})()


def _run(arms, monkeypatch, work_dir):
    fake = _FakeTrain()
    monkeypatch.setattr(arms.subprocess, 'run', fake)
    config = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
    results = arms.run_arms(config, ['flip', 'ohl'], [0, 1], 2, lambda cfg, arm: None, lambda arm, work: '',
                            work_dir=work_dir)
    return fake, results


def test_work_dir_keeps_every_run_under_its_arm_and_seed(arms, monkeypatch, tmp_path):
    fake, results = _run(arms, monkeypatch, str(tmp_path / 'runs'))
    expected = [str(tmp_path / 'runs' / name) for name in ('flip0', 'ohl0', 'flip1', 'ohl1')]
    assert fake.work_dirs == expected
    for work in expected:  # the dumped config and the logs stay after run_arms returns
        assert osp.isfile(work + '.py') and osp.isfile(osp.join(work, 'vis_data', 'scalars.json'))
    assert results == {'flip': [51.0, 53.0], 'ohl': [52.0, 54.0]}


def test_without_work_dir_the_runs_go_to_a_temporary_folder_that_is_deleted(arms, monkeypatch):
    fake, _ = _run(arms, monkeypatch, None)
    assert len(fake.work_dirs) == 4 and not any(osp.exists(work) for work in fake.work_dirs)


def test_an_existing_run_stops_everything_before_training_and_is_kept(arms, monkeypatch, tmp_path):
    kept = tmp_path / 'runs' / 'ohl1'
    kept.mkdir(parents=True)
    (kept / 'history.json').write_text('[1]')
    with pytest.raises(FileExistsError, match=r'--work-dir .*runs already holds ohl1'):
        _run(arms, monkeypatch, str(tmp_path / 'runs'))
    assert os.listdir(tmp_path / 'runs') == ['ohl1'] and (kept / 'history.json').read_text() == '[1]'


@pytest.mark.parametrize('name, arm', BENCHMARKS.items())
def test_every_benchmark_passes_work_dir_to_the_runner(arms, monkeypatch, tmp_path, name, arm):
    module = importlib.import_module(name)
    seen = {}

    def fake_run_arms(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--seeds', '0', '--arms', arm, '--work-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        module.main()
    assert seen.get('work_dir') == str(tmp_path)


def test_uniform_pair_entropy_is_twice_the_log_of_the_set_size(arms):
    assert arms.uniform_pair_entropy('ohl') == pytest.approx(2 * math.log(36))  # 7.167, the paper's 36
    assert arms.uniform_pair_entropy('randaugment') == pytest.approx(2 * math.log(18))  # 5.781


def test_a_missing_detection_set_other_than_the_default_is_not_generated_with_default_sizes(arms, monkeypatch):
    """`autoaug_det.py --data-root data/fmnist_det_r200` without the README's generate step used to generate that
    folder with the default 500 reward / 1,000 test images: a table on other splits than its command says."""
    ran = []
    monkeypatch.setattr(arms.subprocess, 'run', lambda *a, **k: ran.append(a))
    with pytest.raises(FileNotFoundError, match='--num-reward 200 --num-test 500'):
        arms.ensure_fmnist_det('data/no_such_det_set_r200')
    assert not ran


# every arm of every OHL benchmark (autoaug_fmnist's 'learned' needs kept policies and is the 'none' engine's)
ALL_ARMS = {'am_lfs_digits': ['ce', 'am-lfs'], 'am_lfs_fmnist': ['ce', 'ls', 'gce', 'sce', 'poly1', 'am-lfs'],
            'autoaug_det': ['none', 'flip', 'uniform', 'autoaugment', 'randaugment', 'ohl'],
            'autoaug_digits': ['none', 'uniform', 'ohl'],
            'autoaug_fmnist': ['none', 'cropflip', 'uniform', 'trivialaugment', 'randaugment', 'ohl']}
LEARNING_ARMS = {'ohl', 'am-lfs'}


@pytest.mark.parametrize('name', ALL_ARMS)
def test_every_arm_builds_its_controller_and_only_the_searching_arms_learn(arms, monkeypatch, name):
    """The arms that learn nothing run the OHL arm's engine with the controller off. They used to set the
    controller's lr to 0, which REINFORCE came to refuse (rightly, in a user's config): every such arm of every
    benchmark then failed in its first trunk. Each arm's controller is built here and given one step of rewards that
    differ; θ must move in the searching arms only."""
    import torch

    from automl_mm.engine.preflight import build_check
    from automl_mm.ohl import build_controller

    module = importlib.import_module(name)
    seen = {}

    def fake_run_arms(config, arm_names, seeds, epochs, configure, *args, **kwargs):
        seen.update(config=config, configure=configure)
        raise SystemExit(0)

    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--seeds', '0', '--arms', *ALL_ARMS[name]])
    with pytest.raises(SystemExit):
        module.main()
    for arm in ALL_ARMS[name]:
        cfg = arms.run_config(seen['config'], 0, 1)
        seen['configure'](cfg, arm)
        controller = build_controller(cfg.custom_hooks[0].controller, dict(type='Categorical', num_choices=4))
        dist = controller.distribution
        before = dist.probs().clone()
        controller.step([dist.sufficient_stats(torch.tensor([0])), dist.sufficient_stats(torch.tensor([1]))],
                        rewards=[1.0, 0.0])
        assert (not torch.equal(before, dist.probs())) == (arm in LEARNING_ARMS), (name, arm)
        if name != 'autoaug_det':  # the detection set is generated by the benchmark; the rest read installed data
            build_check(cfg)  # what tools/train.py checks in the launching process: model, hooks, spaces, data
