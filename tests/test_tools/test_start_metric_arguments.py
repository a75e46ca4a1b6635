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
    assert calls == [dict(test_only=True, construct=True)]


class _ConstructionMarked:
    """A metric whose constructor removes ``results_dir`` and records that it ran, as mmdet's format-only
    ``CityScapesMetric(outfile_prefix=...)`` clears its earlier results when it is constructed."""

    constructed: list = []


def _register_marking_metric(monkeypatch):
    import shutil

    from mmengine.evaluator import BaseMetric

    from automl_mm.registry import METRICS

    class MarkingMetric(BaseMetric):
        def __init__(self, results_dir: str, collect_device: str = 'cpu', prefix: str | None = None) -> None:
            super().__init__(collect_device=collect_device, prefix=prefix)
            shutil.rmtree(results_dir, ignore_errors=True)
            _ConstructionMarked.constructed.append(results_dir)

        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return dict(score=1.0)

    monkeypatch.setitem(METRICS._module_dict, 'MarkingMetric', MarkingMetric)
    monkeypatch.setattr(_ConstructionMarked, 'constructed', [])


class _RunnerBuilt(Exception):
    pass


def _config_with(tmp_path, name: str, **evaluators) -> str:
    """A config inheriting the digits baseline whose evaluators are replaced by ``evaluators``."""
    lines = [f'_base_ = [{CONFIG!r}]']
    lines += [f'{key} = dict(_delete_=True, **{value!r})' for key, value in evaluators.items()]
    path = tmp_path / f'{name}.py'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_a_training_start_constructs_no_test_metric(tmp_path, monkeypatch):
    """``Runner.train()`` never builds ``test_evaluator``: ``tools/train.py``'s start check constructed its metrics
    (``check_metric_arguments``), with their side effects (a format-only ``CityScapesMetric`` cleared the results of
    the last test, a COCO ``ann_file`` was loaded once more), on every rank. Its arguments are still checked at
    start, by the class's signature: a misspelled or missing one is refused naming the key. (A user's class with its
    own constructor, as here, is not constructed; mmdet's are, aside: tests/test_engine/test_metric_values_aside.py.)"""
    _register_marking_metric(monkeypatch)
    results = tmp_path / 'test_results'
    results.mkdir()
    (results / 'kept.txt').write_text('the last test\'s results')
    tool = load_tool('train', '_tool_train_unbuilt_test_metric')

    def stop(cfg):
        raise _RunnerBuilt

    monkeypatch.setattr(tool, 'build_runner', stop)
    monkeypatch.setattr(tool, 'launch_local', lambda *a: pytest.fail('local copies were started'))
    work = ['--work-dir', str(tmp_path / 'work')]
    with pytest.raises(_RunnerBuilt):
        tool.main([_config_with(tmp_path, 'given', test_evaluator=dict(type='MarkingMetric', results_dir=str(results))),
                   *work])
    assert _ConstructionMarked.constructed == []
    assert (results / 'kept.txt').exists()
    with pytest.raises(TypeError, match=r"^test_evaluator\.results_dri: MarkingMetric takes no argument 'results_dri' "
                                        r"\(it takes results_dir, collect_device, prefix\) \(did you mean "
                                        r"test_evaluator\.results_dir\?\)$"):
        tool.main([_config_with(tmp_path, 'typo', test_evaluator=dict(type='MarkingMetric', results_dri='x')), *work])
    with pytest.raises(TypeError, match=r"^test_evaluator: MarkingMetric needs 'results_dir'$"):
        tool.main([_config_with(tmp_path, 'missing', test_evaluator=dict(type='MarkingMetric')), *work])
    with pytest.raises(KeyError, match=r"test_evaluator\.type='MarkingMetrc' is not in the automl_mm::metric registry "
                                       r"\(did you mean 'MarkingMetric'\?"):
        tool.main([_config_with(tmp_path, 'type', test_evaluator=dict(type='MarkingMetrc')), *work])
    assert _ConstructionMarked.constructed == []


def test_a_training_start_constructs_the_metrics_it_validates_with(tmp_path, monkeypatch):
    """The evaluators ``Runner.train()`` builds (``val_evaluator``) are still constructed at a single-process start:
    a value its constructor refuses stops the run before the runner is built."""
    _register_marking_metric(monkeypatch)
    tool = load_tool('train', '_tool_train_built_val_metric')

    def stop(cfg):
        raise _RunnerBuilt

    monkeypatch.setattr(tool, 'build_runner', stop)
    with pytest.raises(_RunnerBuilt):
        tool.main([_config_with(tmp_path, 'val', val_evaluator=dict(type='MarkingMetric', results_dir='x')),
                   '--work-dir', str(tmp_path / 'work')])
    assert _ConstructionMarked.constructed == ['x']


