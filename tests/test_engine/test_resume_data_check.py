"""A resume on other data than the checkpoint's run read is refused (checkpoint['meta']['data_fingerprints']).

ImageFolderDataset's split became a seeded hash of each file's path: an older checkpoint resumed on a re-dealt
split, and so did a resume with another split seed, fractions or max_samples, so images the reward split had
scored were trained on, silently. Real mmengine Runners on the tiny digits configs (conftest), an OHL CopyRunner
and a PC-NAS loop; the fingerprints' unit tests on ImageFolderDataset (no image is read) and mmengine's wrappers.
"""
from __future__ import annotations

import logging
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine import safe_torch_load
from automl_mm.engine.data_fingerprint import META_KEY, dataset_fingerprint

from conftest import resumed_runner, tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader')


def _cfg(work_dir: str, max_epochs: int = 1, seed: int = 0) -> Config:
    cfg = tiny_digits_cfg(work_dir, max_epochs)
    cfg.train_cfg.val_interval = 100
    for loader in _LOADERS:  # the user's split seed, as digits_split sets it for every split
        cfg[loader].dataset.seed = seed
    return cfg


@pytest.fixture(scope='module')
def saved(tmp_path_factory) -> str:
    """One epoch of the tiny digits run (split seed 0); its checkpoint."""
    work = str(tmp_path_factory.mktemp('digits'))
    Runner.from_cfg(_cfg(work)).train()
    return osp.join(work, 'epoch_1.pth')


@pytest.fixture
def logged(monkeypatch) -> list[tuple[str, int]]:
    """What the data check logs, ``(message, level)``."""
    from automl_mm.engine import data_fingerprint

    messages: list[tuple[str, int]] = []
    monkeypatch.setattr(data_fingerprint, 'print_log',
                        lambda msg, **kw: messages.append((msg, kw.get('level', logging.INFO))))
    return messages


def _warnings(logged) -> list[str]:
    return [msg for msg, level in logged if level >= logging.WARNING]


def test_checkpoints_record_the_fingerprint_of_each_dataset_the_run_reads(saved):
    fingerprints = safe_torch_load(saved)['meta'][META_KEY]
    assert set(fingerprints) == {'train_dataloader.dataset', 'val_dataloader.dataset'}
    assert fingerprints['train_dataloader.dataset']['items'] == 64
    assert fingerprints['train_dataloader.dataset']['type'] == 'DigitsDataset'
    assert len(fingerprints['train_dataloader.dataset']['blake2b']) == 32


def test_a_resume_with_another_split_seed_is_refused_naming_the_key_counts_and_checkpoint(saved, tmp_path):
    runner = resumed_runner(_cfg(str(tmp_path), max_epochs=2, seed=1), saved)
    with pytest.raises(ValueError) as err:
        runner.train()
    message = str(err.value)
    assert message.startswith(f'resuming {saved}: the data differs from what the checkpoint\'s run read')
    assert 'train_dataloader.dataset (DigitsDataset): 64 items then and now, but other items, another order or other ' \
        'content (boxes, labels, pixels)' in message
    assert 'split seed' in message and 'max_samples' in message and 'data_root' in message
    assert 'resume_data_check=False' in message and 'load_from without resume' in message
    assert runner.iter == 0 and not osp.exists(tmp_path / 'epoch_2.pth')  # refused before anything trained


def test_a_resume_with_fewer_samples_names_both_counts(saved, tmp_path):
    cfg = _cfg(str(tmp_path), max_epochs=2)
    cfg.train_dataloader.dataset.max_samples = 48
    with pytest.raises(ValueError, match=r'train_dataloader.dataset \(DigitsDataset\): 64 items in the checkpoint\'s '
                                         r'run, 48 now'):
        resumed_runner(cfg, saved).train()


def test_an_unchanged_resume_continues(saved, tmp_path, logged):
    """Also from a checkpoint of an older automl_mm, whose fingerprints (version 1) left boxes and pixels out: its
    datasets are compared by that version (the fingerprint of this data recomputed so), with a warning; refused as
    changed data otherwise."""
    from automl_mm.datasets import DigitsDataset

    old = safe_torch_load(saved)
    train = _cfg(str(tmp_path)).train_dataloader.dataset

    old['meta'][META_KEY]['train_dataloader.dataset'] = dataset_fingerprint(
        DigitsDataset(**{k: v for k, v in train.items() if k != 'type'}), version=1)
    assert 'version' not in old['meta'][META_KEY]['train_dataloader.dataset']  # as written before versions
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    runner = resumed_runner(_cfg(str(tmp_path / 'run'), max_epochs=2), path)
    runner.train()
    assert runner.epoch == 2 and osp.isfile(tmp_path / 'run' / 'epoch_2.pth')
    assert [w for w in _warnings(logged) if 'data' in w] == [
        f'resuming {path}: its data fingerprints of train_dataloader.dataset were written by an older automl_mm '
        '(version 1: paths, ids and labels only), so boxes, masks and image bytes were not compared']
    assert ('resume: the data matches the checkpoint\'s run (train_dataloader.dataset, val_dataloader.dataset)',
            logging.INFO) in logged


