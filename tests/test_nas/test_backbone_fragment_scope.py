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
