"""The resume checks of what a search's scores are read on judge the data by content where the data check compares it.

OHL's reward check (:func:`automl_mm.ohl.resume.check_reward_settings`) and a NAS search loop's scoring check
(:meth:`automl_mm.nas.loop.SearchLoopBase.check_resumed_scoring`) compared the reward / search loader's paths: the
split copied or moved under another root was refused as other rewards, and other data under the same paths passed
them (only the data check, :mod:`automl_mm.engine.data_fingerprint`, saw it). Where the checkpoint recorded the
split's fingerprint, the paths are now left to the data check; checkpoints without fingerprints compare the paths as
before. Unit-level: the hook and loop on stand-in runners, the reward split built from tiny Fashion-MNIST files.
"""
from __future__ import annotations

import gzip
import os.path as osp
import shutil
import sys
from types import SimpleNamespace
from unittest import mock

import pytest
from mmengine.config import Config

from automl_mm.datasets import FashionMNISTDataset
from automl_mm.engine.data_fingerprint import META_KEY, DataFingerprintHook, dataset_fingerprint
from automl_mm.utils.checks import DATA_PATH, without_data_paths

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_ohl'))
from test_fmnist_det import write_fake_fashion  # noqa: E402
from test_reward_rule import _hook  # noqa: E402


@pytest.fixture(scope='module')
def roots(tmp_path_factory) -> dict[str, str]:
    """Tiny Fashion-MNIST files (``first``), a copy of them (``copy``) and files of other pixels under the same
    names and labels (``other``)."""
    tmp = tmp_path_factory.mktemp('fashion')
    first = write_fake_fashion(str(tmp / 'first'))
    copy_ = str(shutil.copytree(first, tmp / 'copy'))
    other = str(shutil.copytree(first, tmp / 'other'))
    path = osp.join(other, 'train-images-idx3-ubyte.gz')
    with gzip.open(path) as f:
        raw = bytearray(f.read())
    raw[16:] = bytes(255 - b for b in raw[16:])
    with gzip.open(path, 'wb') as f:
        f.write(bytes(raw))
    return dict(first=first, copy=copy_, other=other)


def _reward_loader(root: str) -> dict:
    return dict(batch_size=4, num_workers=0, dataset=dict(type='FashionMNISTDataset', split='reward', data_root=root,
                                                           reward_size=20, pipeline=[]))


def _ohl_runner(root: str):
    """An OHL hook whose reward split (the top-level reward_dataloader) reads ``root``, built, on a stand-in runner
    with the data check registered; ``(hook, runner)``."""
    hook = _hook('accuracy/top1')
    cfg = Config(dict(reward_dataloader=_reward_loader(root), reward_evaluator=dict(type='Accuracy', topk=(1, ))))
    hook.scorer.held_out.loader = SimpleNamespace(dataset=FashionMNISTDataset(split='reward', data_root=root,
                                                                              reward_size=20))
    return hook, SimpleNamespace(cfg=cfg, logger=mock.Mock(), hooks=[hook, DataFingerprintHook()], _resume=True)


def _checkpoint(runner) -> dict:
    """What a checkpoint of ``runner``'s run records of its reward split's data."""
    dataset = runner.hooks[0].scorer.held_out.loader.dataset
    return {'meta': {META_KEY: {'reward_dataloader.dataset': dataset_fingerprint(dataset)}}}


def test_an_ohl_reward_split_copied_under_another_root_resumes_and_other_data_under_its_path_is_refused(roots):
    from automl_mm.ohl.resume import check_reward_settings

    hook, runner = _ohl_runner(roots['first'])
    saved, checkpoint = hook.reward_settings(runner)[0], _checkpoint(runner)
    moved_hook, moved = _ohl_runner(roots['copy'])
    check_reward_settings(moved_hook, moved, saved, 3, checkpoint)  # the same data under another root
    moved.hooks[1].after_load_checkpoint(moved, checkpoint)  # and the data check agrees
    # a checkpoint without fingerprints (an older automl_mm): the paths are compared, as before
    with pytest.raises(ValueError, match=r"OHL: the checkpoint's rewards were read with reward_dataloader=.* \(it "
                                         r'differs at reward_dataloader\.dataset\.data_root'):
        check_reward_settings(moved_hook, moved, saved, 3, {'meta': {}})
    # other pixels under the checkpoint's path (written there since): the reward check leaves the data to the data
    # check, which refuses it, naming the reward loader's key
    other_hook, other = _ohl_runner(roots['other'])
    other.cfg.reward_dataloader.dataset.data_root = roots['first']
    check_reward_settings(other_hook, other, saved, 3, checkpoint)
    with pytest.raises(ValueError, match=r'reward_dataloader\.dataset \(FashionMNISTDataset\): 20 items then and now, '
                                         r'but other items'):
        other.hooks[1].after_load_checkpoint(other, checkpoint)
    # under resume_data_check=False the data check lets the run train on it; the reward check refuses the rewards
    # of two data sets ranked together (compared by path, it passed: the same path)
    other.cfg.resume_data_check = False
    with pytest.raises(ValueError, match=r'reward_dataloader=.* \(its dataset holds other data than the checkpoint'):
        check_reward_settings(other_hook, other, saved, 3, checkpoint)
    # the rest of the loader is still compared
    edited_hook, edited = _ohl_runner(roots['copy'])
    edited.cfg.reward_dataloader.dataset.reward_size = 30
    with pytest.raises(ValueError, match=r'differs at reward_dataloader\.dataset\.reward_size: 20 -> 30'):
        check_reward_settings(edited_hook, edited, saved, 3, checkpoint)


