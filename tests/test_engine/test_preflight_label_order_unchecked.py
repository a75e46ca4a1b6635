"""check_label_order skipped a COCO dataset whose label order it could not tell (a user's class its probe cannot
build, or one whose class names are not known here) without a word: the check a user relied on silently did not run.
It now warns once, naming the dataset's key and type and why; mmdet's own classes are not warned of."""
from __future__ import annotations

import pytest

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight_label_order import check_label_order
from tests.test_engine._metric_order_helpers import BY_NAME, _classwise_cfg, _mmdet_coco_dataset


class _ExtraArgCocoDataset(_mmdet_coco_dataset()):
    """A user's COCO dataset whose __init__ needs an argument the probe does not give, and whose load sorts."""

    def __init__(self, *args, extra, **kwargs):
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        data_list = super().load_data_list()
        self.cat_ids = sorted(self.cat_ids)
        return data_list


class _NoClassesCocoDataset(_mmdet_coco_dataset()):
    """A user's COCO dataset without default class names (its config gives none either)."""

    METAINFO = dict(palette=None)


class _InitOnlyCocoDataset(_mmdet_coco_dataset()):
    """A user's COCO dataset whose __init__ the probe cannot call, its load mmdet's (the file's order, as
    V3DetDataset, which reads a label file in __init__)."""

    def __init__(self, *args, extra, **kwargs):
        super().__init__(*args, **kwargs)


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(preflight_metric_order, 'print_log',  # (say_warnings logs check_label_order's warnings)
                        lambda msg, logger=None, level=None: messages.append((msg, level)))
    return messages


def _cfg(coco_root, dataset_type, **dataset):
    cfg = _classwise_cfg(coco_root, BY_NAME, classwise=False)
    cfg.val_dataloader.dataset.update(type=dataset_type, **dataset)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    return cfg, listing


def test_a_dataset_class_the_probe_cannot_build_is_warned_of_once(coco_root, logged):
    import logging

    cfg, listing = _cfg(coco_root, _ExtraArgCocoDataset, extra=1)
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1, logged  # (val_evaluator, and the reward pair that falls back to it: one dataset)
    message, level = logged[0]
    assert level == logging.WARNING
    assert message.startswith('val_dataloader.dataset (_ExtraArgCocoDataset): the order in which it labels its '
                              'categories was not checked against val_evaluator (CocoMetric): _ExtraArgCocoDataset '
                              'could not be built and loaded here'), message
    assert "TypeError" in message and "'extra'" in message


def test_a_dataset_whose_classes_are_not_known_is_warned_of(coco_root, logged):
    """Under sort_categories=True over a dataset that labels in the file's order (3, 2, 1): whether the two agree
    depends on the names (those of 3 and 1 alone would not). Without it they agree whatever the names: no warning."""
    cfg, listing = _cfg(coco_root, _NoClassesCocoDataset)
    cfg.val_dataloader.dataset.pop('metainfo', None)
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert logged == []
    cfg.val_evaluator.sort_categories = True
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert [m for m, _ in logged] == [
        'val_dataloader.dataset (_NoClassesCocoDataset): the order in which it labels its categories was not checked '
        'against val_evaluator (CocoMetric): its class names are not known here (no metainfo.classes, and its type '
        'names none by default). Where the two order them differently every prediction is credited to another class, '
        'silently']


@pytest.mark.parametrize('dataset_type', ['CocoDataset', 'Objects365V1Dataset', 'Objects365V2Dataset',
                                          _InitOnlyCocoDataset])
def test_mmdets_classes_and_a_class_with_mmdets_load_are_not_warned_of(coco_root, logged, dataset_type):
    cfg, listing = _cfg(coco_root, dataset_type, **({'extra': 1} if isinstance(dataset_type, type) else {}))
    cfg.val_evaluator.sort_categories = dataset_type == 'Objects365V1Dataset'  # (the pairing that passes)
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert logged == []


def test_a_class_with_mmdets_load_is_still_checked(coco_root, logged):
    """_InitOnlyCocoDataset labels in the file's order (mmdet's load): under sort_categories=True it is refused."""
    from automl_mm.engine.preflight_walk import ConfigCheckError

    cfg, listing = _cfg(coco_root, _InitOnlyCocoDataset, extra=1)
    cfg.val_evaluator.sort_categories = True
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset \(_InitOnlyCocoDataset\) labels them in the "
                                               r"file's order"):
        check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')


def _mmdet_config(relative: str):
    import os.path as osp

    import mmdet
    from mmengine.config import Config

    return Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', relative))


def test_mmdets_v3det_config_is_not_warned_of(logged):
    """mmdet's configs/v3det: V3DetDataset names its classes from a label file (METAINFO classes None, no
    metainfo.classes), labels in its file's order (CocoDataset's load), and its CocoMetric scores the same file in the
    file's order: the two agree whatever the names, on a file not listed by id too; a correct stock config."""
    cfg = _mmdet_config('v3det/faster_rcnn_r50_fpn_8x4_sample1e-3_mstrain_v3det_2x.py')
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    for split in ('val', 'test'):
        check_label_order(cfg, 'mmdet', listing, test_only=True, split=split)
    check_label_order(cfg, 'mmdet', listing)
    assert logged == []
    cfg.val_evaluator.sort_categories = True  # by id over the file's order: the labels then depend on the names
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert [m.split(':')[0] for m, _ in logged] == ['val_dataloader.dataset (V3DetDataset)'], logged


