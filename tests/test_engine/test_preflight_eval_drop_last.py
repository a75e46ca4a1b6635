"""A val / test loader with ``drop_last=True`` scored a subset of its split: mmengine's ``DataLoader`` drops each
rank's last partial batch and ``collect_results`` keeps what is left (it only removes the sampler's padding), with no
word: the reported accuracy / mAP was of fewer images than the split."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

BASELINE = f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py'


def test_drop_last_in_an_evaluated_loader_is_refused():
    cfg = Config.fromfile(BASELINE)
    loader = dict(cfg.test_dataloader, drop_last=True, batch_size=100)
    loader['dataset'] = dict(loader['dataset'], lazy_init=False)
    # what it did: the 357-image test split scored on its first 300 images
    assert len(Runner.build_dataloader(loader).dataset) == 357
    assert sum(len(b['inputs']) for b in Runner.build_dataloader(loader)) == 300
    cfg.val_dataloader = dict(cfg.val_dataloader, drop_last=True)
    with pytest.raises(ConfigCheckError, match=r'val_dataloader.drop_last=True drops the last partial batch'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads the test loader only
    cfg = Config.fromfile(BASELINE)
    cfg.test_dataloader.batch_sampler = dict(type='mmdet.AspectRatioBatchSampler', drop_last=True)
    with pytest.raises(ConfigCheckError, match=r'test_dataloader.batch_sampler.drop_last=True drops the last partial'):
        check_config(cfg, test_only=True)
    cfg.test_dataloader.batch_sampler.drop_last = False
    check_config(cfg, test_only=True)
