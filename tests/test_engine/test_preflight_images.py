"""A loader that reads another split's images fails at start, in :func:`check_config`, naming the key: a COCO
dataset whose ``data_prefix.img`` names another split's folder (the generated sets name every split's images
000001.png, ..., so every file existed and mmdet scored the annotations against other images, silently), and a
split dataset carved with other arguments than the training split (the two shared images, silently)."""
from __future__ import annotations

import copy
import gzip
import json
import os
import os.path as osp
import pickle
import re
import shutil
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from automl_mm.datasets import generate_fmnist_det
from automl_mm.datasets.coco_split import split_coco
from automl_mm.engine.preflight import ConfigCheckError, check_config, reads_test_split
from automl_mm.registry import DATASETS

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

FMNIST_DET = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')
SYNTHCOCO = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
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


# --- tiny COCO files written here -------------------------------------------------------------------------------

def _image(folder: str, name: str, width: int, height: int) -> None:
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(osp.join(folder, name), np.zeros((height, width, 3), np.uint8))


def _ann(path: str, images: list[tuple], boxes: dict | None = None) -> str:
    """A COCO file of ``images`` ``(file_name, width, height[, id])`` (ids 1, 2, ... unless given), each with the
    boxes ``boxes[file_name]`` (default: one box that depends on the name)."""
    entries, anns = [], []
    for i, (name, width, height, *given) in enumerate(images):
        image_id = given[0] if given else i + 1
        entry = dict(id=image_id, file_name=name)
        entry.update({k: v for k, v in (('width', width), ('height', height)) if v is not None})
        entries.append(entry)
        for box in (boxes or {}).get(name, [[1, 1, 4 + len(anns) % 7, 4]]):
            anns.append(dict(id=len(anns) + 1, image_id=image_id, category_id=1, bbox=box, area=box[2] * box[3],
                             iscrowd=0))
    with open(path, 'w') as f:
        json.dump(dict(images=entries, annotations=anns, categories=[dict(id=1, name='a')]), f)
    return path


def _dataset(ann: str, folder: str, classes=('a', )) -> dict:
    return dict(type='mmdet.CocoDataset', ann_file=ann, data_prefix=dict(img=folder), metainfo=dict(classes=classes),
                pipeline=[])


def _cfg(**datasets) -> Config:
    return Config(dict(default_scope='mmdet', **{
        f'{key}_dataloader': dict(batch_size=1, sampler=dict(type='DefaultSampler', shuffle=False), dataset=d)
        for key, d in datasets.items()}))


def test_an_image_of_another_size_than_its_annotation_fails_naming_the_key_file_and_sizes(tmp_path):
    """mmdet reads the image as it is and the boxes as annotated: another split's folder of other sizes was
    scored silently. The first three images and the last are compared."""
    val, train = str(tmp_path / 'val'), str(tmp_path / 'train')
    sizes = [(30, 20), (24, 24), (16, 40), (50, 10), (20, 30)]
    for i, (w, h) in enumerate(sizes):
        _image(val, f'{i}.png', w, h)
        _image(train, f'{i}.png', h + 1, w)  # another split of the same names, other sizes
    ann = _ann(str(tmp_path / 'val.json'), [(f'{i}.png', w, h) for i, (w, h) in enumerate(sizes)])
    check_config(_cfg(test=_dataset(ann, val + '/')), test_only=True)
    with pytest.raises(ConfigCheckError, match=re.escape(
            f"test_dataloader.dataset.data_prefix.img='{train}/': {train}/0.png is 21x30 (width x height) but {ann} "
            "gives it 30x20: the folder holds other images of the same names (another split's folder?)")):
        check_config(_cfg(test=_dataset(ann, train + '/')), test_only=True)
    _image(val, '4.png', 30, 20)  # the last image alone
    with pytest.raises(ConfigCheckError, match=r"4\.png is 30x20 \(width x height\) but .* gives it 20x30"):
        check_config(_cfg(test=_dataset(ann, val + '/')), test_only=True)
    _image(val, '3.png', 10, 50)  # neither first nor last: not read
    _image(val, '4.png', 20, 30)
    check_config(_cfg(test=_dataset(ann, val + '/')), test_only=True)
    # an annotation without both sizes is not compared
    _ann(ann, [('0.png', 31, None), ('4.png', None, None)])
    check_config(_cfg(test=_dataset(ann, val + '/')), test_only=True)


