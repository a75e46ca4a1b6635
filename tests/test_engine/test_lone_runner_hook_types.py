"""A hook ``type`` no registry of the runner's scope holds stopped a lone runner (mmdet's own ``tools/train.py``:
``Runner.from_cfg``) with mmengine's ``KeyError: 'SetAttributesHook is not in the mmdet::hook registry. Please check
whether the value of ...'``, naming neither the config key nor the prefix to write, while automl_mm's
``tools/train.py`` named both and the model's misspelled types were named in the lone runner too. Every node the
runner builds in its ``__init__`` (its log processor, visualizer, model, model wrapper, default and custom hooks)
is now named by its key."""
from __future__ import annotations

from automl_mm.engine.preflight_walk import typed_nodes
from tests.test_engine._lone_runner import lone_runner_key_error

from conftest import tiny_digits_cfg


def test_an_automl_mm_hook_unprefixed_in_an_mmdet_config_is_named_with_its_prefix(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.default_scope = 'mmdet'
    for node, _ in [*typed_nodes(cfg.model, 'model'), *typed_nodes(cfg.default_hooks, 'default_hooks')]:
        node.type = f'automl_mm.{node.type}'  # these build (FiniteLossHook is automl_mm's); the custom hook is left
    cfg.custom_hooks = [dict(type='SetAttributesHook', values={'model.head.loss_module.loss_weight': 1.0})]
    assert lone_runner_key_error(cfg) == (
        "custom_hooks.0.type='SetAttributesHook' is not in the mmdet::hook registry (it is registered in the "
        "automl_mm::hook registry, which scope 'mmdet' does not search: write type='automl_mm.SetAttributesHook')")


def test_a_misspelled_default_hook_is_named_with_the_name_meant(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.default_hooks.checkpoint.type = 'CheckpointHok'
    assert lone_runner_key_error(cfg) == ("default_hooks.checkpoint.type='CheckpointHok' is not in the automl_mm::hook "
                                          "registry (did you mean 'CheckpointHook'?)")
