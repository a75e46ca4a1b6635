"""A val / test loader whose ``DefaultSampler`` shuffles is refused where its metric pairs results with images by
order: mmdet's ``CocoMetric(metric='proposal_fast', ann_file=...)`` pairs the i-th result with the i-th image of its
annotation file (``fast_eval_recall``), so proposals read in a shuffled order were scored against other images'
boxes, silently. The other COCO metrics pair by ``img_id`` and pass."""
from __future__ import annotations

import json

import pytest
import torch

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_order import (
    check_category_order,
    check_metric_order,
    check_recall_metrics,
    recall_box_counts,
)
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import synthcoco_detector_cfg


def _proposal_fast_recall(ann_file: str, order: list[int]) -> float:
    """mmdet's ``proposal_fast`` AR@100 of perfect proposals (each image's own boxes) fed in ``order`` (positions
    in the annotation file)."""
    from mmdet.evaluation import CocoMetric

    with open(ann_file) as f:
        coco = json.load(f)
    metric = CocoMetric(ann_file=ann_file, metric='proposal_fast', proposal_nums=(100, ))
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in coco['categories']))
    for i in order:
        image = coco['images'][i]
        boxes = [a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id']]
        xyxy = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=torch.float32).reshape(-1, 4)
        metric.process({}, [dict(img_id=image['id'], ori_shape=(image['height'], image['width']), gt_instances={},
                                 pred_instances=dict(bboxes=xyxy, scores=torch.ones(len(xyxy)),
                                                     labels=torch.zeros(len(xyxy), dtype=torch.long)))])
    return metric.evaluate(len(order))['coco/AR@100']


def _one_box_per_image(path: str) -> str:
    """A COCO file of 3 images of one box each, at other places (mmdet 3.3's ``eval_recalls`` stacks the IoU
    matrices of all images with ``np.array``, which numpy >= 1.24 refuses for images of unequal box counts)."""
    images = [dict(id=i + 1, file_name=f'{i + 1:06d}.png', height=64, width=64) for i in range(3)]
    boxes = [[2, 2, 10, 10], [30, 30, 12, 12], [40, 5, 20, 8]]
    annotations = [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                   for i, b in enumerate(boxes)]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=[dict(id=1, name='a')]), f)
    return path


def test_mmdet_proposal_fast_depends_on_the_order_read(tmp_path):
    """The fault the check prevents: the same perfect proposals, in file order and in another order."""
    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)
    assert _proposal_fast_recall(ann_file, [2, 0, 1]) == pytest.approx(0.0)


def _proposal_fast_cfg(coco_root, sampler):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.metric = ['bbox', 'proposal_fast']
    cfg.val_dataloader.sampler = sampler
    return cfg


@pytest.mark.parametrize('sampler, given', [
    (dict(type='DefaultSampler', shuffle=True), r'shuffle=True'),
    (dict(type='DefaultSampler'), r'no shuffle \(DefaultSampler shuffles by default\)'),
])
def test_a_shuffled_val_loader_of_proposal_fast_is_refused_naming_the_key(coco_root, sampler, given):
    with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.shuffle: val_dataloader\.sampler is "
                                               rf"DefaultSampler with {given}, but val_evaluator \(CocoMetric, "
                                               r"metric='proposal_fast'\) pairs the i-th result .* Set val_dataloader"
                                               r"\.sampler=dict\(type='DefaultSampler', shuffle=False\)"):
        check_config(_proposal_fast_cfg(coco_root, sampler))


def test_test_loader_and_evaluator_lists_are_named_and_the_test_only_check_reads_its_split(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator = [dict(type='mmdet.CocoMetric', ann_file=cfg.test_evaluator.ann_file, metric='bbox'),
                          dict(type='LVISMetric', ann_file='x.json', metric='proposal_fast')]
    cfg.test_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(ConfigCheckError, match=r"^test_dataloader\.sampler\.shuffle: .* but test_evaluator\[1\] "
                                               r"\(LVISMetric, metric='proposal_fast'\)"):
        check_metric_order(cfg, 'mmdet', test_only=True)
    check_metric_order(cfg, 'mmdet', test_only=True, split='val')  # the val split alone: not read


def test_in_order_or_order_free_metrics_pass(coco_root):
    cfg = _proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False))
    cfg.val_evaluator.type = 'automl_mm.UnroundedCocoMetric'  # (mmdet's own proposal_fast: check_recall_metrics)
    check_config(cfg)
    cfg = synthcoco_detector_cfg(coco_root)  # bbox pairs by img_id: any order
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    check_config(cfg)
    cfg.val_evaluator = dict(type='CocoMetric', metric='proposal_fast')  # no ann_file: mmdet's gt in results order
    check_metric_order(cfg, 'mmdet')


