"""What the tests that call ``tools/train.py`` / ``tools/test.py`` in-process share: loading a tool as a module
(the ``tools`` folder is no package) and undoing what the tool sets in ``os.environ``."""
import importlib.util
import os.path as osp

import pytest

from conftest import REPO_ROOT


def load_tool(name: str, alias: str):
    """``tools/<name>.py`` executed as the module ``alias`` (a fresh module each call)."""
    spec = importlib.util.spec_from_file_location(alias, osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def tool_environment(monkeypatch):
    """What a tool sets in os.environ (LOCAL_RANK, the inductor cache) is undone after each test (autouse in a module
    that imports it)."""
    for name in ('LOCAL_RANK', 'TORCHINDUCTOR_CACHE_DIR'):
        monkeypatch.setenv(name, 'unset')
        monkeypatch.delenv(name)
