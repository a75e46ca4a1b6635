"""check_category_order: a metric that reads per-class APs (mmdet's ``CocoMetric(classwise=True)``,
``OVCocoMetric``'s base_ap / novel_ap) by each class's position among categories not listed by ascending id gives a
class another's AP, silently: refused naming the evaluator; order-free metrics, LVIS and sorted categories pass."""
from __future__ import annotations

import pytest

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_order import (
    check_category_order,
)
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import (
    BY_NAME,
    _classwise_cfg,
    _OwnOrderCocoMetric,
    _PlainCocoSubclass,
    _SortedCategoriesCocoMetric,
)


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