def _categories_renumbered(coco_root: str, ids: dict[str, int]) -> str:
    """The generated val file with its categories (rectangle, ellipse, triangle, in that order) given ``ids``;
    written beside it, returned relative to the data root."""
    import os.path as osp

    with open(osp.join(coco_root, 'annotations/instances_val.json')) as f:
        coco = json.load(f)
    old = {c['id']: c['name'] for c in coco['categories']}
    for c in coco['categories']:
        c['id'] = ids[c['name']]
    for a in coco['annotations']:
        a['category_id'] = ids[old[a['category_id']]]
    name = 'annotations/instances_val_' + '_'.join(str(i) for i in ids.values()) + '.json'
    with open(osp.join(coco_root, name), 'w') as f:
        json.dump(coco, f)
    return name


def _classwise_cfg(coco_root: str, ids: dict[str, int], **metric):
    import os.path as osp

    cfg = synthcoco_detector_cfg(coco_root)
    name = _categories_renumbered(coco_root, ids)
    cfg.val_dataloader.dataset.ann_file = cfg.test_dataloader.dataset.ann_file = name
    cfg.val_evaluator = dict(type='CocoMetric', ann_file=osp.join(coco_root, name), metric='bbox', classwise=True)
    cfg.val_evaluator.update(metric)
    cfg.test_evaluator = cfg.val_evaluator
    return cfg


BY_NAME = {'rectangle': 3, 'ellipse': 2, 'triangle': 1}  # listed 3, 2, 1: not by ascending id


def test_mmdet_classwise_values_on_categories_not_listed_by_id_are_refused_naming_the_evaluator(coco_root):
    """mmdet's CocoMetric(classwise=True) on a file listing its categories [3: rectangle, 2: ellipse, 1: triangle]:
    its table and 'coco/<class>_precision' gave rectangle triangle's AP and back (test_coco_unrounded shows the
    values), silently."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric, classwise=True\) reads per-class APs of "
                                               r".*instances_val_3_2_1\.json, whose categories are not listed by "
                                               r"ascending id \(3: 'rectangle', 2: 'ellipse', 1: 'triangle'\): .* "
                                               r"set val_evaluator\.type='automl_mm\.UnroundedCocoMetric'"):
        check_config(cfg)
    with pytest.raises(ConfigCheckError, match=r"^test_evaluator \(CocoMetric"):
        check_config(cfg, test_only=True)


def test_open_vocabulary_base_and_novel_aps_on_categories_not_listed_by_id_are_refused(coco_root):
    cfg = _classwise_cfg(coco_root, BY_NAME, type='mmdet.OVCocoMetric', classwise=False)
    cfg.val_evaluator = [dict(type='Accuracy'), cfg.val_evaluator]
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\[1\] \(OVCocoMetric, base_ap / novel_ap\) .* To fix "
                                               r"it, list the file's categories by ascending id$"):
        check_category_order(cfg, 'automl_mm', {cfg.val_evaluator[1].ann_file: [(3, 'rectangle'), (1, 'ellipse')]})


@pytest.mark.parametrize('ids, metric', [
    (BY_NAME, dict(type='automl_mm.UnroundedCocoMetric')),  # each class's own AP
    (BY_NAME, dict(classwise=False)),  # no per-class values
    ({'rectangle': 4, 'ellipse': 9, 'triangle': 12}, {}),  # ascending, not 1..K: COCOeval's order
])
def test_unrounded_not_classwise_or_ids_in_order_pass(coco_root, ids, metric):
    check_config(_classwise_cfg(coco_root, ids, **metric))


def test_only_the_categories_the_loader_names_are_compared(coco_root):
    """mmdet's cat_ids are the file's categories named by the dataset's classes, in the file's order."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (1, 'ellipse'), (2, 'triangle')]}
    cfg.val_dataloader.dataset.metainfo = dict(classes=('ellipse', 'triangle'))
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')  # 1, 2
    cfg.val_dataloader.dataset.metainfo = dict(classes=('rectangle', 'ellipse'))
    with pytest.raises(ConfigCheckError, match=r"\(3: 'rectangle', 1: 'ellipse'\)"):
        check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')