def _jpeg(path: str, width: int, height: int, orientation: int | None) -> None:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.new('RGB', (width, height)).save(path, exif=exif.tobytes())


@pytest.mark.parametrize('orientation, passes', [(6, True), (8, True), (3, False), (None, False)])
def test_an_exif_turned_jpeg_passes_annotated_either_way_round(tmp_path, orientation, passes):
    """mmcv's default 'color' flag turns a JPEG by its EXIF orientation ('color_ignore_orientation' does not), and
    annotation tools record either size: a turned image annotated as stored or as shown is no wrong split."""
    _jpeg(str(tmp_path / 'a.jpg'), 40, 30, orientation)
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmcv.transforms import LoadImageFromFile
        shown = LoadImageFromFile()(dict(img_path=str(tmp_path / 'a.jpg')))['img'].shape[:2]
    assert shown == ((40, 30) if orientation in (6, 8) else (30, 40))  # (height, width): cv2 turned it
    for width, height in ((40, 30), (30, 40)):
        cfg = _cfg(test=_dataset(_ann(str(tmp_path / 'a.json'), [('a.jpg', width, height)]), str(tmp_path)))
        if passes or (width, height) == (40, 30):
            check_config(cfg, test_only=True)
        else:
            with pytest.raises(ConfigCheckError, match=r'a\.jpg is 40x30 \(width x height\) but .* gives it 30x40'):
                check_config(cfg, test_only=True)


def _two_files(tmp_path, first: list[tuple], second: list[tuple], first_boxes=None, second_boxes=None,
               keys=('val', 'test')) -> Config:
    """Two loaders of one image folder (``tmp_path/images``) reading two annotation files."""
    folder = str(tmp_path / 'images')
    for name, w, h, *_ in first + second:
        if not osp.isfile(osp.join(folder, name)):
            _image(folder, name, w, h)
    a = _ann(str(tmp_path / f'{keys[0]}.json'), first, first_boxes)
    b = _ann(str(tmp_path / f'{keys[1]}.json'), second, second_boxes)
    return _cfg(**{keys[0]: _dataset(a, folder + '/'), keys[1]: _dataset(b, folder + '/')})


IMAGES = [(f'{i}.png', 20, 20) for i in range(6)]


def test_two_files_of_one_folder_giving_an_image_two_sizes_fail_naming_both_keys(tmp_path):
    """An image of neither file's first three or last entries: the size check reads only those."""
    other = copy.deepcopy(IMAGES)
    other[3] = ('3.png', 20, 21)
    cfg = _two_files(tmp_path, IMAGES, other)
    with pytest.raises(ConfigCheckError, match=re.escape(
            f"val_dataloader.dataset.data_prefix.img='{tmp_path}/images/' and test_dataloader.dataset.data_prefix."
            f"img='{tmp_path}/images/' both read {tmp_path}/images, but {tmp_path}/val.json gives 3.png the size "
            f"20x20 and {tmp_path}/test.json 20x21 (width x height): one file is one image")):
        check_config(cfg)


def test_two_files_of_one_folder_giving_its_images_other_objects_fail(tmp_path):
    boxes = {name: [[2, 2, 5, 5]] for name, *_ in IMAGES}
    moved = {name: [[10, 10, 5, 5]] for name, *_ in IMAGES}
    moved['0.png'] = moved['1.png'] = [[2, 2, 5, 5]]  # two of six the same: a majority differs
    with pytest.raises(ConfigCheckError, match=r'on 4 of the 6 images both list with boxes \(2\.png, \.\.\.\), no '
                                               r'box of .*val\.json matches one of .*test\.json \(IoU >= 0\.9\)'):
        check_config(_two_files(tmp_path, IMAGES, IMAGES, boxes, moved))
    moved['2.png'] = [[2, 2, 5, 5]]  # half the same: not refused
    check_config(_two_files(tmp_path, IMAGES, IMAGES, boxes, moved))


@pytest.mark.parametrize('case', ['subset', 'renumbered ids', 'fewer classes', 'disjoint', 'same file',
                                  'no boxes in one'])
