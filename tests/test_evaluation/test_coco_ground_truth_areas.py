"""A CocoMetric without ann_file ranges its ground truth by the objects' mask areas, as pycocotools does on the file.

Without ``ann_file`` mmdet's ``CocoMetric`` writes the scored images' instances to a COCO file of its own
(``gt_to_coco_json``) with ``area`` = box width x height (its mask area is commented out there), where the
annotation file, and pycocotools on it, give an instance-annotated object its mask's area: a 40 x 40 box around an
object of 800 mask pixels is small in the file and medium to mmdet, so ``bbox_mAP_s`` / ``_m`` / ``_l`` and the
``AR_<area>`` keys read other objects than pycocotools on the same detections.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmengine.evaluator import Evaluator
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from automl_mm.engine.evaluate import evaluate_locally
from automl_mm.evaluation import UnroundedCocoMetric, unrounded_coco_metrics

SIZE = 160


def _rle(x: int, y: int, w: int, h: int) -> dict:
    """A compressed RLE (``counts`` a str, as a COCO file holds it) of the rectangle at (x, y) of size w x h."""
    m = np.zeros((SIZE, SIZE), dtype=np.uint8)
    m[y:y + h, x:x + w] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    return dict(size=rle['size'], counts=rle['counts'].decode())


# (box x, y, w, h; segmentation or None): a triangle of ~800 px in a 40 x 40 box (small; medium by its box), an
# RLE of 80 x 60 = 4800 px in a 100 x 100 box (medium; large by its box), a box without mask (its area: w x h)
OBJECTS = [([10, 10, 40, 40], [[10, 10, 50, 10, 10, 50]]),
           ([20, 20, 100, 100], _rle(30, 40, 80, 60)),
           ([30, 30, 20, 20], None)]


def _area(box: list, segmentation) -> float:
    """The area an annotation file gives the object: its mask's pixels (pycocotools' own), else its box's."""
    if segmentation is None:
        return float(box[2] * box[3])
    rles = (mask_utils.frPyObjects(segmentation, SIZE, SIZE) if isinstance(segmentation, list)
            else [dict(segmentation, counts=segmentation['counts'].encode())])
    return float(mask_utils.area(mask_utils.merge(rles)))


def _ann_file(tmp_path) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=i + 1, width=SIZE, height=SIZE, file_name=f'{i}.png') for i in range(len(OBJECTS))],
        'annotations': [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=box, area=_area(box, seg), iscrowd=0,
                             **({} if seg is None else {'segmentation': seg}))
                        for i, (box, seg) in enumerate(OBJECTS)],
        'categories': [dict(id=1, name='item')]}))
    return str(path)


def _samples() -> list[dict]:
    """One data sample per image, as mmdet's CocoDataset packs it with ``instances`` kept: the raw annotation
    (box as x1, y1, x2, y2, the segmentation as the file holds it), and one exact box predicted for each object
    but the third, whose box is missed (scores decreasing), plus a false positive on the first image."""
    samples = []
    for i, (box, seg) in enumerate(OBJECTS):
        x, y, w, h = box
        instance = dict(bbox=[float(x), float(y), float(x + w), float(y + h)], bbox_label=0, ignore_flag=0)
        if seg is not None:
            instance['mask'] = json.loads(json.dumps(seg))  # a copy: mmdet rewrites an RLE's counts in place
        boxes = [[x, y, x + w, y + h]] if i < 2 else [[x + 12, y + 12, x + w + 12, y + h + 12]]
        if i == 0:
            boxes.append([100, 100, 130, 130])
        samples.append(dict(img_id=i + 1, ori_shape=(SIZE, SIZE), width=SIZE, height=SIZE, instances=[instance],
                            pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                                scores=torch.tensor([0.9 - 0.1 * i, 0.95][:len(boxes)]),
                                                labels=torch.zeros(len(boxes), dtype=torch.long))))
    return samples


def _pycocotools_stats(ann_file: str) -> np.ndarray:
    """pycocotools' bbox stats on the annotation file, at mmdet's detection counts (100, 300, 1000)."""
    gt = COCO(ann_file)
    dets = [dict(image_id=s['img_id'], category_id=1, score=float(score), bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]])
            for s in _samples() for b, score in zip(s['pred_instances']['bboxes'].tolist(),
                                                    s['pred_instances']['scores'])]
    coco_eval = COCOeval(gt, gt.loadRes(dets), 'bbox')
    coco_eval.params.maxDets = [100, 300, 1000]
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l', 'AR@100', 'AR@300', 'AR@1000', 'AR_s@1000',
         'AR_m@1000', 'AR_l@1000')


def _without_ann_file(cls=CocoMetric) -> CocoMetric:
    metric = cls(ann_file=None, metric='bbox', metric_items=list(NAMES))
    metric.dataset_meta = dict(classes=('item', ))
    return metric


