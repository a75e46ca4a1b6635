"""The environment log line reads torchvision's version without importing it (``automl_mm.engine.env_info``,
patch 12)."""
from __future__ import annotations

import sys

import mmengine._strategy.base as strategy_module
import mmengine.runner.runner as runner_module
from mmengine.utils.dl_utils import collect_env

from automl_mm.engine.env_info import collect_env_reading_torchvision_version, torchvision_version


def test_the_log_reads_as_before_and_torchvision_is_not_imported(monkeypatch):
    import torchvision

    assert torchvision_version() == torchvision.__version__  # e.g. '0.29.1+cu130', not the dist's '0.29.1'
    expected = collect_env()  # mmengine's, torchvision imported
    imported = []
    real_import = __import__

    def spying(name, *args, **kwargs):
        if name == 'torchvision':
            imported.append(name)
        return real_import(name, *args, **kwargs)

    # a process that has not imported torchvision (each tools/train.py, each OHL copy process)
    for name in [m for m in sys.modules if m == 'torchvision' or m.startswith('torchvision.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr('builtins.__import__', spying)
    env = collect_env_reading_torchvision_version(collect_env)()
    assert 'torchvision' not in sys.modules  # not imported, and the import block is lifted
    monkeypatch.undo()
    assert list(env.items()) == list(expected.items())  # the same lines, in mmengine's order
    assert imported == ['torchvision']  # mmengine's import was tried, and stopped


def test_installed_on_both_collect_env_callers():
    assert runner_module.collect_env.reads_torchvision_version
    assert strategy_module.collect_env.reads_torchvision_version
