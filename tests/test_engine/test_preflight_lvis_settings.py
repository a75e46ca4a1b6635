"""mmdet 3.3's LVISMetric hands lvis-api's LVISEval neither its proposal_nums (it sets ``params.maxDets``, which
lvis-api's Params names ``max_dets``: AR stays at 300 detections per image) nor its iou_thrs (lvis-api keeps
0.50:0.95) for 'bbox' / 'segm' / 'proposal'; it reports of lvis-api's results only those its metric_items name. A
setting so ignored is warned of at start, and so is 'proposal' itself (mmdet's params.useCats = 0 is not lvis-api's
use_cats: its recall is per category); reading an AR key LVIS does not report is refused. lvis is not installed
here: the config dicts alone are checked (the LVIS evaluation premise is skipped without lvis-api)."""
from __future__ import annotations

import logging
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config

from automl_mm.engine import preflight_lvis
from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_coco_counts import check_uncomputed_selection_keys
from automl_mm.engine.preflight_lvis import warn_lvis_ignored_settings
from automl_mm.engine.preflight_metrics import check_metric_key


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(preflight_lvis, 'print_log', lambda msg, logger=None, level=None: messages.append((msg, level)))
    return messages


def _lvis(**options):
    return dict(dict(type='mmdet.LVISMetric', ann_file='lvis_v1_val.json'), **options)


def test_proposal_nums_lvis_does_not_evaluate_are_warned_of(logged):
    cfg = Config(dict(val_evaluator=_lvis(metric='proposal', proposal_nums=(100, 1000)),
                      test_evaluator=_lvis(metric='proposal', proposal_nums=(100, 1000))))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator', 'test_evaluator']
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    msg = logged[0][0]
    assert msg.startswith("val_evaluator and test_evaluator (LVISMetric) set proposal_nums=(100, 1000) for "
                          "'proposal'"), msg
    assert 'params.max_dets' in msg and '300 detections per image' in msg and "'lvis/AR@300'" in msg, msg


def test_iou_thrs_lvis_does_not_evaluate_are_warned_of(logged):
    cfg = Config(dict(val_evaluator=_lvis(metric=['bbox', 'segm'], iou_thrs=np.array([0.5, 0.75])),
                      test_evaluator=_lvis(metric='proposal', iou_thrs=0.5, proposal_nums=[300])))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator', 'test_evaluator']
    assert len(logged) == 2, logged
    assert logged[0][0].startswith("val_evaluator (LVISMetric) sets iou_thrs=[0.5, 0.75] for 'bbox', 'segm'"), logged
    assert '0.50:0.95' in logged[0][0] and 'params.iou_thrs' in logged[0][0], logged
    assert logged[1][0].startswith("test_evaluator (LVISMetric) sets iou_thrs=0.5 for 'proposal'"), logged


def test_metric_items_lvis_does_not_report_are_warned_of(logged):
    cfg = Config(dict(val_evaluator=_lvis(metric='proposal', metric_items=['AR@100', 'AR@300', 'AR_s@1000'])))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator']
    assert re.search(r"metric_items=\['AR@100', 'AR@300', 'AR_s@1000'\].*'AR@100', 'AR_s@1000'", logged[0][0]), logged


def test_settings_lvis_takes_are_not_warned_of(logged):
    default = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    for fine in (_lvis(), _lvis(metric=['bbox', 'segm'], iou_thrs=default.copy(), classwise=True),
                 _lvis(metric='proposal', proposal_nums=(300, ), format_only=True),  # nothing evaluated
                 _lvis(metric='proposal_fast', proposal_nums=(1, 10), iou_thrs=[0.5]),  # fast_eval_recall uses both
                 _lvis(metric='bbox', metric_items=['AP', 'APr', 'AR@300']),
                 dict(type='mmdet.CocoMetric', metric='proposal', proposal_nums=(100, 1000, 10))):
        assert warn_lvis_ignored_settings(Config(dict(val_evaluator=fine))) == [], fine
    assert logged == []


