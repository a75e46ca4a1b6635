"""A config whose ``_base_`` files set the same top-level key: the README's AM-LFS retrain with the search's
``final_policy.py`` named as a second ``_base_`` (both set ``model``) stopped ``tools/train.py`` with mmengine's
traceback ending in ``KeyError: "Duplicate key is not allowed among bases. Duplicate keys: {'model'}"``, naming
neither the config nor the two bases. :func:`automl_mm.engine.config_read.read_config` names them and the fix."""
from __future__ import annotations

import os.path as osp

import pytest

from automl_mm.engine.config_read import read_config
from automl_mm.engine.tool_errors import exit_on_refusal

from conftest import REPO_ROOT


def _write(folder, name: str, text: str) -> str:
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def test_two_bases_setting_one_key_are_named(tmp_path):
    first = _write(tmp_path, 'search.py', "model = dict(type='A')\nseed = 0\n")
    policy = _write(tmp_path, 'final_policy.py', "model = dict(head=dict(loss=dict(type='B')))\nseed = 1\n")
    config = _write(tmp_path, 'retrain.py', "_base_ = ['./search.py', './final_policy.py']\ncustom_hooks = []\n")
    with pytest.raises(KeyError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f"{config}: _base_ files {first} and {policy} both set model, seed: mmengine merges no "
                              'top-level key that two bases set'), message
    assert 'inherit one of them and set the keys of the other in this config' in message, message
    assert 'paste its text' in message, message


def test_a_duplicate_within_a_base_is_named_in_that_base(tmp_path):
    """The two files are bases of a base: that base is named, not the config that inherits it."""
    _write(tmp_path, 'a.py', 'model = 1\n')
    _write(tmp_path, 'b.py', 'model = 2\n')
    middle = _write(tmp_path, 'middle.py', "_base_ = ['./a.py', './b.py']\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./middle.py']\n")
    with pytest.raises(KeyError) as refused:
        read_config(config)
    assert refused.value.args[0].startswith(f'{middle}: _base_ files {tmp_path}/a.py and {tmp_path}/b.py both set '
                                            'model: '), refused.value.args[0]


def test_the_tools_refuse_it_without_a_traceback(tmp_path, capsys):
    """As ``tools/train.py`` ends on it (:func:`~automl_mm.engine.tool_errors.exit_on_refusal`): its message alone."""
    _write(tmp_path, 'policy.py', "model = dict(head=dict(loss=dict(type='AMLFSLoss')))\n")
    base = osp.join(REPO_ROOT, 'configs', 'baselines', 'baseline_convnet_1x1_30e_digits.py')
    config = _write(tmp_path, 'retrain.py', f"_base_ = [{base!r}, './policy.py']\n")
    with pytest.raises(SystemExit) as stopped:
        exit_on_refusal(lambda: read_config(config), 'tools/train.py')
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f'tools/train.py: error: {config}: _base_ files {base} and {tmp_path}/policy.py both set '
                          'model: '), err
    assert '(KeyError; AUTOML_MM_TRACEBACK=1 prints the Python traceback)' in err, err


def test_a_base_named_twice_is_named_once(tmp_path):
    """``_base_ = ['./search.py', './search.py']``: mmengine refuses it as two bases that set one key; the message
    named the file three times (``_base_ files .../search.py, .../search.py and .../search.py both set model``)."""
    search = _write(tmp_path, 'search.py', "model = dict(type='A')\n")
    config = _write(tmp_path, 'retrain.py', "_base_ = ['./search.py', 'search.py']\n")
    with pytest.raises(KeyError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}: _base_ names {search} twice: mmengine merges no top-level key that two '
                              'bases set'), message
    assert 'name it once' in message, message


def test_three_bases_are_each_named_once(tmp_path):
    """The third base sets the keys of the first two (one each): the three files named, each once, not as "both"."""
    a = _write(tmp_path, 'a.py', 'model = 1\n')
    b = _write(tmp_path, 'b.py', 'seed = 1\n')
    c = _write(tmp_path, 'c.py', 'model = 2\nseed = 2\n')
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./a.py', './b.py', './c.py']\n")
    with pytest.raises(KeyError) as refused:
        read_config(config)
    assert refused.value.args[0].startswith(f'{config}: _base_ files {a}, {b} and {c} set model, seed: '), \
        refused.value.args[0]


def test_bases_named_with_mmengines_variables_are_read_as_mmengine_reads_them(tmp_path, monkeypatch):
    """``_base_`` entries with mmengine's predefined (``{{ fileDirname }}``) or environment (``{{ $NAME:default }}``)
    variables, which mmengine substitutes before it reads ``_base_``: the files were looked for under the literal
    ``{{ fileDirname }}/...`` and mmengine's bare ``KeyError`` stood."""
    monkeypatch.setenv('POLICY_NAME', 'final_policy')
    search = _write(tmp_path, 'search.py', "model = dict(type='A')\n")
    policy = _write(tmp_path, 'final_policy.py', "model = dict(head=dict(loss=dict(type='B')))\n")
    config = _write(tmp_path, 'retrain.py',
                    "_base_ = ['{{ fileDirname }}/search.py', './{{ $POLICY_NAME:x }}.py']\n")
    with pytest.raises(KeyError) as refused:
        read_config(config)
    assert refused.value.args[0].startswith(f'{config}: _base_ files {search} and {policy} both set model: '), \
        refused.value.args[0]


def test_a_missing_base_named_with_a_predefined_variable_is_named(tmp_path):
    """:func:`~automl_mm.engine.config_read.base_not_found` reads ``_base_`` as mmengine does too."""
    _write(tmp_path, 'runtime.py', 'seed = 0\n')
    config = _write(tmp_path, 'model.py', "_base_ = ['{{ fileDirname }}/runtim.py']\n")
    with pytest.raises(FileNotFoundError) as refused:
        read_config(config)
    assert str(refused.value).startswith(f'{config}: _base_ '), str(refused.value)
    assert "(did you mean" in str(refused.value) and 'runtime.py' in str(refused.value), str(refused.value)