def test_sorted_categories_are_not_refused(coco_root):
    """mmdet's CocoMetric(sort_categories=True) (objects365v1_detection.py's val_evaluator) sorts the file's
    categories by id before taking its cat_ids: classwise=True on a file listing [3, 2, 1] reads each class's AP by
    its own position, so check_category_order passes it (the labels of a CocoDataset, in the file's order, are not
    the metric's: check_label_order refuses that pairing)."""
    cfg = _classwise_cfg(coco_root, BY_NAME, sort_categories=True)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing)
    cfg.val_evaluator.sort_categories = False
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric, classwise=True\)"):
        check_category_order(cfg, 'mmdet', listing)


def test_format_only_metrics_are_not_refused(coco_root):
    """mmdet's CocoMetric(format_only=True) (coco_detection.py's test-dev test_evaluator) writes the results file and
    returns before computing any metric: neither proposal_fast's recall (by position, or stopping on unequal box
    counts) nor classwise APs are read."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    counts = {cfg.val_evaluator.ann_file: (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.test_evaluator = None
    for metric, check in ((dict(classwise=True), lambda: check_category_order(cfg, 'mmdet', listing)),
                          (dict(metric='proposal_fast'), lambda: check_metric_order(cfg, 'mmdet')),
                          (dict(metric='proposal_fast'), lambda: check_recall_metrics(cfg, 'mmdet',
                                                                                      box_counts=counts))):
        cfg.val_evaluator.update(metric, format_only=False)
        with pytest.raises(ConfigCheckError, match=r'val_(evaluator|dataloader)'):
            check()
        cfg.val_evaluator.format_only = True
        check()


def test_mmdet_proposal_fast_is_refused_where_its_recall_stops_naming_the_evaluator(coco_root):
    """mmdet 3.3's eval_recalls stops on images of unequal box counts under numpy >= 1.24 (the generated val set
    has 1 to 3 objects per image): proposal_fast failed at the first validation, after training."""
    cfg = _proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False))
    with open(cfg.val_evaluator.ann_file) as f:
        (first, n), (other, m) = recall_box_counts(json.load(f))
    assert n != m
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric, metric='proposal_fast'\) computes its "
                                               r"recall with mmdet's eval_recalls, which stops .*: in "
                                               rf".*instances_val\.json, image {first} has {n} ground-truth boxes "
                                               rf"and image {other} {m}\. To fix it, set "
                                               r"val_evaluator\.type='automl_mm\.UnroundedCocoMetric'"):
        check_config(cfg)
    cfg.val_evaluator.type = 'automl_mm.UnroundedCocoMetric'  # computes it for any counts
    check_config(cfg)


def test_mmdet_proposal_fast_on_equal_box_counts_is_warned_not_refused(tmp_path, monkeypatch):
    """Every image of one box (and proposal): mmdet's own eval_recalls runs (AR@100 1.0 above), so it is not
    refused; a crowd box is not counted (mmdet skips it), LVIS counts it; unread files and VOC are refused, saying
    why the counts are not known at the start."""
    from mmengine.config import Config

    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    with open(ann_file) as f:
        coco = json.load(f)
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)  # mmdet's own, this numpy
    cfg = Config(dict(val_evaluator=dict(type='CocoMetric', ann_file=ann_file, metric='proposal_fast')))
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    assert counts[ann_file][0] == ((1, 1), )
    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    assert len(logged) == 1 and logged[0].startswith("val_evaluator (CocoMetric, metric='proposal_fast') computes")
    assert f'Every image of {ann_file} has 1 ground-truth boxes, so it stops only where the model gives two images ' \
           'different numbers of proposals below 1000' in logged[0]
    coco['annotations'].append(dict(id=9, image_id=2, category_id=1, bbox=[0, 0, 4, 4], area=16, iscrowd=1))
    assert recall_box_counts(coco) == ((1, 1), )
    assert recall_box_counts(coco, every_box=True) == ((1, 1), (2, 2))
    assert recall_box_counts(dict(coco, annotations=coco['annotations'] + [dict(image_id=[2])])) == ((1, 1), )
    assert recall_box_counts(dict(coco, images=[dict(id=[1])])) is None  # (was TypeError: unhashable type 'list')
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    cfg.val_evaluator.type = 'LVISMetric'
    with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it, drop "
                                               r"'proposal_fast' from val_evaluator\.metric"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    with pytest.raises(ConfigCheckError, match=rf"\({ann_file} was not read at the start: images of equal box "
                                               r"counts cannot be told from unequal ones before the first evaluation"):
        check_recall_metrics(cfg, 'mmdet')
    cfg.val_evaluator = dict(type='VOCMetric', metric='recall')
    with pytest.raises(ConfigCheckError, match=r"\(its ground-truth boxes are the dataset's as loaded, not read at "
                                               r"the start: .* drop 'recall'"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)


def test_voc_recall_is_refused_in_any_evaluator_and_coco_rewards_pass():
    from mmengine.config import Config

    cfg = Config(dict(val_evaluator=dict(type='Accuracy'),
                      custom_hooks=[dict(type='OHLHook', reward_evaluator=[
                          dict(type='mmdet.CocoMetric', metric='proposal_fast'),  # read by automl_mm: any counts
                          dict(type='mmdet.VOCMetric', metric=['mAP', 'recall'])])]))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_evaluator\[1\] \(VOCMetric, "
                                               r"metric='recall'\) .* drop 'recall' from custom_hooks\[0\]\."
                                               r"reward_evaluator\[1\]\.metric"):
        check_recall_metrics(cfg, 'automl_mm')
    check_recall_metrics(cfg, 'automl_mm', test_only=True)  # tools/test.py reads the test evaluator alone
    cfg.custom_hooks[0].reward_evaluator.pop()
    check_recall_metrics(cfg, 'automl_mm')


def test_lvis_classwise_values_are_not_refused_on_categories_not_listed_by_id(coco_root):
    """mmdet's LVISMetric(classwise=True) reads LVISEval's precisions by each class's position in its cat_ids, and
    LVISEval (lvis-api ``evaluate`` / ``accumulate``) keeps ``params.cat_ids`` in the order given (COCOeval sorts
    them): each class gets its own AP in any file order, so nothing is refused."""
    cfg = _classwise_cfg(coco_root, BY_NAME, type='LVISMetric')
    check_category_order(cfg, 'mmdet', {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'),
                                                                     (1, 'triangle')]})


def test_without_metainfo_the_dataset_type_s_classes_are_compared(coco_root):
    """A val dataset without metainfo takes its type's METAINFO classes (mmdet's CocoDataset: COCO's 80), and
    mmdet's cat_ids are the file's categories of those names: a file listing person 1, bicycle 2 and then an
    unused 'extra' 0 gives cat_ids [1, 2], in order (it was refused comparing 1, 2, 0)."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    cfg.val_dataloader.dataset.pop('metainfo', None)
    cfg.val_dataloader.dataset.type = 'CocoDataset'
    listing = {cfg.val_evaluator.ann_file: [(1, 'person'), (2, 'bicycle'), (0, 'extra')]}
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    listing = {cfg.val_evaluator.ann_file: [(2, 'bicycle'), (1, 'person'), (0, 'extra')]}
    with pytest.raises(ConfigCheckError, match=r"\(2: 'bicycle', 1: 'person'\)"):
        check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')


