"""benchmarks/_arms.py, the runner every OHL evidence benchmark shares: ``--work-dir`` keeps each run in
``DIR/<arm><seed>/`` and never overwrites one; every arm is configured, and the seeds checked, before any training;
the final value is the newest run's; a missing detection set other than the default is not generated; the uniform
pair entropy is ``2 ln |elements|``. (The ``arms`` fixture, benchmarks/_arms.py, is in tests/conftest.py.)"""
from __future__ import annotations

import json
import math
import os
import os.path as osp

import pytest

from conftest import REPO_ROOT


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


def test_run_arms_refuses_a_repeated_seed(arms):
    with pytest.raises(ValueError, match='seeds lists a value more than once'):
        arms.run_arms('unused.py', ['ohl'], [0, 0], 1, lambda cfg, arm: None, lambda arm, work: '')


def test_run_arms_configures_every_arm_before_any_training(arms, monkeypatch):
    """The shared runner configured an arm only at its turn: an arm its benchmark's configure refuses stopped the
    benchmark after the arms before it had trained (minutes each)."""
    monkeypatch.setattr(arms.subprocess, 'run', lambda *a, **k: pytest.fail('a run started'))
    seen = []

    def configure(cfg, arm):
        seen.append(arm)
        if arm not in ('flip', 'ohl'):
            raise ValueError(f"unknown arm {arm!r}; choose from ('flip', 'ohl')")

    config = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
    with pytest.raises(ValueError, match="unknown arm 'flop'"):
        arms.run_arms(config, ['flip', 'ohl', 'flop'], [0, 1], 2, configure, lambda arm, work: '')
    assert seen == ['flip', 'ohl', 'flop']


def _write_run(work_dir, timestamp: str, value: float) -> None:
    """One mmengine run's ``<timestamp>/vis_data/scalars.json`` with one ``accuracy/top1`` row."""
    vis = osp.join(work_dir, timestamp, 'vis_data')
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps({'accuracy/top1': value, 'step': 1}) + '\n')


def test_the_final_value_is_the_newest_runs_whatever_the_listing_order(arms, monkeypatch, tmp_path):
    """A work dir holding two runs (a rerun, or a resume: mmengine starts a new ``<timestamp>/`` each time) gave the
    last row in ``os.walk``'s listing order, which is the directory's, not time's: the older run's value."""
    _write_run(tmp_path, '20261203_120000', 11.0)
    _write_run(tmp_path, '20261203_130000', 22.0)
    listing = os.walk

    def walk_newest_first(top, *args, **kwargs):  # the order ext4 gave in the audit's repro
        for dirpath, dirs, files in listing(top, *args, **kwargs):
            dirs.sort(reverse=True)
            yield dirpath, dirs, files

    monkeypatch.setattr(arms.os, 'walk', walk_newest_first)
    assert [row['accuracy/top1'] for row in arms.logged_rows(str(tmp_path), 'accuracy/top1')] == [11.0, 22.0]
    assert arms.final_accuracy(str(tmp_path)) == 22.0


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


def test_two_runs_that_would_share_a_folder_are_refused_before_any_training(arms, monkeypatch, tmp_path):
    """Run folders are named ``<arm><seed>``: am_lfs_fmnist.py --arms poly1:0.5 poly1:0.51 --seeds 0 10 trained
    poly1:0.51 seed 0 and poly1:0.5 seed 10 both into ``poly1:0.510/`` (the second run's config, history and
    checkpoints over the first's, in a --work-dir that promised never to overwrite a run)."""
    monkeypatch.setattr(arms.subprocess, 'run', lambda *a, **k: pytest.fail('a run started'))
    config = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
    with pytest.raises(ValueError, match=r"poly1:0\.510.*poly1:0\.51 seed 0.*poly1:0\.5 seed 10"):
        arms.run_arms(config, ['poly1:0.5', 'poly1:0.51'], [0, 10], 2, lambda cfg, arm: None, lambda arm, work: '',
                      work_dir=str(tmp_path / 'runs'))
    assert not osp.exists(tmp_path / 'runs')
