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
    """``LOCAL_RANK`` and ``TORCHINDUCTOR_CACHE_DIR`` unset during each test and restored after it, whatever the
    tool set there (autouse in a module that imports it): a tool sets ``LOCAL_RANK`` from its ``--local-rank``;
    conftest sets ``TORCHINDUCTOR_CACHE_DIR`` before any test (as torch does at its first ``torch._dynamo`` import),
    so the tool runs without it, and torch sets it again only where it compiles."""
    for name in ('LOCAL_RANK', 'TORCHINDUCTOR_CACHE_DIR'):
        monkeypatch.setenv(name, 'unset')
        monkeypatch.delenv(name)
