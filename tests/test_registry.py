from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from automl_mm import registry
from automl_mm.nas.base import BasePathSampler, BasePathSpace
from automl_mm.ohl.base import BaseController, BaseDistribution, OHLSpace, PerCopySpace

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


def _readme_block(first_line: str) -> str:
    """The README's fenced Python block that starts with ``first_line``."""
    readme = (Path(__file__).resolve().parents[1] / 'README.md').read_text()
    blocks = re.findall(r'```python\n(.*?)```', readme, flags=re.S)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f'README.md has {len(found)} python blocks starting with {first_line!r}'
    return found[0]


def test_readme_plugin_example_builds_from_custom_imports_and_passes_the_contract(tmp_path, monkeypatch):
    """The README's plugin (copied from README.md, so it cannot go stale) registers through custom_imports, builds
    as OHLHook builds it, drives an optimiser's learning rate, and passes ``check_ohl_space``."""
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    from automl_mm.ohl.base import build_ohl_space
    from automl_mm.testing import check_ohl_space, toy_runner

    package = tmp_path / 'my_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'lr_space.py').write_text(_readme_block('# my_project/lr_space.py'))
    config = _readme_block('# my_config.py')
    (tmp_path / 'my_config.py').write_text(config)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'my_project', raising=False)
    monkeypatch.delitem(sys.modules, 'my_project.lr_space', raising=False)
    try:
        cfg = Config.fromfile(str(tmp_path / 'my_config.py'))
        import_modules_from_strings(**cfg.custom_imports)
        space_cfg = cfg.custom_hooks[0]['spaces'][0]
        space = build_ohl_space(space_cfg)
        runner = toy_runner()
        space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
        assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] in (0.1, 0.03, 0.01)
        # under paramwise_cfg the choice is the config's base, as the plugin's fragment (lr=choice) replays it: the
        # example wrote it into every group, overwriting the head's lr_mult, so the replay trained another lr
        from mmengine.optim import build_optim_wrapper
        optim = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
                     paramwise_cfg=dict(custom_keys={'2.': dict(lr_mult=0.5)}))
        runner = toy_runner()
        runner.optim_wrapper = build_optim_wrapper(runner.model, optim)
        space.apply(1, runner)  # choice 0.03
        assert [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups] == [0.03, 0.03, 0.015, 0.015]
        # an lr warm-up would rescale every value written: refused at setup
        from mmengine.optim import LinearLR
        runner.param_schedulers = [LinearLR(runner.optim_wrapper, start_factor=0.001, end=5, by_epoch=False)]
        with pytest.raises(ValueError, match=r"OHL space 'lr' writes optim_wrapper.optimizer.lr but "
                                             r"param_scheduler\[0\] \(LinearLR\) schedules 'lr'"):
            space.setup(runner, None, 0)
        exec(_readme_block('# check it'), {})  # noqa: S102  (the README's own check call)
        check_ohl_space(space_cfg, runner=toy_runner())
    finally:
        registry.SEARCH_SPACES.module_dict.pop('MyLrSpace', None)


def test_readme_mmdet_config_snippet_builds_automl_mm_backbone_under_mmdet_scope(tmp_path):
    """The README's mmdet config (*How scopes link*, copied from README.md) reads with its ``mmdet::`` base, imports
    automl_mm through ``custom_imports`` and builds a Faster R-CNN whose backbone is automl_mm's ResNet-18 and
    whose FPN takes its four maps (64..512 channels)."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    snippet = _readme_block("_base_ = 'mmdet::")
    (tmp_path / 'det_config.py').write_text(snippet)
    cfg = Config.fromfile(str(tmp_path / 'det_config.py'))
    assert cfg.default_scope == 'mmdet'
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        detector = MMDET_MODELS.build(cfg.model)
    assert type(detector.backbone).__module__ == 'automl_mm.models.backbones.resnet'
    maps = detector.backbone(torch.zeros(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [64, 128, 256, 512]
    assert [m.shape[1] for m in detector.neck(maps)] == [256] * 5


def test_old_contract_names_alias_the_ohl_contracts():
    from automl_mm.ohl.base import BaseDistribution, OHLSpace
    from automl_mm.search import BaseSampler, BaseSearchSpace

    assert BaseSearchSpace is OHLSpace and BaseSampler is BaseDistribution


def test_contracts_are_abstract():
    for cls in (BaseDistribution, BaseController, OHLSpace, PerCopySpace, BasePathSpace, BasePathSampler):
        with pytest.raises(TypeError):
            cls() if cls in (BaseDistribution, BaseController, BasePathSampler) else \
                cls(dict(type='Categorical', num_choices=2)) if cls in (OHLSpace, PerCopySpace) else cls([[0]])


def test_build_in_scope_resolves_automl_mm_names_under_a_foreign_default_scope():
    """One scoped build helper: an mmdet config's CR-NAS space and a controller's optimiser build in automl_mm's
    scope, and the caller's default scope is restored."""
    from automl_mm.utils import build_in_scope

    with DefaultScope.overwrite_default_scope('mmdet'):
        space = build_in_scope(registry.SEARCH_SPACES, dict(type='DilationSpace', choices=(1, 2)))
        optimizer = build_in_scope(registry.OPTIMIZERS, dict(type='Adam', params=[torch.zeros(1, requires_grad=True)]))
        assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    assert type(space).__name__ == 'DilationSpace' and isinstance(optimizer, torch.optim.Adam)