def test_the_example_ranges_objects_by_mask_area_in_the_file(tmp_path):
    """The planted objects are small / medium by their masks and medium / large by their boxes."""
    stats = _pycocotools_stats(_ann_file(tmp_path))
    assert [_area(box, seg) < 32 ** 2 for box, seg in OBJECTS] == [True, False, True]
    assert [box[2] * box[3] < 32 ** 2 for box, _ in OBJECTS] == [False, False, True]
    assert stats[5] == -1  # no large object in the file


def test_without_ann_file_the_area_keys_are_pycocotools_own_on_the_file(tmp_path):
    """mmdet read mAP_l 1.0 (the 100 x 100 box of a 4800 px object) where the file has no large object (-1), and
    mAP_s 0.0 (the missed 20 x 20 box alone) where pycocotools gives 0.252 (the triangle found as well)."""
    stats = _pycocotools_stats(_ann_file(tmp_path))
    metric = _without_ann_file()
    metric.process({}, _samples())
    values = unrounded_coco_metrics(metric, metric.results)
    for i, item in enumerate(NAMES):
        assert values[f'bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item


class _Replay(torch.nn.Module):
    """A model whose val_step returns the prepared samples of each batch (batches are the samples)."""

    def val_step(self, data):
        return data


def test_rewards_and_the_registered_metric_range_by_mask_area_too(tmp_path):
    """evaluate_locally (OHL rewards, NAS scores) in batches, and UnroundedCocoMetric in any evaluator."""
    stats = _pycocotools_stats(_ann_file(tmp_path))
    samples = _samples()
    got = evaluate_locally(_Replay(), [samples[:2], samples[2:]], Evaluator(_without_ann_file()))
    metric = _without_ann_file(UnroundedCocoMetric)
    metric.process({}, _samples())
    own = metric.compute_metrics(metric.results)
    for i, item in enumerate(NAMES):
        assert got[f'coco/bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item
        assert own[f'bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item


def test_with_an_ann_file_the_file_is_read_as_it_is(tmp_path):
    """With ann_file mmdet reads the file's areas itself: the same values."""
    ann = _ann_file(tmp_path)
    metric = CocoMetric(ann_file=ann, metric='bbox', metric_items=list(NAMES))
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, _samples())
    values = unrounded_coco_metrics(metric, metric.results)
    assert [values[f'bbox_{item}'] for item in NAMES] == pytest.approx(list(_pycocotools_stats(ann)), abs=1e-12)


def test_mask_area_is_pycocotools_own_for_every_segmentation_form():
    """Polygons, an uncompressed RLE and a compressed one (counts a str or bytes): COCO.annToRLE's area."""
    from automl_mm.evaluation.coco import mask_area

    m = np.zeros((SIZE, SIZE), dtype=np.uint8)
    m[5:25, 7:60] = 1
    m[40:41, 3:9] = 1
    compressed = mask_utils.encode(np.asfortranarray(m))
    flat = m.flatten(order='F')
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [2]])) != 0)  # run starts, then the end
    uncompressed = dict(size=[SIZE, SIZE], counts=np.diff(np.concatenate([[0], changes[:-1], [flat.size]])).tolist())
    gt = COCO()
    gt.dataset = {'images': [dict(id=1, height=SIZE, width=SIZE)], 'categories': [dict(id=1, name='x')],
                  'annotations': []}
    gt.createIndex()
    polygon = [[10, 10, 50, 10, 10, 50], [60.5, 60, 90, 61, 75, 99.5]]
    for segmentation in (polygon, uncompressed, dict(compressed, counts=compressed['counts'].decode()), compressed):
        expected = float(mask_utils.area(gt.annToRLE(dict(image_id=1, segmentation=segmentation))))
        assert mask_area(segmentation, SIZE, SIZE) == expected > 0
    assert mask_area(uncompressed, SIZE, SIZE) == float(m.sum())
    assert mask_area([], SIZE, SIZE) is None and mask_area(None, SIZE, SIZE) is None


def test_segm_without_ann_file_ranges_by_mask_area_as_pycocotools(tmp_path, monkeypatch):
    """metric='segm' reads the same ground truth file: its area keys are pycocotools' segm stats on the annotation
    file too (mmdet ranged the 4800 px object large by its 100 x 100 box, where the file has no large object)."""
    monkeypatch.setattr(f'{__name__}.OBJECTS', OBJECTS[:2])  # objects with masks only (segm reads each one's)
    ann = _ann_file(tmp_path)
    samples, dets = _samples(), []
    for s in samples:
        masks = []
        for box, score in zip(s['pred_instances']['bboxes'].int().tolist(), s['pred_instances']['scores'].tolist()):
            m = np.zeros((SIZE, SIZE), dtype=np.uint8)
            m[box[1]:(box[1] + box[3]) // 2, box[0]:box[2]] = 1  # the upper half of the predicted box
            masks.append(m)
            dets.append(dict(image_id=s['img_id'], category_id=1, score=score,
                             segmentation=mask_utils.encode(np.asfortranarray(m))))
        s['pred_instances']['masks'] = torch.from_numpy(np.stack(masks)).bool()
    gt = COCO(ann)
    coco_eval = COCOeval(gt, gt.loadRes(dets), 'segm')
    coco_eval.params.maxDets = [100, 300, 1000]
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    metric = CocoMetric(ann_file=None, metric='segm', metric_items=list(NAMES))
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, samples)
    values = unrounded_coco_metrics(metric, metric.results)
    assert coco_eval.stats[5] == -1
    for i, item in enumerate(NAMES):
        assert values[f'segm_{item}'] == pytest.approx(coco_eval.stats[i], abs=1e-12), item