def test_two_files_of_one_folder_that_can_both_be_right_pass(tmp_path, case):
    """A subset, the same images renumbered (a copy made by another tool; mmdet scores each file by its own ids),
    an image's boxes of some classes only, split_coco's disjoint parts, one file read twice, a file without boxes
    (image info only)."""
    boxes = {name: [[2, 2, 5, 5], [9, 9, 6, 6]] for name, *_ in IMAGES}
    second, second_boxes = IMAGES[2:5], boxes
    if case == 'renumbered ids':
        second = [(name, w, h, 100 + i) for i, (name, w, h) in enumerate(IMAGES)]
    elif case == 'fewer classes':
        second_boxes = {name: b[1:] for name, b in boxes.items()}
    elif case == 'disjoint':
        second = [(f'{i}.png', 20, 20) for i in range(6, 9)]
    elif case == 'no boxes in one':
        second_boxes = {name: [] for name, *_ in IMAGES}
    cfg = _two_files(tmp_path, IMAGES, second, boxes, second_boxes)
    if case == 'same file':
        cfg.test_dataloader.dataset.ann_file = cfg.val_dataloader.dataset.ann_file
    check_config(cfg)


def test_split_cocos_parts_in_one_folder_pass_and_a_search_loader_on_trained_images_fails(coco_root, tmp_path):
    """CR-NAS's layout: arch-train and arch-val split by image from one folder. A search split whose images the
    supernet trains on (the whole train file kept as training set) is refused, as is the training file itself."""
    train, val = split_coco(osp.join(coco_root, 'annotations/instances_train.json'), str(tmp_path), val_images=2)
    folder = osp.join(coco_root, 'train/')
    shapes = ('rectangle', 'ellipse', 'triangle')
    cfg = _cfg(train=_dataset(train, folder, shapes), search=_dataset(val, folder, shapes))
    check_config(cfg)
    cfg.train_dataloader.dataset.ann_file = osp.join(coco_root, 'annotations/instances_train.json')
    with pytest.raises(ConfigCheckError, match=r'search_dataloader\.dataset reads 2 images of .*train \(0000\d\d\.png, '
                                               r'\.\.\.\) as train_dataloader\.dataset does: a held-out split scores '
                                               r'the model on images it trained on'):
        check_config(cfg)
    cfg.search_dataloader.dataset.ann_file = cfg.train_dataloader.dataset.ann_file
    with pytest.raises(ConfigCheckError, match=r'search_dataloader\.dataset reads the annotation file .*'
                                               r'instances_train\.json \(its images and boxes\) as train_dataloader'):
        check_config(cfg)
    cfg.val_dataloader = cfg.search_dataloader  # a val loader may read the training images (training mAP)
    cfg.search_dataloader = None
    check_config(cfg)


def test_a_search_loader_on_a_copy_of_the_training_images_fails(coco_root, tmp_path):
    """A data set copied under another root has other paths and the same images: a search loader reading the copy
    of the training annotation file and images (or another file listing the same images, read from the copied
    folder) passed, the paths differing, and the search scored trained images. A folder of other images of the
    same names (the generated sets name every split's images 000001.png, ...) passes."""
    train, val = split_coco(osp.join(coco_root, 'annotations/instances_train.json'), str(tmp_path), val_images=2)
    folder = osp.join(coco_root, 'train/')
    copied = str(shutil.copytree(folder, tmp_path / 'copy' / 'train'))
    shutil.copy(train, tmp_path / 'copy' / 'arch-train.json')
    shapes = ('rectangle', 'ellipse', 'triangle')
    cfg = _cfg(train=_dataset(train, folder, shapes),
               search=_dataset(str(tmp_path / 'copy' / 'arch-train.json'), copied, shapes))
    with pytest.raises(ConfigCheckError, match=r'search_dataloader\.dataset reads .*copy/arch-train\.json, a copy of '
                                               r'the annotation file .*instances_arch-train\.json \(its images and '
                                               r'boxes\) as train_dataloader\.dataset does'):
        check_config(cfg)
    with open(train) as f:
        coco = json.load(f)
    with open(tmp_path / 'copy' / 'arch-train.json', 'w') as f:
        json.dump(coco, f, indent=1)  # the same images, another file
    with pytest.raises(ConfigCheckError, match=r'search_dataloader\.dataset reads 6 images of .*train \(as its copy '
                                               r'.*copy/train\) \(0000\d\d\.png, \.\.\.\) as train_dataloader\.dataset '
                                               r'does'):
        check_config(cfg)
    from automl_mm.engine import preflight_coco

    summary = preflight_coco.CocoSummary(coco, whole=False)  # a copy not found whole: its images compared by name
    assert len(preflight_coco.copied_images(summary, folder, summary, copied)) == 6
    rng = np.random.default_rng(0)
    for image in coco['images']:  # other pixels under the same names and sizes
        cv2.imwrite(osp.join(copied, image['file_name']),
                    rng.integers(0, 255, (image['height'], image['width'], 3), dtype=np.uint8))
    check_config(cfg)


