"""A COCO dataset that reads other images than its annotation file describes fails at start, in
:func:`check_config`, naming the key, on tiny COCO files written here: an image of another size than annotated
(an EXIF-turned JPEG annotated either way round passes), two annotation files of one folder that give an image two
sizes or other objects (files that can both be right pass), and a search loader on the training images or a copy of
them (split_coco's disjoint parts of one folder pass)."""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from automl_mm.datasets.coco_split import split_coco
from automl_mm.engine.preflight import ConfigCheckError, check_config


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
    # an annotation without both sizes is not compared with its image (0.png is 30x20): it is refused as one mmdet's
    # CocoDataset cannot build (test_preflight_coco.py), not as another split's image
    _ann(ann, [('0.png', 31, None), ('4.png', None, None)])
    with pytest.raises(ConfigCheckError, match=r"image id 1 of .*val\.json has no 'height'"):
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