def test_a_nas_search_split_copied_under_another_root_resumes_inside_a_scoring_step(roots):
    """A scoring step partly scored: the search split read from a copy resumes (compared by path, refused); other
    pixels under its path are the data check's, and refused here under resume_data_check=False (they passed);
    without fingerprints in the checkpoint the paths are compared."""
    from automl_mm.engine.evaluate import HeldOutEvaluator
    from automl_mm.nas.loop import SearchLoopBase

    def loop(root: str):
        held = HeldOutEvaluator('search', 'accuracy/top1', 'PCNASLoop', _reward_loader(root),
                                dict(type='Accuracy', topk=(1, )), 'train_cfg.search_dataloader',
                                'train_cfg.search_evaluator')
        held.loader = SimpleNamespace(dataset=FashionMNISTDataset(split='reward', data_root=root, reward_size=20))
        partly_scored = SimpleNamespace(scores={(0, ): 1.0})
        stand_in = SimpleNamespace(held_out=held, metric_key='accuracy/top1', metric_rule='greater',
                                   bn_recalibration_batches=0, search_pools=lambda: [partly_scored])
        stand_in.runner = SimpleNamespace(cfg=Config(), hooks=[DataFingerprintHook()])
        stand_in.held_out_splits = lambda runner: SearchLoopBase.held_out_splits(stand_in, runner)
        stand_in.runner.hooks.append(stand_in)  # run_datasets finds the search split through its owner
        stand_in.scoring_settings = lambda: SearchLoopBase.scoring_settings(stand_in)
        return stand_in

    first = loop(roots['first'])
    saved = first.scoring_settings()
    checkpoint = {'meta': {META_KEY: {'train_cfg.search_dataloader.dataset':
                                      dataset_fingerprint(first.held_out.loader.dataset)}}}
    SearchLoopBase.check_resumed_scoring(loop(roots['copy']), saved, checkpoint)
    other = loop(roots['other'])
    other.held_out.dataloader_cfg['dataset']['data_root'] = roots['first']  # other pixels under the same path
    SearchLoopBase.check_resumed_scoring(other, saved, checkpoint)  # left to the data check, which refuses it
    other.runner.cfg.resume_data_check = False
    with pytest.raises(ValueError, match=r'search_dataloader=.* \(its dataset holds other data than the checkpoint'):
        SearchLoopBase.check_resumed_scoring(other, saved, checkpoint)
    with pytest.raises(ValueError, match=r'middle of a scoring step scored with train_cfg\.search_dataloader='):
        SearchLoopBase.check_resumed_scoring(loop(roots['copy']), saved, {'meta': {}})


def test_without_data_paths_leaves_out_the_loaders_paths_and_the_metric_file_naming_them(tmp_path):
    """The paths of a content-compared loader's datasets (wrappers looked through) are dropped, a metric's
    ann_file that names the loader's annotation file is masked (another file is not), the pipeline is kept."""
    loader = dict(batch_size=2, dataset=dict(type='RepeatDataset', times=2, dataset=dict(
        type='CocoDataset', data_root=str(tmp_path), ann_file='a.json', data_prefix=dict(img='images/'),
        pipeline=[dict(type='LoadImageFromFile', backend_args=None)])))
    metric = dict(type='CocoMetric', ann_file=str(tmp_path / 'a.json'))
    other_metric = dict(type='CocoMetric', ann_file=str(tmp_path / 'b.json'))
    found = without_data_paths(dict(loader=loader, metric=metric, other=other_metric), ['loader'])
    inner = found['loader']['dataset']['dataset']
    assert 'data_root' not in inner and 'ann_file' not in inner and 'data_prefix' not in inner
    assert inner['pipeline'] == [dict(type='LoadImageFromFile', backend_args=None)]
    assert found['metric']['ann_file'] == DATA_PATH
    assert found['other']['ann_file'] == osp.realpath(tmp_path / 'b.json')
    assert loader['dataset']['dataset']['data_root'] == str(tmp_path)  # the settings themselves are not changed
    assert without_data_paths(dict(loader=loader), [])['loader']['dataset']['dataset']['ann_file'] == \
        osp.realpath(tmp_path / 'a.json')  # not content-compared: resolved, kept
