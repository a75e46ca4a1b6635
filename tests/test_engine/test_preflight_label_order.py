"""check_label_order: mmdet's ``CocoMetric(sort_categories=True)`` labels categories by ascending id, a plain
``CocoDataset`` in its file's order: over a file not listed by id every prediction is credited to another class.
Refused naming both keys, in every evaluator / loader pair."""
from __future__ import annotations

import json

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import (
    BY_NAME,
    _classwise_cfg,
    _mmdet_coco_dataset,
    _OwnOrderCocoMetric,
    _SortedCategoriesCocoMetric,
)


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
