"""``tools/test.py --tta --show-dir`` with a user's own ``tta_pipeline`` in mmdet's flip-TTA order (the flipped view
first): ``DetTTAModel`` keeps the first view's data sample, so every drawn ground truth was mirrored, without a word.
A warning now names the key and the fix (not a refusal: the scores are right)."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from test_tools.test_test_tool_mmdet_options import _test_tool, detector  # noqa: F401 (a fixture)

from automl_mm.engine.tta_views import apply_tta, flip_tta_pipeline, flipped_first_view
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')
WARNING = "tta_pipeline[3].transforms[0][0] is a RandomFlip (prob=1) in the first view of the TestTimeAug"


def _tta_cfg(flipped_first: bool) -> Config:
    cfg = Config.fromfile(DETECTOR)
    pipeline = flip_tta_pipeline(cfg.test_dataloader.dataset.pipeline)
    if flipped_first:  # mmdet's order
        pipeline[-1]['transforms'][0] = pipeline[-1]['transforms'][0][::-1]
    cfg.tta_pipeline = pipeline
    cfg.tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    return cfg


def _warnings(caplog, cfg, show_dir, show=False) -> str:
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        apply_tta(cfg, show_dir, show)
    finally:
        logger.removeHandler(caplog.handler)
    return caplog.text


def test_mmdets_order_with_show_dir_is_warned_naming_the_key_and_the_fix(caplog):
    text = _warnings(caplog, _tta_cfg(flipped_first=True), 'vis')
    assert WARNING in text and "List the unflipped view first" in text, text
    assert "in the config's tta_pipeline" in text


def test_mmdets_order_with_show_is_warned_too(caplog):
    """tools/test.py --tta --show: the window showed the mirrored ground truth, without the warning."""
    text = _warnings(caplog, _tta_cfg(flipped_first=True), None, show=True)
    assert WARNING in text and "so --show draws every image's ground truth mirrored" in text, text


@pytest.mark.parametrize('flipped_first, show_dir', [(False, 'vis'), (True, None)])
def test_the_unflipped_order_or_no_show_dir_is_not_warned(caplog, flipped_first, show_dir):
    assert 'RandomFlip' not in _warnings(caplog, _tta_cfg(flipped_first), show_dir)


def test_the_first_view_is_read_as_testtimeaug_combines_the_options():
    flip = [dict(type='mmdet.RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)]
    resize = [dict(type='Resize', scale=(160, 160)), dict(type='Resize', scale=(200, 200))]
    pack = [dict(type='PackDetInputs')]
    assert flipped_first_view([dict(type='TestTimeAug', transforms=[resize, flip, pack])]) == \
        ('tta_pipeline[0].transforms[1][0]', 1.0)
    assert flipped_first_view([dict(type='TestTimeAug', transforms=[resize, flip[::-1], pack])]) is None
    # a flip only in a later view of the first list, a flip with a probability per direction
    assert flipped_first_view([dict(type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=[0.3, 0.2],
                                                                          direction=['horizontal', 'vertical'])],
                                                                    pack])]) == \
        ('tta_pipeline[0].transforms[0][0]', 0.5)


def test_tools_test_warns_with_tta_and_show_dir(detector, tmp_path, monkeypatch, caplog):  # noqa: F811
    """tools/test.py --tta --show-dir on a config in mmdet's order (before: drawn, every ground truth mirrored, no
    word)."""
    config, checkpoint = detector
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        _test_tool(monkeypatch, config, checkpoint, '--work-dir', str(tmp_path), '--tta', '--show-dir', 'vis')
    finally:
        logger.removeHandler(caplog.handler)
    assert 'tta_pipeline[1].transforms[1][0] is a RandomFlip (prob=1) in the first view' in caplog.text, caplog.text
