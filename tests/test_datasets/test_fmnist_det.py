"""The Fashion-MNIST detection set: annotations against the pasted pixels, pycocotools, mmdet, determinism."""
from __future__ import annotations

import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_util
from test_fashion_mnist import SYSTEM_ROOT, _write
from test_synthetic_coco import _digest

from automl_mm.datasets import generate_fmnist_det
from automl_mm.datasets.fashion_mnist import load_fashion_mnist
from automl_mm.datasets.fmnist_det import CATEGORIES, SPLITS, area_range, area_range_counts, box_iou, item_patch

from conftest import REPO_ROOT

THRESHOLD = 16
TINY = dict(num_train=4, num_reward=3, num_val=3, num_test=3, img_size=128, max_objects=5, threshold=THRESHOLD)


def write_fake_fashion(root: str) -> str:
    """Tiny Fashion-MNIST files: 12 training items per class (ellipses), 20 test items (rectangles), value by index."""
    os.makedirs(root, exist_ok=True)
    for part, n in (('train', 120), ('t10k', 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i in range(n):
            value = 60 + (7 * i) % 190
            half_w, half_h = 5 + i % 9, 13 - i % 5
            if part == 'train':
                cv2.ellipse(images[i], (14, 14), (half_w, half_h), 0, 0, 360, value, thickness=-1)
            else:
                cv2.rectangle(images[i], (14 - half_w, 14 - half_h), (14 + half_w, 14 + half_h), value, thickness=-1)
        _write(osp.join(root, f'{part}-images-idx3-ubyte'), images, compress=True)
        _write(osp.join(root, f'{part}-labels-idx1-ubyte'), labels, compress=True)
    return root


@pytest.fixture(scope='module')
def fake_root(tmp_path_factory) -> str:
    return write_fake_fashion(str(tmp_path_factory.mktemp('fake_fashion')))


@pytest.fixture(scope='module')
def det_root(tmp_path_factory, fake_root) -> str:
    out = str(tmp_path_factory.mktemp('fmnist_det'))
    generate_fmnist_det(out, data_root=fake_root, seed=1, **TINY)
    return out


def _load(root: str, split: str) -> dict:
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def _tight_xywh(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min())]


def test_boxes_masks_and_pixels_match_the_pasted_items(det_root, fake_root):
    sources = {part: load_fashion_mnist(fake_root, part)[0] for part in ('train', 'test')}
    unoccluded = occluded = 0
    for split in SPLITS:
        coco = _load(det_root, split)
        assert [(c['id'], c['name']) for c in coco['categories']] == list(enumerate(CATEGORIES, 1))
        assert len(coco['images']) == TINY[f'num_{split}']
        for image in coco['images']:
            canvas = cv2.imread(osp.join(det_root, split, image['file_name']), cv2.IMREAD_UNCHANGED)
            assert canvas.shape == (128, 128) and canvas.dtype == np.uint8
            anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
            assert 1 <= len(anns) <= TINY['max_objects']
            union = np.zeros(canvas.shape, bool)
            for ann in anns:
                # Items of the test split come from the official test part only, the others from the training part.
                assert ann['fmnist_set'] == ('test' if split == 'test' else 'train')
                assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 10
                mask = mask_util.decode(ann['segmentation']).astype(bool)
                assert ann['bbox'] == _tight_xywh(mask) and all(isinstance(v, float) for v in ann['bbox'])
                assert ann['area'] == mask.sum() == mask_util.area(ann['segmentation'])
                assert not (union & mask).any()  # visible masks never share a pixel
                union |= mask
                # The mask is the part of the pasted patch still visible, with the patch's own pixel values.
                x, y, w, h = ann['fmnist_paste_box']
                patch = item_patch(sources[ann['fmnist_set']][ann['fmnist_index']], max(w, h), THRESHOLD)
                assert patch.shape == (h, w)
                pasted = np.zeros(canvas.shape, bool)
                pasted[y:y + h, x:x + w] = patch > THRESHOLD
                assert not (mask & ~pasted).any()
                assert (canvas[y:y + h, x:x + w][mask[y:y + h, x:x + w]] == patch[mask[y:y + h, x:x + w]]).all()
                assert mask.sum() >= 0.5 * pasted.sum()  # min_visible
                occluded += int((mask != pasted).any())
                if (mask == pasted).all():
                    unoccluded += 1
                    assert (mask[y:y + h, x:x + w] == (canvas[y:y + h, x:x + w] > THRESHOLD)
                            & (patch > THRESHOLD)).all()
            # The noise background stays <= threshold, so the canvas above it is exactly the annotated pixels.
            assert (union == (canvas > THRESHOLD)).all()
            assert (canvas[~union] > 0).any()  # the background is noise, not black
            boxes = [(x, y, x + w, y + h) for x, y, w, h in (a['bbox'] for a in anns)]
            assert all(box_iou(a, b) <= 0.3 for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert unoccluded > 0 and occluded > 0, (unoccluded, occluded)


def test_reward_and_val_items_are_disjoint_from_train(fake_root, tmp_path):
    generate_fmnist_det(str(tmp_path), data_root=fake_root, **{**TINY, 'num_train': 12, 'num_reward': 6,
                                                               'num_val': 6})
    used = {s: {a['fmnist_index'] for a in _load(str(tmp_path), s)['annotations']} for s in SPLITS}
    assert not used['train'] & used['reward'] and not used['train'] & used['val']
    assert not used['reward'] & used['val']
    assert used['test'] <= set(range(20))


def test_all_coco_area_ranges_in_every_split(det_root):
    for split in SPLITS:
        counts = area_range_counts(osp.join(det_root, 'annotations', f'instances_{split}.json'))
        assert min(counts['small'], counts['medium'], counts['large']) >= 1, (split, counts)


@pytest.mark.skipif(not osp.isdir(SYSTEM_ROOT), reason=f'the real Fashion-MNIST is not installed in {SYSTEM_ROOT}')
def test_real_items_reach_all_area_ranges_on_the_smallest_canvas(tmp_path):
    files = generate_fmnist_det(str(tmp_path), data_root=SYSTEM_ROOT, **TINY)
    for path in files.values():
        counts = area_range_counts(path)
        assert min(counts['small'], counts['medium'], counts['large']) >= 1, (path, counts)
    test_anns = _load(str(tmp_path), 'test')['annotations']
    assert {a['fmnist_set'] for a in test_anns} == {'test'} and max(a['fmnist_index'] for a in test_anns) < 10000


def test_area_range_follows_cocoeval():
    assert [area_range(a) for a in (1023, 1024, 9216, 9217)] == ['small', 'medium', 'medium', 'large']


def test_ground_truth_scores_ap_1_in_cocoeval(det_root):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(osp.join(det_root, 'annotations', 'instances_val.json'))
    dets = [{'image_id': a['image_id'], 'category_id': a['category_id'], 'bbox': a['bbox'],
             'segmentation': a['segmentation'], 'score': 1.0} for a in gt.dataset['annotations']]
    for iou_type in ('bbox', 'segm'):
        evaluator = COCOeval(gt, gt.loadRes(dets), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        assert evaluator.stats[0] == pytest.approx(1.0)  # AP @ IoU 0.50:0.95, all areas
        assert all(s == pytest.approx(1.0) for s in evaluator.stats[3:6])  # AP small / medium / large


def test_mmdet_cocodataset_loads_boxes_and_masks(det_root):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations

    coco = _load(det_root, 'test')
    ds = CocoDataset(data_root=det_root, ann_file='annotations/instances_test.json', data_prefix=dict(img='test/'),
                     metainfo=dict(classes=CATEGORIES), test_mode=True,
                     pipeline=[LoadImageFromFile(), LoadAnnotations(with_bbox=True, with_mask=True)])
    assert len(ds) == len(coco['images'])
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))) == len(coco['annotations'])
    sample = ds[0]
    anns = [a for a in coco['annotations'] if a['image_id'] == coco['images'][0]['id']]
    assert sample['img'].shape == (128, 128, 3)
    assert len(sample['gt_bboxes']) == len(anns)
    np.testing.assert_array_equal(sample['gt_masks'].masks,
                                  np.stack([mask_util.decode(a['segmentation']) for a in anns]))
    x, y, w, h = anns[0]['bbox']
    np.testing.assert_allclose(sample['gt_bboxes'].tensor[0].numpy(), [x, y, x + w, y + h])


