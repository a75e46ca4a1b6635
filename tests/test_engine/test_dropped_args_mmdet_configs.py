"""mmdet's own configs give some heads a key their constructor drops unread (``Mask2FormerHead`` /
``Mask2FormerTrackHead``'s ``strides``, ``QuasiDenseTrackHead``'s ``loss_bbox``): harmless there, and mmdet trains
them. The dropped-argument check refused every mask2former / qdtrack config ("Mask2FormerHead does not read
'strides'"); it now refuses a dropped key only where it is a near miss of one the chain reads (a misspelling:
``target_stdss``), and warns of the others."""
from __future__ import annotations

import os.path as osp

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine import preflight_dropped_args as module
from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_dropped_args import check_dropped_arguments

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


@pytest.mark.parametrize('name, key', [
    ('mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py', 'model.panoptic_head.strides'),
    ('mask2former_vis/mask2former_r50_8xb2-8e_youtubevis2021.py', 'model.track_head.strides'),
    ('qdtrack/qdtrack_faster-rcnn_r50_fpn_8xb2-4e_mot17halftrain_test-mot17halfval.py', 'model.track_head.loss_bbox'),
])
def test_mmdets_unread_keys_are_warned_of_not_refused(name, key, monkeypatch):
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg), raising=False)
    check_dropped_arguments(Config.fromfile(osp.join(MMDET_CONFIGS, name)), 'mmdet')
    assert any(m.startswith(f'{key}: ') for m in messages), messages


def test_a_near_miss_is_still_refused():
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, 'mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py'))
    cfg.model.panoptic_head.feat_channel = 128
    with pytest.raises(ConfigCheckError, match=r'model\.panoptic_head\.feat_channel: .*did you mean '
                                               r'model\.panoptic_head\.feat_channels\?'):
        check_dropped_arguments(cfg, cfg.default_scope)