# --- split datasets carved from one source ----------------------------------------------------------------------

def _source_idx(dataset: dict) -> set[int]:
    with DefaultScope.overwrite_default_scope('automl_mm'):
        built = DATASETS.build(copy.deepcopy(dataset))
        return {built.get_data_info(i)['source_idx'] for i in range(len(built))}  # also serialised (CIFAR)


def test_a_digits_training_split_of_another_seed_fails_naming_both_keys():
    """The reward and test splits are disjoint from the training split only when carved with the same seed and
    split_sizes (a child config or --cfg-options train_dataloader.dataset.seed=1 changed one of them)."""
    cfg = Config.fromfile(DIGITS)
    check_config(cfg)
    cfg.train_dataloader.dataset.seed = 1
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=re.escape(
            "val_dataloader.dataset (DigitsDataset, split='test') and train_dataloader.dataset (split='train') carve "
            "their splits from the same data with other seed: 0 and 1: the two splits share images, so "
            "val_dataloader would score the model on images it trained on. Give both the same seed")):
        check_config(cfg)
    cfg = Config.fromfile(DIGITS)
    cfg.reward_dataloader.dataset.split_sizes = [0.7, 0.15, 0.15]
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(DigitsDataset, split='reward'\) and "
                                               r"train_dataloader\.dataset .* other split_sizes: \(0\.7, 0\.15, "
                                               r"0\.15\) and \(0\.6, 0\.2, 0\.2\)"):
        check_config(cfg)
    cfg.reward_dataloader.dataset.split_sizes = [0.6, 0.2, 0.2]  # a list of the same values
    check_config(cfg)


def test_a_held_out_loader_of_the_training_split_fails():
    cfg = Config.fromfile(DIGITS)
    cfg.reward_dataloader.dataset.split = 'train'
    with pytest.raises(ConfigCheckError, match=re.escape(
            "reward_dataloader.dataset (DigitsDataset, split='train') reads the images train_dataloader.dataset "
            "trains on (split='train'): rewards and search scores must come from a split held out of training")):
        check_config(cfg)
    cfg = Config.fromfile(DIGITS)
    cfg.val_dataloader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset, split='train'))
    check_config(cfg)  # training accuracy, on purpose


def test_fashion_mnist_and_cifar_test_splits_do_not_depend_on_the_seed():
    cfg = Config.fromfile(DIGITS)
    for kind, extra in (('FashionMNISTDataset', {}), ('CIFAR10Dataset', dict(data_root='data/cifar'))):
        for key, split, seed in (('train', 'train', 1), ('val', 'test', 0), ('reward', 'reward', 1)):
            cfg[f'{key}_dataloader'].dataset = dict(type=kind, split=split, seed=seed, pipeline=[], **extra)
        cfg.test_dataloader = cfg.val_dataloader  # (digits' test set beside them is refused: other class names)
        check_config(cfg)  # the official test set; reward carved as train
        cfg.reward_dataloader.dataset.reward_size = 500
        with pytest.raises(ConfigCheckError, match=rf"reward_dataloader\.dataset \({kind}, split='reward'\) .* "
                                                   r'other reward_size: 500 and 5000'):
            check_config(cfg)


