"""OHL rewards and NAS scores read COCO AP at full precision; mmdet's CocoMetric rounds to 3 decimals (ties)."""
from __future__ import annotations

import json

import mmdet.evaluation.metrics.coco_metric as mmdet_coco
import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmengine.evaluator import Evaluator
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from automl_mm.engine.evaluate import evaluate_locally
from automl_mm.evaluation import UnroundedCocoMetric, unrounded_coco_metrics
from automl_mm.registry import METRICS

# 4 images, one 40 x 40 object each (category 1); predictions: two good boxes, one shifted (IoU ~0.6), one miss
GT_BOXES = [[10, 10, 40, 40]] * 4
PRED = [([10, 10, 40, 40], 0.9), ([12, 11, 40, 40], 0.8), ([22, 18, 40, 40], 0.7), ([100, 100, 20, 20], 0.95)]


def _ann_file(tmp_path) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=i + 1, width=160, height=160, file_name=f'{i}.png') for i in range(4)],
        'annotations': [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                        for i, b in enumerate(GT_BOXES)],
        'categories': [dict(id=1, name='item')]}))
    return str(path)


def _samples() -> list[dict]:
    return [dict(img_id=i + 1, ori_shape=(160, 160),
                 pred_instances=dict(bboxes=torch.tensor([[x, y, x + w, y + h]], dtype=torch.float32),
                                     scores=torch.tensor([s]), labels=torch.tensor([0])))
            for i, ((x, y, w, h), s) in enumerate(PRED)]


def _pycocotools_stats(ann_file: str) -> np.ndarray:
    gt = COCO(ann_file)
    dets = gt.loadRes([dict(image_id=i + 1, category_id=1, bbox=b, score=s) for i, (b, s) in enumerate(PRED)])
    coco_eval = COCOeval(gt, dets, 'bbox')
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


def _class_stats(gt: COCO, dets: list[dict], cat_id: int) -> np.ndarray:
    """pycocotools' bbox ``stats`` of category ``cat_id`` alone (``params.catIds=[cat_id]``)."""
    coco_eval = COCOeval(gt, gt.loadRes(dets), 'bbox')
    coco_eval.params.catIds = [cat_id]
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


def _class_ap(gt: COCO, dets: list[dict], cat_id: int) -> float:
    """pycocotools' bbox AP of category ``cat_id`` alone (``params.catIds=[cat_id]``)."""
    return float(_class_stats(gt, dets, cat_id)[0])


def _categories_not_by_id(tmp_path):
    """One 64 x 64 image with a box of category 2 ('b') and one of category 1 ('a'), listed as [{id 2}, {id 1}]."""
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=1, width=64, height=64, file_name='0.png')],
        'annotations': [dict(id=1, image_id=1, category_id=2, bbox=[8, 8, 32, 32], area=1024, iscrowd=0),
                        dict(id=2, image_id=1, category_id=1, bbox=[40, 40, 20, 20], area=400, iscrowd=0)],
        'categories': [dict(id=2, name='b'), dict(id=1, name='a')]}))
    return path


def _exact_b_and_missed_a() -> list[dict]:
    """Predictions on :func:`_categories_not_by_id`'s image (labels 0, 1 = classes ('b', 'a')): b's box exactly
    (AP 1.0), a's at IoU 0.47 (AP 0.0)."""
    return [dict(img_id=1, ori_shape=(64, 64), pred_instances=dict(
        bboxes=torch.tensor([[8., 8., 40., 40.], [44., 44., 64., 64.]]), scores=torch.tensor([0.9, 0.8]),
        labels=torch.tensor([0, 1])))]


def _metric(ann_file: str, cls=CocoMetric, **kwargs) -> CocoMetric:
    metric = cls(ann_file=ann_file, metric='bbox', **kwargs)
    metric.dataset_meta = dict(classes=('item', ))
    return metric