@pytest.mark.parametrize('owner', ['custom_hooks[0].reward_key', 'train_cfg.metric_key'])
def test_reading_an_ar_key_lvis_does_not_report_is_refused(owner):
    metric = _lvis(metric='proposal', proposal_nums=(100, 1000))
    for key in ('lvis/AR@100', 'lvis/AR@1000', 'lvis/AR_s@1000', 'lvis/ARs@100'):
        with pytest.raises(ConfigCheckError, match=re.escape(f'{owner}={key!r}') + r" is not reported by "
                           r"train_cfg\.search_evaluator \(LVISMetric\).*params\.max_dets.*'lvis/AR@300'"):
            check_metric_key(key, owner, metric, 'train_cfg.search_evaluator')
    check_metric_key('lvis/AR@300', owner, metric, 'train_cfg.search_evaluator')
    check_metric_key('lvis/ARl@300', owner, metric, 'train_cfg.search_evaluator')
    # proposal_fast reports its recall at each of the proposal_nums
    check_metric_key('lvis/AR@100', owner, dict(metric, metric=['proposal', 'proposal_fast']), 'e')
    # bbox reports lvis-api's AR@300 only where metric_items name it
    bbox = _lvis(metric='bbox', prefix='det', metric_items=['AP', 'AR@300'])
    check_metric_key('det/bbox_AR@300', owner, bbox, 'e')
    with pytest.raises(ConfigCheckError, match=r"'det/bbox_ARs@300' is not reported by e \(LVISMetric\)"):
        check_metric_key('det/bbox_ARs@300', owner, bbox, 'e')


def test_selecting_by_an_ar_key_lvis_does_not_report_is_refused():
    cfg = Config(dict(val_dataloader=dict(), val_evaluator=_lvis(metric='proposal', proposal_nums=(1000, )),
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='lvis/AR@1000'))))
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='lvis/AR@1000' is not "
                                               r'reported by val_evaluator \(LVISMetric\)'):
        check_uncomputed_selection_keys(cfg)
    cfg.default_hooks.checkpoint.save_best = 'lvis/AR@300'
    check_uncomputed_selection_keys(cfg)


def test_mmdet_stock_lvis_configs_are_not_warned(logged):
    """A sample of mmdet 3.3's configs of LVISMetric (all 24 that load, and the 12 of LVISFixedAPMetric, were swept
    once: none warned): none sets proposal_nums or iou_thrs."""
    from mmdet import __file__ as mmdet_init

    configs = osp.join(osp.dirname(mmdet_init), '.mim', 'configs')
    for name in ('_base_/datasets/lvis_v0.5_instance.py', '_base_/datasets/lvis_v1_instance.py',
                 'lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py',
                 'seesaw_loss/cascade-mask-rcnn_r101_fpn_seesaw-loss_random-ms-2x_lvis-v1.py',
                 'glip/lvis/glip_atss_swin-t_a_fpn_dyhead_pretrain_zeroshot_lvis.py'):
        cfg = Config.fromfile(osp.join(configs, name))
        assert 'glip' in name or preflight_lvis.lvis_metric_class(cfg.val_evaluator) is not None, name
        assert warn_lvis_ignored_settings(cfg) == [], name
        check_uncomputed_selection_keys(cfg)
    assert logged == []


def test_check_config_warns_of_an_ignored_setting_and_refuses_a_selected_key(logged, coco_root, tmp_path,
                                                                            monkeypatch):
    """Through check_config: the synthcoco detector validated by an LVISMetric at its annotation file (with a
    stand-in lvis-api that runs: lvis is not installed here)."""
    from automl_mm.engine.preflight import check_config
    from tests.test_engine._lvis_helpers import fake_lvis_api

    from conftest import synthcoco_detector_cfg

    fake_lvis_api(monkeypatch, tmp_path, cast='float64')

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.update(type='mmdet.LVISMetric', metric=['bbox', 'proposal'], proposal_nums=(1, 10, 100))
    cfg.default_hooks.checkpoint.save_best = 'lvis/bbox_AP'
    check_config(cfg)
    assert [msg for msg, _ in logged] == [logged[0][0]] and \
        logged[0][0].startswith("val_evaluator (LVISMetric) sets proposal_nums=(1, 10, 100) for 'bbox', 'proposal'")
    cfg.default_hooks.checkpoint.save_best = 'lvis/AR@100'
    with pytest.raises(ConfigCheckError, match=r"save_best='lvis/AR@100' is not reported by val_evaluator "):
        check_config(cfg)


