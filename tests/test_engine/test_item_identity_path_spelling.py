"""``local_loader.item_identity`` told an item that names its image by ``img_path`` by the path as spelled: one
image folder read through ``data/x`` and ``./data/x`` (or its absolute path, or a linked folder) was two items at
every image, so a reward loader listing it twice passed ``check_items_once`` (each image scored twice) and BN
batches drew an image twice. The file a path names (symlinks followed) is now the item."""
from __future__ import annotations

import os
import os.path as osp

import pytest
from torch.utils.data import ConcatDataset

from automl_mm.datasets import ImageFolderDataset
from automl_mm.engine.evaluate import build_local_loader, fixed_batches
from automl_mm.engine.local_loader import check_items_once, item_identity


def _folder(root, per_class: int = 10) -> None:
    for cls in ('ant', 'bee'):
        os.makedirs(root / 'val' / cls)
        for i in range(per_class):
            (root / 'val' / cls / f'{i:02d}.png').touch()  # never read: no loading transform


@pytest.mark.parametrize('spelling', ['./data', 'absolute', 'link'])
def test_one_folder_under_two_spellings_is_one_set_of_items(tmp_path, monkeypatch, spelling):
    _folder(tmp_path / 'data')
    os.symlink(tmp_path / 'data', tmp_path / 'link')
    monkeypatch.chdir(tmp_path)
    other = {'./data': './data', 'absolute': str(tmp_path / 'data'), 'link': 'link'}[spelling]
    parts = [ImageFolderDataset(data_root=root, data_prefix='val', pipeline=[]) for root in ('data', other)]
    concat = ConcatDataset(parts)
    assert parts[0].get_data_info(0)['img_path'] != parts[1].get_data_info(0)['img_path']  # spelled apart
    assert [item_identity(concat, i) for i in range(20)] == [item_identity(concat, 20 + i) for i in range(20)]
    assert len({item_identity(concat, i) for i in range(40)}) == 20
    with pytest.raises(ValueError, match=r'^reward_dataloader\.dataset reads one image at its indices 0 and 20 '
                                         r"\(img_path='.*ant/00\.png'\)"):
        check_items_once(concat, 'reward_dataloader')


def test_bn_batches_of_one_folder_under_two_spellings_hold_each_image_once(tmp_path, monkeypatch):
    _folder(tmp_path / 'data', per_class=20)
    monkeypatch.chdir(tmp_path)
    parts = [dict(type='automl_mm.ImageFolderDataset', data_root=root, data_prefix=dict(img_path='val'), pipeline=[])
             for root in ('data', str(tmp_path / 'data'))]
    loader = build_local_loader(dict(batch_size=8, num_workers=0, dataset=dict(type='ConcatDataset', datasets=parts)),
                                'train_dataloader', 'train')
    assert len(loader.dataset) == 80
    files = [osp.realpath(p) for batch in fixed_batches(loader, 5, seed=1) for p in batch['img_path']]
    assert len(files) == 40 and len(set(files)) == 40  # each image once: 40 of the 40 distinct files
