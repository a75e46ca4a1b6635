from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import re

import pytest

from automl_mm.datasets import generate_coco


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def annotation_reads(monkeypatch) -> list[str]:
    """The annotation files (``instances_*.json``) opened for reading from now on, one entry per open."""
    import builtins

    reads, real_open = [], builtins.open

    def counting_open(file, mode='r', *args, **kwargs):
        if 'r' in mode and 'instances_' in osp.basename(str(file)):
            reads.append(osp.basename(str(file)))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', counting_open)
    return reads


def test_generation_is_deterministic(tmp_path):
    generate_coco(str(tmp_path / 'a'), num_train=3, num_val=2, img_size=48, seed=5)
    generate_coco(str(tmp_path / 'b'), num_train=3, num_val=2, img_size=48, seed=5)
    generate_coco(str(tmp_path / 'c'), num_train=3, num_val=2, img_size=48, seed=6)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b') != _digest(tmp_path / 'c')


def test_annotations_match_the_drawn_shapes(coco_root):
    import cv2
    from pycocotools import mask as mask_util

    with open(os.path.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    assert len(coco['images']) == 8 and [c['name'] for c in coco['categories']] == ['rectangle', 'ellipse',
                                                                                     'triangle']
    ids = [a['id'] for a in coco['annotations']]
    assert len(ids) == len(set(ids)) >= 8
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64 and w >= 1 and h >= 1
        assert 0 < ann['area'] <= w * h
        # the mask is exactly the annotated pixels: its box and area are the annotation's (polygons traced
        # through pixel centres decoded one row and column short: 93-95 % of the area)
        rle = dict(ann['segmentation'], counts=ann['segmentation']['counts'].encode('ascii'))
        assert mask_util.toBbox(rle).tolist() == [x, y, w, h] and float(mask_util.area(rle)) == ann['area']
    img = cv2.imread(os.path.join(coco_root, 'train', coco['images'][0]['file_name']))
    assert img.shape == (64, 64, 3)


def test_mmdet_cocodataset_and_metric_read_it_unchanged(coco_root):
    """mmdet's own CocoDataset loads the files, and CocoMetric scores the ground truth itself as mAP 1."""
    import torch
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric

    ds = CocoDataset(data_root=coco_root, ann_file='annotations/instances_val.json',
                     data_prefix=dict(img='val/'), metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')),
                     test_mode=True, pipeline=[])
    assert len(ds) == 4
    metric = CocoMetric(ann_file=os.path.join(coco_root, 'annotations', 'instances_val.json'), metric='bbox')
    metric.dataset_meta = ds.metainfo
    samples = []
    for info in (ds.get_data_info(i) for i in range(len(ds))):
        boxes = torch.tensor([i['bbox'] for i in info['instances']], dtype=torch.float32)
        labels = torch.tensor([i['bbox_label'] for i in info['instances']])
        samples.append({'img_id': info['img_id'], 'ori_shape': (info['height'], info['width']),
                        'pred_instances': {'bboxes': boxes, 'scores': torch.ones(len(boxes)), 'labels': labels}})
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['bbox_mAP'] == pytest.approx(1.0)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_train'):
        generate_coco(str(tmp_path), num_train=0)
    with pytest.raises(ValueError, match='img_size'):
        generate_coco(str(tmp_path), img_size=16)


def test_a_folder_holding_another_set_is_refused_and_the_same_set_left_alone(tmp_path):
    """Generating 4 images over a 12-image set left 8 old PNGs beside the new annotations, and the arch split made
    from the old set named boxes that the new 000001.png no longer had."""
    import json
    import os

    from automl_mm.datasets.coco_split import split_coco

    out = str(tmp_path / 'set')
    files = generate_coco(out, num_train=12, num_val=2, img_size=48, seed=1)
    split_coco(files['train'], osp.join(out, 'annotations'), val_images=2, seed=0)
    before = {name: os.path.getmtime(osp.join(out, 'train', name)) for name in os.listdir(osp.join(out, 'train'))}
    assert generate_coco(out, num_train=12, num_val=2, img_size=48, seed=1) == files  # the same set: untouched
    assert {n: os.path.getmtime(osp.join(out, 'train', n)) for n in os.listdir(osp.join(out, 'train'))} == before
    with pytest.raises(FileExistsError, match=r"holds a set made with other settings \(num_train: 12 there, 4 "
                                              r"asked; seed: 1 there, 0 asked\).*pass --overwrite"):
        generate_coco(out, num_train=4, num_val=2, img_size=48, seed=0)
    assert len(os.listdir(osp.join(out, 'train'))) == 12  # nothing was changed
    generate_coco(out, num_train=4, num_val=2, img_size=48, seed=0, overwrite=True)
    assert sorted(os.listdir(osp.join(out, 'train'))) == [f'{i:06d}.png' for i in range(1, 5)]
    assert sorted(os.listdir(osp.join(out, 'annotations'))) == ['generator.json', 'instances_train.json',
                                                                'instances_val.json']  # the old split went too
    with open(files['train']) as f:
        assert len(json.load(f)['images']) == 4
    stray = tmp_path / 'old'  # files without settings (an older generator, an interrupted run)
    (stray / 'train').mkdir(parents=True)
    with pytest.raises(FileExistsError, match='files of a set without its settings file'):
        generate_coco(str(stray), num_train=2, num_val=1, img_size=48)


def test_split_coco_refuses_to_write_over_its_input(tmp_path):
    """``mine-train.json`` split with prefix ``mine`` into its own folder lost the images of the val part."""
    from automl_mm.datasets.coco_split import split_coco

    files = generate_coco(str(tmp_path / 'set'), num_train=8, num_val=1, img_size=48)
    own = tmp_path / 'set' / 'annotations' / 'mine-train.json'
    own.write_text(open(files['train']).read())
    with pytest.raises(ValueError, match='split_coco would write over its input'):
        split_coco(str(own), str(own.parent), val_images=2, prefix='mine')
    assert own.read_text() == open(files['train']).read()


def test_the_tool_ends_with_what_it_wrote(tmp_path, monkeypatch, capsys):
    """tools/data/generate_coco.py printed only ``train: <path>`` / ``val: <path>``, the same when the set was there
    already and nothing was written; its last line now says what it wrote (files, images, annotations), as mmdet's
    dataset converters end, or that the set was there. It read each annotation file back for those counts and told
    'nothing written' from the marker file's stat: now the generator returns what it wrote (no file read), or
    reads a set that was there once."""
    import importlib.util
    import json
    import sys

    from conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location('_tool_generate_coco',
                                                  osp.join(REPO_ROOT, 'tools/data/generate_coco.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'set')
    monkeypatch.setattr(sys, 'argv', ['generate_coco.py', out, '--num-train', '3', '--num-val', '2',
                                      '--img-size', '32'])
    reads = annotation_reads(monkeypatch)
    tool.main()
    assert reads == []  # the counts are what the generator wrote
    counts = []
    for split in ('train', 'val'):
        with open(osp.join(out, 'annotations', f'instances_{split}.json')) as f:
            counts.append(len(json.load(f)['annotations']))
    files = [osp.join(out, 'annotations', f'instances_{split}.json') for split in ('train', 'val')]
    summary = (f'5 images and 2 annotation files ({sum(counts)} annotations)', f'train 3 images / {counts[0]} '
               f'annotations, val 2 / {counts[1]}')
    assert capsys.readouterr().out.splitlines() == [
        f'train: {files[0]}', f'val: {files[1]}', f'generate_coco.py: wrote {summary[0]} under {out}: {summary[1]}']
    reads = annotation_reads(monkeypatch)
    tool.main()  # the same set: nothing written
    assert sorted(reads) == ['instances_train.json', 'instances_val.json']  # each read once
    assert capsys.readouterr().out.splitlines() == [
        f'train: {files[0]}', f'val: {files[1]}',
        f'generate_coco.py: {out} holds this set already, nothing written: {summary[0]}: {summary[1]}']


def test_the_val_split_depends_only_on_the_seed_and_its_size(tmp_path):
    """One seeded generator drew train then val, so ``num_train=3`` and ``num_train=5`` (seed 5, 2 val images) gave
    different val images and annotations: enlarging the train split silently changed the val set its results are
    compared on. Each split now has its own seeded stream (``[seed, 0]`` for train, ``[seed, 1]`` for val)."""
    for num_train in (3, 5):
        generate_coco(str(tmp_path / f'train{num_train}'), num_train=num_train, num_val=2, img_size=48, seed=5)
    assert _digest(tmp_path / 'train3' / 'val') == _digest(tmp_path / 'train5' / 'val')
    vals = [(tmp_path / f'train{n}' / 'annotations' / 'instances_val.json').read_text() for n in (3, 5)]
    assert vals[0] == vals[1]  # annotation ids too (they continued from train's)
    generate_coco(str(tmp_path / 'seed6'), num_train=3, num_val=2, img_size=48, seed=6)
    assert _digest(tmp_path / 'seed6' / 'val') != _digest(tmp_path / 'train3' / 'val')


def test_a_set_whose_val_followed_train_is_not_taken_for_this_one(tmp_path):
    """A set written before the splits had streams of their own (its marker has no ``generator_version``) holds
    another val set under the same arguments: refused, not kept as this one."""
    out = tmp_path / 'set'
    generate_coco(str(out), num_train=2, num_val=1, img_size=32, seed=0)
    marker = out / 'annotations' / 'generator.json'
    settings = json.loads(marker.read_text())
    assert settings.pop('generator_version') == 2
    marker.write_text(json.dumps(settings))
    with pytest.raises(FileExistsError, match=r'generator_version: None there, 2 asked.*--overwrite'):
        generate_coco(str(out), num_train=2, num_val=1, img_size=32, seed=0)


def test_a_set_there_already_reports_its_counts_and_a_missing_file_by_name(tmp_path):
    """The generator's return (``GeneratedSet``) is the ``{split: path}`` dict it was, with ``written`` and each
    split's counts; a set whose marker is there but one annotation file not is named, not read as empty."""
    out = str(tmp_path / 'set')
    wrote = generate_coco(out, num_train=2, num_val=1, img_size=32)
    again = generate_coco(out, num_train=2, num_val=1, img_size=32)
    assert wrote == again == {s: osp.join(out, 'annotations', f'instances_{s}.json') for s in ('train', 'val')}
    assert (wrote.written, again.written) == (True, False) and wrote.counts == again.counts
    assert [c['images'] for c in again.counts.values()] == [2, 1]
    os.remove(again['val'])
    with pytest.raises(FileNotFoundError, match=rf'its val annotation file {re.escape(again["val"])} is missing'):
        generate_coco(out, num_train=2, num_val=1, img_size=32)
