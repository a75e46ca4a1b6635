"""The searched backbone's fragment (``pc_nas_backbone.py``, ``cr_nas_backbone.py``) loads in a config of another
scope. It named the search config's type as written (PC-NAS: ``'MBConvSupernet'``, unprefixed) and imported
nothing: pasted into a stock mmdet config (``default_scope='mmdet'``) it was looked up in mmdet's registry
(``KeyError``), and a prefixed CR type needs automl_mm imported by the config (``custom_imports``)."""
from __future__ import annotations

import os.path as osp

from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg


def _build_in_mmdet_scope(text: str, tmp_path):
    """Load ``text`` as a config file whose child sets ``default_scope='mmdet'`` and build its backbone with mmdet's
    registry, as mmdet's tools/train.py would after importing ``custom_imports``."""
    from mmdet.registry import MODELS

    path = tmp_path / 'fragment.py'
    path.write_text(text)
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports['imports'] == ['automl_mm'], text
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.backbone)


def test_the_pc_nas_backbone_fragment_builds_in_an_mmdet_scoped_config(tmp_path):
    work = str(tmp_path / 'run')
    Runner.from_cfg(_cfg(work, retrain_config=None)).train()
    text = open(osp.join(work, 'search', 'pc_nas_backbone.py')).read()
    assert "'type': 'automl_mm.MBConvSupernet'" in text, text  # before: 'MBConvSupernet', mmdet's KeyError
    net = _build_in_mmdet_scope(text, tmp_path)
    assert type(net).__name__ == 'MBConvSupernet'
    assert '_delete_=True' in text  # the comment's line replaces another backbone whole


def test_a_cr_backbone_fragment_builds_in_an_mmdet_scoped_config(tmp_path):
    from automl_mm.nas.retrain_export import backbone_fragment_text

    backbone = dict(type='CRResNet', depth=18, stage_blocks=[1, 1, 3, 3],
                    dilations_per_block=[1, 1, 1, 2, 1, 1, 2, 3], out_indices=(0, 1, 2, 3))
    net = _build_in_mmdet_scope(backbone_fragment_text('CR-NAS searched backbone', backbone), tmp_path)
    assert type(net).__name__ == 'CRResNet' and list(net.active_stage_blocks) == [1, 1, 3, 3]
    # a type with a scope of its own is kept as written
    kept = backbone_fragment_text('t', dict(backbone, type='automl_mm.CRResNet'))
    assert "'type': 'automl_mm.CRResNet'" in kept and 'automl_mm.automl_mm' not in kept


def test_a_cr_backbone_fragment_pasted_as_its_comment_says_trains_in_stock_mmdet_faster_rcnn_r50(tmp_path):
    """Pasted into mmdet's ``faster-rcnn_r50_fpn_1x_coco.py`` with the comment's ``_delete_=True`` line alone, a
    searched CR-ResNet-18 met ResNet-50's FPN widths and failed at the first step ("expected input[1, 64, 16, 16]
    to have 256 channels"). The fragment sets ``backbone_out_channels`` and its comment's line gives them to the
    neck; the detector then runs."""
    import re

    import torch
    from mmdet.registry import MODELS
    from mmengine.utils import import_modules_from_strings

    from automl_mm.nas.retrain_export import backbone_fragment_text

    backbone = dict(type='CRResNet', depth=18, stage_blocks=[1, 1, 3, 3],
                    dilations_per_block=[1, 1, 1, 2, 1, 1, 2, 3], out_indices=(0, 1, 2, 3))
    text = backbone_fragment_text('CR-NAS searched backbone', backbone)
    assert 'backbone_out_channels = [64, 128, 256, 512]\n' in text, text
    paste = re.search(r'# Paste into a config of your own: (model = .*?\)\)) replaces', text, flags=re.S).group(1)
    paste = re.sub(r'\n#\s*', ' ', paste)  # the comment's line, as a user copies it
    (tmp_path / 'mine.py').write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n" + text
                                      + paste + '\n')
    cfg = Config.fromfile(str(tmp_path / 'mine.py'))
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    maps = detector.neck(detector.backbone(torch.zeros(1, 3, 64, 64)))
    assert type(detector.backbone).__name__ == 'CRResNet' and [m.shape[1] for m in maps] == [256] * 5