def _lvis_proposal_recall(tmp_path, labels) -> float:
    """mmdet's own LVISMetric(metric='proposal') AR@300 of exact proposals of an image's two objects, of categories
    a and b, labelled ``labels`` (an RPN labels every proposal 0). Needs lvis-api (lvis 0.5.3 calls np.float,
    which numpy >= 1.24 dropped: given back for the call)."""
    import json

    import torch

    lvis = pytest.importorskip('lvis')  # (not installed here: the premise runs where it is)
    from mmdet.evaluation.metrics import LVISMetric, lvis_metric

    if lvis_metric.lvis is None:
        pytest.skip('mmdet was imported without lvis-api')
    assert not hasattr(lvis.eval.Params('bbox'), 'useCats') and lvis.eval.Params('bbox').use_cats == 1
    path = str(tmp_path / 'lvis.json')
    with open(path, 'w') as f:
        json.dump(dict(images=[dict(id=1, file_name='1.png', height=100, width=100, neg_category_ids=[],
                                    not_exhaustive_category_ids=[])],
                       annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], area=400, iscrowd=0),
                                    dict(id=2, image_id=1, category_id=2, bbox=[50, 50, 30, 30], area=900, iscrowd=0)],
                       categories=[dict(id=1, name='a', frequency='f'), dict(id=2, name='b', frequency='f')]), f)
    metric = LVISMetric(ann_file=path, metric='proposal')
    metric.dataset_meta = dict(classes=('a', 'b'))
    metric.process({}, [dict(img_id=1, ori_shape=(100, 100), pred_instances=dict(
        bboxes=torch.tensor([[10., 10., 30., 30.], [50., 50., 80., 80.]]), scores=torch.tensor([0.9, 0.8]),
        labels=torch.tensor(labels)))])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(np, 'float', float, raising=False)
        return metric.compute_metrics(metric.results)['AR@300']


def test_mmdet_lvis_proposal_recall_is_per_category(tmp_path):
    """The premise: mmdet sets params.useCats = 0 for 'proposal' (class-agnostic, as for pycocotools), but lvis-api's
    Params reads use_cats (1): both objects found exactly, labelled 0 as an RPN labels them, recall 0.5, not 1.0."""
    assert _lvis_proposal_recall(tmp_path, [0, 0]) == pytest.approx(0.5)
    assert _lvis_proposal_recall(tmp_path, [0, 1]) == pytest.approx(1.0)


def test_lvis_proposal_recall_per_category_is_warned_of_naming_its_keys(logged):
    """LVISMetric(metric='proposal') reports lvis-api's recall per category under the names of mmdet's proposal
    recall, silently (the user cannot change it in mmdet): warned at start, naming the keys and what they are."""
    cfg = Config(dict(val_evaluator=_lvis(metric='proposal'), test_evaluator=_lvis(metric='proposal')))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator', 'test_evaluator']
    assert len(logged) == 1 and logged[0][1] == logging.WARNING, logged
    msg = logged[0][0]
    assert msg.startswith("val_evaluator and test_evaluator (LVISMetric) set metric='proposal': mmdet's LVISMetric "
                          'asks lvis-api'), msg
    assert "params.useCats = 0" in msg and 'use_cats' in msg and "'lvis/AR@300', 'lvis/ARs@300', 'lvis/ARm@300', " \
        "'lvis/ARl@300' are the recall per category" in msg, msg
    logged.clear()
    cfg = Config(dict(val_evaluator=_lvis(metric=['bbox', 'proposal'], prefix='p', metric_items=['AR@300'])))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator']
    assert "sets metric=['bbox', 'proposal']" in logged[0][0] and "'p/AR@300' is the recall per category" in \
        logged[0][0], logged


def test_lvis_proposal_per_category_warning_names_only_its_recall_keys(logged):
    """The 'proposal' warning named every reported key 'the recall per category': also 'lvis/AR@300' where a later
    'proposal_fast' of the same metric writes its own (class-agnostic) recall at 300 over it (mmdet 3.3's
    compute_metrics runs the kinds in order into one dict), and an AP item of metric_items ('lvis/AP'), which is
    lvis-api's AP, not a recall. It names the recall keys 'proposal' leaves, and the AP keys as the AP."""
    cfg = Config(dict(val_evaluator=_lvis(metric=['proposal', 'proposal_fast'])))
    assert warn_lvis_ignored_settings(cfg) == ['val_evaluator']
    msg = logged[0][0]
    assert "'lvis/ARs@300', 'lvis/ARm@300', 'lvis/ARl@300' are the recall per category" in msg, msg
    assert "'lvis/AR@300'" not in msg, msg
    logged.clear()
    cfg = Config(dict(val_evaluator=_lvis(metric=['proposal_fast', 'proposal'])))  # 'proposal' writes last
    warn_lvis_ignored_settings(cfg)
    assert "'lvis/AR@300', 'lvis/ARs@300', 'lvis/ARm@300', 'lvis/ARl@300' are the recall per category" in \
        logged[0][0], logged
    logged.clear()
    cfg = Config(dict(val_evaluator=_lvis(metric='proposal', metric_items=['AP', 'AR@300'])))
    warn_lvis_ignored_settings(cfg)
    assert "'lvis/AR@300' is the recall per category of the labels predicted" in logged[0][0], logged
    assert "'lvis/AP' is the AP per category of the labels predicted" in logged[0][0], logged
    assert "'lvis/AP', " not in logged[0][0] and "'lvis/AP' is the recall" not in logged[0][0], logged