def _mmdet_coco_metric():
    from mmdet.evaluation import CocoMetric

    return CocoMetric


class _OwnOrderCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric that reads each class's own AP (through automl_mm's unrounded reading)."""

    def compute_metrics(self, results):
        from automl_mm.evaluation.coco import unrounded_coco_metrics

        return unrounded_coco_metrics(self, results, compute=_mmdet_coco_metric().compute_metrics)


class _PlainCocoSubclass(_mmdet_coco_metric()):
    """A user's CocoMetric subclass that keeps mmdet's per-class reading."""


class _SortedCategoriesCocoMetric(_mmdet_coco_metric()):
    """A user's 'fix' that re-lists the file's categories by id before mmdet reads them: the per-class APs are read
    by the right position, but mmdet's cat_ids are then in id order while the dataset's labels follow the file's
    order, so each detection is credited to another class."""

    def compute_metrics(self, results):
        self._coco_api.dataset['categories'].sort(key=lambda c: c['id'])
        self._coco_api.createIndex()
        return super().compute_metrics(results)


@pytest.mark.parametrize('metric_cls, aps', [
    (_OwnOrderCocoMetric, (1, 0)), (_PlainCocoSubclass, (0, 1)), (_SortedCategoriesCocoMetric, (0, 0))])
def test_a_users_coco_metric_is_refused_only_where_it_gives_a_class_another_s_ap(coco_root, metric_cls, aps):
    """Evaluated on a 1-image file of categories [2: 'b', 1: 'a'] with a's exact box: each class's own AP is
    a 1.0, b 0.0 (a user's subclass was refused by its class alone until the forty-ninth session)."""
    from automl_mm.engine.preflight_metric_order import _probe_class_aps

    assert _probe_class_aps(metric_cls, {}) == aps
    cfg = _classwise_cfg(coco_root, BY_NAME)
    cfg.val_evaluator.type = metric_cls
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    if aps != (1, 0):
        with pytest.raises(ConfigCheckError, match=rf"^val_evaluator \({metric_cls.__name__}, classwise=True\) reads "
                                                   r"per-class APs .* silently \(.*, evaluated on a file of categories "
                                                   rf"listed \[2: 'b', 1: 'a'\] with a's exact box alone, reported "
                                                   rf"a_precision={aps[0]} and b_precision={aps[1]}, not 1 and 0\)"):
            check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    else:
        check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')


@pytest.mark.parametrize('wrap', [
    lambda d: dict(type='RepeatDataset', times=2, dataset=d),
    lambda d: dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=dict(type='RepeatDataset', times=1,
                                                                                 dataset=d)),
    lambda d: dict(type='ConcatDataset', datasets=[d, dict(d, metainfo=dict(classes=('rectangle', 'ellipse')))]),
])
def test_the_classes_of_a_wrapped_val_set_are_the_inner_dataset_s(coco_root, wrap):
    """The scored categories of a wrapped dataset are its inner dataset's classes (a ConcatDataset: its first's):
    ellipse 1, triangle 2 are in id order, and the file's rectangle 3, listed first, is not scored (it was compared,
    and refused, as if the classes were not known)."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (1, 'ellipse'), (2, 'triangle')]}
    inner = dict(cfg.val_dataloader.dataset, metainfo=dict(classes=('ellipse', 'triangle')))
    cfg.val_dataloader.dataset = wrap(inner)
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    inner['metainfo'] = dict(classes=('rectangle', 'ellipse'))
    cfg.val_dataloader.dataset = wrap(inner)
    with pytest.raises(ConfigCheckError, match=r"\(3: 'rectangle', 1: 'ellipse'\)"):
        check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')


def test_unknown_classes_are_warned_not_refused(coco_root, monkeypatch):
    cfg = _classwise_cfg(coco_root, BY_NAME)
    cfg.val_dataloader.dataset = dict(type='NotARegisteredDataset', ann_file='x.json')
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (1, 'ellipse'), (2, 'triangle')]}
    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1 and logged[0].startswith(
        "val_evaluator (CocoMetric, classwise=True) reads per-class APs by the position of ") and \
        "and val_dataloader's classes (the categories it scores) are not known here" in logged[0]


class _RaggedRecallCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric whose proposal_fast recall takes any box counts (automl_mm's eval_recalls in mmdet's
    place)."""

    def fast_eval_recall(self, results, proposal_nums, iou_thrs, logger=None):
        import mmdet.evaluation.metrics.coco_metric as coco_metric

        from automl_mm.evaluation.recall import eval_recalls

        kept, coco_metric.eval_recalls = coco_metric.eval_recalls, eval_recalls
        try:
            return super().fast_eval_recall(results, proposal_nums, iou_thrs, logger)
        finally:
            coco_metric.eval_recalls = kept


