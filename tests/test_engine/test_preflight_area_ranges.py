"""Without ``ann_file``, OHL rewards and NAS scores range COCO objects small / medium / large by their mask areas
(as pycocotools on an annotation file), while mmdet's own ``CocoMetric`` in ``val_evaluator`` ranges them by box
areas: a search ranked by ``coco/bbox_mAP_s`` and the validation log's ``coco/bbox_mAP_s`` disagreed for the same
predictions, without a word. The config check warns where a search key is such an area key and the validation logs
it from mmdet's metric."""
from __future__ import annotations

import pytest

from automl_mm.engine import preflight_metrics
from automl_mm.engine.preflight_metrics import warn_area_ranges_differ


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(preflight_metrics, 'print_log', lambda msg, **_: messages.append(msg))
    return messages


def _cfg(val_metric: dict | str | None) -> dict:
    if val_metric == 'no val_dataloader':
        return dict(val_dataloader=None, val_evaluator=dict(type='mmdet.CocoMetric'))
    return dict(val_dataloader=dict(batch_size=1), val_evaluator=val_metric)


SEARCH = dict(type='mmdet.CocoMetric', metric='bbox')


def _warns(key: str, val_metric: dict | None, search: dict = SEARCH) -> bool:
    return warn_area_ranges_differ(key, 'custom_hooks[0].reward_key', search, 'val_evaluator', _cfg(val_metric),
                                   'automl_mm')


def test_an_area_key_read_by_the_search_and_logged_by_mmdets_metric_is_warned_of(logged):
    assert _warns('coco/bbox_mAP_s', dict(type='mmdet.CocoMetric', metric='bbox'))
    assert len(logged) == 1
    assert logged[0].startswith("custom_hooks[0].reward_key='coco/bbox_mAP_s' ranges objects small / medium / large "
                                'by their mask areas')
    assert "type='automl_mm.UnroundedCocoMetric'" in logged[0]
    assert 'box-only data reads the same' in logged[0]  # (the warning fired for box-only data as if they differed)
    proposal = dict(type='mmdet.CocoMetric', metric='proposal')
    assert _warns('coco/AR_l@1000', proposal, proposal)


@pytest.mark.parametrize('key, val_metric, search', [
    ('coco/bbox_mAP', dict(type='mmdet.CocoMetric'), SEARCH),  # no area range
    ('coco/bbox_mAP_s', dict(type='automl_mm.UnroundedCocoMetric'), SEARCH),  # ranged by mask area too
    ('coco/bbox_mAP_s', dict(type='mmdet.CocoMetric', ann_file='a.json'), SEARCH),  # the file's areas
    ('coco/bbox_mAP_s', dict(type='mmdet.CocoMetric'), dict(SEARCH, ann_file='a.json')),
    ('coco/bbox_mAP_s', dict(type='mmdet.CocoMetric', prefix='val'), SEARCH),  # logs another key
    ('coco/bbox_mAP_s', None, SEARCH),
    ('coco/bbox_mAP_s', 'no val_dataloader', SEARCH),  # no validation runs: nothing is logged
])
def test_no_warning_where_the_readings_agree_or_differ_in_name(logged, key, val_metric, search):
    assert not _warns(key, val_metric, search) and not logged


def test_the_search_checks_warn_of_a_nas_score_and_an_ohl_reward(logged):
    from mmengine.config import Config

    from automl_mm.engine.preflight_search import _check_ohl_hook, _check_search_loop

    from conftest import REPO_ROOT

    cfg = Config.fromfile(f'{REPO_ROOT}/configs/cr_nas/cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py')
    cfg.val_evaluator.ann_file = cfg.reward_evaluator.ann_file = None
    cfg.train_cfg.metric_key = 'coco/bbox_mAP_m'
    _check_search_loop(cfg, cfg.train_cfg)
    assert [m[:45] for m in logged] == ["train_cfg.metric_key='coco/bbox_mAP_m' ranges"]
    logged.clear()
    cfg.runner_type = 'automl_mm.CopyRunner'
    cfg.custom_hooks = [dict(type='automl_mm.OHLHook', reward_key='coco/bbox_mAP_l', spaces=[])]
    _check_ohl_hook(cfg)
    assert [m[:51] for m in logged] == ["custom_hooks[0].reward_key='coco/bbox_mAP_l' ranges"]
