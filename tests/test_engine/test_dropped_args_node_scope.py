"""The dropped-argument check resolves each node where mmengine builds it: its own ``_scope_``, else that of the node
above it (an mmdet detector set with ``_scope_='mmdet'`` builds its heads and their coders in mmdet's scope), else
the config's ``default_scope``. Resolved in the node's own ``_scope_`` or ``default_scope`` only, the coder of a
detector under ``model=dict(type='FasterRCNN', _scope_='mmdet', ...)`` in an automl_mm config was no class here, and
its misspelt ``target_stdss`` (dropped by mmdet's ``BaseBBoxCoder`` without a word) passed."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_dropped_args import check_dropped_arguments
from automl_mm.engine.preflight_walk import ConfigCheckError


def test_a_dropped_argument_inside_an_mmdet_scoped_detector_is_refused():
    coder = dict(type='DeltaXYWHBBoxCoder', target_stdss=[0.1, 0.1, 0.2, 0.2])
    cfg = Config(dict(default_scope='automl_mm', model=dict(type='FasterRCNN', _scope_='mmdet',
                                                            rpn_head=dict(type='RPNHead', bbox_coder=coder))))
    with pytest.raises(ConfigCheckError, match=r"model\.rpn_head\.bbox_coder\.target_stdss: DeltaXYWHBBoxCoder does "
                                               r"not read 'target_stdss'.*did you mean "
                                               r"model\.rpn_head\.bbox_coder\.target_stds\?"):
        check_dropped_arguments(cfg, 'automl_mm')