@pytest.mark.parametrize('metric_cls, refused', [(_RaggedRecallCocoMetric, False), (_PlainCocoSubclass, True)])
def test_a_users_proposal_fast_is_refused_only_where_it_stops_on_unequal_counts(tmp_path, metric_cls, refused):
    """Evaluated on two images of 1 and 2 boxes: mmdet's own eval_recalls stops, the user's replacement does not
    (it was refused by its class alone)."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_metric_order import _probe_recall_stops

    assert _probe_recall_stops(metric_cls, {}) is refused
    cfg = Config(dict(val_evaluator=dict(type=metric_cls, ann_file='ann.json', metric='proposal_fast')))
    counts = {'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    if refused:
        with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it"):
            check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    else:
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)


class _ImageIdOrderCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric whose proposal_fast pairs each result with its own image (by img_id)."""

    def fast_eval_recall(self, results, *args, **kwargs):
        order = {image: i for i, image in enumerate(self.img_ids)}
        return super().fast_eval_recall(sorted(results, key=lambda r: order[r['img_id']]), *args, **kwargs)


@pytest.mark.parametrize('metric_cls, pairs', [(_ImageIdOrderCocoMetric, False), (_PlainCocoSubclass, True)])
def test_a_users_proposal_fast_under_a_shuffled_loader_is_refused_only_where_it_pairs_by_position(metric_cls, pairs):
    """Each image's exact box read in the order [3, 1, 2]: AR@1 0.0 where the metric pairs by position (refused by
    its class alone until the forty-ninth session), 1.0 where by img_id."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_metric_order import _probe_pairs_by_position

    assert _probe_pairs_by_position(metric_cls, {}) is pairs
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=metric_cls, ann_file='ann.json', metric='proposal_fast')))
    if pairs:
        with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.shuffle: .* but val_evaluator "
                                                   rf"\({metric_cls.__name__}, metric='proposal_fast'\) pairs"):
            check_metric_order(cfg, 'mmdet')
    else:
        check_metric_order(cfg, 'mmdet')


def _exact_box_map(sort_categories: bool, dataset_type: str, tmp_path) -> float:
    """mmdet's own bbox_mAP of the exact box of 'a' on a file of categories listed [2: 'b', 1: 'a'], labelled as
    mmdet's ``dataset_type`` labels it (no images read: the label of its data list)."""
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import DATASETS

    from automl_mm.engine.preflight_metric_order import _PROBE_COCO, _process_exact_boxes

    path = str(tmp_path / 'b_a.json')
    coco = dict(_PROBE_COCO, annotations=_PROBE_COCO['annotations'][:1])  # a's box alone
    with open(path, 'w') as f:
        json.dump(coco, f)
    dataset = DATASETS.get(dataset_type)(ann_file=path, metainfo=dict(classes=('b', 'a')), data_prefix=dict(img=''),
                                         pipeline=[], test_mode=True)
    label = dataset.get_data_info(0)['instances'][0]['bbox_label']
    metric = CocoMetric(ann_file=path, metric='bbox', sort_categories=sort_categories)
    metric.dataset_meta = dataset.metainfo
    _process_exact_boxes(metric, coco, 1, label=label)
    return metric.compute_metrics(metric.results)['bbox_mAP']


