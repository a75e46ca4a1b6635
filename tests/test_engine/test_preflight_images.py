"""A loader that reads another split's images fails at start, in :func:`check_config`, naming the key: a COCO
dataset whose ``data_prefix.img`` names another split's folder (the generated sets name every split's images
000001.png, ..., so every file existed and mmdet scored the annotations against other images, silently). COCO files
written here image by image (sizes, EXIF, two files of one folder, copies) are checked in
``test_preflight_images_coco_files.py``; split datasets carved from one source in
``test_preflight_images_split_sources.py``."""
from __future__ import annotations

import copy
import json
import os.path as osp
import re
import shutil
import sys

import pytest
from mmengine.config import Config

from automl_mm.datasets import generate_fmnist_det
from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

FMNIST_DET = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')
SYNTHCOCO = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
SPLITS = ('train', 'reward', 'val', 'test')


@pytest.fixture(scope='module')
def fmnist_det_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('fmnist_det_images')
    fashion = write_fake_fashion(str(root / 'fashion'))
    generate_fmnist_det(str(root / 'det'), data_root=fashion, seed=0, num_train=6, num_reward=3, num_val=3,
                        num_test=3, img_size=128, max_objects=3)
    return str(root / 'det')


def _on(config: str, root: str, splits=SPLITS) -> Config:
    """A detector config reading the generated set at ``root`` (each loader and metric its own split; the shapes
    set has no test split: its test loader reads val)."""
    cfg = Config.fromfile(config)
    for split in ('train', 'reward', 'val', 'test'):
        if cfg.get(f'{split}_dataloader') is None:
            continue
        cfg[f'{split}_dataloader'] = copy.deepcopy(cfg[f'{split}_dataloader'])
        cfg[f'{split}_dataloader'].dataset.data_root = root + '/'
        if split != 'train':
            ann = osp.join(root, f"annotations/instances_{split if split in splits else 'val'}.json")
            cfg[f'{split}_evaluator'] = dict(cfg[f'{split}_evaluator'], ann_file=ann)
    return cfg


def test_the_generated_splits_share_names_ids_and_one_size(fmnist_det_root, coco_root):
    """Why the size check alone cannot see a wrong split of the generated sets: every split names its images
    000001.png, ... with ids 1, 2, ... and one canvas size (only the objects differ)."""
    for root, splits in ((fmnist_det_root, SPLITS), (coco_root, ('train', 'val'))):
        files = {s: json.load(open(osp.join(root, f'annotations/instances_{s}.json'))) for s in splits}
        first = [(f['images'][0]['file_name'], f['images'][0]['id']) for f in files.values()]
        assert first == [('000001.png', 1)] * len(splits)
        assert len({(i['width'], i['height']) for f in files.values() for i in f['images']}) == 1


def test_the_generated_sets_pass(fmnist_det_root, coco_root):
    check_config(_on(FMNIST_DET, fmnist_det_root))
    check_config(_on(SYNTHCOCO, coco_root, ('train', 'val')))


@pytest.mark.parametrize('loader, folder, other', [
    ('reward', 'train/', 'train'), ('val', 'train/', 'train'), ('test', 'val/', 'val'), ('test', 'reward/', 'reward')])
def test_a_loader_reading_another_generated_splits_folder_fails_naming_both_keys(fmnist_det_root, loader, folder,
                                                                                 other):
    """The user's copy of another loader with only ann_file changed: every image exists, same size, same id."""
    cfg = _on(FMNIST_DET, fmnist_det_root)
    cfg[f'{loader}_dataloader'].dataset.data_prefix = dict(img=folder)
    first, second = sorted((other, loader), key=('train', 'val', 'test', 'reward').index)  # the config's order
    with pytest.raises(ConfigCheckError, match=re.escape(
            f"{first}_dataloader.dataset.data_prefix.img='{folder}' and {second}_dataloader.dataset.data_prefix."
            f"img='{folder}' both read {fmnist_det_root}/{other}, but their annotation files give other objects to "
            f"the same images: on ")):
        check_config(cfg)


