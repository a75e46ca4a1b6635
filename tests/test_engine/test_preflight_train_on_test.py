"""A ``train_dataloader`` that reads the test split is refused at the config check: the reward and search loaders
were refused the test split, the training loader was not, so a digits config training on
``ConcatDataset([train split, test split])`` passed and reported the accuracy of images it had trained on."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import BASELINE, OHL


@pytest.mark.parametrize('path', [OHL, BASELINE])
def test_training_on_the_test_split_fails_at_start_naming_the_leaf(path):
    cfg = Config.fromfile(path)
    check_config(cfg)
    train, test = cfg.train_dataloader.dataset.to_dict(), cfg.test_dataloader.dataset.to_dict()
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[train, dict(train, split='test')])
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.datasets\.1 \(DigitsDataset, "
                                               r"split='test'\) reads the test split"):
        check_config(cfg)
    check_config(cfg, test_only=True)  # a test run trains nothing
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=test)
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.dataset \(DigitsDataset, "
                                               r"split='test'\) reads the test split"):
        check_config(cfg)


def test_a_detector_training_on_the_test_file_fails_at_start(coco_root):
    from tests.test_engine.test_preflight_scored_subset import _detector

    cfg = _detector(coco_root)
    check_config(cfg)
    cfg.train_dataloader.dataset.ann_file = cfg.test_dataloader.dataset.ann_file
    cfg.train_dataloader.dataset.data_prefix = cfg.test_dataloader.dataset.data_prefix
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset \(CocoDataset, ann_file='.*"
                                               r"instances_val\.json'\) reads the test split"):
        check_config(cfg)
