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


def test_test_mode_does_not_hide_the_test_split_of_a_split_dataset(tmp_path):
    """automl_mm's split datasets pick their data by ``split`` (and its carving arguments), never by mmengine's
    ``test_mode``: a reward loader of an image folder beside a test loader of that folder with ``test_mode=True``
    (mmpretrain's habit for evaluation loaders) was taken for other data and passed; so was a training loader."""
    from automl_mm.engine.preflight_eval_splits import reads_test_split, repeated_items

    folder = dict(type='automl_mm.ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='val'),
                  pipeline=[])
    test = dict(dataset=dict(folder, test_mode=True))
    assert reads_test_split(dict(dataset=folder), test)
    assert not reads_test_split(dict(dataset=dict(folder, data_prefix=dict(img_path='train'))), test)
    digits = dict(type='automl_mm.DigitsDataset', split='reward', pipeline=[])
    assert reads_test_split(dict(dataset=digits), dict(dataset=dict(digits, test_mode=True)))
    assert not reads_test_split(dict(dataset=digits), dict(dataset=dict(digits, split='test', test_mode=True)))
    # one split twice in a ConcatDataset, once with test_mode=True: the same items
    assert repeated_items(dict(dataset=dict(type='ConcatDataset', datasets=[digits, dict(digits, test_mode=True)])),
                          'reward_dataloader') is not None

    cfg = Config.fromfile(OHL)
    cfg.test_dataloader.dataset.test_mode = True
    check_config(cfg)
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[
        cfg.train_dataloader.dataset.to_dict(), dict(cfg.test_dataloader.dataset.to_dict(), test_mode=False)])
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.datasets\.1 .* reads the test split'):
        check_config(cfg)
    cfg.test_dataloader.dataset.split = 'reward'  # (a test loader of the reward split: the reward loader's data)
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.datasets[0]
    with pytest.raises(ConfigCheckError, match=r'^reward_dataloader reads the test split'):
        check_config(cfg)


def test_a_detector_training_on_a_file_holding_the_test_images_fails_at_start(coco_root, tmp_path):
    """The test loader scoring a ``split_coco`` part of the training file (same folder): the training file lists
    every test image, so the model trained on them; only the same file (or a copy) was refused."""
    import json
    import os.path as osp

    from automl_mm.datasets.coco_split import split_coco
    from tests.test_engine.test_preflight_scored_subset import _detector

    train_file = osp.join(coco_root, 'annotations/instances_train.json')
    _, held = split_coco(train_file, str(tmp_path), val_images=3, seed=0)
    cfg = _detector(coco_root)
    check_config(cfg)
    for key in ('test_dataloader', 'val_dataloader'):
        cfg[key].dataset.ann_file = held
        cfg[key].dataset.data_prefix = cfg.train_dataloader.dataset.data_prefix
    cfg.test_evaluator.ann_file = cfg.val_evaluator.ann_file = held
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset reads 3 images of .*train \(\d+\.png, '
                                               r'\.\.\.\) as test_dataloader\.dataset does: the model would train on '
                                               r'the images it is tested on'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # a test run trains nothing
    rest, _ = split_coco(train_file, str(tmp_path / 'parts'), val_images=3, seed=0)
    cfg.train_dataloader.dataset.ann_file = rest  # the disjoint part: passes
    assert len(json.load(open(rest))['images']) == 5
    check_config(cfg)


def test_a_test_split_of_other_data_than_the_test_loader_is_named_as_such(tmp_path):
    """A training (or reward) dataset with ``split='test'`` was refused as reading "the test split (the one
    test_dataloader reports)" also where ``test_dataloader`` read another data set: a digits test split trained on
    beside a Fashion-MNIST test loader. The message now names what each reads and why the split is refused."""
    import automl_mm.datasets  # noqa: F401  (registers the datasets)
    from automl_mm.engine.preflight_eval_splits import check_held_out, check_not_trained_on_test
    from tests.test_datasets.test_fashion_mnist import write_fashion

    digits = dict(type='DigitsDataset', img_size=8, pipeline=[])
    fashion = dict(type='FashionMNISTDataset', split='test', data_root=write_fashion(tmp_path / 'fm'), pipeline=[])
    cfg = Config(dict(train_dataloader=dict(batch_size=4, dataset=dict(
        type='ConcatDataset', datasets=[dict(digits, split='train'), dict(digits, split='test')])),
        test_dataloader=dict(batch_size=4, dataset=fashion)))
    with pytest.raises(ConfigCheckError) as error:
        check_not_trained_on_test(cfg, False)
    assert str(error.value) == (
        "train_dataloader.dataset.datasets.1 (DigitsDataset, split='test') reads the test split of DigitsDataset "
        "(split='test', the part it holds out for testing), though test_dataloader reports other data "
        "(test_dataloader.dataset (FashionMNISTDataset, split='test')): the model would train on the images held out "
        "to test it, so no test of it on that split would be of unseen images. Train on split='train' (remove it "
        'from train_dataloader)')
    with pytest.raises(ConfigCheckError, match=r"^reward_dataloader reads the test split \(reward_dataloader\.dataset "
                                               r"\(DigitsDataset, split='test'\) reads the test split of DigitsDataset "
                                               r".*though test_dataloader reports other data "
                                               r"\(test_dataloader\.dataset \(FashionMNISTDataset, split='test'\)\)\): "
                                               r'rewards'):
        check_held_out(cfg, dict(dataset=dict(digits, split='test')), 'reward_dataloader', None, 'reward_evaluator')
    # the test loader's own data: named as that
    cfg.test_dataloader.dataset = dict(digits, split='test')
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.datasets\.1 \(DigitsDataset, "
                                               r"split='test'\) reads the test split: the data test_dataloader "
                                               r"reports \(test_dataloader\.dataset \(DigitsDataset, split='test'\)\): "
                                               r'the model would train on the images it is tested on'):
        check_not_trained_on_test(cfg, False)