def test_a_reward_loader_on_the_test_images_under_another_annotation_file_fails(fmnist_det_root, tmp_path):
    """The test split was told by its annotation file's path (later, its bytes): the test annotations exported
    again (another file, the same images and boxes) read on the test folder passed as another split, and the
    rewards were test images. The same through a copy of the test folder."""
    cfg = _on(FMNIST_DET, fmnist_det_root)
    with open(osp.join(fmnist_det_root, 'annotations/instances_test.json')) as f:
        exported = str(tmp_path / 'instances_exported.json')
        json.dump(json.load(f), open(exported, 'w'), indent=1)
    cfg.reward_dataloader.dataset.update(ann_file=exported, data_prefix=dict(img='test/'))
    cfg.reward_evaluator = dict(cfg.reward_evaluator, ann_file=exported)
    message = (r'reward_dataloader\.dataset reads 3 images of .*/test{} \(000001\.png, \.\.\.\) as '
               r'test_dataloader\.dataset does: rewards and search scores must come from a split held out of training, '
               r'never from the test split')
    with pytest.raises(ConfigCheckError, match=message.format('')):
        check_config(cfg)
    copied = str(shutil.copytree(osp.join(fmnist_det_root, 'test'), tmp_path / 'test_copy'))
    cfg.reward_dataloader.dataset.data_prefix = dict(img=copied)
    with pytest.raises(ConfigCheckError, match=message.format(r' \(as its copy .*test_copy\)')):
        check_config(cfg)


@pytest.mark.parametrize('split, scored', [('test', 'test_dataloader'), ('reward', 'reward_dataloader')])
def test_bn_recalibration_images_of_the_test_or_reward_split_under_another_annotation_file_fail(
        fmnist_det_root, tmp_path, split, scored):
    """OHLHook.bn_recalibration_dataloader was told from the test and reward loaders by its annotation file: the
    test (or reward) annotations exported again, read on that split's folder, passed, and the rewards were read with
    BN statistics of the test (or scored) images. Clean training images pass."""
    cfg = _on(osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'),
              fmnist_det_root)
    clean = copy.deepcopy(cfg.train_dataloader)  # (ConfigDict.update merges into the values it shares)
    clean.dataset.pipeline = cfg.test_pipeline
    clean.pop('batch_sampler', None)  # an explicit BN loader draws its own batches: one given is refused
    cfg.custom_hooks[0].update(bn_recalibration_batches=2, bn_recalibration_dataloader=clean)
    check_config(cfg)
    exported = str(tmp_path / f'instances_{split}_exported.json')
    with open(osp.join(fmnist_det_root, f'annotations/instances_{split}.json')) as f:
        json.dump(json.load(f), open(exported, 'w'), indent=1)
    clean['dataset'].update(ann_file=exported, data_prefix=dict(img=f'{split}/'))
    cfg.custom_hooks[0].bn_recalibration_dataloader = clean
    with pytest.raises(ConfigCheckError, match=(
            rf'custom_hooks\[0\]\.bn_recalibration_dataloader\.dataset reads 3 images of .*/{split} \(000001\.png, '
            rf'\.\.\.\) as {scored}\.dataset does: BN statistics re-estimated on ')):
        check_config(cfg)


def test_a_val_loader_reading_the_train_folder_of_the_shapes_set_fails(coco_root):
    cfg = _on(SYNTHCOCO, coco_root, ('train', 'val'))
    cfg.val_dataloader.dataset.data_prefix = dict(img='train/')
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.dataset\.data_prefix\.img='train/' and "
                                               r"val_dataloader\.dataset\.data_prefix\.img='train/' both read .*"
                                               r"on 4 of the 4 images both list with boxes \(000001\.png, \.\.\.\)"):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads test_dataloader only, which is right


def test_a_val_loader_reading_a_copy_of_the_train_folder_of_the_shapes_set_fails(coco_root, tmp_path):
    """The same with the train folder copied under another root: the folders were compared by path, so the val
    annotations were never compared with the train split's and were scored against its images, silently. A copy of
    the val folder passes."""
    cfg = _on(SYNTHCOCO, coco_root, ('train', 'val'))
    cfg.val_dataloader.dataset.data_prefix = dict(img=str(shutil.copytree(osp.join(coco_root, 'train'),
                                                                          tmp_path / 'train_copy')))
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.dataset\.data_prefix\.img='train/' and "
                                               r"val_dataloader\.dataset\.data_prefix\.img='.*train_copy' both read "
                                               r".*/train \(as its copy .*train_copy\), but their annotation files "
                                               r"give other objects to the same images"):
        check_config(cfg)
    cfg.val_dataloader.dataset.data_prefix = dict(img=str(shutil.copytree(osp.join(coco_root, 'val'),
                                                                          tmp_path / 'val_copy')))
    check_config(cfg)