def test_full_precision_values_are_pycocotools_and_mmdet_rounds_them(tmp_path):
    ann = _ann_file(tmp_path)
    stats = _pycocotools_stats(ann)
    assert round(stats[0], 3) != stats[0]  # the example is not already a 3-decimal number
    metric = _metric(ann)
    metric.process({}, _samples())
    original = mmdet_coco.COCOeval
    values = unrounded_coco_metrics(metric, metric.results)
    assert mmdet_coco.COCOeval is original  # the recording class is removed again
    for i, item in enumerate(('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')):
        assert values[f'bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item
    rounded = metric.compute_metrics(metric.results)  # mmdet's own: 3 decimals
    assert rounded['bbox_mAP'] == round(stats[0], 3) != values['bbox_mAP']
    assert set(rounded) == set(values)


def test_metric_items_and_the_registered_metric(tmp_path):
    ann = _ann_file(tmp_path)
    stats = _pycocotools_stats(ann)
    metric = METRICS.build(dict(type='UnroundedCocoMetric', ann_file=ann, metric='bbox', metric_items=['mAP_50']))
    assert isinstance(metric, UnroundedCocoMetric) and isinstance(metric, CocoMetric)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, _samples())
    assert metric.compute_metrics(metric.results) == {'bbox_mAP_50': pytest.approx(stats[1], abs=1e-12)}


class _Replay(torch.nn.Module):
    """A model whose val_step returns the prepared predictions of each batch (batches are the samples)."""

    def val_step(self, data):
        return data


def test_rewards_and_nas_scores_use_full_precision(tmp_path):
    """evaluate_locally (every OHL reward and NAS score) reports the unrounded value for a plain CocoMetric."""
    ann = _ann_file(tmp_path)
    evaluator = Evaluator(_metric(ann))
    samples = _samples()
    metrics = evaluate_locally(_Replay(), [samples[:2], samples[2:]], evaluator)
    assert metrics['coco/bbox_mAP'] == pytest.approx(_pycocotools_stats(ann)[0], abs=1e-12)
    assert metrics['coco/bbox_mAP'] != round(metrics['coco/bbox_mAP'], 3)


class _WithExtra(CocoMetric):
    """A user's CocoMetric subclass that adds a key of its own."""

    def compute_metrics(self, results):
        values = super().compute_metrics(results)
        values['extra'] = 1.0
        return values


def test_a_subclass_keeps_its_own_compute_metrics(tmp_path):
    ann = _ann_file(tmp_path)
    metric = _metric(ann, cls=_WithExtra)
    metric.process({}, _samples())
    values = unrounded_coco_metrics(metric, metric.results)
    assert values['extra'] == 1.0
    assert values['bbox_mAP'] == pytest.approx(_pycocotools_stats(ann)[0], abs=1e-12)


class _UnroundedWithExtra(UnroundedCocoMetric):
    """A subclass of the unrounded metric that post-processes its values."""

    def compute_metrics(self, results):
        values = super().compute_metrics(results)
        values['bbox_mAP'] = (values['bbox_mAP_50'] + values['bbox_mAP_75']) / 2
        values['extra'] = 1.0
        return values


def test_a_subclass_of_the_unrounded_metric_runs_its_own_compute_metrics_in_rewards(tmp_path):
    """evaluate_locally ran CocoMetric's compute_metrics for any UnroundedCocoMetric subclass: its own keys and
    values were dropped (0.4667 reported where the subclass computes 0.6106)."""
    ann = _ann_file(tmp_path)
    samples = _samples()
    expected = Evaluator(_metric(ann, cls=_UnroundedWithExtra))
    expected.process(samples)
    right = expected.evaluate(len(samples))
    got = evaluate_locally(_Replay(), [samples[:2], samples[2:]], Evaluator(_metric(ann, cls=_UnroundedWithExtra)))
    assert got == pytest.approx(right) and got['coco/extra'] == 1.0


