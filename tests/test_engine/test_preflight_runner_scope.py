"""The start's builds resolve a config's types in the scope mmengine's ``Runner`` builds them in: without
``default_scope``, ``Runner.from_cfg`` passes ``cfg.get('default_scope', 'mmengine')`` and makes it the current
default scope, whose registries are mmengine's roots, so an unprefixed automl_mm or mmdet type is not found there
(``KeyError: 'Accuracy is not in the mmengine::metric registry ...'``). The start built them in ``'automl_mm'``
instead and passed such a config, which the runner then refused (a multi-copy run: in each copy)."""
from __future__ import annotations

import inspect

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_build import check_data_sources
from automl_mm.engine.preflight_metric_build import check_metric_arguments
from automl_mm.engine.preflight_walk import ConfigCheckError, runner_scope


def test_the_runner_builds_in_mmengines_scope_without_default_scope():
    """mmengine's own rule (0.10.7), which runner_scope follows: a changed mmengine fails here first."""
    from mmengine.registry import METRICS, DefaultScope
    from mmengine.runner import Runner

    assert "default_scope=cfg.get('default_scope', 'mmengine')" in inspect.getsource(Runner.from_cfg)
    with DefaultScope.overwrite_default_scope('mmengine'), pytest.raises(KeyError, match='mmengine::metric'):
        METRICS.build(dict(type='Accuracy'))
    assert runner_scope(Config()) == 'mmengine'
    assert runner_scope(Config(dict(default_scope='mmdet'))) == 'mmdet'
    assert runner_scope(Config(dict(default_scope=None))) is None  # the runner keeps the current scope


def test_an_unprefixed_type_the_runner_cannot_build_is_refused_at_start():
    with pytest.raises(KeyError, match=r"^\"val_evaluator\.type='Accuracy' is not in the mmengine::metric registry "
                                       r"\(it is registered in the automl_mm::metric registry, which scope 'mmengine' "
                                       r"does not search: write type='automl_mm\.Accuracy'\)"):
        check_metric_arguments(Config(dict(val_evaluator=dict(type='Accuracy'))))
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.type='DigitsDataset' is not a registered "
                                               r"dataset in scope 'mmengine' .*write type='automl_mm\.DigitsDataset'"):
        check_data_sources(Config(dict(train_dataloader=dict(batch_size=1, dataset=dict(type='DigitsDataset')))))


def test_what_the_runner_builds_passes():
    check_metric_arguments(Config(dict(val_evaluator=dict(type='automl_mm.Accuracy'))))
    check_metric_arguments(Config(dict(default_scope='automl_mm', val_evaluator=dict(type='Accuracy'))))


@pytest.mark.parametrize('given, scope', [({}, 'mmengine'), (dict(default_scope='mmdet'), 'mmdet'),
                                          (dict(default_scope=None), None)])
def test_every_check_of_check_config_resolves_in_the_runners_scope(monkeypatch, given, scope):
    """check_config handed 'automl_mm' to its checks without a default_scope while config_scope gave None: the
    checks judged types in two scopes, neither the runner's."""
    from automl_mm.engine import preflight
    from automl_mm.engine.preflight_walk import config_scope

    seen = []
    monkeypatch.setattr(preflight, 'check_metric_order', lambda cfg, scope, *args: seen.append(scope))
    cfg = Config(given)
    preflight.check_config(cfg)
    assert seen == [scope] and config_scope(cfg) == scope


def test_a_built_runner_builds_in_its_own_scope(tmp_path):
    """built_scope reads the runner (its default_scope argument), not its cfg: a runner built directly with
    default_scope='automl_mm' and a cfg without the key builds in automl_mm's scope, not mmengine's."""
    from types import SimpleNamespace

    from mmengine.runner import Runner
    from torch import nn

    from automl_mm.engine.preflight_walk import built_scope

    runner = Runner(model=nn.Linear(1, 1), work_dir=str(tmp_path), default_scope='automl_mm', cfg=dict(seed=0))
    assert built_scope(runner) == 'automl_mm' and runner_scope(runner.cfg) == 'mmengine'
    runner.default_scope = None  # Runner(default_scope=None): the current default scope
    assert built_scope(runner) is None
    # a runner-like stand-in without default_scope: as a runner built from its cfg (Runner.from_cfg)
    assert built_scope(SimpleNamespace(cfg=dict(default_scope='mmdet'))) == 'mmdet'
    assert built_scope(SimpleNamespace(cfg={})) == 'mmengine'
