"""A config that sets no ``model`` (the README's plugin ``my_config.py`` run on its own, without the ``_base_`` it
inherits) is refused by ``tools/train.py``, ``tools/test.py`` and ``tools/measure_latency.py`` naming the file and a
``_base_`` to add: ``tools/train.py`` / ``tools/test.py`` stopped in mmengine's ``Runner.from_cfg`` with a bare
``KeyError: 'model'`` and a traceback, after their start checks had passed."""
from __future__ import annotations

import os.path as osp
import re
import sys

import pytest
import torch
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from automl_mm.engine.config_read import check_sets_model
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal

from conftest import REPO_ROOT

BASELINE = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


def _suggested_base(err: str) -> str:
    found = re.search(r"_base_ = \['([^']+)'\]", err)
    assert found, err
    return found.group(1)


@pytest.mark.parametrize('name, extra', [('train', []), ('test', ['weights.pth']),
                                         ('measure_latency', ['--out', 'x.json', '--input-shape', '1', '3', '8', '8'])])
@pytest.mark.parametrize('text', ["custom_hooks = []\n", "default_scope = 'automl_mm'\nmodel = None\n"])
def test_a_config_without_a_model_is_refused_naming_the_file_and_a_base(tmp_path, monkeypatch, capsys, name,
                                                                          extra, text):
    config = tmp_path / 'my_config.py'
    config.write_text(text)
    torch.save({'state_dict': {}, 'meta': {}}, tmp_path / 'weights.pth')  # tools/test.py checks it before the model
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    tool = load_tool(name, f'_tool_{name}_without_model')
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', str(config), *extra])
    with pytest.raises(SystemExit) as stopped:
        exit_on_refusal(tool.main, f'tools/{name}.py')
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f'tools/{name}.py: error: {config}: the config sets no model'), err
    # the _base_ it suggests is read as mmengine reads it, from the config's folder (it named the path from the
    # repository root, 'configs/baselines/...', which no config outside the root finds)
    base = _suggested_base(err)
    assert osp.samefile(osp.join(osp.dirname(str(config)), base), osp.join(REPO_ROOT, BASELINE)), err
    assert 'Traceback' not in err, err


@pytest.mark.parametrize('folder, base', [('', BASELINE),
                                          ('configs/my', '../baselines/baseline_convnet_1x1_30e_digits.py')])
def test_the_suggested_base_is_relative_to_a_config_in_the_repository(folder, base):
    with pytest.raises(ConfigCheckError) as refused:
        check_sets_model({'custom_hooks': []}, osp.join(REPO_ROOT, folder, 'my_config.py'))
    assert _suggested_base(str(refused.value)) == base, refused.value
