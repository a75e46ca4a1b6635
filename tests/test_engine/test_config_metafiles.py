"""An installed package's metafiles are parsed once per process (``automl_mm.engine.config_metafiles``, patch 18):
a config with ``mmdet::`` bases read again parses none of mmdet's 102 YAML files, and reads as before."""
from __future__ import annotations

import os
import os.path as osp

import mmengine.config.utils as config_utils
import pytest
from mmengine.config import Config
from mmengine.fileio import load

from automl_mm.engine.config_metafiles import memoised_metafile_load

from conftest import REPO_ROOT

DETECTION = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py')  # 3 mmdet:: bases


def _counting():
    calls = []

    def counted(file, *args, **kwargs):
        calls.append(file)
        return load(file, *args, **kwargs)

    return calls, memoised_metafile_load(counted)


def test_a_file_is_parsed_once_and_each_call_gets_its_own_copy(tmp_path):
    calls, memoised = _counting()
    path = tmp_path / 'metafile.yml'
    path.write_text('Models:\n  - Name: a\n    Config: configs/a/a.py\n')
    first = memoised(str(path))
    assert first == {'Models': [{'Name': 'a', 'Config': 'configs/a/a.py'}]}
    first['Models'].clear()  # a caller changing what it got changes nothing else
    assert memoised(str(path)) == memoised(path) == {'Models': [{'Name': 'a', 'Config': 'configs/a/a.py'}]}
    assert len(calls) == 1
    path.write_text('Models: []\n')  # an edited file (other size) is parsed anew
    assert memoised(str(path)) == {'Models': []} and len(calls) == 2
    os.utime(path, ns=(1, 1))  # and one with another modification time
    assert memoised(str(path)) == {'Models': []} and len(calls) == 3


def test_other_calls_and_errors_go_to_load_every_time(tmp_path):
    calls, memoised = _counting()
    path = tmp_path / 'metafile.yml'
    path.write_text('a: 1\n')
    for _ in range(2):
        assert memoised(str(path), file_format='yaml') == {'a': 1}  # an argument besides the path: not kept
        with open(path) as f:
            assert memoised(f, file_format='yaml') == {'a': 1}  # a file object: not kept
        with pytest.raises(FileNotFoundError):
            memoised(str(tmp_path / 'missing.yml'))  # mmengine's own error
    assert len(calls) == 6
    path.write_text('a: [\n')
    for _ in range(2):  # a parse error is raised every time, nothing kept
        with pytest.raises(Exception, match='expected'):
            memoised(str(path))
    assert len(calls) == 8


def test_a_detection_config_read_again_parses_no_metafile_and_reads_as_before(monkeypatch):
    """In a process of tools/*.py: the test process's conftest looks the bases up in an index of its own."""
    assert getattr(config_utils.load, 'memoised', False)  # installed by `import automl_mm`
    from mmengine.config import config as config_module

    # the names Config._get_cfg_path's look-up reads: the globals of the function it calls (config_utils' own, unless
    # the module was imported anew in this process), conftest's index (and any wrapper of it) undone there
    namespace = config_module._get_external_cfg_path.__globals__
    original = namespace['_get_cfg_metainfo']
    while hasattr(original, 'mmengine_original'):
        original = original.mmengine_original
    monkeypatch.setitem(namespace, '_get_cfg_metainfo', original)
    calls, memoised = _counting()
    monkeypatch.setitem(namespace, 'load', load)
    unpatched = Config.fromfile(DETECTION).to_dict()
    monkeypatch.setitem(namespace, 'load', memoised)
    assert Config.fromfile(DETECTION).to_dict() == unpatched
    parsed = len(calls)
    assert parsed == len(set(calls)) > 100, (parsed, namespace is vars(config_utils), original)  # each once
    assert Config.fromfile(DETECTION).to_dict() == unpatched
    assert len(calls) == parsed  # none parsed again