def test_a_class_the_probe_cannot_build_on_a_file_listed_by_id_is_not_warned_of(coco_root, logged):
    """Categories listed by ascending id (COCO's own files): the file's order is the order by id, whichever the
    dataset's class labels by, so the metric's labels are the dataset's."""
    cfg, _ = _cfg(coco_root, _ExtraArgCocoDataset, extra=1)
    check_label_order(cfg, 'mmdet', {cfg.val_evaluator.ann_file: [(1, 'rectangle'), (2, 'ellipse'), (3, 'triangle')]},
                      test_only=True, split='val')
    assert logged == []


def _user_ov_metric():
    from mmdet.evaluation.metrics import OVCocoMetric

    class _UserOVCocoMetric(OVCocoMetric):
        """A user's subclass of mmdet's open-vocabulary metric: its compute_metrics reads dataset_meta['base_classes'],
        which the probe's metric is not given."""

    return _UserOVCocoMetric


def _user_flat_metric():
    from mmdet.evaluation import CocoMetric

    class _FlatCocoMetric(CocoMetric):
        """A user's metric whose bbox_mAP says nothing of the labels."""

        def compute_metrics(self, results):
            return dict(bbox_mAP=0.5)

    return _FlatCocoMetric


@pytest.mark.parametrize('make, why', [
    (_user_ov_metric, r"\(KeyError: 'base_classes'\)"),
    (_user_flat_metric, r"\(its bbox_mAP of the exact box of 'a' was 0\.5 as label 0 and 0\.5 as label 1, neither")])
def test_a_metric_class_the_probe_cannot_judge_is_warned_of_once(coco_root, logged, make, why):
    """A user's metric class whose labels the probe cannot find was taken, silently, to label as its
    sort_categories says; it is still, with one warning naming the metric's keys and type and why (val and test
    evaluators are the same metric: one warning, naming both; it named val_evaluator alone)."""
    import logging
    import re

    cls = make()
    cfg, listing = _cfg(coco_root, 'CocoDataset')
    cfg.val_evaluator = dict(cfg.val_evaluator, type=cls)
    cfg.test_evaluator = cfg.val_evaluator
    check_label_order(cfg, 'mmdet', listing)
    assert len(logged) == 1 and logged[0][1] == logging.WARNING, logged
    assert re.match(rf"val_evaluator and test_evaluator \({cls.__name__}\): the order in which they map labels to "
                    r"the categories of "
                    rf".*instances_val_3_2_1\.json was not found here: {cls.__name__}, probed on a two-category "
                    rf"file .* gave no answer {why}.*; it is taken to label them as its sort_categories=False says "
                    r"\(in the file's order\)",
                    logged[0][0]), logged[0][0]
    assert 'could not be built' not in logged[0][0]  # (the flat one was built and evaluated: it said neither)
    # judged by its sort_categories, as before: over a dataset that sorts, refused
    cfg.val_dataloader.dataset.type = 'Objects365V1Dataset'
    from automl_mm.engine.preflight_walk import ConfigCheckError
    with pytest.raises(ConfigCheckError, match=rf"^val_evaluator \({cls.__name__}\) labels categories in the file's "):
        check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')


def test_a_metric_class_the_probe_judges_is_not_warned_of(coco_root, logged):
    from mmdet.evaluation import CocoMetric

    class _PlainUserCocoMetric(CocoMetric):
        pass

    cfg, listing = _cfg(coco_root, 'CocoDataset')
    cfg.val_evaluator = dict(cfg.val_evaluator, type=_PlainUserCocoMetric)
    check_label_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert logged == []


def test_an_unchecked_dataset_of_several_keys_is_warned_of_once_naming_every_key(coco_root, logged):
    """One dataset config scored in val and test (test_dataloader = val_dataloader, test_evaluator =
    val_evaluator) and by two metrics of one evaluator is one cause: one warning naming every dataset key and every
    evaluator key (it named val_dataloader.dataset and val_evaluator[0] alone, and test_dataloader.dataset in a
    second warning)."""
    cfg, listing = _cfg(coco_root, _ExtraArgCocoDataset, extra=1)
    cfg.val_evaluator.sort_categories = True
    cfg.val_evaluator = [cfg.val_evaluator, dict(cfg.val_evaluator, prefix='again')]
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    check_label_order(cfg, 'mmdet', listing)
    assert len(logged) == 1, logged
    assert logged[0][0].startswith(
        'val_dataloader.dataset and test_dataloader.dataset (_ExtraArgCocoDataset): the order in which they label '
        'their categories was not checked against val_evaluator[0] and val_evaluator[1] and test_evaluator[0] and '
        'test_evaluator[1] (CocoMetric): _ExtraArgCocoDataset could not be built and loaded here'), logged


def test_an_unprobed_metric_class_of_several_evaluators_is_warned_of_once_naming_every_key(coco_root, logged):
    """One user's metric class the probe cannot judge, as val_evaluator and as test_evaluator's first metric: one
    warning naming both keys (it named val_evaluator alone), said also where a later pair is refused."""
    from automl_mm.engine.preflight_walk import ConfigCheckError

    cls = _user_flat_metric()
    cfg, listing = _cfg(coco_root, 'CocoDataset')
    cfg.val_evaluator = dict(cfg.val_evaluator, type=cls)
    cfg.test_evaluator = [dict(cfg.val_evaluator)]
    cfg.test_dataloader.dataset.type = 'Objects365V1Dataset'  # (sorts: refused against the file's order)
    with pytest.raises(ConfigCheckError, match=r"^test_evaluator\[0\] \(_FlatCocoMetric\) labels categories in "):
        check_label_order(cfg, 'mmdet', listing)
    assert len(logged) == 1 and logged[0][0].startswith(
        'val_evaluator and test_evaluator[0] (_FlatCocoMetric): the order in which they map labels'), logged