def _lvis_cfg(coco_root):
    """The synthcoco detector validated and tested by LVISMetrics at its annotation file."""
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.update(type='mmdet.LVISMetric', metric=['bbox', 'proposal'])
    cfg.test_evaluator = dict(cfg.val_evaluator, metric='segm')
    return cfg


def test_an_lvis_api_whose_accumulate_fails_under_numpy_is_refused_at_start(coco_root, tmp_path, monkeypatch):
    """lvis 0.5.3's LVISEval.accumulate casts with np.float, which numpy >= 1.24 does not have: a run trained up to
    its first evaluation, then stopped with AttributeError. Refused at start naming every evaluator key (a stand-in
    lvis-api that casts as lvis 0.5.3 does); one that casts otherwise passes."""
    from automl_mm.engine.preflight import check_config
    from tests.test_engine._lvis_helpers import fake_lvis_api

    if hasattr(np, 'float'):
        pytest.skip('numpy < 1.24 still has np.float')
    fake_lvis_api(monkeypatch, tmp_path, cast='float')
    cfg = _lvis_cfg(coco_root)
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    msg = str(err.value)
    assert msg.startswith("val_evaluator and test_evaluator (LVISMetric) evaluate with lvis-api's LVISEval, which "
                          f'fails under the installed numpy {np.__version__}'), msg
    assert re.search(r"AttributeError in accumulate \(.*lvis\.py:\d+\): module 'numpy' has no attribute 'float'\. ",
                     msg), msg
    assert 'git+https://github.com/lvis-dataset/lvis-api.git' in msg and 'numpy < 1.24' in msg, msg
    # LVISFixedAPMetric runs LVISEval whatever its format_only; LVISMetric's 'proposal_fast' and format_only do not
    cfg.val_evaluator = [dict(type='mmdet.LVISMetric', ann_file='x.json', metric='proposal_fast'),
                         dict(type='mmdet.LVISFixedAPMetric', ann_file='x.json', format_only=True, outfile_prefix='o')]
    cfg.test_evaluator = dict(cfg.test_evaluator, format_only=True, outfile_prefix='o')
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\[1\] \(LVISFixedAPMetric\) evaluates with lvis-api"):
        preflight_lvis.check_lvis_api(cfg)
    preflight_lvis.check_lvis_api(cfg, test_only=True)  # test_evaluator alone: format_only


def test_an_lvis_api_that_uses_a_name_numpy_2_removed_is_refused_at_start(coco_root, tmp_path, monkeypatch):
    """numpy 2 removed np.float_ (and np.NaN, np.alltrue, ...) with a message of its own ("`np.float_` was removed in
    the NumPy 2.0 release. ..."), not "module 'numpy' has no attribute": an lvis-api fork that casts with np.float_
    stopped at its first evaluation as lvis 0.5.3 does, and was not refused."""
    from tests.test_engine._lvis_helpers import fake_lvis_api

    if hasattr(np, 'float_'):
        pytest.skip('numpy < 2 still has np.float_')
    fake_lvis_api(monkeypatch, tmp_path, cast='float_')
    error = preflight_lvis.lvis_eval_error()
    assert error is not None and re.match(r'AttributeError in accumulate \(.*lvis\.py:\d+\): `np\.float_` was removed '
                                          r'in the NumPy 2\.0 release', error), error
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator and test_evaluator \(LVISMetric\) evaluate with "
                                               r"lvis-api's LVISEval, which fails under the installed numpy"):
        preflight_lvis.check_lvis_api(_lvis_cfg(coco_root))


def test_an_lvis_api_that_runs_under_numpy_is_not_refused(coco_root, tmp_path, monkeypatch):
    from tests.test_engine._lvis_helpers import fake_lvis_api

    fake_lvis_api(monkeypatch, tmp_path, cast='float64')
    assert preflight_lvis.lvis_eval_error() is None
    preflight_lvis.check_lvis_api(_lvis_cfg(coco_root))


