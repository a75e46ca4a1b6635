"""Loader settings that torch's ``DataLoader`` accepts only with worker processes are refused at start, naming the
key: ``--cfg-options train_dataloader.persistent_workers=True`` on a config with ``num_workers=0`` (the digits
baseline) ended, after the model was built, in torch's ``ValueError: persistent_workers option needs num_workers >
0``, naming no key (in every copy of an OHL run)."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DIGITS = osp.join(REPO_ROOT, 'configs', 'baselines', 'baseline_convnet_1x1_30e_digits.py')


@pytest.mark.parametrize('options, says', [
    ({'train_dataloader.persistent_workers': True},
     'train_dataloader.persistent_workers=True needs worker processes, but train_dataloader.num_workers=0'),
    ({'val_dataloader.prefetch_factor': 2},
     'val_dataloader.prefetch_factor=2 needs worker processes, but val_dataloader.num_workers=0'),
    ({'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': True},
     'train_dataloader.persistent_workers=True needs worker processes'),
])
def test_worker_only_settings_without_workers_are_refused(options, says):
    cfg = Config.fromfile(DIGITS)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert says in str(err.value)


@pytest.mark.parametrize('options', [
    {'train_dataloader.num_workers': 2, 'train_dataloader.persistent_workers': True},
    {'train_dataloader.num_workers': 2, 'train_dataloader.persistent_workers': False,
     'train_dataloader.prefetch_factor': 2},
    {'train_dataloader.persistent_workers': False},
])
def test_worker_settings_with_workers_or_off_pass(options):
    cfg = Config.fromfile(DIGITS)
    cfg.merge_from_dict(options)
    check_config(cfg)