def test_a_test_run_constructs_only_its_test_metrics(tmp_path, monkeypatch):
    """``tools/test.py`` constructs (and checks) ``test_evaluator``'s metrics alone: ``Runner.test()`` builds no
    other evaluator."""
    import types

    import torch

    _register_marking_metric(monkeypatch)
    tool = load_tool('test', '_tool_test_unbuilt_val_metric')
    fail = types.SimpleNamespace(from_cfg=lambda cfg: (_ for _ in ()).throw(_RunnerBuilt()))
    monkeypatch.setattr(tool, 'Runner', fail)
    monkeypatch.setattr(tool, 'RUNNERS', types.SimpleNamespace(build=fail.from_cfg))
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={}, meta={}), checkpoint)
    config = _config_with(tmp_path, 'val', val_evaluator=dict(type='MarkingMetric', results_dir='val'),
                          test_evaluator=dict(type='MarkingMetric', results_dir='test'))
    with pytest.raises(_RunnerBuilt):
        tool.main([config, str(checkpoint), '--work-dir', str(tmp_path / 'work')])
    assert _ConstructionMarked.constructed == ['test']


def test_a_distributed_training_start_constructs_no_metric(tmp_path, monkeypatch):
    """A rank of a distributed training run (``--launcher pytorch``) checks its evaluators before the process group
    starts, where every rank counts as the main process: a metric constructed there acted on its files on every rank
    at once. A user's metric with its own constructor is bound to its signature instead (the runner constructs those
    it uses, once the process group has started; mmdet's are constructed aside, their output folders moved:
    tests/test_engine/test_metric_values_aside.py); a misspelled argument is still refused at start, naming its key."""
    import contextlib

    _register_marking_metric(monkeypatch)
    tool = load_tool('train', '_tool_train_distributed_metrics')

    def stop(cfg):
        raise _RunnerBuilt

    monkeypatch.setattr(tool, 'run', stop)
    monkeypatch.setattr(tool, 'checking_own_files_together', lambda cfg, what: contextlib.nullcontext())
    for name, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT='29500').items():
        monkeypatch.setenv(name, value)
    argv = ['--work-dir', str(tmp_path / 'work'), '--launcher', 'pytorch']
    with pytest.raises(_RunnerBuilt):
        tool.main([_config_with(tmp_path, 'val', val_evaluator=dict(type='MarkingMetric', results_dir='val'),
                                test_evaluator=dict(type='MarkingMetric', results_dir='test')), *argv])
    assert _ConstructionMarked.constructed == []
    with pytest.raises(TypeError, match=r"^val_evaluator\.results_dri: MarkingMetric takes no argument"):
        tool.main([_config_with(tmp_path, 'typo', val_evaluator=dict(type='MarkingMetric', results_dri='val')), *argv])


def test_the_start_up_build_of_local_copies_constructs_no_test_metric(tmp_path, monkeypatch):
    """:func:`~automl_mm.engine.preflight.build_check` (``tools/train.py`` before it starts local copies: an OHL
    search) builds what the copies' runners build: ``test_evaluator`` is bound to its signature, not constructed."""
    from mmengine.config import Config

    from automl_mm.engine.preflight import build_check

    _register_marking_metric(monkeypatch)
    build_check(Config.fromfile(_config_with(tmp_path, 'copies', test_evaluator=dict(type='MarkingMetric',
                                                                                      results_dir='test'))))
    assert _ConstructionMarked.constructed == []
    with pytest.raises(TypeError, match=r"^test_evaluator\.results_dri: MarkingMetric takes no argument"):
        build_check(Config.fromfile(_config_with(tmp_path, 'typo', test_evaluator=dict(type='MarkingMetric',
                                                                                        results_dri='test'))))


def test_a_distributed_test_start_constructs_no_metric(tmp_path, monkeypatch):
    """A rank of a distributed ``tools/test.py`` (``--launcher pytorch``) binds its ``test_evaluator``'s metrics to
    their signatures before the process group starts (constructed there, each acted on its files on every rank at
    once); a misspelled argument is still refused at start, naming its key."""
    import contextlib
    import types

    import torch

    _register_marking_metric(monkeypatch)
    tool = load_tool('test', '_tool_test_distributed_metrics')
    fail = types.SimpleNamespace(from_cfg=lambda cfg: (_ for _ in ()).throw(_RunnerBuilt()))
    monkeypatch.setattr(tool, 'Runner', fail)
    monkeypatch.setattr(tool, 'RUNNERS', types.SimpleNamespace(build=fail.from_cfg))
    monkeypatch.setattr(tool, 'join_process_group', lambda cfg: False)
    monkeypatch.setattr(tool, 'checking_own_files_together', lambda cfg, what: contextlib.nullcontext())
    for name, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT='29500').items():
        monkeypatch.setenv(name, value)
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={}, meta={}), checkpoint)
    argv = [str(checkpoint), '--work-dir', str(tmp_path / 'work'), '--launcher', 'pytorch']
    with pytest.raises(_RunnerBuilt):
        tool.main([_config_with(tmp_path, 'test', test_evaluator=dict(type='MarkingMetric', results_dir='test')),
                   *argv])
    assert _ConstructionMarked.constructed == []
    with pytest.raises(TypeError, match=r"^test_evaluator\.results_dri: MarkingMetric takes no argument"):
        tool.main([_config_with(tmp_path, 'typo', test_evaluator=dict(type='MarkingMetric', results_dri='x')), *argv])
