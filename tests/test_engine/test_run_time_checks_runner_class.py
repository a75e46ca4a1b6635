"""The run-time checks (:mod:`automl_mm.engine.runner_checks`, at ``train()`` / ``val()`` / ``test()``) judge the
runner class that was built, not only what its config says: ``CopyRunner.from_cfg(cfg)`` of a config without
``runner_type`` builds a ``CopyRunner`` (``from_cfg`` is a classmethod: ``cls(...)``).

Input that showed the fault: the one-copy digits OHL config without ``runner_type``, built by
``CopyRunner.from_cfg``, was refused at ``train()`` with "custom_hooks[0] is an OHLHook, which needs
runner_type='automl_mm.CopyRunner' ..., got runner_type='Runner'" although the runner was a ``CopyRunner``."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.runner import Runner

from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_ohl_cfg


def _stand_in(cls: type, cfg) -> Runner:
    """A built runner of class ``cls`` as the checks read it (its config, its scope; no model)."""
    runner = cls.__new__(cls)
    runner.cfg, runner.default_scope, runner.model = cfg, SimpleNamespace(scope_name='automl_mm'), None
    return runner


def test_a_copy_runner_built_from_a_config_without_runner_type_passes(tmp_path):
    from automl_mm.engine.runner_checks import _checks
    from automl_mm.ohl.copies import CopyRunner

    cfg = tiny_ohl_cfg(str(tmp_path))
    cfg.pop('runner_type')
    _checks(_stand_in(CopyRunner, cfg), 'train')
    assert 'runner_type' not in cfg  # the runner's own config is left as it is


def test_mmengines_runner_with_an_ohl_hook_is_still_refused(tmp_path):
    from automl_mm.engine.runner_checks import _checks

    cfg = tiny_ohl_cfg(str(tmp_path))
    cfg.pop('runner_type')
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\] is an OHLHook, which needs runner_type="
                                               r"'automl_mm.CopyRunner'.*got runner_type='Runner'$"):
        _checks(_stand_in(Runner, cfg), 'train')
