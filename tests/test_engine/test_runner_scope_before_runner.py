"""Code that reads a config before its runner exists resolves the config's types in the scope that runner will build
in (:func:`~automl_mm.engine.preflight_walk.runner_scope`: its ``default_scope``, ``'mmengine'`` without the key), and
a search's export the searched backbone in the scope its runner built it in (the model's ``_scope_``, else the
runner's own: :func:`~automl_mm.nas.retrain_export.backbone_scope`).

Inputs that showed the faults: ``required_world_size`` of a config without ``default_scope`` whose ``OHLHook`` the
runner cannot build (mmengine's scope) counted 2 processes (``cfg.get('default_scope')`` is ``None``: the current
default scope), each of which then refused the config; ``check_retrain_backbone`` built a retrain config's
``model=dict(_scope_='mmdet', backbone=dict(type='ResNet'))`` in its ``default_scope`` ``'automl_mm'`` (automl_mm's
own ``ResNet``, another network) and refused the searched mmdet ``ResNet`` as different; a search whose model sets
``_scope_='mmdet'`` exported its ``ResNet`` backbone as ``'automl_mm.ResNet'``."""
from __future__ import annotations

from types import SimpleNamespace

from mmengine.config import Config
from mmengine.registry import DefaultScope

OHL = dict(type='OHLHook', num_copies=2, spaces=[], reward_key='accuracy/top1', trunk_epochs=1)


def test_the_processes_of_an_ohl_hook_are_counted_in_the_runners_scope():
    from automl_mm.engine.launch import required_world_size

    with DefaultScope.overwrite_default_scope('automl_mm'):  # (whatever is current: not what the runner builds in)
        assert required_world_size(Config(dict(custom_hooks=[OHL]))) == 1  # mmengine's scope: no OHL hook
        assert required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=[OHL]))) == 2
    with DefaultScope.overwrite_default_scope('mmengine'):
        assert required_world_size(Config(dict(default_scope='automl_mm', custom_hooks=[OHL]))) == 2


def test_the_retrain_backbone_is_built_in_its_models_scope(tmp_path):
    from automl_mm.nas.retrain_export import check_retrain_backbone

    retrain = tmp_path / 'retrain.py'
    retrain.write_text("default_scope = 'automl_mm'\n"
                       "model = dict(_scope_='mmdet', type='RetinaNet', backbone=dict(type='ResNet', depth=18, "
                       "norm_eval=False))\n")
    # the searched one: mmdet's ResNet too (its model's _scope_), norm_eval changes no module
    check_retrain_backbone(str(retrain), dict(type='ResNet', depth=18, norm_eval=True), ('arch', ), scope='mmdet')


def test_a_searched_backbone_is_named_in_the_scope_its_runner_built_it_in():
    from automl_mm.nas.retrain_export import backbone_scope, fragment_type

    def runner(model, scope='automl_mm'):  # built directly: default_scope as an argument, none in its cfg
        return SimpleNamespace(default_scope=SimpleNamespace(scope_name=scope), cfg=Config(dict(model=model)))

    resnet = dict(type='ResNet', depth=18)
    assert backbone_scope(runner(dict(type='RetinaNet', backbone=resnet))) == 'automl_mm'
    assert backbone_scope(runner(dict(type='RetinaNet', backbone=resnet), scope='mmdet')) == 'mmdet'
    scoped = runner(dict(_scope_='mmdet', type='RetinaNet', backbone=resnet))
    assert backbone_scope(scoped) == 'mmdet'
    assert backbone_scope(runner(dict(type='RetinaNet', backbone=dict(resnet, _scope_='mmdet')))) == 'mmdet'
    assert fragment_type('ResNet', backbone_scope(scoped))[0] == 'mmdet.ResNet'


def test_the_runner_type_is_resolved_as_the_tools_build_it(monkeypatch):
    """tools/train.py and tools/test.py build ``RUNNERS.build(cfg)`` (mmengine's ``build_runner_from_cfg``): the
    ``runner_type`` in the config's own ``_scope_``, else the current default scope; ``default_scope`` plays no part
    (it is the scope of what the runner builds). Resolved in ``default_scope='mmdet'``, an unprefixed
    ``'CopyRunner'`` was not found and the process group was not started before the runner."""
    import mmengine.dist
    import mmengine.utils.dl_utils
    import torch.distributed as torch_dist

    from automl_mm.engine.rank_agreement import join_process_group
    from automl_mm.registry import RUNNERS

    assert not torch_dist.is_initialized()
    started = []
    monkeypatch.setattr(mmengine.dist, 'init_dist', lambda launcher, **kwargs: started.append(launcher))
    monkeypatch.setattr(mmengine.utils.dl_utils, 'set_multi_processing', lambda **kwargs: None)
    cfg = Config(dict(launcher='pytorch', default_scope='mmdet', runner_type='CopyRunner'))
    with DefaultScope.overwrite_default_scope('automl_mm'):
        assert RUNNERS.get('CopyRunner') is not None  # what the tools build
        assert join_process_group(cfg) and started == ['pytorch']


def test_the_runner_class_of_an_attribute_path_is_resolved_as_the_tools_build_it():
    """The launching process's check of an OHL attribute path's first part (an attribute of the runner class) resolved
    ``runner_type`` in ``default_scope``, as :func:`join_process_group` did: an unprefixed ``'CopyRunner'`` under
    ``default_scope='mmdet'`` (which the tools build, from automl_mm's ``RUNNERS``) was not found and a misspelled
    ``train_lop`` passed, to be refused in every worker."""
    import pytest

    from automl_mm.engine.preflight_ohl_build import _check_targets
    from automl_mm.ohl.attribute_space import AttributeSpace

    space = AttributeSpace(dict(type='Categorical'), target='train_lop.max_epochs', choices=[1, 2], name='epochs')
    cfg = Config(dict(default_scope='mmdet', runner_type='CopyRunner', model=dict()))
    with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(  # (build_check runs in the config's scope)
            ValueError, match=r"the runner \(CopyRunner\) has no attribute 'train_lop' \(did you mean 'train_loop'"):
        _check_targets(SimpleNamespace(spaces=[space]), None, None, None, cfg)
