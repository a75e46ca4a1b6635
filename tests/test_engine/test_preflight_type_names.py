"""A misspelled ``type`` (``--cfg-options model.backbone.type=SimpleConvNett``) stopped the runner with mmengine's
``KeyError: 'SimpleConvNett is not in the automl_mm::model registry. Please check whether the value of
`SimpleConvNett` is correct ...'``, naming neither the config key nor the name meant; a dataset's or a pipeline
transform's (``train_dataloader.dataset.type=DigitDataset``) only at the first epoch, likewise. Each build now names
both: ``model.backbone.type='SimpleConvNett' is not in the automl_mm::model registry (did you mean
'SimpleConvNet'?)``, in a lone runner (``Runner.from_cfg``), the launching process of a multi-copy run
(``build_check``), a loop's dataset and a held-out loader's."""
from __future__ import annotations

import copy

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.evaluate import build_local_loader
from automl_mm.engine.loader_keys import build_named_dataset
from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_types import located_type_error
from automl_mm.registry import MODELS
from tests.test_engine._lone_runner import lone_runner_key_error
from tests.test_engine._preflight_configs import DETECTOR, OHL

from conftest import tiny_digits_cfg

BACKBONE = ("model.backbone.type='SimpleConvNett' is not in the automl_mm::model registry "
            "(did you mean 'SimpleConvNet'?)")