def _mmdet_coco_dataset():
    from mmdet.datasets import CocoDataset

    return CocoDataset


@pytest.mark.parametrize('sort_categories, dataset_type, expected', [
    (False, 'CocoDataset', 1.0), (True, 'CocoDataset', 0.0), (True, 'Objects365V1Dataset', 1.0),
    (False, 'Objects365V1Dataset', 0.0), (True, 'Objects365V2Dataset', 0.0)])
def test_mmdet_sort_categories_scores_labels_of_a_dataset_that_sorts_alike(tmp_path, sort_categories, dataset_type,
                                                                           expected):
    """The fault check_label_order refuses: mmdet's CocoMetric(sort_categories=True) maps label i to the i-th
    category by id, a plain CocoDataset (and Objects365V2Dataset) labels them in the file's order; only
    Objects365V1Dataset sorts alike. An exact box scores 0.0 where the two orders differ."""
    assert _exact_box_map(sort_categories, dataset_type, tmp_path) == expected


class _SortingCocoDataset(_mmdet_coco_dataset()):
    """A user's CocoDataset that labels the categories by ascending id (as Objects365V1Dataset does)."""

    def load_data_list(self):
        data_list = super().load_data_list()
        self.cat_ids = sorted(self.cat_ids)
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        return data_list


class _PlainCocoDataset(_mmdet_coco_dataset()):
    """A user's CocoDataset subclass that keeps the file's order (its load is mmdet's)."""