def test_a_checkpoint_without_fingerprints_resumes_with_a_warning(saved, tmp_path, logged):
    old = safe_torch_load(saved)
    del old['meta'][META_KEY]  # as an older automl_mm saved it
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    runner = resumed_runner(_cfg(str(tmp_path / 'run'), max_epochs=2, seed=1), path)
    runner.train()
    assert runner.epoch == 2
    assert [w for w in _warnings(logged) if 'data' in w] == [
        f'resuming {path}: the checkpoint records no data fingerprints (saved by an older automl_mm or without it), '
        'so this run\'s data could not be compared with its run\'s']


def test_resume_data_check_false_resumes_on_other_data_with_a_warning(saved, tmp_path, logged):
    cfg = _cfg(str(tmp_path), max_epochs=2, seed=1)
    cfg.resume_data_check = False
    runner = resumed_runner(cfg, saved)
    runner.train()
    assert runner.epoch == 2
    assert "resume_data_check=False: the resumed run's data is not compared with the checkpoint's" \
        in _warnings(logged)


def test_resume_data_check_must_be_a_bool(saved, tmp_path):
    cfg = _cfg(str(tmp_path), max_epochs=2)
    cfg.resume_data_check = 'False'
    with pytest.raises(ValueError, match=r"resume_data_check must be True or False, got 'False'"):
        resumed_runner(cfg, saved).train()


def test_load_from_without_resume_is_not_checked(saved, tmp_path, logged):
    """Fine-tuning a checkpoint's weights on other data is a new run: not compared, no warning."""
    cfg = _cfg(str(tmp_path), seed=1)
    cfg.load_from = saved
    Runner.from_cfg(cfg).train()
    assert not [w for w in _warnings(logged) if 'data' in w]
    cfg = _cfg(str(tmp_path / 'test'), seed=1)  # tools/test.py's way: Runner.test with load_from
    cfg.load_from = saved
    Runner.from_cfg(cfg).test()


def _ohl_cfg(work_dir: str, max_epochs: int) -> Config:
    """The tiny OHL run, its reward split given to the hook itself (custom_hooks.0.reward_dataloader)."""
    cfg = tiny_ohl_cfg(work_dir)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.custom_hooks[0].reward_dataloader = cfg.pop('reward_dataloader')
    cfg.custom_hooks[0].reward_dataloader.dataset.max_samples = 64
    return cfg


def test_an_ohl_resume_on_another_reward_split_names_its_key(tmp_path):
    """The reward split is built by the OHL hook in before_train, after the resume's load: it is built for the
    comparison, and named by its config key. The config is the same (a reward_dataloader config that differs is
    refused first by the OHL hook's own check, which names both configs: test_controller); the checkpoint's run
    dealt its reward split otherwise, as an older automl_mm's ImageFolderDataset order did."""
    work = str(tmp_path / 'ohl')
    train_copy_runner(_ohl_cfg(work, 1))
    checkpoint = safe_torch_load(osp.join(work, 'epoch_1.pth'))
    fingerprints = checkpoint['meta'][META_KEY]
    reward = fingerprints['custom_hooks.0.reward_dataloader.dataset']
    assert reward['items'] == 64
    reward['blake2b'] = '0' * len(reward['blake2b'])  # the same count, other images
    dealt_otherwise = str(tmp_path / 'dealt_otherwise.pth')
    torch.save(checkpoint, dealt_otherwise)
    resumed = _ohl_cfg(work, 2)
    resumed.resume, resumed.load_from = True, dealt_otherwise
    with pytest.raises(ValueError, match=r'custom_hooks.0.reward_dataloader.dataset \(DigitsDataset\): 64 items then '
                                         r'and now, but other items, another order or other content'):
        train_copy_runner(resumed)
    resumed = _ohl_cfg(work, 2)
    resumed.resume = True
    assert train_copy_runner(resumed).epoch == 2


