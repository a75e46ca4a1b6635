from __future__ import annotations

import pytest
import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from automl_mm import registry
from automl_mm.search import BaseController, BaseSampler, BaseSearchSpace

CHILDREN = ['RUNNERS', 'LOOPS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'METRICS',
            'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS', 'VISUALIZERS', 'VISBACKENDS', 'EVALUATOR']


@pytest.mark.parametrize('name', CHILDREN)
def test_children_of_mmengine_roots(name):
    reg = getattr(registry, name)
    assert reg.scope == 'automl_mm'
    assert reg.parent is not None and reg.parent.scope == 'mmengine'
    assert reg._locations, f'{name} has no locations for lazy import'


@pytest.mark.parametrize('name', ['SEARCH_SPACES', 'SAMPLERS', 'CONTROLLERS'])
def test_automl_families_are_roots(name):
    reg = getattr(registry, name)
    assert reg.parent is None and reg.scope == 'automl_mm'


def test_unprefixed_lookup_falls_back_to_mmengine():
    with DefaultScope.overwrite_default_scope('automl_mm'):
        assert registry.MODELS.get('ImgDataPreprocessor') is MMENGINE_MODELS.get('ImgDataPreprocessor')
        assert registry.MODELS.get('ResNet').__module__ == 'automl_mm.models.backbones.resnet'


def test_foreign_scope_reaches_automl_mm_by_prefix():
    from mmdet.registry import MODELS as MMDET_MODELS

    with DefaultScope.overwrite_default_scope('mmdet'):
        net = MMDET_MODELS.build(dict(type='automl_mm.ResNet', depth=18, out_indices=(3,)))
    assert type(net).__module__ == 'automl_mm.models.backbones.resnet'
    assert net(torch.zeros(1, 3, 64, 64))[0].shape == (1, 512, 2, 2)


def test_plugin_registers_with_decorator_and_custom_imports(tmp_path, monkeypatch):
    """A user module named in custom_imports registers a search space that a config then builds."""
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    (tmp_path / 'my_plugin.py').write_text(
        'from automl_mm.registry import SEARCH_SPACES\n'
        'from automl_mm.search import BaseSearchSpace\n'
        '@SEARCH_SPACES.register_module()\n'
        'class MyLrSpace(BaseSearchSpace):\n'
        '    def apply(self, sample, runner=None):\n'
        '        self.last = sample\n')
    (tmp_path / 'cfg.py').write_text(
        "custom_imports = dict(imports=['my_plugin'], allow_failed_imports=False)\n"
        "space = dict(type='MyLrSpace', sampler=None)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    import_modules_from_strings(**cfg.custom_imports)
    space = registry.SEARCH_SPACES.build(cfg.space)
    space.apply(0.1)
    assert isinstance(space, BaseSearchSpace) and space.last == 0.1


def test_contracts_are_abstract():
    for cls in (BaseSampler, BaseController, BaseSearchSpace):
        with pytest.raises(TypeError):
            cls() if cls is not BaseSearchSpace else cls(None)
