"""End to end through tools/train.py and tools/test.py: train, validate, checkpoint, resume."""
from __future__ import annotations

import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from automl_mm.engine import safe_torch_load

from conftest import REPO_ROOT, read_scalars, run_tool

DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'
DETECTOR = 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'


def _run(*args: str) -> str:
    proc = run_tool(*args)
    return proc.stdout + proc.stderr


_scalars = read_scalars


# One 3-epoch schedule for every run of a test: a first run of 2 epochs is the interrupted part of it (a resume
# under another schedule is refused, since mmengine would keep the saved one).
DIGITS_TINY = ['val_dataloader.dataset.max_samples=128',
               'test_dataloader.dataset.max_samples=128', 'train_cfg.val_interval=1',
               'param_scheduler.0.T_max=3', 'param_scheduler.0.end=3']


@pytest.fixture(scope='module')
def digits_two_epochs(tmp_path_factory) -> str:
    """The work dir of the first 2 epochs of DIGITS_TINY's 3-epoch schedule (tools/train.py), which three tests
    resume from, each from a copy of its own (one run instead of one per test)."""
    work = str(tmp_path_factory.mktemp('digits_two_epochs') / 'digits')
    _run('tools/train.py', DIGITS, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2', *DIGITS_TINY)
    return work


def _copy_of(work: str, tmp_path) -> str:
    """A copy of the work dir ``work`` whose last_checkpoint names the copy's checkpoint."""
    import shutil

    copy = shutil.copytree(work, str(tmp_path / 'digits'))
    with open(osp.join(copy, 'last_checkpoint')) as f:
        last = f.read().replace(work, copy)
    with open(osp.join(copy, 'last_checkpoint'), 'w') as f:
        f.write(last)
    return copy


@pytest.mark.slow
def test_digits_baseline_trains_validates_resumes_and_tests(digits_two_epochs, tmp_path):
    assert osp.isfile(osp.join(digits_two_epochs, 'epoch_2.pth'))
    assert open(osp.join(digits_two_epochs, 'last_checkpoint')).read().strip().endswith('epoch_2.pth')
    work = _copy_of(digits_two_epochs, tmp_path)
    out = _run('tools/train.py', DIGITS, '--work-dir', work, '--resume', '--cfg-options',
               'train_cfg.max_epochs=3', *DIGITS_TINY)
    assert 'resumed epoch: 2' in out.lower().replace(',', '')
    ckpt = safe_torch_load(osp.join(work, 'epoch_3.pth'))
    assert ckpt['meta']['epoch'] == 3
    # epochs 1-2 ran once (first run), epoch 3 only in the resumed run: no repeated epochs
    accs = [r for r in _scalars(work) if 'accuracy/top1' in r]
    assert [r['step'] for r in accs] == [1, 2, 3]
    assert accs[-1]['accuracy/top1'] > 50.0  # 10 classes: chance is 10 %
    out = _run('tools/test.py', DIGITS, osp.join(work, 'epoch_3.pth'), '--work-dir', str(tmp_path / 'test'),
               '--cfg-options', 'test_dataloader.dataset.max_samples=128')
    assert "'accuracy/top1'" in out


# DIGITS_TINY with the config's own schedule end (param_scheduler.0.end = train_cfg.max_epochs)
DIGITS_OWN_END = [o for o in DIGITS_TINY if not o.startswith('param_scheduler.0.end')]


@pytest.mark.slow
def test_resuming_under_another_schedule_is_refused(digits_two_epochs, tmp_path):
    """Resumed with a longer train_cfg.max_epochs, mmengine kept the saved cosine schedule's end and trained every
    added epoch at the last learning rate (4.6970e-02 for all of epoch 3), silently. (Saved with end=3 epochs,
    resumed with max_epochs=4 and the config's own end, 4.)"""
    work = _copy_of(digits_two_epochs, tmp_path)
    tiny = DIGITS_OWN_END
    proc = run_tool('tools/train.py', DIGITS, '--work-dir', work, '--resume', '--cfg-options',
                    'train_cfg.max_epochs=4', *tiny, check=False)
    assert proc.returncode != 0
    assert re.search(r'param_scheduler\[0\] \(CosineAnnealingLR\) was saved with end=\d+ .* the config now gives '
                     r'end=\d+ \(e.g. another train_cfg.max_epochs\)', proc.stdout + proc.stderr)


@pytest.mark.slow
def test_resuming_on_another_number_of_processes_names_the_world_size(tmp_path):
    """A run of 2 processes resumed on 1 was refused by the schedule check (a schedule in epochs converted to
    iterations counts one process's iterations, and each of 2 processes reads half an epoch), but the message
    blamed train_cfg.max_epochs, which had not changed. It names the world sizes now."""
    work = str(tmp_path / 'digits')
    # 64 training images: 2 iterations an epoch on 1 process, 1 on each of 2 (the spans differ as with all 1,078)
    tiny = ([o for o in DIGITS_TINY if o != 'train_cfg.val_interval=1'] +
            ['train_cfg.val_interval=100', 'train_dataloader.dataset.max_samples=64'])
    run_tool('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29563', 'tools/train.py',
             DIGITS, '--launcher', 'pytorch', '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2', *tiny,
             timeout=600)
    proc = run_tool('tools/train.py', DIGITS, '--work-dir', work, '--resume', '--cfg-options',
                    'train_cfg.max_epochs=3', *tiny, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert re.search(r'the checkpoint was trained by 2 processes \(world size 2\), this run has world size 1: .*'
                     r'param_scheduler\[0\] \(CosineAnnealingLR\), given in epochs and converted to iterations, was '
                     r'saved with end=\d+ and now gives end=\d+ iterations.* Resume with 2 processes', out), out[-3000:]
    assert 'max_epochs' not in out[out.index('the checkpoint was trained by'):]
    assert safe_torch_load(osp.join(work, 'epoch_2.pth'))['meta']['world_size'] == 2  # every runner's save records it


@pytest.mark.slow
def test_explicit_resume_path_and_bad_paths(digits_two_epochs, tmp_path):
    work = _copy_of(digits_two_epochs, tmp_path)  # its last_checkpoint must not stand in for the missing path
    proc = subprocess.run([sys.executable, 'tools/train.py', DIGITS, '--work-dir', work, '--resume',
                           osp.join(work, 'missing.pth')], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and '--resume checkpoint not found' in proc.stderr
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/nope.py'], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and 'config file not found: configs/nope.py' in proc.stderr


def _detector_options(coco_root: str, max_epochs: int) -> list[str]:
    root = coco_root.rstrip('/') + '/'
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}annotations/instances_val.json',
            f'test_evaluator.ann_file={root}annotations/instances_val.json',
            f'train_cfg.max_epochs={max_epochs}', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=4',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
            'model.train_cfg.rpn_proposal.max_per_img=64', 'model.train_cfg.rcnn.sampler.num=32',
            'param_scheduler.0.end=2',
            # a few iterations leave every score under mmdet's 0.05 threshold; keep all boxes so that
            # CocoMetric always has detections to score
            'model.test_cfg.rcnn.score_thr=0.0']


def _logs(work: str) -> list[str]:
    """The text of every run's log in ``work`` (``<timestamp>/<timestamp>.log``), oldest first."""
    import glob

    return [open(path).read() for path in sorted(glob.glob(osp.join(work, '*', '*.log')))]


@pytest.mark.slow
def test_mmdet_detector_with_automl_mm_backbone_trains_evaluates_resumes(coco_root, tmp_path):
    """Both runs are tools/train.py's main in one process forked from the test's fork server (tests/_train_ranks.py,
    ``--launcher none``): a subprocess of the tool imported torch, mmdet and automl_mm again, most of each run."""
    from _train_ranks import train_ranks

    work = str(tmp_path / 'det')
    train_ranks([DETECTOR, '--work-dir', work, *_detector_options(coco_root, 1)], 1, launcher='none')
    [out] = _logs(work)
    assert 'coco/bbox_mAP' in out  # CocoMetric (pycocotools) ran on the val split
    ckpt = safe_torch_load(osp.join(work, 'epoch_1.pth'))
    assert any(k.startswith('backbone.res_layers.3') for k in ckpt['state_dict'])  # automl_mm.ResNet inside
    assert ckpt['meta']['dataset_meta']['classes'] == ('rectangle', 'ellipse', 'triangle')
    fingerprints = ckpt['meta']['data_fingerprints']  # mmdet's CocoDataset is fingerprinted (the resume compares)
    assert fingerprints['train_dataloader.dataset']['type'] == 'CocoDataset'
    assert fingerprints['train_dataloader.dataset']['items'] == 8
    train_ranks([DETECTOR, '--work-dir', work, '--resume', *_detector_options(coco_root, 2)], 1, launcher='none')
    first, out = _logs(work)
    assert 'resumed epoch: 1' in out.lower().replace(',', '') and 'resumed epoch' not in first.lower()
    maps = [r['coco/bbox_mAP'] for r in _scalars(work) if 'coco/bbox_mAP' in r]
    assert len(maps) == 2 and all(0.0 <= m <= 1.0 for m in maps)
    assert torch.isfinite(torch.tensor(maps)).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only error message')
def test_amp_without_cuda_is_a_clear_error():
    proc = subprocess.run([sys.executable, 'tools/train.py', DIGITS, '--amp'], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and '--amp needs a CUDA device' in proc.stderr