def test_a_nas_resume_on_another_search_split_names_its_key(tmp_path):
    from test_nas.test_pc_nas_loop import _cfg as pc_nas_cfg

    work = str(tmp_path / 'nas')
    cfg = pc_nas_cfg(work)
    cfg.default_hooks.checkpoint.update(interval=3, max_keep_ckpts=5)
    cfg.train_cfg.warmup_iters = 3
    runner = Runner.from_cfg(cfg)
    runner.train()
    fingerprints = safe_torch_load(osp.join(work, 'iter_3.pth'))['meta'][META_KEY]
    assert 'reward_dataloader.dataset' in fingerprints and 'train_dataloader.dataset' in fingerprints
    resumed = pc_nas_cfg(str(tmp_path / 'resumed'))
    resumed.train_cfg.warmup_iters = 3
    resumed.reward_dataloader.dataset.max_samples = 10
    resumed.resume, resumed.load_from = True, osp.join(work, 'iter_3.pth')
    items = fingerprints['reward_dataloader.dataset']['items']
    with pytest.raises(ValueError, match=rf'reward_dataloader.dataset \(\w+\): {items} items in the checkpoint\'s '
                                         r'run, 10 now'):
        Runner.from_cfg(resumed).train()


# --- the fingerprints ------------------------------------------------------------------------------------------------
def _image_folder(root: str, per_class: int = 10) -> None:
    for cls in ('cat', 'dog'):
        os.makedirs(osp.join(root, 'train', cls), exist_ok=True)
        for i in range(per_class):
            open(osp.join(root, 'train', cls, f'{i}.png'), 'wb').close()  # never read: no image is opened


def _folder(root: str, **kwargs):
    from automl_mm.datasets.image_folder import ImageFolderDataset

    kwargs.setdefault('split', 'train')
    return ImageFolderDataset(data_root=root, data_prefix=dict(img_path='train'), reward_ratio=0.2, pipeline=[],
                              **kwargs)


def test_image_folder_fingerprints_follow_the_split_not_the_mount_point(tmp_path):
    _image_folder(str(tmp_path / 'a'))
    fingerprint = dataset_fingerprint(_folder(str(tmp_path / 'a')))
    assert fingerprint['items'] == 16 and fingerprint['type'] == 'ImageFolderDataset'
    os.rename(tmp_path / 'a', tmp_path / 'moved')  # the same files under another data_root
    assert dataset_fingerprint(_folder(str(tmp_path / 'moved'))) == fingerprint
    assert dataset_fingerprint(_folder(str(tmp_path / 'moved'), seed=1))['blake2b'] != fingerprint['blake2b']
    assert dataset_fingerprint(_folder(str(tmp_path / 'moved'), split='reward'))['items'] == 4
    assert dataset_fingerprint(_folder(str(tmp_path / 'moved'), serialize_data=False)) == fingerprint
    open(tmp_path / 'moved' / 'train' / 'cat' / 'new.png', 'wb').close()
    assert dataset_fingerprint(_folder(str(tmp_path / 'moved')))['blake2b'] != fingerprint['blake2b']


def test_an_older_image_folder_split_order_has_another_fingerprint(tmp_path, monkeypatch):
    """The fault this check was made for: before file_keys, each class was cut in a seeded permutation of its
    positions; a checkpoint of that split order, resumed now, names the re-dealt split."""
    from automl_mm.datasets import image_folder

    _image_folder(str(tmp_path), per_class=30)
    now = {split: dataset_fingerprint(_folder(str(tmp_path), split=split)) for split in ('train', 'reward')}
    monkeypatch.setattr(image_folder, 'file_keys', lambda paths, seed: None)  # the older order
    before = {split: dataset_fingerprint(_folder(str(tmp_path), split=split)) for split in ('train', 'reward')}
    for split in ('train', 'reward'):
        assert before[split]['items'] == now[split]['items'] and before[split]['blake2b'] != now[split]['blake2b']


def test_wrappers_are_fingerprinted_through_and_unknown_datasets_are_skipped(tmp_path):
    from mmengine.dataset import ConcatDataset, RepeatDataset

    _image_folder(str(tmp_path))
    one, two = _folder(str(tmp_path)), _folder(str(tmp_path), split='reward')
    both = dataset_fingerprint(ConcatDataset([one, two]))
    assert both['items'] == 20 and both['type'] == 'ConcatDataset'
    assert dataset_fingerprint(ConcatDataset([two, one]))['blake2b'] != both['blake2b']
    assert dataset_fingerprint(RepeatDataset(one, times=2))['items'] == 32
    assert dataset_fingerprint(torch.utils.data.Subset(one, [0, 1]))['items'] == 2
    assert dataset_fingerprint(torch.utils.data.TensorDataset(torch.zeros(3))) is None
    assert dataset_fingerprint(object()) is None


def test_every_rank_raises_when_one_sees_other_data(monkeypatch):
    """Ranks compare their own datasets; one that refused alone left the others waiting in the next collective."""
    import mmengine.dist as mm_dist

    from automl_mm.engine import data_fingerprint

    monkeypatch.setattr(mm_dist, 'is_distributed', lambda: True)
    monkeypatch.setattr(mm_dist, 'all_gather_object', lambda verdict: [None, 'rank 1 saw other data'])
    assert data_fingerprint._agree(None) == 'rank 0: the data matches | rank 1: rank 1 saw other data'
    monkeypatch.setattr(mm_dist, 'all_gather_object', lambda verdict: [None, None])
    assert data_fingerprint._agree(None) is None


