"""A metric's misspelled argument (``--cfg-options val_evaluator.prefx=a``) stops a single-process ``tools/train.py``
run, and a ``tools/test.py`` run, before its runner is built, with the message of the multi-copy path's start-up
build (:func:`~automl_mm.engine.preflight_build.build_check`). Found by a new user's trial (fifty-second session): a
single-process run ran only the data part of that build (``check_data_sources``) at its start, so the evaluators
were first built by the runner's loops: after the model, the hooks and some 290 log lines."""
from __future__ import annotations

import os
import os.path as osp

import pytest

from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _message(key: str) -> str:
    return (rf"^{key}\.prefx: Accuracy takes no argument 'prefx' \(it takes .*\) "
            rf"\(did you mean {key}\.prefix\?\)$")


@pytest.mark.parametrize('key', ['val_evaluator', 'test_evaluator'])
def test_a_single_process_run_refuses_a_metric_argument_before_its_runner_is_built(tmp_path, monkeypatch, key):
    tool = load_tool('train', f'_tool_train_metric_args_{key}')
    monkeypatch.setattr(tool, 'build_runner', lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'launch_local', lambda *a: pytest.fail('local copies were started'))
    work = tmp_path / 'work'
    with pytest.raises(TypeError, match=_message(key)):
        tool.main([CONFIG, '--work-dir', str(work), '--cfg-options', f'{key}.prefx=a'])
    assert not work.exists() or not os.listdir(work)


def test_a_test_run_refuses_a_metric_argument_before_its_runner_is_built(tmp_path, monkeypatch):
    """``tools/test.py`` likewise, for its ``test_evaluator`` (it built the model and loaded the checkpoint first); a
    misspelled ``val_evaluator`` argument does not stop a test."""
    import types

    import torch

    tool = load_tool('test', '_tool_test_metric_args')
    fail = types.SimpleNamespace(from_cfg=lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'Runner', fail)
    monkeypatch.setattr(tool, 'RUNNERS', types.SimpleNamespace(build=fail.from_cfg))
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={}, meta={}), checkpoint)
    work = tmp_path / 'work'
    argv = [CONFIG, str(checkpoint), '--work-dir', str(work), '--cfg-options']
    with pytest.raises(TypeError, match=_message('test_evaluator')):
        tool.main([*argv, 'test_evaluator.prefx=a'])
    assert not work.exists() or not os.listdir(work)
    with pytest.raises(pytest.fail.Exception, match='the runner was built'):
        tool.main([*argv, 'val_evaluator.prefx=a'])


def test_a_test_run_builds_its_metrics_once_at_start(tmp_path, monkeypatch):
    """``tools/test.py``'s start builds its evaluator's metrics once: 00e9a72 called check_metric_arguments twice,
    and a ``CocoMetric`` / ``LVISMetric`` loads its whole ``ann_file`` in its constructor (a second load at every
    start, on every rank)."""
    import types

    import torch

    tool = load_tool('test', '_tool_test_metric_args_once')
    calls = []
    checked = tool.check_metric_arguments
    monkeypatch.setattr(tool, 'check_metric_arguments', lambda *a, **k: (calls.append(k), checked(*a, **k)))
    fail = types.SimpleNamespace(from_cfg=lambda cfg: pytest.fail('the runner was built'))
    monkeypatch.setattr(tool, 'Runner', fail)
    monkeypatch.setattr(tool, 'RUNNERS', types.SimpleNamespace(build=fail.from_cfg))
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={}, meta={}), checkpoint)
    with pytest.raises(pytest.fail.Exception, match='the runner was built'):
        tool.main([CONFIG, str(checkpoint), '--work-dir', str(tmp_path / 'work')])
    assert calls == [dict(test_only=True)]