def test_an_image_folder_reward_split_of_other_arguments_or_all_images_fails(tmp_path):
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / 'train' / cls)
    folder = dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='train'),
                  pipeline=[])
    cfg = Config.fromfile(DIGITS)
    cfg.model.head.num_classes = 2
    cfg.train_dataloader.dataset = dict(folder, split='train')
    cfg.val_dataloader.dataset = dict(folder, data_prefix=dict(img_path='val'))  # another folder
    cfg.test_dataloader = cfg.val_dataloader
    os.makedirs(tmp_path / 'val' / 'a')
    os.makedirs(tmp_path / 'val' / 'b')
    cfg.reward_dataloader.dataset = dict(folder, split='reward')
    check_config(cfg)
    cfg.reward_dataloader.dataset.reward_ratio = 0.1
    with pytest.raises(ConfigCheckError, match=r'other reward_ratio: 0\.1 and 0\.02'):
        check_config(cfg)
    cfg.reward_dataloader.dataset = dict(folder, split='all')
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='all'\) "
                                               r'reads the images train_dataloader\.dataset trains on'):
        check_config(cfg)


def test_fashion_mnist_splits_of_one_data_under_two_roots_are_compared(tmp_path, monkeypatch):
    """``data_root=None`` and the folder it resolves to, or two copies of the same idx files, are one source: a
    training split of ``seed=1`` beside a reward split of ``seed=0`` shared images there, and the check compared
    only the configured paths (``None`` against the folder), so it passed. Files of the same images under other
    labels are refused whatever the seeds: their splits are carved from other labels."""
    first, copy_, other = (write_fake_fashion(str(tmp_path / name)) for name in ('a', 'b', 'c'))
    labels = osp.join(other, 'train-labels-idx1-ubyte.gz')
    with gzip.open(labels) as f:
        raw = bytearray(f.read())
    raw[8:] = raw[8:][::-1]  # the same classes in another order: another data set
    with gzip.open(labels, 'wb') as f:
        f.write(bytes(raw))
    monkeypatch.setattr('automl_mm.datasets.fashion_mnist.DEFAULT_ROOTS', (first, ))
    cfg = Config.fromfile(DIGITS)
    for key, split, seed in (('train', 'train', 1), ('val', 'test', 0), ('reward', 'reward', 1)):
        cfg[f'{key}_dataloader'].dataset = dict(type='FashionMNISTDataset', split=split, seed=seed, pipeline=[],
                                                data_root=None, reward_size=20)
    cfg.test_dataloader = cfg.val_dataloader
    check_config(cfg)
    for train_root, reward_root in ((None, first), (first, None), (first, copy_)):
        cfg.train_dataloader.dataset.data_root = train_root
        cfg.reward_dataloader.dataset.update(data_root=reward_root, seed=0)
        assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
        with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(FashionMNISTDataset, "
                                                   r"split='reward'\) .* other seed: 0 and 1"):
            check_config(cfg)
    # the same images under other labels (a relabelled copy): the splits are carved from other labels and share
    # images whatever their seeds (told apart by their label digests, this passed)
    cfg.reward_dataloader.dataset.data_root = other
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    for seed in (0, 1):
        cfg.reward_dataloader.dataset.seed = seed
        with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(FashionMNISTDataset, "
                                                   r"split='reward', data_root=.*\) .* carve their splits from the "
                                                   r'same images under other labels'):
            check_config(cfg)