class _Items:
    """mmdet's CocoDataset data list (img_path, img_id, sizes, instances with bbox / bbox_label), and an in-memory
    set's (img array, gt_label, source_idx), as mmengine BaseDatasets (mmdet needs mmcv, absent here)."""

    @staticmethod
    def coco(**kwargs):
        from mmengine.dataset import BaseDataset

        class _Coco(BaseDataset):
            def __init__(self, label: int = 1, x: float = 0.0, **kwargs) -> None:
                self.label, self.x = label, x
                super().__init__(**kwargs)

            def load_data_list(self) -> list[dict]:
                return [dict(img_path=osp.join(self.data_root, 'train2017', f'{i:012d}.jpg'), img_id=i, height=8,
                             width=8, instances=[dict(bbox=[self.x, 0.0, 4.0, 4.0], bbox_label=self.label,
                                                      ignore_flag=0)])
                        for i in range(3)]

        return _Coco(**kwargs)

    @staticmethod
    def in_memory(pixel: int):
        from mmengine.dataset import BaseDataset

        class _Memory(BaseDataset):
            def load_data_list(self) -> list[dict]:
                return [dict(img=np.full((8, 8, 3), pixel + i, np.uint8), gt_label=i % 2, source_idx=i)
                        for i in range(4)]

        return _Memory()


def test_detection_items_are_identified_by_path_id_labels_and_boxes(tmp_path):
    """A moved data_root keeps the fingerprint; a relabelled object, and a box moved by half a pixel (a COCO file
    re-annotated, or a generated set made again with another seed: every file name, id and size the same), change
    it. The box-only change used to keep it: a resume on the re-annotated file passed as the same data."""
    fingerprint = dataset_fingerprint(_Items.coco(data_root=str(tmp_path / 'a')))
    assert fingerprint['items'] == 3 and fingerprint['version'] == 2
    assert dataset_fingerprint(_Items.coco(data_root=str(tmp_path / 'b'))) == fingerprint
    assert dataset_fingerprint(_Items.coco(data_root=str(tmp_path / 'a'), label=2))['blake2b'] != \
        fingerprint['blake2b']
    assert dataset_fingerprint(_Items.coco(data_root=str(tmp_path / 'a'), x=0.5))['blake2b'] != fingerprint['blake2b']
    # version 1, bit for bit what checkpoints recorded before boxes counted (the value the older code computed)
    older = dataset_fingerprint(_Items.coco(data_root='/nowhere/a'), version=1)
    assert older == {'items': 3, 'blake2b': '3a311748b77deaf5dbb341303fd7dfd3', 'type': '_Coco'}
    assert dataset_fingerprint(_Items.coco(data_root='/nowhere/a', x=0.5), version=1) == older


def test_in_memory_items_of_other_pixels_with_the_same_labels_are_other_data():
    """The in-memory sets (digits, CIFAR-10, Fashion-MNIST) were identified by source index and label only: other
    images under the same labels (another copy of the files, a corrupted download) had the fingerprint of the data
    they replaced."""
    from automl_mm.datasets import DigitsDataset

    assert dataset_fingerprint(_Items.in_memory(0)) == dataset_fingerprint(_Items.in_memory(0))
    assert dataset_fingerprint(_Items.in_memory(0))['blake2b'] != dataset_fingerprint(_Items.in_memory(9))['blake2b']
    assert dataset_fingerprint(_Items.in_memory(0), version=1) == dataset_fingerprint(_Items.in_memory(9), version=1)
    assert dataset_fingerprint(DigitsDataset(split='train', seed=0, pipeline=[]), version=1) == \
        {'items': 1078, 'blake2b': '2f4ce6e3354f0b6c8a48e306d0300138', 'type': 'DigitsDataset'}  # as recorded before


def test_image_files_replaced_under_the_same_names_are_other_data(tmp_path):
    """ImageFolderDataset items are paths and labels: other image files under the same names (a folder refilled)
    kept the fingerprint. A sample of 32 files' bytes is part of it now."""
    _image_folder(str(tmp_path))
    fingerprint = dataset_fingerprint(_folder(str(tmp_path)))
    older = dataset_fingerprint(_folder(str(tmp_path)), version=1)
    for path in (tmp_path / 'train' / 'cat').iterdir():
        path.write_bytes(b'other image')
    assert dataset_fingerprint(_folder(str(tmp_path)))['blake2b'] != fingerprint['blake2b']
    assert dataset_fingerprint(_folder(str(tmp_path)), version=1) == older  # (version 1: paths only)
