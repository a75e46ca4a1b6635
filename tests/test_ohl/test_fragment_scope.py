"""Exported OHL fragments load in a stock mmdet config (``default_scope='mmdet'``), not only in automl_mm's.

An ``AttributeSpace`` searched inside an mmdet detector (the README's detection set) exported
``custom_hooks = [dict(type='SetAttributesHook', ...)]`` with no ``custom_imports``: pasted into mmdet's
``faster-rcnn_r50_fpn_1x_coco.py`` as the README says, mmdet's ``tools/train.py`` stopped with
``KeyError: 'SetAttributesHook is not in the mmdet::hook registry'`` (``schedule_policy.py``'s
``TrunkScheduleHook`` likewise)."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.report import final_policy_text, schedule_fragment

PATH = 'model.roi_head.bbox_head.loss_bbox.loss_weight'


def _space(name, target, choices, best):
    space = AttributeSpace(dict(type='Categorical'), target=target, choices=choices, name=name)
    logits = torch.zeros(len(choices))
    logits[best] = 3.0
    space.distribution.logits.data.copy_(logits)
    return space


def _fragments():
    spaces = [_space('w', PATH, [0.5, 1.0, 2.0], best=2),
              _space('wd', 'optim_wrapper.optimizer.param_groups.*.weight_decay', [0.0, 1e-4], best=1)]
    final = final_policy_text([(s.name, s.export_fragment()) for s in spaces])
    history = [dict(trunk=0, best=0, broadcast=True, copy_values={'w': [{PATH: 2.0}]})]
    return dict(final=(final, SetAttributesHook), one=(spaces[0].export_fragment(), SetAttributesHook),
                schedule=(schedule_fragment(history, dict(trunk_epochs=1)), TrunkScheduleHook))


@pytest.mark.parametrize('which', ['final', 'one', 'schedule'])
@pytest.mark.parametrize('scope', ['mmdet', 'automl_mm'])
def test_exported_hooks_build_in_an_mmdet_scoped_config_and_import_automl_mm(which, scope):
    import mmdet.registry  # noqa: F401  (the mmdet scope exists)
    from mmengine.registry import HOOKS

    text, cls = _fragments()[which]
    cfg = Config.fromstring(f"default_scope = '{scope}'\n" + text, file_format='.py')
    assert 'automl_mm' in cfg.custom_imports['imports']  # a stock mmdet tools/train.py imports it
    with DefaultScope.overwrite_default_scope(scope):
        hooks = [HOOKS.build(dict(h)) for h in cfg.custom_hooks]  # as mmengine's Runner builds custom_hooks
    assert hooks and all(isinstance(h, cls) for h in hooks)


def test_the_merged_final_policy_imports_automl_mm_once():
    from automl_mm.ohl.report import CUSTOM_IMPORTS

    assert _fragments()['final'][0].count('custom_imports = ') == 1 and CUSTOM_IMPORTS in _fragments()['final'][0]