def test_proposal_fast_pairs_each_image_with_its_own_boxes_whatever_the_batch_order(tmp_path):
    """The ids of the images seen were sorted, but mmdet's proposal_fast pairs img_ids[i] with results[i]: batches
    in another order than the ids scored each image's proposals against another image's boxes (AR 0 for exact
    boxes)."""
    path = tmp_path / 'ann.json'
    boxes = {5: [10, 10, 40, 40], 3: [60, 60, 50, 50], 9: [5, 80, 30, 20]}
    path.write_text(json.dumps({
        'images': [dict(id=i, width=160, height=160, file_name=f'{i}.png') for i in boxes],
        'annotations': [dict(id=k + 1, image_id=i, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                        for k, (i, b) in enumerate(boxes.items())],
        'categories': [dict(id=1, name='item')]}))
    samples = {i: dict(img_id=i, ori_shape=(160, 160), pred_instances=dict(
        bboxes=torch.tensor([[x, y, x + w, y + h]], dtype=torch.float32), scores=torch.tensor([0.9]),
        labels=torch.tensor([0]))) for i, (x, y, w, h) in boxes.items()}
    for order in ([5, 3, 9], [9], [3, 9]):
        metric = CocoMetric(ann_file=str(path), metric='proposal_fast', proposal_nums=(1, 10, 100))
        metric.dataset_meta = dict(classes=('item', ))
        got = evaluate_locally(_Replay(), [[samples[i]] for i in order], Evaluator(metric))
        assert got['coco/AR@100'] == pytest.approx(1.0), order


def test_without_an_ann_file_each_call_scores_its_own_images(tmp_path):
    """CocoMetric(ann_file=None) builds its ground truth from the first results it scores and kept it: a later
    call on other images was scored against the first call's (1.0 where pycocotools gives 0.337)."""
    samples = _samples()
    for s in samples:
        s['gt_instances'] = dict(bboxes=torch.tensor([[10., 10., 50., 50.]]), labels=torch.tensor([0]))
        s['instances'] = [dict(bbox=[10., 10., 50., 50.], bbox_label=0, ignore_flag=0)]
        s['width'] = s['height'] = 160
    metric = CocoMetric(ann_file=None, metric='bbox', outfile_prefix=str(tmp_path / 'gt'))
    metric.dataset_meta = dict(classes=('item', ))
    evaluator = Evaluator(metric)
    first = evaluate_locally(_Replay(), [samples[:2]], evaluator)['coco/bbox_mAP']
    later = evaluate_locally(_Replay(), [samples[2:]], evaluator)['coco/bbox_mAP']
    alone = CocoMetric(ann_file=None, metric='bbox', outfile_prefix=str(tmp_path / 'gt2'))
    alone.dataset_meta = dict(classes=('item', ))
    assert later == pytest.approx(evaluate_locally(_Replay(), [samples[2:]], Evaluator(alone))['coco/bbox_mAP'])
    assert first != later


def test_the_unrounded_values_with_multiprocess_evaluation(tmp_path):
    """use_mp_eval pickles the evaluator: the recording class was local and could not be pickled."""
    ann = _ann_file(tmp_path)
    metric = _metric(ann, use_mp_eval=True)
    metric.process({}, _samples())
    assert unrounded_coco_metrics(metric, metric.results)['bbox_mAP'] == pytest.approx(
        _pycocotools_stats(ann)[0], abs=1e-12)


@pytest.mark.parametrize('metrics', [['proposal', 'proposal_fast'], ['proposal_fast', 'proposal']])
def test_proposal_and_proposal_fast_report_the_recall_mmdet_reports_last(tmp_path, metrics):
    """Both write AR@100 / AR@300 / AR@1000; mmdet reports the later one's. Two overlapping objects A, B and two
    proposals: COCOeval's matching (by score: P1 takes B, P2 gets A only up to IoU 0.6) gives AR 0.65, proposal_fast's
    (largest IoU first: P2-B, P1-A 0.74) 0.75. After 'proposal', 'proposal_fast' the COCOeval 0.65 was reported for
    mmdet's 0.75."""
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=1, width=200, height=200, file_name='0.png')],
        'annotations': [dict(id=k + 1, image_id=1, category_id=1, bbox=b, area=1600, iscrowd=0)
                        for k, b in enumerate([[0, 0, 40, 40], [10, 0, 40, 40]])],
        'categories': [dict(id=1, name='item')]}))
    sample = dict(img_id=1, ori_shape=(200, 200), pred_instances=dict(
        bboxes=torch.tensor([[6, 0, 46, 40], [10, 0, 50, 40]], dtype=torch.float32), scores=torch.tensor([0.9, 0.8]),
        labels=torch.tensor([0, 0])))
    metric = CocoMetric(ann_file=str(path), metric=metrics)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    values = unrounded_coco_metrics(metric, metric.results)
    expected = 0.75 if metrics[-1] == 'proposal_fast' else 0.65  # mean recall over IoU 0.5:0.95 by each matching
    for num in (100, 300, 1000):
        assert values[f'AR@{num}'] == pytest.approx(expected, abs=1e-9)
    assert values['AR_m@1000'] == pytest.approx(0.65, abs=1e-9)  # COCOeval's only
    assert values == pytest.approx(dict(metric.compute_metrics(metric.results)), abs=5e-4)  # mmdet's, rounded