def test_cifar_splits_of_two_copies_of_the_batches_are_compared(tmp_path):
    """The same CIFAR-10 batches in two folders are one source (compared by a digest of the training images and
    labels); batches of other images are another; the same images under other labels are refused whatever the
    seeds."""
    from conftest import write_cifar

    first, other = write_cifar(str(tmp_path / 'a')), write_cifar(str(tmp_path / 'c'), seed=1)
    copy_ = str(shutil.copytree(first, tmp_path / 'b'))
    cfg = Config.fromfile(DIGITS)
    for key, split, root in (('train', 'train', first), ('val', 'test', first), ('reward', 'reward', copy_)):
        cfg[f'{key}_dataloader'].dataset = dict(type='CIFAR10Dataset', split=split, data_root=root, pipeline=[],
                                                reward_size=20, seed=1 if key == 'train' else 0)
    cfg.test_dataloader = cfg.val_dataloader
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(CIFAR10Dataset, split='reward'\) .* "
                                               r'other seed: 0 and 1'):
        check_config(cfg)
    cfg.reward_dataloader.dataset.data_root = other
    check_config(cfg)  # other images (and labels): another source
    relabelled = str(shutil.copytree(first, tmp_path / 'relabelled'))  # the same images under other labels
    for i in range(1, 6):
        with open(osp.join(relabelled, f'data_batch_{i}'), 'rb') as f:
            entry = pickle.load(f, encoding='bytes')
        entry[b'labels'] = [(label + 1) % 10 for label in entry[b'labels']]
        with open(osp.join(relabelled, f'data_batch_{i}'), 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    cfg.reward_dataloader.dataset.update(data_root=relabelled, seed=1)  # carved as the training split, other labels
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(CIFAR10Dataset, split='reward', "
                                               r'data_root=.*carve their splits from the same images under other '
                                               r'labels'):
        check_config(cfg)


def test_fashion_mnist_and_cifar_sources_of_other_pixels_under_the_same_labels_are_other_data(tmp_path):
    """The sources of the split checks were told by a digest of their training labels only: files of other images
    in the same label order (here: the pixels inverted) counted as the same data, so a training split of ``seed=1``
    beside a reward split of ``seed=0`` read from them was refused as overlapping, and a reward loader whose split
    is the one test_dataloader reads from the other files was refused as reading the test split. Both share no
    image and pass; a copy of the files still is the same data (both refusals fire)."""
    from conftest import write_cifar

    def inverted(path: str, header: int) -> None:
        with gzip.open(path) if path.endswith('.gz') else open(path, 'rb') as f:
            raw = bytearray(f.read())
        raw[header:] = bytes(255 - b for b in raw[header:])
        with gzip.open(path, 'wb') if path.endswith('.gz') else open(path, 'wb') as f:
            f.write(bytes(raw))

    fashion = write_fake_fashion(str(tmp_path / 'fashion'))
    shutil.copytree(fashion, tmp_path / 'fashion_copy')
    shutil.copytree(fashion, tmp_path / 'fashion_other')
    inverted(str(tmp_path / 'fashion_other' / 'train-images-idx3-ubyte.gz'), 16)
    cifar = write_cifar(str(tmp_path / 'cifar'))
    shutil.copytree(cifar, tmp_path / 'cifar_copy')
    other_cifar = str(shutil.copytree(cifar, tmp_path / 'cifar_other'))
    for i in range(1, 6):
        batch = osp.join(other_cifar, f'data_batch_{i}')
        with open(batch, 'rb') as f:
            entry = pickle.load(f, encoding='bytes')
        entry[b'data'] = 255 - entry[b'data']
        with open(batch, 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    for kind, root, size in (('FashionMNISTDataset', fashion, 20), ('CIFAR10Dataset', cifar, 20)):
        base = dict(type=kind, pipeline=[], reward_size=size)
        cfg = Config.fromfile(DIGITS)
        cfg.train_dataloader.dataset = dict(base, split='train', data_root=root, seed=1)
        cfg.val_dataloader.dataset = dict(base, split='test', data_root=root)
        cfg.test_dataloader = cfg.val_dataloader
        for reward_root, same in ((f'{root}_copy', True), (f'{root}_other', False)):
            cfg.reward_dataloader.dataset = dict(base, split='reward', data_root=reward_root, seed=0)
            if same:
                with pytest.raises(ConfigCheckError, match=rf"reward_dataloader\.dataset \({kind}, "
                                                           r"split='reward'\) .* other seed: 0 and 1"):
                    check_config(cfg)
            else:
                check_config(cfg)  # other images: no split of them is a part of the training split
        # a held-out loader against test_dataloader (here the reward split of the original files)
        test_loader = dict(dataset=dict(base, split='reward', data_root=root))
        for reward_root, same in ((f'{root}_copy', True), (f'{root}_other', False)):
            assert reads_test_split(dict(dataset=dict(base, split='reward', data_root=reward_root)), test_loader) \
                is same


def test_a_fashion_mnist_held_out_loader_of_the_default_root_is_compared_with_the_test_loader(tmp_path, monkeypatch):
    """The test-split check told Fashion-MNIST's places apart by path: ``data_root=None`` (the default location)
    and the folder it resolves to were two, so a reward loader of the one reading the split test_dataloader reads
    of the other passed. Both are the same images now; so is a relabelled copy of the files (its reward split
    shares images with the test loader's), while files of other images are not."""
    root = write_fake_fashion(str(tmp_path / 'first'))
    relabelled = str(shutil.copytree(root, tmp_path / 'relabelled'))
    labels = osp.join(relabelled, 'train-labels-idx1-ubyte.gz')
    with gzip.open(labels) as f:
        raw = bytearray(f.read())
    raw[8:] = raw[8:][::-1]
    with gzip.open(labels, 'wb') as f:
        f.write(bytes(raw))
    other = write_fake_fashion(str(tmp_path / 'other'))
    with gzip.open(osp.join(other, 'train-images-idx3-ubyte.gz')) as f:
        raw = bytearray(f.read())
    raw[16:] = bytes(255 - b for b in raw[16:])
    with gzip.open(osp.join(other, 'train-images-idx3-ubyte.gz'), 'wb') as f:
        f.write(bytes(raw))
    monkeypatch.setattr('automl_mm.datasets.fashion_mnist.DEFAULT_ROOTS', (root, ))

    def loader(data_root):
        return dict(dataset=dict(type='FashionMNISTDataset', split='reward', data_root=data_root, reward_size=20))

    for held_out, test, shared in ((None, root, True), (root, None, True), (relabelled, None, True),
                                   (other, None, False)):
        assert reads_test_split(loader(held_out), loader(test)) is shared, (held_out, test)


def test_image_folder_splits_of_a_copied_folder_are_compared_by_content(tmp_path):
    """A copy of the class folders under another root is one source with the original: a reward split of seed 0
    read from the copy beside a training split of seed 1 (or a reward loader of every image of the copy, also once
    images were added to and removed from it) shared images, and the check compared the two paths, so it passed. A
    folder of other images of the same names and sizes stays another source."""
    rng = np.random.default_rng(0)
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / 'orig' / 'train' / cls)
        for i in range(10):
            (tmp_path / 'orig' / 'train' / cls / f'{i}.png').write_bytes(rng.bytes(64))
    shutil.copytree(tmp_path / 'orig', tmp_path / 'copy')
    shutil.copytree(tmp_path / 'orig', tmp_path / 'other')
    for path in sorted((tmp_path / 'other' / 'train').rglob('*.png')):
        path.write_bytes(rng.bytes(64))  # other images: the same names and sizes
    folder = dict(type='ImageFolderDataset', data_prefix=dict(img_path='train'), pipeline=[], reward_ratio=0.2)
    cfg = Config.fromfile(DIGITS)
    cfg.model.head.num_classes = 2
    cfg.train_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'orig'), split='train', seed=1)
    cfg.val_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'other'), split='all')
    cfg.test_dataloader = cfg.val_dataloader
    cfg.reward_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'copy'), split='reward', seed=0)
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='reward'\) "
                                               r"and train_dataloader\.dataset .* other seed: 0 and 1"):
        check_config(cfg)
    cfg.reward_dataloader.dataset.split = 'all'
    (tmp_path / 'copy' / 'train' / 'a' / '0.png').unlink()  # a copy in part: images removed and added since
    (tmp_path / 'copy' / 'train' / 'b' / 'new.png').write_bytes(rng.bytes(64))
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='all'\) "
                                               r'reads the images train_dataloader\.dataset trains on'):
        check_config(cfg)
    cfg.reward_dataloader.dataset.data_root = str(tmp_path / 'other')
    check_config(cfg)  # other images: another source (also for the val loader of every image)


def test_bn_recalibration_images_carved_with_another_seed_fail_naming_the_key():
    """OHLHook.bn_recalibration_dataloader's training split carved with another seed than train_dataloader's holds
    reward and test images (their BN statistics were in every reward, silently); carved as the training split, it
    passes."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py'))
    clean = dict(cfg.train_dataloader, dataset=dict(cfg.train_dataloader.dataset, pipeline=cfg.test_pipeline))
    hook = cfg.custom_hooks[0]
    hook.update(bn_recalibration_batches=2, bn_recalibration_dataloader=clean)
    check_config(cfg)
    hook.bn_recalibration_dataloader = dict(clean, dataset=dict(clean['dataset'], seed=1))
    assert _source_idx(hook.bn_recalibration_dataloader['dataset']) & _source_idx(cfg.reward_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=re.escape(
            "custom_hooks[0].bn_recalibration_dataloader.dataset (DigitsDataset, split='train') and "
            "train_dataloader.dataset (split='train') carve their splits from the same data with other seed: 1 and "
            "0: the two splits share images, so custom_hooks[0].bn_recalibration_dataloader would re-estimate BN "
            "statistics on images of the reward and test splits. Give both the same seed")):
        check_config(cfg)