def test_lvis_metrics_without_lvis_api_are_refused_naming_their_keys(coco_root, monkeypatch):
    """Without lvis-api mmdet's LVISMetric / LVISFixedAPMetric raise when the evaluator is built (after the model
    and the training loader, before training), naming no config key: refused at start, naming them."""
    from mmdet.evaluation.metrics import LVISMetric, lvis_metric

    from automl_mm.engine.preflight import check_config

    monkeypatch.setattr(lvis_metric, 'lvis', None)
    with pytest.raises(RuntimeError, match='Package lvis is not installed'):
        LVISMetric(ann_file='x.json')  # (mmdet's own error: no config key)
    cfg = _lvis_cfg(coco_root)
    cfg.reward_evaluator = dict(type='mmdet.LVISFixedAPMetric', ann_file='x.json')
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value).startswith('val_evaluator and test_evaluator (LVISMetric) and reward_evaluator '
                                     '(LVISFixedAPMetric) need lvis-api, which is not installed here'), err.value
    assert 'git+https://github.com/lvis-dataset/lvis-api.git' in str(err.value), err.value


def test_lvis_api_0_5_3_fails_under_numpy_2(monkeypatch):
    """The premise on the real lvis-api (skipped where it is not installed): lvis 0.5.3's evaluation stops in
    accumulate under numpy >= 1.24, and runs with np.float given back."""
    pytest.importorskip('lvis')
    from mmdet.evaluation.metrics import lvis_metric

    if lvis_metric.lvis is None:
        pytest.skip('mmdet was imported without lvis-api')
    if hasattr(np, 'float'):
        pytest.skip('numpy < 1.24 still has np.float')
    preflight_lvis._run_lvis_eval.cache_clear()
    error = preflight_lvis.lvis_eval_error()
    if '0.5.3' in getattr(lvis_metric.lvis, '__version__', '0.5.3'):
        assert error is not None and re.match(r"AttributeError in accumulate \(.*eval\.py:\d+\): module 'numpy' has "
                                              r"no attribute 'float'$", error), error
    monkeypatch.setattr(np, 'float', float, raising=False)
    preflight_lvis._run_lvis_eval.cache_clear()
    assert preflight_lvis.lvis_eval_error() is None
    preflight_lvis._run_lvis_eval.cache_clear()


def test_lvis_datasets_without_lvis_api_are_refused_naming_their_keys(coco_root, monkeypatch, tmp_path):
    """mmdet's LVISV1Dataset imports lvis-api in its load_data_list: without it the run stopped when the loader was
    built ('Package lvis is not installed', naming no config key). Refused at start naming every such dataset (under
    wrappers too); with lvis-api importable, not."""
    import importlib.util

    from automl_mm.engine.preflight import check_config

    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.train_dataloader.dataset = dict(type='ClassBalancedDataset', oversample_thr=1e-3,
                                        dataset=dict(cfg.train_dataloader.dataset, type='LVISV1Dataset'))
    cfg.val_dataloader.dataset.type = 'LVISV1Dataset'
    if importlib.util.find_spec('lvis') is None:
        with pytest.raises(ConfigCheckError) as err:
            check_config(cfg)
        assert str(err.value).startswith('train_dataloader.dataset.dataset and val_dataloader.dataset (LVISV1Dataset) '
                                         'need lvis-api, which is not installed here'), err.value
    from tests.test_engine._lvis_helpers import fake_lvis_api

    fake_lvis_api(monkeypatch, tmp_path, cast='float64')
    preflight_lvis.check_lvis_api(cfg)


def test_an_lvis_module_without_a_spec_does_not_stop_the_check(coco_root, monkeypatch):
    """importlib.util.find_spec('lvis') raises ValueError ("lvis.__spec__ is None") where sys.modules['lvis'] is a
    module made in code (a stub, a test's mock): check_config stopped so on every config, one without any LVIS dataset
    or metric too. A module in sys.modules is importable; one set to None is not."""
    import sys
    import types

    from automl_mm.engine.preflight import check_config

    from conftest import synthcoco_detector_cfg

    monkeypatch.setitem(sys.modules, 'lvis', types.ModuleType('lvis'))
    check_config(synthcoco_detector_cfg(coco_root))
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_dataloader.dataset.type = 'LVISV1Dataset'
    preflight_lvis.check_lvis_api(cfg)  # importable: not refused
    monkeypatch.setitem(sys.modules, 'lvis', None)  # (import lvis raises ImportError)
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.dataset \(LVISV1Dataset\) needs lvis-api'):
        preflight_lvis.check_lvis_api(cfg)