def test_bbox_and_segm_values_are_pycocotools_own(tmp_path):
    """metric=['bbox', 'segm']: each key takes its own COCOeval's stats (the second evaluation's summary pairs with
    'segm'), checked against pycocotools run directly on the same boxes and masks (RLE, boxes dropped as mmdet does
    for segm)."""
    from pycocotools import mask as mask_utils

    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=i + 1, width=160, height=160, file_name=f'{i}.png') for i in range(4)],
        'annotations': [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[x, y, w, h], area=w * h, iscrowd=0,
                             segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]])
                        for i, (x, y, w, h) in enumerate(GT_BOXES)],
        'categories': [dict(id=1, name='item')]}))
    masks = []
    for (x, y, w, h), _ in PRED:
        m = np.zeros((160, 160), dtype=bool)
        m[y:y + h, x:x + w] = True
        m[y:y + h // 2, x:x + w // 3] = False  # a mask that is not its box: segm AP differs from bbox AP
        masks.append(m)
    samples = [dict(s, pred_instances=dict(s['pred_instances'], masks=torch.from_numpy(m)[None]))
               for s, m in zip(_samples(), masks)]
    metric = CocoMetric(ann_file=str(path), metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, samples)
    values = unrounded_coco_metrics(metric, metric.results)

    gt = COCO(str(path))
    expected = {}
    for iou_type in ('bbox', 'segm'):
        dets = [dict(image_id=i + 1, category_id=1, score=s, **(
            {'bbox': b} if iou_type == 'bbox' else
            {'segmentation': mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))}))
            for i, ((b, s), m) in enumerate(zip(PRED, masks))]
        coco_eval = COCOeval(gt, gt.loadRes(dets), iou_type)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        expected[iou_type] = coco_eval.stats
    assert expected['bbox'][0] != pytest.approx(expected['segm'][0], abs=1e-3)
    for kind in ('bbox', 'segm'):
        for i, item in enumerate(('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')):
            assert values[f'{kind}_{item}'] == pytest.approx(expected[kind][i], abs=1e-12), (kind, item)


def test_classwise_values_are_each_classes_own_ap_unrounded(tmp_path):
    """classwise=True reports '<class>_precision' per class, which mmdet rounds to 3 decimals: two OHL copies rewarded
    on one class tied. Each is now pycocotools' AP of that class alone (COCOeval with catIds=[its id]); a class
    without ground truth in the images scored is NaN, as mmdet reports it."""
    path = tmp_path / 'ann.json'
    boxes = {1: [10, 10, 40, 40], 2: [60, 60, 30, 30]}  # category id: box, on each of 3 images
    path.write_text(json.dumps({
        'images': [dict(id=i + 1, width=160, height=160, file_name=f'{i}.png') for i in range(3)],
        'annotations': [dict(id=3 * c + i, image_id=i + 1, category_id=c, bbox=b, area=b[2] * b[3], iscrowd=0)
                        for c, b in boxes.items() for i in range(3)],
        'categories': [dict(id=1, name='a'), dict(id=2, name='b'), dict(id=3, name='c')]}))
    # a: IoU 0.86 on every image; b: IoU 1, 0.82, 0.56 on images 1, 2, 3
    shifted = {1: ([[12, 11, 40, 40]] * 3, 0.9), 2: ([[60, 60, 30, 30], [62, 61, 30, 30], [66, 63, 30, 30]], 0.8)}
    dets = [dict(image_id=i + 1, category_id=c, bbox=b[i], score=s) for i in range(3) for c, (b, s) in shifted.items()]
    dets.append(dict(image_id=1, category_id=3, bbox=[100, 100, 20, 20], score=0.7))  # no ground truth of c
    dets.append(dict(image_id=2, category_id=2, bbox=[0, 100, 30, 30], score=0.85))  # a false b above two right
    samples = [dict(img_id=i + 1, ori_shape=(160, 160), pred_instances=dict(
        bboxes=torch.tensor([[x, y, x + w, y + h] for d in dets if d['image_id'] == i + 1
                             for x, y, w, h in [d['bbox']]], dtype=torch.float32),
        scores=torch.tensor([d['score'] for d in dets if d['image_id'] == i + 1]),
        labels=torch.tensor([d['category_id'] - 1 for d in dets if d['image_id'] == i + 1]))) for i in range(3)]
    metric = CocoMetric(ann_file=str(path), metric='bbox', classwise=True)
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, samples)
    values = unrounded_coco_metrics(metric, metric.results)
    rounded = metric.compute_metrics(metric.results)  # mmdet's own
    gt = COCO(str(path))
    for cat, name in ((1, 'a'), (2, 'b')):
        ap = _class_ap(gt, dets, cat)
        assert values[f'{name}_precision'] == pytest.approx(ap, abs=1e-12), name
        assert rounded[f'{name}_precision'] == round(ap, 3)
    assert values['b_precision'] != round(values['b_precision'], 3)  # the example is not a 3-decimal number
    assert np.isnan(values['c_precision']) and np.isnan(rounded['c_precision'])
    assert set(values) == set(rounded)
    evaluator = Evaluator(UnroundedCocoMetric(ann_file=str(path), metric='bbox', classwise=True))
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    assert evaluate_locally(_Replay(), [samples], evaluator)['coco/b_precision'] == values['b_precision']