def test_sort_categories_over_a_dataset_that_does_not_sort_is_refused_naming_both_keys(coco_root):
    """CocoMetric(sort_categories=True) over a CocoDataset of a file listing [3, 2, 1] credited every prediction to
    another class (it passed check_config until the forty-ninth session); a dataset that sorts alike
    (Objects365V1Dataset, a user's class whose load sorts) passes, and the mirror (Objects365V1Dataset under a
    plain CocoMetric) is refused; a user's metric class is judged by how it labels (one that sorts the categories
    itself is refused over a CocoDataset without any sort_categories)."""
    from automl_mm.engine.preflight_label_order import check_label_order

    cfg = _classwise_cfg(coco_root, BY_NAME, sort_categories=True, classwise=False)
    path = cfg.val_evaluator.ann_file
    listing = {path: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric\) labels categories by ascending id "
                                               r"\(sort_categories=True\) of .*instances_val_3_2_1\.json: \[1, 2, 3\], "
                                               r"but val_dataloader\.dataset \(CocoDataset\) labels them in the file's "
                                               r"order of .*: \[3, 2, 1\]; .* list .*instances_val_3_2_1\.json's "
                                               r"categories by ascending id, or drop val_evaluator\.sort_categories, "
                                               r"or use a dataset type that sorts"):
        check_config(cfg)
    with pytest.raises(ConfigCheckError, match=r'^test_evaluator \(CocoMetric\) .* test_dataloader\.dataset '):
        check_label_order(cfg, 'mmdet', listing, test_only=True)
    check_label_order(cfg, 'mmdet', {path: [(1, 'triangle'), (2, 'ellipse'), (3, 'rectangle')]})  # listed by id
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.type = 'Objects365V1Dataset'
    check_label_order(cfg, 'mmdet', listing)  # (objects365v1_detection.py's pairing)
    cfg.val_evaluator = dict(cfg.val_evaluator, sort_categories=False)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric\) labels categories in the file's order "
                                               r".*\[3, 2, 1\], but val_dataloader\.dataset \(Objects365V1Dataset\) "
                                               r"labels them by ascending id .*\[1, 2, 3\]; .* set "
                                               r"val_evaluator\.sort_categories=True"):
        check_label_order(cfg, 'mmdet', listing)
    cfg.val_evaluator.sort_categories = True
    cfg.val_dataloader.dataset.type = 'CocoDataset'
    for metric_cls, refused in ((_SortedCategoriesCocoMetric, True), (_OwnOrderCocoMetric, False)):
        cfg.val_evaluator = dict(cfg.val_evaluator, type=metric_cls, sort_categories=False)  # (judged by its labels)
        if refused:
            with pytest.raises(ConfigCheckError, match=rf'^val_evaluator \({metric_cls.__name__}\) labels categories '
                                                       r'by ascending id of .* but val_dataloader\.dataset '
                                                       r'\(CocoDataset\) .* use a dataset type that sorts'):
                check_label_order(cfg, 'mmdet', listing)
        else:
            check_label_order(cfg, 'mmdet', listing)
    cfg.val_evaluator = dict(cfg.val_evaluator, type='CocoMetric', sort_categories=True)
    for dataset_type, refused in ((_SortingCocoDataset, False), (_PlainCocoDataset, True)):
        cfg.val_dataloader.dataset.type = dataset_type
        if refused:
            with pytest.raises(ConfigCheckError, match=r'^val_evaluator \(CocoMetric\)'):
                check_label_order(cfg, 'mmdet', listing)
        else:
            check_label_order(cfg, 'mmdet', listing)


def test_label_order_is_compared_for_reward_and_search_evaluators_wrappers_and_other_files(coco_root):
    """The same fault elsewhere: an OHL reward evaluator and a NAS search evaluator over their own loaders, a
    wrapped dataset (RepeatDataset), and a metric whose ann_file lists the categories in another order than the
    dataset's file (each label credited to another class without sort_categories at all)."""
    from automl_mm.engine.preflight_label_order import check_label_order

    cfg = _classwise_cfg(coco_root, BY_NAME, classwise=False)
    path = cfg.val_evaluator.ann_file
    listing = {path: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_label_order(cfg, 'mmdet', listing)
    sorting = dict(cfg.val_evaluator, sort_categories=True)
    wrapped = dict(cfg.val_dataloader, dataset=dict(type='RepeatDataset', times=2, dataset=cfg.val_dataloader.dataset))
    cfg.custom_hooks = [dict(type='OHLHook', reward_evaluator=sorting, reward_dataloader=wrapped)]
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\]\.reward_evaluator \(CocoMetric\) labels categories '
                                               r'by ascending id .* but custom_hooks\[0\]\.reward_dataloader\.dataset'
                                               r'\.dataset \(CocoDataset\)'):
        check_label_order(cfg, 'mmdet', listing)
    check_label_order(cfg, 'mmdet', listing, test_only=True)  # (test only: the reward pair is not read)
    cfg.custom_hooks = []
    cfg.train_cfg = dict(type='CRNASLoop', search_evaluator=[dict(type='CocoMetric', ann_file=path), sorting],
                         search_dataloader=cfg.val_dataloader)
    with pytest.raises(ConfigCheckError, match=r'^train_cfg\.search_evaluator\[1\] \(CocoMetric\) .* but '
                                               r'train_cfg\.search_dataloader\.dataset \(CocoDataset\)'):
        check_label_order(cfg, 'mmdet', listing)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop')
    other = path.replace('.json', '_other.json')
    cfg.val_evaluator.ann_file = other
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric\) labels categories in the file's order "
                                               r"of .*_other\.json: \[1, 2, 3\], but val_dataloader\.dataset "
                                               r"\(CocoDataset\) labels them in the file's order of .*: \[3, 2, 1\]; "
                                               r".* give val_evaluator\.ann_file and val_dataloader\.dataset\.ann_file "
                                               r'the same categories in the same order'):
        check_label_order(cfg, 'mmdet', dict(listing, **{other: [(1, 'triangle'), (2, 'ellipse'), (3, 'rectangle')]}))