def test_same_arguments_give_identical_files(fake_root, tmp_path):
    kw = dict(TINY, num_train=2, num_reward=1, num_val=1, num_test=2, data_root=fake_root)
    for name, seed in (('a', 4), ('b', 4), ('c', 5)):
        generate_fmnist_det(str(tmp_path / name), seed=seed, **kw)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b') != _digest(tmp_path / 'c')
    # A split does not depend on the sizes of the others.
    generate_fmnist_det(str(tmp_path / 'd'), seed=4, **{**kw, 'num_train': 3})
    assert _digest(tmp_path / 'a' / 'val') == _digest(tmp_path / 'd' / 'val')


def test_black_background_and_overlap_bound(fake_root, tmp_path):
    generate_fmnist_det(str(tmp_path), data_root=fake_root, background='black', max_iou=0.0,
                        **{**TINY, 'max_objects': 6})
    coco = _load(str(tmp_path), 'train')
    for image in coco['images']:
        canvas = cv2.imread(osp.join(str(tmp_path), 'train', image['file_name']), cv2.IMREAD_UNCHANGED)
        masks = [mask_util.decode(a['segmentation']).astype(bool)
                 for a in coco['annotations'] if a['image_id'] == image['id']]
        assert (canvas[~np.any(masks, axis=0)] == 0).all()
        boxes = [(x, y, x + w, y + h) for x, y, w, h in
                 (a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id'])]
        assert all(box_iou(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_missing_files_are_named(tmp_path, fake_root):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'nowhere')):
        generate_fmnist_det(str(tmp_path / 'out'), data_root=str(tmp_path / 'nowhere'), **TINY)
    os.makedirs(tmp_path / 'half')
    for name in os.listdir(fake_root):
        if name.startswith('train'):
            os.symlink(osp.join(fake_root, name), tmp_path / 'half' / name)
    with pytest.raises(FileNotFoundError, match='t10k-images-idx3-ubyte'):
        generate_fmnist_det(str(tmp_path / 'out'), data_root=str(tmp_path / 'half'), **TINY)


@pytest.mark.parametrize('kwargs, match', [(dict(num_val=0), 'num_val'), (dict(img_size=100), 'img_size'),
                                           (dict(max_iou=1.0), 'max_iou'), (dict(background='grey'), 'background'),
                                           (dict(size_probs=(0.5, 0.5, 0.5)), 'size_probs'),
                                           (dict(holdout_fraction=0.6), 'holdout_fraction')])
def test_bad_arguments(tmp_path, fake_root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_fmnist_det(str(tmp_path), data_root=fake_root, **{**TINY, **kwargs})


def test_an_item_with_no_mask_pixel_after_resizing_is_skipped():
    """threshold 250 (documented range 0..254): an item whose few bright pixels blur below it when the crop is
    resized had mask density 0, and sizing its patch divided by zero (245 training items at 250)."""
    from automl_mm.datasets.fmnist_det import _sized_patch

    item = np.zeros((28, 28), np.uint8)
    for y, x in [(0, 5), (5, 0), (10, 5), (5, 10)]:  # an 11 x 11 extent whose bright pixels are off the corners
        item[y, x] = 251
    assert (item_patch(item, 28, 250) <= 250).all()
    assert _sized_patch(item, 'small', 160, 250, np.random.default_rng(0), strict=True) is None


def test_another_set_in_the_folder_is_refused_unless_overwritten(tmp_path, fake_root):
    out = str(tmp_path / 'det')
    generate_fmnist_det(out, data_root=fake_root, seed=1, **TINY)
    generate_fmnist_det(out, data_root=fake_root, seed=1, **TINY)  # the same set: left as it is
    with pytest.raises(FileExistsError, match=r'seed: 1 there, 2 asked'):
        generate_fmnist_det(out, data_root=fake_root, seed=2, **TINY)
    generate_fmnist_det(out, data_root=fake_root, seed=2, overwrite=True, **TINY)
    with open(osp.join(out, 'annotations', 'generator.json')) as f:
        assert json.load(f)['seed'] == 2


def test_a_set_made_from_other_fashion_mnist_files_is_another_set(tmp_path, fake_root):
    """The completion marker recorded the arguments only: a set generated from other idx files (another data_root,
    here the same items with other pixels) under the same arguments was taken for this one and kept, silently. The
    files' content is recorded and compared; a marker written before (without it) still matches its arguments."""
    import shutil

    out = str(tmp_path / 'det')
    generate_fmnist_det(out, data_root=fake_root, seed=1, **TINY)
    other = str(shutil.copytree(fake_root, tmp_path / 'other'))
    images, labels = load_fashion_mnist(other, 'train')
    _write(osp.join(other, 'train-images-idx3-ubyte'), 255 - images, compress=True)
    with pytest.raises(FileExistsError, match=r'holds a set made with other settings \(fashion_mnist: '
                                              r"'blake2b:\w+' there, 'blake2b:\w+' asked\)"):
        generate_fmnist_det(out, data_root=other, seed=1, **TINY)
    generate_fmnist_det(out, data_root=str(shutil.copytree(fake_root, tmp_path / 'copy')), seed=1, **TINY)  # a copy
    marker = osp.join(out, 'annotations', 'generator.json')
    with open(marker) as f:
        settings = json.load(f)
    settings.pop('fashion_mnist')  # as an older generator wrote it
    with open(marker, 'w') as f:
        json.dump(settings, f)
    generate_fmnist_det(out, data_root=other, seed=1, **TINY)  # not known there: the arguments are compared


def test_base_config_builds_every_split(det_root):
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/_base_/datasets/fmnist_det.py'))
    coco_sizes = {s: len(_load(det_root, s)['images']) for s in SPLITS}
    for loader, split in (('train_dataloader', 'train'), ('reward_dataloader', 'reward'),
                          ('val_dataloader', 'val'), ('test_dataloader', 'test')):
        dataset = cfg[loader].dataset
        assert dataset.ann_file == f'annotations/instances_{split}.json'
        with DefaultScope.overwrite_default_scope('mmdet'):  # as under mmdet's default_runtime.py
            ds = DATASETS.build({**dataset, 'data_root': det_root})
        assert len(ds) == coco_sizes[split]
        assert ds[0]['inputs'].shape[-2:] == (160, 160)  # resized to the config's scale
    for evaluator, split in (('val_evaluator', 'val'), ('test_evaluator', 'test'), ('reward_evaluator', 'reward')):
        assert cfg[evaluator].ann_file.endswith(f'instances_{split}.json')


def test_first_item_of_image_i_is_in_range_i_minus_1_mod_3_as_the_readme_says(det_root):
    """The README said 'the first item of image i is forced into range i mod 3', which reads as image 1 medium; the
    generator forces range (i - 1) mod 3 of (small, medium, large) with 1-based image ids: image 1 small."""
    readme = open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8').read()
    assert ('the first item of image *i* (its COCO id, 1-based in each\nsplit) is forced into range (*i* − 1) mod 3 '
            'of (small, medium, large), so image 1 small, 2 medium, 3 large, 4 small') in readme
    for split in SPLITS:
        coco = _load(det_root, split)
        for image in coco['images']:
            first = min((a for a in coco['annotations'] if a['image_id'] == image['id']), key=lambda a: a['id'])
            assert area_range(first['area']) == ('small', 'medium', 'large')[(image['id'] - 1) % 3]


def test_the_tool_ends_with_what_it_wrote(tmp_path, fake_root, monkeypatch, capsys):
    """tools/data/generate_fmnist_det.py ended with ``generated in 0.1 s`` even when the set was there already and
    nothing was written; its last line now says what it wrote (files, images, annotations) or that the set was
    there. It read each annotation file twice for its lines (area_range_counts, then the summary's counts) and
    told 'nothing written' from the marker file's stat: now the generator returns what it wrote (no file read), or
    reads a set that was there once."""
    import importlib.util
    import sys

    from test_synthetic_coco import annotation_reads

    spec = importlib.util.spec_from_file_location('_tool_generate_fmnist_det',
                                                  osp.join(REPO_ROOT, 'tools/data/generate_fmnist_det.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'set')
    args = ['--num-train', '2', '--num-reward', '1', '--num-val', '1', '--num-test', '1', '--img-size', '128']
    monkeypatch.setattr(sys, 'argv', ['generate_fmnist_det.py', out, '--data-root', fake_root] + args)
    reads = annotation_reads(monkeypatch)
    tool.main()
    assert reads == []  # the counts are what the generator wrote
    counts = {split: len(_load(out, split)['annotations']) for split in SPLITS}
    lines = []
    for split, n in zip(SPLITS, (2, 1, 1, 1)):
        path = osp.join(out, 'annotations', f'instances_{split}.json')
        ranges = area_range_counts(path)
        assert sum(ranges[r] for r in ('small', 'medium', 'large')) == counts[split]
        lines.append(f'{split}: {path} ({n} images; objects small {ranges["small"]}, medium {ranges["medium"]}, '
                     f'large {ranges["large"]})')
    summary = (f'5 images and 4 annotation files ({sum(counts.values())} annotations)',
               f'train 2 images / {counts["train"]} annotations, reward 1 / {counts["reward"]}, '
               f'val 1 / {counts["val"]}, test 1 / {counts["test"]}')
    printed = capsys.readouterr().out.splitlines()
    assert printed[:-1] == lines
    assert re.fullmatch(rf'generate_fmnist_det\.py: wrote {re.escape(summary[0])} under {re.escape(out)}: '
                        rf'{re.escape(summary[1])} \(in [0-9.]+ s\)', printed[-1]), printed[-1]
    reads = annotation_reads(monkeypatch)
    tool.main()  # the same set: nothing written
    assert sorted(reads) == sorted(f'instances_{split}.json' for split in SPLITS)  # each read once
    assert capsys.readouterr().out.splitlines() == lines + [
        f'generate_fmnist_det.py: {out} holds this set already, nothing written: {summary[0]}: {summary[1]}']