def test_a_subclass_computing_with_its_own_modules_cocoeval_is_unrounded_too(tmp_path):
    """mmdet's OVCocoMetric (a CocoMetric) runs the COCOeval its own module imported: only coco_metric's name was
    recorded, so its values stayed at 3 decimals (0.337 for pycocotools' 0.3366...) in rewards and NAS scores."""
    from mmdet.evaluation.metrics.ov_coco_metric import OVCocoMetric

    ann = _ann_file(tmp_path)
    stats = _pycocotools_stats(ann)
    metric = OVCocoMetric(ann_file=ann, metric='bbox')
    metric.dataset_meta = dict(classes=('item', ), base_classes=('item', ), novel_classes=())
    metric.process({}, _samples())
    values = unrounded_coco_metrics(metric, metric.results)
    for i, item in enumerate(('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')):
        assert values[f'bbox_{item}'] == pytest.approx(stats[i], abs=1e-12), item
    assert values['bbox_mAP'] != round(values['bbox_mAP'], 3)
    assert values['base_ap'] == pytest.approx(stats[0], abs=1e-12)  # its own extra key, as OVCocoMetric computes it
    import mmdet.evaluation.metrics.ov_coco_metric as ov_module

    assert ov_module.COCOeval is mmdet_coco.COCOeval  # put back


def test_classwise_values_pair_each_class_with_its_own_ap_whatever_the_category_order(tmp_path):
    """COCOeval sorts the category ids; mmdet indexed its precisions by the annotation file's order of categories.
    With categories [{id 2, 'b'}, {id 1, 'a'}] it reported b's AP (1.0, exact box) as a_precision and a's (0.0,
    IoU 0.47) as b_precision; each is now pycocotools' AP of that class alone."""
    path = _categories_not_by_id(tmp_path)
    dets = [dict(image_id=1, category_id=2, bbox=[8, 8, 32, 32], score=0.9),
            dict(image_id=1, category_id=1, bbox=[44, 44, 20, 20], score=0.8)]
    metric = CocoMetric(ann_file=str(path), metric='bbox', classwise=True)
    metric.dataset_meta = dict(classes=('b', 'a'))  # labels 0, 1 are category ids 2, 1
    metric.process({}, _exact_b_and_missed_a())
    values = unrounded_coco_metrics(metric, metric.results)
    gt = COCO(str(path))
    for cat, name in ((2, 'b'), (1, 'a')):
        assert values[f'{name}_precision'] == pytest.approx(_class_ap(gt, dets, cat), abs=1e-12), name
    assert values['b_precision'] == pytest.approx(1.0) and values['a_precision'] == 0.0


def test_the_per_class_table_prints_each_class_with_its_own_ap_whatever_the_category_order(tmp_path, monkeypatch):
    """UnroundedCocoMetric returned each class's own AP but logged mmdet's table, which indexes COCOeval's id-sorted
    precisions by the annotation file's order of categories: with [{id 2, 'b'}, {id 1, 'a'}] it printed
    'b | 0.0 ...' and 'a | 1.0 ...' for b's exact box (1.0) and a's miss (0.0). Each row is now pycocotools' AP of
    that class alone (catIds=[its id]; mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l, 'nan' where it gives -1), as mmdet
    prints it (3 decimals)."""
    from mmengine.logging import MMLogger

    path = _categories_not_by_id(tmp_path)
    dets = [dict(image_id=1, category_id=2, bbox=[8, 8, 32, 32], score=0.9),
            dict(image_id=1, category_id=1, bbox=[44, 44, 20, 20], score=0.8)]
    logged = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'info', lambda msg, *a, **k: logged.append(str(msg)))
    metric = UnroundedCocoMetric(ann_file=str(path), metric='bbox', classwise=True)
    metric.dataset_meta = dict(classes=('b', 'a'))
    metric.process({}, _exact_b_and_missed_a())
    metric.compute_metrics(metric.results)
    table = next(m for m in logged if '| category |' in m)
    rows = {cells[0]: cells[1:] for line in table.splitlines() if line.startswith('| ') and 'category' not in line
            for cells in [[c.strip() for c in line.strip('|').split('|')]]}
    gt = COCO(str(path))
    for cat, name in ((2, 'b'), (1, 'a')):
        expected = [f'{round(float(v), 3)}' if v > -1 else 'nan' for v in _class_stats(gt, dets, cat)[:6]]
        assert rows[name] == expected, name
    assert rows['b'][0] == '1.0' and rows['a'][0] == '0.0'