class _PaletteCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric of its own compute_metrics and fast_eval_recall that read dataset_meta['palette'], which
    the probes' metric is not given: none of them can judge it."""

    def compute_metrics(self, results):
        self.dataset_meta['palette']
        return super().compute_metrics(results)

    def fast_eval_recall(self, results, *args, **kwargs):
        self.dataset_meta['palette']
        return super().fast_eval_recall(results, *args, **kwargs)


def test_a_users_metric_the_probes_cannot_judge_is_warned_of(coco_root, monkeypatch):
    """The probes of check_metric_order, check_category_order and check_recall_metrics skipped a user's class of its
    own code they could not run without a word (the check the user relied on silently did not run); each now warns,
    naming the metric's key and type and the error, and still does not refuse it."""
    import re

    from mmengine.config import Config

    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=_PaletteCocoMetric, ann_file='ann.json', metric='proposal_fast')))
    check_metric_order(cfg, 'mmdet')
    head = r"val_evaluator \(_PaletteCocoMetric, metric='proposal_fast'\) was not checked "
    assert len(logged) == 1 and re.match(head + r'against val_dataloader\.sampler, which shuffles: .*\(KeyError: '
                                                r"'palette'\)", logged[0]), logged
    logged.clear()
    check_recall_metrics(cfg, 'mmdet', box_counts={'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))})
    assert len(logged) == 1 and re.match(head + r"for images of unequal box counts.*\(KeyError: 'palette'\)",
                                         logged[0]), logged
    logged.clear()
    cfg = _classwise_cfg(coco_root, BY_NAME)
    cfg.val_evaluator.type = _PaletteCocoMetric
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1 and re.match(r'val_evaluator \(_PaletteCocoMetric, classwise=True\) was not checked for '
                                         r".*\(KeyError: 'palette'\)", logged[0]), logged
    # the ones the probes judge are not warned of
    logged.clear()
    check_recall_metrics(Config(dict(val_evaluator=dict(type=_RaggedRecallCocoMetric, ann_file='ann.json',
                                                        metric='proposal_fast'))),
                         'mmdet', box_counts={'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))})
    cfg.val_evaluator.type = _OwnOrderCocoMetric
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert logged == []


class _HalfRecallCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric of its own fast_eval_recall that runs on the probe's file and reports AR@1 0.5: neither
    by position (0) nor by img_id (1)."""

    def fast_eval_recall(self, results, proposal_nums, *args, **kwargs):
        import numpy as np

        return np.full(len(proposal_nums), 0.5)


def _users_ov_metric_of_its_own_compute():
    from mmdet.evaluation.metrics import OVCocoMetric

    class _OwnComputeOVCocoMetric(OVCocoMetric):
        def compute_metrics(self, results):
            return dict(base_ap=0.0, novel_ap=0.0)

    return _OwnComputeOVCocoMetric


def test_the_unjudged_warnings_do_not_say_a_probe_that_ran_could_not(coco_root, monkeypatch):
    """The warnings of 8ea2520 said the class 'could not be evaluated' also where the probe ran and its values said
    neither (an AR@1 of 0.5), and, for an open-vocabulary metric's base_ap / novel_ap, where no probe runs at all
    ('could not be evaluated on a file ... (its base_ap / novel_ap are not probed here)')."""
    import re

    from mmengine.config import Config

    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=_HalfRecallCocoMetric, ann_file='ann.json', metric='proposal_fast')))
    check_metric_order(cfg, 'mmdet')
    assert len(logged) == 1 and re.search(r'_HalfRecallCocoMetric, probed on three images read in another order, gave '
                                          r'no answer \(its AR@1 was 0\.5, neither 0', logged[0]), logged
    assert 'could not be evaluated' not in logged[0], logged
    logged.clear()
    cfg = _classwise_cfg(coco_root, BY_NAME, type=_users_ov_metric_of_its_own_compute(), classwise=False)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1 and re.search(r"\(_OwnComputeOVCocoMetric, base_ap / novel_ap\) was not checked .*: "
                                          r"_OwnComputeOVCocoMetric's base_ap / novel_ap are not probed here",
                                          logged[0]), logged
    assert 'could not be evaluated' not in logged[0], logged