def test_a_runner_names_the_key_and_the_name_meant(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.backbone.type = 'SimpleConvNett'
    assert lone_runner_key_error(cfg) == BACKBONE


def test_the_build_check_of_a_multi_copy_run_names_the_key():
    cfg = Config.fromfile(OHL)
    cfg.model.head.loss.type = 'CrossEntropyLos'
    with pytest.raises(KeyError) as info:
        build_check(cfg)
    assert info.value.args[0] == ("model.head.loss.type='CrossEntropyLos' is not in the automl_mm::model registry "
                                  "(did you mean 'CrossEntropyLoss'?)")


def test_a_loader_dataset_and_its_pipeline_name_the_key(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset.type = 'DigitDataset'
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(KeyError) as info:
        build_named_dataset('train_dataloader.dataset', dataset)
    assert info.value.args[0] == ("train_dataloader.dataset.type='DigitDataset' is not in the automl_mm::dataset "
                                  "registry (did you mean 'DigitsDataset'?)")
    loader = copy.deepcopy(cfg.val_dataloader)
    loader.dataset.pipeline[-1].type = 'PackClsInput'
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(KeyError) as info:
        build_local_loader(loader, 'custom_hooks.0.reward_dataloader')
    assert info.value.args[0] == (
        f"custom_hooks.0.reward_dataloader.dataset.pipeline.{len(loader.dataset.pipeline) - 1}.type='PackClsInput' "
        "is not in the automl_mm::transform registry (did you mean 'PackClsInputs'?)")


def test_an_mmdet_node_is_named_in_its_scope_and_other_errors_are_left_alone():
    cfg = Config.fromfile(DETECTOR)
    cfg.model.rpn_head.type = 'RPNHeadd'
    with DefaultScope.overwrite_default_scope(cfg.default_scope), pytest.raises(KeyError) as info:
        MODELS.build(cfg.model)
    located = located_type_error(info.value, cfg.model, 'model')
    assert isinstance(located, KeyError)
    assert located.args[0] == ("model.rpn_head.type='RPNHeadd' is not in the mmdet::model registry "
                               "(did you mean 'RPNHead'?)")
    assert located_type_error(KeyError('lr'), cfg.model, 'model') is None
    assert located_type_error(ValueError(info.value.args[0]), cfg.model, 'model') is None
    # a name no node of this config has (an error from elsewhere) is not pinned on it
    assert located_type_error(KeyError('Nowhere is not in the mmdet::model registry. Please check'), cfg.model,
                              'model') is None


def test_a_type_registered_in_another_scope_is_named_with_its_prefix():
    """One's own class registered in automl_mm's registry and named unprefixed in an mmdet config (or registered in
    mmdet's and named in an automl_mm config) was refused with no hint, or pointed at another class: mmdet's
    ``Invert`` for one's own ``MyInvert``. The message names the scope that holds it and the prefixed type."""
    import torch.nn as nn
    from mmcv.transforms import BaseTransform
    from mmdet.registry import MODELS as MMDET_MODELS

    from automl_mm.registry import TRANSFORMS

    @TRANSFORMS.register_module(name='H45MyInvert', force=True)
    class _Invert(BaseTransform):
        def transform(self, results):
            return results

    @MMDET_MODELS.register_module(name='H45DetNet', force=True)
    class _DetNet(nn.Module):
        pass

    cfg = Config.fromfile(DETECTOR)
    cfg.train_dataloader.dataset.pipeline[2].type = 'H45MyInvert'
    with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(KeyError) as info:
        build_named_dataset('train_dataloader.dataset', copy.deepcopy(cfg.train_dataloader.dataset))
    assert info.value.args[0] == (
        "train_dataloader.dataset.pipeline.2.type='H45MyInvert' is not in the mmdet::transform registry (it is "
        "registered in the automl_mm::transform registry, which scope 'mmdet' does not search: write "
        "type='automl_mm.H45MyInvert')")

    cfg = tiny_digits_cfg('/nonexistent')
    cfg.model.backbone = dict(type='H45DetNet')
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(KeyError) as info:
        MODELS.build(cfg.model)
    located = located_type_error(info.value, cfg.model, 'model')
    assert located.args[0] == (
        "model.backbone.type='H45DetNet' is not in the automl_mm::model registry (it is registered in the "
        "mmdet::model registry, which scope 'automl_mm' does not search: write type='mmdet.H45DetNet')")


def test_an_automl_mm_hook_under_default_scope_mmdet_is_named_with_its_prefix():
    from automl_mm.engine.preflight import ConfigCheckError, check_config

    cfg = Config.fromfile(OHL)
    cfg.default_scope = 'mmdet'
    with pytest.raises(ConfigCheckError) as info:
        check_config(cfg)
    assert str(info.value) == (
        "custom_hooks[0].type='OHLHook' is not a registered hook in scope 'mmdet' (it is registered in the "
        "automl_mm::hook registry, which scope 'mmdet' does not search: write type='automl_mm.OHLHook')")


def test_a_node_without_type_is_named_by_its_key(tmp_path):
    """A loader's dataset without ``type`` (a config file naming its own ``reward_dataloader`` dict in a hook, which
    mmengine does not merge with the base's) stopped ``tools/train.py``'s check with ``TypeError: The key argument
    of `Registry.get` must be a str, got <class 'NoneType'>``; a single-process run's loader, a pipeline step or a
    model node without one with mmengine's ``must contain the key "type"``. Each names its key now."""
    from automl_mm.engine.preflight import ConfigCheckError, check_config

    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_dataloader = dict(batch_size=8, dataset=dict(split='reward'))
    check_config(cfg)
    with pytest.raises(ConfigCheckError) as info:
        build_check(cfg)
    assert str(info.value) == ("custom_hooks[0].reward_dataloader.dataset.type=None is not a registered dataset in "
                               "scope 'automl_mm'")

    cfg = tiny_digits_cfg(str(tmp_path))
    dataset = copy.deepcopy(cfg.val_dataloader.dataset)
    dataset.pop('type')
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(KeyError) as info:
        build_named_dataset('val_dataloader.dataset', dataset)
    assert info.value.args[0] == (f"val_dataloader.dataset has no 'type' (it sets: {', '.join(dataset)}); mmengine "
                                  'builds a config node from its registered type')
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset.pipeline = [dict(prob=0.5)] + list(dataset.pipeline)
    with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(KeyError) as info:
        build_named_dataset('train_dataloader.dataset', dataset)
    assert info.value.args[0] == ("train_dataloader.dataset.pipeline.0 has no 'type' (it sets: prob); mmengine "
                                  'builds a config node from its registered type')
    cfg.model.head.loss = dict(loss_weight=1.0)
    assert lone_runner_key_error(cfg) == ("model.head.loss has no 'type' (it sets: loss_weight); mmengine builds a "
                                          'config node from its registered type')


@pytest.mark.parametrize('registry_name, written, meant', [
    ('controller', 'Reinforce', 'REINFORCE'),  # an all-capitals name shares no lower-case letter with its spelling
    ('optimizer', 'sgd', 'SGD'),
    ('model', 'simpleconvnet', 'SimpleConvNet'),
])
def test_a_type_in_another_case_is_offered_the_registered_spelling(registry_name, written, meant):
    # 'Reinforce' got no hint at all (difflib compares case-sensitively: ratio 0.11 against 'REINFORCE'), only the
    # advice to register a class of one's own
    from automl_mm.engine.preflight_types import type_hint

    assert type_hint(registry_name, written, 'automl_mm') == f' (did you mean {meant!r}?)'