def test_open_vocabulary_base_and_novel_aps_average_their_own_classes(tmp_path):
    """mmdet's OVCocoMetric averaged base_ap / novel_ap over the classes' positions in the annotation file's order
    of categories, but COCOeval sorts them by id: with [{id 2, 'b'}, {id 1, 'a'}], b the base class (AP 1.0) and a
    the novel one (AP 0.0), it reported base_ap 0.0 and novel_ap 1.0."""
    from mmdet.evaluation.metrics.ov_coco_metric import OVCocoMetric

    path = _categories_not_by_id(tmp_path)
    metric = OVCocoMetric(ann_file=str(path), metric='bbox')
    metric.dataset_meta = dict(classes=('b', 'a'), base_classes=('b', ), novel_classes=('a', ))
    metric.process({}, _exact_b_and_missed_a())
    values = unrounded_coco_metrics(metric, metric.results)
    assert values['base_ap'] == pytest.approx(1.0) and values['base_ap50'] == pytest.approx(1.0)
    assert values['novel_ap'] == 0.0 and values['novel_ap50'] == 0.0


def _twenty_objects(tmp_path):
    """One 200 x 200 image with 20 separate 20 x 20 objects, and a prediction of each box exactly (scores falling):
    AR is 0.05 at 1 detection, 0.5 at 10, 1.0 at 100 (and at any larger count)."""
    boxes = [[30 * (i % 5), 30 * (i // 5), 20, 20] for i in range(20)]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=1, width=200, height=200, file_name='0.png')],
        'annotations': [dict(id=i + 1, image_id=1, category_id=1, bbox=b, area=400, iscrowd=0)
                        for i, b in enumerate(boxes)],
        'categories': [dict(id=1, name='item')]}))
    sample = dict(img_id=1, ori_shape=(200, 200), pred_instances=dict(
        bboxes=torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=torch.float32),
        scores=torch.linspace(0.99, 0.5, 20), labels=torch.zeros(20, dtype=torch.long)))
    return str(path), sample


@pytest.mark.parametrize('cls, options', [(CocoMetric, {}), (UnroundedCocoMetric, {}),
                                          (CocoMetric, dict(use_mp_eval=True))])  # mmdet's COCOevalMP summarizes anew
@pytest.mark.parametrize('kind, items', [('proposal', None), ('bbox', ['AR@100', 'AR@300', 'AR_s@1000'])])
def test_each_ar_key_is_the_recall_at_the_detections_it_names(tmp_path, cls, options, kind, items):
    """mmdet's keys AR@100 / AR@300 / AR@1000 / AR_<area>@1000 take COCOeval.stats[6..11], the recall at the
    first, second and third of its sorted maxDets, which are ``proposal_nums``: with proposal_nums=(1, 10, 100)
    (pycocotools' own maxDets) 'AR@100' read the recall of 1 detection per image (0.05 where every object was found
    at 100: 1.0), 'AR@1000' the recall of 100. Each key is the recall at the count it names (pycocotools' summary at
    that maxDets), -1 where that count was not evaluated, as pycocotools gives an AP or AR it did not compute."""
    ann, sample = _twenty_objects(tmp_path)
    metric = cls(ann_file=ann, metric=kind, proposal_nums=(1, 10, 100), metric_items=items, **options)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    values = unrounded_coco_metrics(metric, metric.results)
    prefix = '' if kind == 'proposal' else 'bbox_'
    assert values[f'{prefix}AR@100'] == 1.0
    assert values[f'{prefix}AR@300'] == -1.0
    assert values[f'{prefix}AR_s@1000'] == -1.0
    if kind == 'proposal':
        assert values['AR@1000'] == values['AR_m@1000'] == values['AR_l@1000'] == -1.0
    # at mmdet's default proposal_nums (100, 300, 1000) the keys name the counts evaluated: COCOeval's stats as they are
    metric = cls(ann_file=ann, metric=kind, metric_items=items, **options)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    values = unrounded_coco_metrics(metric, metric.results)
    assert values[f'{prefix}AR@100'] == values[f'{prefix}AR@300'] == values[f'{prefix}AR_s@1000'] == 1.0
