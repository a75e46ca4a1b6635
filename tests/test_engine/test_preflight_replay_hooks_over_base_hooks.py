"""An exported OHL fragment (``final_policy.py`` / ``schedule_policy.py``) pasted into a config whose base has
``custom_hooks``: mmengine replaces the list, so the fragment's ``custom_hooks = [SetAttributesHook(...)]`` dropped the
base's hooks (a stock RTMDet's ``EMAHook`` and ``PipelineSwitchHook``) and the retrain trained without them,
silently. The start-of-run check names them now; a search's ``OHLHook`` (dropped on purpose) and a hook listed
again are not named."""
from __future__ import annotations

from mmengine.config import Config
from mmengine.logging import MMLogger

from automl_mm.engine.preflight_inheritance import warn_base_hooks_dropped
from automl_mm.ohl.spaces import AttributeSpace

FRAGMENT = AttributeSpace(dict(type='Categorical'), target='optim_wrapper.optimizer.param_groups.*.weight_decay',
                          choices=[0.0, 5e-4], name='wd').export_fragment()


def _warning(path, caplog) -> str:
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    caplog.clear()
    try:
        warn_base_hooks_dropped(Config.fromfile(str(path)))
    finally:
        logger.removeHandler(caplog.handler)
    return caplog.text


def test_a_pasted_fragment_names_the_base_hooks_it_drops(tmp_path, caplog):
    (tmp_path / 'base.py').write_text(
        "custom_hooks = [dict(type='EMAHook', momentum=0.0002), dict(type='OHLHook', num_copies=2, spaces=[],\n"
        "                reward_key='accuracy/top1')]\n")
    (tmp_path / 'retrain.py').write_text("_base_ = ['base.py']\n" + FRAGMENT)
    text = _warning(tmp_path / 'retrain.py', caplog)
    assert 'EMAHook will not run' in text and 'OHLHook' not in text
    # listed again (the fix the warning gives): nothing to say; a file without a replay hook is not read
    (tmp_path / 'kept.py').write_text("_base_ = ['base.py']\n" + FRAGMENT
                                      + "custom_hooks = [dict(type='EMAHook', momentum=0.0002), *custom_hooks]\n")
    assert Config.fromfile(str(tmp_path / 'kept.py')).custom_hooks[0].type == 'EMAHook'
    assert _warning(tmp_path / 'kept.py', caplog) == ''
    # listed again with settings of its own (a retrain's EMA momentum): it runs, nothing to say
    (tmp_path / 'tuned.py').write_text("_base_ = ['base.py']\n" + FRAGMENT
                                       + "custom_hooks = [dict(type='mmdet.EMAHook', momentum=0.001), *custom_hooks]\n")
    assert _warning(tmp_path / 'tuned.py', caplog) == ''
    (tmp_path / 'own.py').write_text("_base_ = ['base.py']\ncustom_hooks = []\n")
    assert _warning(tmp_path / 'own.py', caplog) == ''


def test_a_fragment_pasted_over_a_stock_rtmdet_config_names_its_hooks(tmp_path, caplog):
    (tmp_path / 'rtmdet.py').write_text("_base_ = ['mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py']\n" + FRAGMENT)
    text = _warning(tmp_path / 'rtmdet.py', caplog)
    assert 'EMAHook, PipelineSwitchHook will not run' in text