def test_a_polygon_pycocotools_cannot_rasterise_keeps_the_box_area(tmp_path, monkeypatch):
    """A segmentation of polygons of fewer than 3 points (``[[x1, y1, x2, y2]]``, ``[[]]``: kept in ``instances``,
    mmdet's ``LoadAnnotations`` calls them invalid) stopped a bbox reading without ann_file inside pycocotools
    (TypeError / 'input type is not supported'), which scored it before (bbox AP never rasterises a mask): the
    object keeps its box's area (what the file's area is for such a converter's object is not known), and a
    segmentation with valid polygons besides is measured on those (a part of 2 points adds no pixel)."""
    from automl_mm.evaluation.coco import mask_area

    triangle = [10, 10, 50, 10, 10, 50]
    assert mask_area([triangle, [60, 60, 70, 70]], SIZE, SIZE) == mask_area([triangle], SIZE, SIZE) > 0
    assert mask_area([[60, 60, 70, 70], triangle, [3, 4]], SIZE, SIZE) == mask_area([triangle], SIZE, SIZE)
    for degenerate in ([[60, 60, 70, 70]], [[]], [[5, 5]], [[60, 60, 70, 70], []]):
        assert mask_area(degenerate, SIZE, SIZE) is None, degenerate
    line = [[20, 20, 120, 120]]
    monkeypatch.setattr(f'{__name__}.OBJECTS', [OBJECTS[0], ([20, 20, 100, 100], line), OBJECTS[2]])
    monkeypatch.setattr(f'{__name__}._area',
                        lambda box, seg, area=_area: box[2] * box[3] if seg is line else area(box, seg))
    stats = _pycocotools_stats(_ann_file(tmp_path))  # the file: the line's object at its box's area, large
    metric = _without_ann_file()
    metric.process({}, _samples())
    values = unrounded_coco_metrics(metric, metric.results)
    assert values['bbox_mAP_l'] == pytest.approx(1.0)  # the line's object: large by its box, found
    for i, item in enumerate(NAMES):
        assert values[f'bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item


class _FromInstances(torch.nn.Module):
    """A model whose val_step predicts, in the original image's coordinates (as mmdet's detectors rescale them),
    what :func:`_samples` predicts, from each packed sample's ``instances``."""

    def val_step(self, data):
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData

        outputs = []
        for sample in data['data_samples']:
            i, box = sample.img_id - 1, sample.metainfo['instances'][0]['bbox']
            boxes = [box] if i < 2 else [[v + 12 for v in box]]
            boxes += [[100, 100, 130, 130]] if i == 0 else []
            output = DetDataSample(metainfo=sample.metainfo)
            output.pred_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                                 scores=torch.tensor([0.9 - 0.1 * i, 0.95][:len(boxes)]),
                                                 labels=torch.zeros(len(boxes), dtype=torch.long))
            outputs.append(output)
        return outputs


@pytest.mark.parametrize('moves', [[], [dict(type='RandomFlip', prob=1.0)]], ids=['resized', 'resized_flipped'])
def test_a_resizing_pipeline_measures_the_original_images_masks(tmp_path, moves):
    """A reward split read through mmdet's CocoDataset with a pipeline that resizes (160 -> 64) and flips before
    PackDetInputs packs ``instances``: the ground truth written from them is the original image's (``instances``
    and ``ori_shape`` are left as the file gives them; ``gt_bboxes`` / ``gt_masks`` are the resized ones), so the
    area keys are pycocotools' on the annotation file."""
    import cv2
    from mmdet.datasets import CocoDataset
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from torch.utils.data import DataLoader

    ann = _ann_file(tmp_path)
    for i in range(len(OBJECTS)):
        cv2.imwrite(str(tmp_path / f'{i}.png'), np.zeros((SIZE, SIZE, 3), np.uint8))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
                dict(type='LoadAnnotations', with_bbox=True), *moves,
                dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                                      'flip', 'flip_direction', 'instances'))]
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(ann_file=ann, data_root=str(tmp_path), data_prefix=dict(img=''), test_mode=True,
                              metainfo=dict(classes=('item', )), pipeline=pipeline)
        batches = list(DataLoader(dataset, batch_size=2, collate_fn=pseudo_collate))
    assert batches[0]['data_samples'][0].img_shape == (64, 64)
    got = evaluate_locally(_FromInstances(), batches, Evaluator(_without_ann_file()))
    stats = _pycocotools_stats(ann)
    for i, item in enumerate(NAMES):
        assert got[f'coco/bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item
