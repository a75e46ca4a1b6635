"""The nodes a tool or a start step reads on their own (the model, its backbone, ``model_wrapper_cfg``, a retrain
config's ``train_cfg``) have their ``type`` resolved as mmengine builds them: the node's own ``_scope_`` first
(``build_from_cfg`` pops it and switches to that scope's registry), else the scope of the node that builds it, else
the config's ``default_scope``. Resolved in ``default_scope`` alone: ``--show-dir`` refused an mmdet detector set
with ``_scope_='mmdet'`` under an automl_mm config as "no mmdet detector", a user's DDP on a CPU machine kept
mmengine's ``device_ids=[LOCAL_RANK]`` (torch refuses it for CPU modules), a pasted backbone fragment's check knew
none of the user's backbone's defaults, and a retrain config training with a user's search loop passed."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.dist import gloo_without_gpus
from automl_mm.engine.preflight_model import _init_defaults
from automl_mm.engine.tool_args import enable_drawing
from automl_mm.nas.retrain_export import check_retrain_config
from tests.test_engine._user_scope_kinds import USER_SCOPE


def test_show_dir_draws_an_mmdet_detector_set_by_its_scope(tmp_path):
    cfg = Config(dict(default_scope='automl_mm', model=dict(type='FasterRCNN', _scope_='mmdet'), default_hooks={},
                      visualizer=dict(type='DetLocalVisualizer', _scope_='mmdet')))
    enable_drawing(cfg, str(tmp_path))
    assert cfg.default_hooks.visualization.type == 'mmdet.DetVisualizationHook'
    assert cfg.default_hooks.visualization.draw is True


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU-only settings apply without GPUs only')
def test_a_users_ddp_gets_device_ids_none_without_gpus():
    cfg = Config(dict(default_scope='automl_mm', model_wrapper_cfg=dict(type='UserDDP', _scope_=USER_SCOPE)))
    gloo_without_gpus(cfg)
    assert 'device_ids' in cfg.model_wrapper_cfg and cfg.model_wrapper_cfg.device_ids is None


@pytest.mark.parametrize('how', ['own', 'model'])
def test_a_users_backbones_defaults_are_read(how):
    backbone = dict(type='UserHead', _scope_=USER_SCOPE) if how == 'own' else dict(type='UserHead')
    model = dict(type='ImageClassifier', backbone=backbone)
    if how == 'model':
        model['_scope_'] = USER_SCOPE
    cfg = Config(dict(default_scope='automl_mm', model=model))
    assert _init_defaults(cfg.model.backbone, cfg) == dict(in_channels=8, num_classes=2)


def test_a_retrain_config_training_with_a_users_search_loop_is_refused(tmp_path):
    path = tmp_path / 'retrain.py'
    path.write_text(f"default_scope = 'automl_mm'\ntrain_cfg = dict(type='UserSearchLoop', _scope_={USER_SCOPE!r})\n")
    with pytest.raises(ValueError, match=r"trains with train_cfg\.type='UserSearchLoop', a search loop"):
        check_retrain_config(str(path))


def test_a_users_checkpoint_initialiser_under_its_own_scope_loads_a_file():
    from automl_mm.models.backbones.pretrained import other_init_cfgs, pretrained_cfgs

    entry = dict(type='UserPretrained', _scope_=USER_SCOPE, checkpoint='backbone.pth')
    assert pretrained_cfgs([entry, dict(type='Normal', std=0.01)]) == [entry]
    assert other_init_cfgs([entry]) == []
