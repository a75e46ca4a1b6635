"""Under a non-editable install (``pip install .``, not ``-e``) the package lives in ``site-packages`` and the tools
stay in the checkout: a refusal raised in a tool's own code (``tools/train.py``'s ``config file not found: ...``)
printed its whole Python traceback, as :func:`~automl_mm.engine.tool_errors.raised_as_refusal` looked for the tools
beside the package (``site-packages/tools``). The folder of the tool that runs (its ``main``'s file) is automl_mm's
own code too."""
from __future__ import annotations

import sys

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal


@pytest.mark.parametrize('name, argv', [('train', ['missing.py']), ('test', ['missing.py', 'missing.pth'])])
def test_a_tool_s_own_refusal_has_no_traceback_where_the_package_is_installed_elsewhere(
        tmp_path, monkeypatch, capsys, name, argv):
    import automl_mm

    tool = load_tool(name, f'_tool_{name}_installed')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    # the package where pip installs it, away from the checkout's tools/
    monkeypatch.setattr(automl_mm, '__file__', str(tmp_path / 'site-packages' / 'automl_mm' / '__init__.py'))
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *argv])
    with pytest.raises(SystemExit) as stopped:
        exit_on_refusal(tool.main, f'tools/{name}.py')
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f'tools/{name}.py: error: config file not found: missing.py'), err
    assert err.rstrip().endswith(f'(FileNotFoundError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)'), err


def test_a_raise_outside_the_tool_and_the_package_is_still_no_refusal(tmp_path, monkeypatch):
    """The tool's folder counts for the tool's own raises alone: a plugin's raise inside the tool's ``main`` keeps
    its traceback."""
    plugin = tmp_path / 'plugin'
    plugin.mkdir()
    (plugin / 'refusing_plugin.py').write_text('def refuse(*args):\n    raise ValueError("a plugin refused")\n')
    monkeypatch.syspath_prepend(str(plugin))
    import refusing_plugin

    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    tool = load_tool('train', '_tool_train_installed_plugin')
    monkeypatch.setattr(tool, 'parse_args', refusing_plugin.refuse)
    with pytest.raises(ValueError, match='a plugin refused'):
        exit_on_refusal(tool.main, 'tools/train.py')
