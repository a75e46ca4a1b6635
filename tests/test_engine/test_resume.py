"""Crash-safe checkpoints: atomic writes, resume fallback, corrupt-file diagnoses, strict loads, non-finite losses."""
from __future__ import annotations

import glob
import logging
import os
import os.path as osp

import mmengine.hooks.checkpoint_hook as checkpoint_hook_module
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

from automl_mm.engine import (
    CheckpointFormatError,
    CheckpointMismatchError,
    NonFiniteLossError,
    StrictCheckpointHook,
    UnsafeCheckpointError,
    checkpoint_mismatch,
    find_resumable_checkpoint,
    resolve_resume,
    safe_torch_load,
    save_checkpoint_atomic,
)

from conftest import REPO_ROOT, tiny_digits_cfg

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _cfg(work_dir: str, max_epochs: int = 1, resume: bool = False, lr: float | None = None) -> Config:
    cfg = tiny_digits_cfg(work_dir, max_epochs)
    cfg.train_cfg.val_interval = 100
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    cfg.resume = resume
    return cfg


def _save(path: str, value: float = 1.0, mtime: float | None = None) -> str:
    torch.save({'state_dict': {'w': torch.full((256, ), value)}, 'meta': {'epoch': int(value)}}, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _truncate(path: str) -> None:
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


# --- 1. atomic writes ---------------------------------------------------------------------------------------------
class _KilledDuringSave(BaseException):
    pass


def test_checkpoint_save_killed_midway_leaves_previous_file_complete(tmp_path, monkeypatch):
    path = _save(str(tmp_path / 'epoch_1.pth'), 1.0)
    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        real_save({'partial': torch.zeros(10)}, f)  # some bytes reach the file, then the process "dies"
        raise _KilledDuringSave()

    monkeypatch.setattr(torch, 'save', dies_half_way)
    with pytest.raises(_KilledDuringSave):
        save_checkpoint_atomic({'state_dict': {'w': torch.full((256, ), 2.0)}}, path)
    monkeypatch.undo()
    assert float(safe_torch_load(path)['state_dict']['w'][0]) == 1.0
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # no temporary file left behind


def test_runner_saves_and_checkpoint_hook_last_checkpoint_go_through_atomic_writers():
    import mmengine.runner.runner as runner_module

    assert runner_module.save_checkpoint is save_checkpoint_atomic
    assert checkpoint_hook_module.open.__name__ == 'open_last_checkpoint_atomically'


def test_last_checkpoint_write_killed_midway_keeps_the_old_pointer(tmp_path):
    pointer = str(tmp_path / 'last_checkpoint')
    with open(pointer, 'w') as f:
        f.write('/old/epoch_1.pth')
    with pytest.raises(_KilledDuringSave):
        # exactly how mmengine's CheckpointHook writes it (``open`` as its module sees it)
        with checkpoint_hook_module.open(pointer, 'w') as f:
            f.write('/new/epo')
            raise _KilledDuringSave()
    assert open(pointer).read() == '/old/epoch_1.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_nas_loop_writes_last_checkpoint_atomically():
    import inspect

    from automl_mm.nas.loop import SearchLoopBase

    source = inspect.getsource(SearchLoopBase.save_search_checkpoint)
    assert 'write_text_atomic' in source and "'w')" not in source
    # the searched architecture and retraining configs too (a kill used to leave them cut short)
    for method in (SearchLoopBase.write_text, SearchLoopBase.write_json):
        source = inspect.getsource(method)
        assert '_atomic(' in source and 'open(' not in source, method.__name__


# --- 1. resume falls back to the newest complete checkpoint -------------------------------------------------------
@pytest.fixture
def three_checkpoints(tmp_path) -> tuple[str, list[str]]:
    work = str(tmp_path)
    paths = [_save(osp.join(work, f'epoch_{i}.pth'), float(i), mtime=1_000_000 + i) for i in (1, 2, 3)]
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(paths[-1])
    return work, paths


def test_resume_uses_last_checkpoint_when_it_is_complete(three_checkpoints):
    work, paths = three_checkpoints
    assert find_resumable_checkpoint(work) == (paths[2], [])


def _warnings(monkeypatch) -> list[str]:
    import automl_mm.engine.resume as resume_module

    logged = []
    monkeypatch.setattr(resume_module, 'print_log',
                        lambda msg, logger=None, level=None: logged.append(f'{logging.getLevelName(level)} {msg}'))
    return logged


@pytest.mark.parametrize('fault', ['empty', 'missing', 'dangling', 'truncated', 'empty_target'])
def test_resume_falls_back_to_newest_complete_checkpoint(three_checkpoints, fault, monkeypatch):
    work, paths = three_checkpoints
    pointer = osp.join(work, 'last_checkpoint')
    expected = paths[2]
    if fault == 'empty':
        open(pointer, 'w').close()  # what a kill during mmengine's non-atomic write leaves
    elif fault == 'missing':
        os.remove(pointer)
    elif fault == 'dangling':
        os.remove(paths[2])  # CheckpointHook deletes old files before saving the new one
        expected = paths[1]
    elif fault == 'truncated':
        _truncate(paths[2])
        expected = paths[1]
    else:
        open(paths[2], 'wb').close()
        expected = paths[1]
    found, skipped = find_resumable_checkpoint(work)
    assert found == expected
    assert skipped and any(('last_checkpoint' in s) for s in skipped)
    logged = _warnings(monkeypatch)
    assert resolve_resume(work) == expected
    out = '\n'.join(logged)
    assert 'WARNING' in out and 'skipped' in out and expected in out
    if fault in ('truncated', 'dangling', 'empty_target'):
        assert paths[2] in out  # names the file it skipped



@pytest.mark.parametrize('auto_resume', ['FlexibleRunner.load_or_resume', 'BaseStrategy.load_or_resume'])
def test_flexible_runner_and_strategies_auto_resume_falls_back_too(three_checkpoints, auto_resume):
    """mmengine's ``FlexibleRunner`` imports its own copy of ``find_latest_checkpoint`` (``_flexible_runner``) and
    its strategies read ``mmengine.runner.find_latest_checkpoint``: only ``Runner``'s copy fell back. With an empty
    ``last_checkpoint`` (a kill during mmengine's write), ``FlexibleRunner(resume=True)`` resumed from ``''``
    (mmengine's read of the empty file) and stopped in ``resume('')``, not from epoch_3.pth."""
    from types import SimpleNamespace
    from unittest import mock

    from mmengine._strategy.base import BaseStrategy
    from mmengine.runner import FlexibleRunner

    work, paths = three_checkpoints
    open(osp.join(work, 'last_checkpoint'), 'w').close()
    resumed = mock.Mock()
    if auto_resume == 'FlexibleRunner.load_or_resume':
        runner = SimpleNamespace(_has_loaded=False, _resume=True, _load_from=None, work_dir=work,
                                 logger=mock.Mock(), resume=resumed, load_checkpoint=mock.Mock())
        FlexibleRunner.load_or_resume(runner)
    else:
        strategy = SimpleNamespace(_work_dir=work, logger=mock.Mock(), resume=resumed, load_checkpoint=mock.Mock())
        BaseStrategy.load_or_resume(strategy, resume=True)
    assert [call.args[0] for call in resumed.call_args_list] == [paths[2]]

@pytest.mark.parametrize('layout', ['extracted', 'copied'])
def test_the_fallback_ranks_checkpoints_by_their_step_not_their_file_time(tmp_path, layout):
    """A moved work dir (last_checkpoint names the old place) is when the fallback runs; its files' times are those
    of the copy. Ranked by file time, then name, it resumed from iter_9 of iter_8..iter_12 (as text 'iter_9' >
    'iter_10'), or from whatever was copied last."""
    work = str(tmp_path)
    steps = [8, 9, 10, 11, 12]
    times = {'extracted': [1_000_000] * 5,  # an archive extracted within one second: equal times
             'copied': [1_000_000 + i for i in range(5)]}[layout]
    order = sorted(steps, key=lambda k: f'iter_{k}.pth')  # copied file by file in name order: iter_9 newest
    for step, mtime in zip(order, times):
        _save(osp.join(work, f'iter_{step}.pth'), float(step), mtime=mtime)
    _save(osp.join(work, 'best_accuracy_iter_11.pth'), 11.0, mtime=2_000_000)  # no optimiser state: not first
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write('/elsewhere/iter_12.pth')
    assert find_resumable_checkpoint(work)[0] == osp.join(work, 'iter_12.pth')
    _truncate(osp.join(work, 'iter_12.pth'))
    assert find_resumable_checkpoint(work)[0] == osp.join(work, 'iter_11.pth')


def test_atomically_written_files_get_the_usual_permissions(tmp_path):
    """tempfile.mkstemp makes 0600 files, and the rename kept that: checkpoints and results were readable by
    their owner only, unlike what torch.save and open() write (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    atomic, plain = str(tmp_path / 'iter_1.pth'), str(tmp_path / 'plain.pth')
    save_checkpoint_atomic({'w': torch.zeros(1)}, atomic)
    torch.save({'w': torch.zeros(1)}, plain)
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777 == 0o666 & ~umask



def test_atomic_writes_follow_a_umask_set_after_import(tmp_path):
    """The umask was read once at import: after os.umask(0o077) open() made 0600 files, atomic writes 0644."""
    from automl_mm.utils.io import write_text_atomic

    old = os.umask(0o077)
    try:
        write_text_atomic('x', str(tmp_path / 'atomic.txt'))
        open(tmp_path / 'plain.txt', 'w').close()
    finally:
        os.umask(old)
    assert os.stat(tmp_path / 'atomic.txt').st_mode & 0o777 == os.stat(tmp_path / 'plain.txt').st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')] == []


def test_resume_with_nothing_to_resume_says_it_starts_from_scratch(tmp_path, monkeypatch):
    logged = _warnings(monkeypatch)
    assert resolve_resume(str(tmp_path)) is None
    out = '\n'.join(logged)
    assert 'WARNING' in out and 'nothing to resume' in out and 'starts from scratch' in out


def test_runner_auto_resume_survives_an_empty_last_checkpoint(tmp_path):
    work = str(tmp_path)
    Runner.from_cfg(_cfg(work, max_epochs=2)).train()
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth'))) == ['epoch_1.pth', 'epoch_2.pth']
    open(osp.join(work, 'last_checkpoint'), 'w').close()
    _truncate(osp.join(work, 'epoch_2.pth'))  # killed while saving epoch 2
    runner = Runner.from_cfg(_cfg(work, max_epochs=2, resume=True))
    runner.train()
    # resumed after epoch 1 (the newest complete checkpoint) and trained epoch 2 again
    assert runner.train_loop.epoch == 2
    assert load_checkpoint(runner.model, osp.join(work, 'epoch_2.pth'))['meta']['epoch'] == 2


# --- 2. corrupt checkpoints get the right diagnosis ---------------------------------------------------------------
def test_empty_truncated_and_foreign_files_are_diagnosed_as_such(tmp_path):
    empty = str(tmp_path / 'empty.pth')
    open(empty, 'wb').close()
    truncated = _save(str(tmp_path / 'truncated.pth'))
    _truncate(truncated)
    text = str(tmp_path / 'config.pth')
    with open(text, 'w') as f:
        f.write('{"lr": 0.1, "epochs": 30}')
    for path, words in ((empty, 'empty'), (truncated, 'truncated'), (text, 'not a torch checkpoint')):
        with pytest.raises(CheckpointFormatError) as info:
            load_checkpoint(torch.nn.Linear(1, 1), path)  # mmengine's loader, as Runner.resume uses it
        assert not isinstance(info.value, UnsafeCheckpointError)
        assert words in str(info.value) and path in str(info.value)
        assert 'allow_checkpoint_globals' not in str(info.value)


def test_legacy_pickle_garbage_is_not_reported_as_an_unsafe_global(tmp_path):
    path = str(tmp_path / 'garbage.pth')
    with open(path, 'wb') as f:
        f.write(b'\x80\x02' + b'\xff' * 64)
    with pytest.raises(CheckpointFormatError, match='not a torch checkpoint or is corrupt'):
        safe_torch_load(path)


# --- 3. a checkpoint of another model is refused ------------------------------------------------------------------
def test_checkpoint_mismatch_names_missing_unexpected_and_shape():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    other = {'module.0.weight': torch.zeros(3, 4), '0.bias': torch.zeros(3), '1.weight': torch.zeros(5, 3),
             'extra.weight': torch.zeros(1)}
    mismatch = checkpoint_mismatch(model, {'state_dict': other})
    assert mismatch == {'missing': ['1.bias'], 'unexpected': ['extra.weight'],
                        'shape': ['1.weight: (5, 3) vs (2, 3)']}
    assert checkpoint_mismatch(model, {'state_dict': model.state_dict()}) == {'missing': [], 'unexpected': [],
                                                                              'shape': []}


def test_runner_test_with_another_models_checkpoint_stops_naming_keys(tmp_path):
    work = str(tmp_path)
    Runner.from_cfg(_cfg(work)).train()
    cfg = _cfg(str(tmp_path / 'test'))
    # another model: the last stage's shapes differ (not num_classes, which the start-of-run check refuses against
    # the data)
    cfg.model.backbone.channels, cfg.model.head.in_channels = (32, 64, 96), 96
    cfg.load_from = osp.join(work, 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    runner.register_hook(StrictCheckpointHook(checkpoint=cfg.load_from))
    with pytest.raises(CheckpointMismatchError, match=r'shape mismatch.*backbone\.layers\.8\.weight') as info:
        runner.test()
    assert cfg.load_from in str(info.value)


@pytest.mark.parametrize('enabled', [True, False])
def test_a_schedule_another_world_size_changed_is_refused_naming_the_world_sizes(tmp_path, enabled):
    """A run resumed on another number of processes was refused by the schedule check (a schedule in epochs
    converted to iterations counts one process's iterations), but the message blamed train_cfg.max_epochs. The
    checkpoint records its world size now (every runner's save, FiniteLossHook or not), and the message names it; a
    schedule changed at the same world size, or by a checkpoint without the record, keeps the max_epochs hint.
    (tests/test_tools/test_train_resume.py runs it with 2 processes, then 1.)"""
    import copy

    from automl_mm.engine.hooks import check_schedule_unchanged

    cfg = _cfg(str(tmp_path))
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, end=2, by_epoch=True, convert_to_iter_based=True)]
    cfg.default_hooks.finite_loss = dict(type='FiniteLossHook', enabled=enabled)
    runner = Runner.from_cfg(cfg)
    runner.train()  # 2 iterations per epoch: the schedule ends at iteration 4
    saved = safe_torch_load(osp.join(str(tmp_path), 'epoch_1.pth'))
    assert saved['meta']['world_size'] == 1 and saved['param_schedulers'][0]['end'] == 2 * 2
    check_schedule_unchanged(runner, saved, 'epoch_1.pth')  # the same run: resumed
    two = copy.deepcopy(saved)  # what 2 processes save: 1 iteration per epoch each, the schedule ends at 2
    two['meta']['world_size'], two['meta']['epoch_length'], two['param_schedulers'][0]['end'] = 2, 1, 2
    with pytest.raises(ValueError, match=r'resuming epoch_1.pth: the checkpoint was trained by 2 processes \(world '
                                         r'size 2\), this run has world size 1: .*param_scheduler\[0\] '
                                         r'\(CosineAnnealingLR\), given in epochs and converted to iterations, was '
                                         r'saved with end=2 and now gives end=4 iterations.*Resume with 2 processes'):
        check_schedule_unchanged(runner, two, 'epoch_1.pth')
    for world_size in (1, None):  # a schedule changed at the same world size, or no record: e.g. max_epochs
        other = copy.deepcopy(two)
        other['meta']['world_size'], other['meta']['epoch_length'] = world_size, 2  # an epoch as long as this one's
        if world_size is None:
            del other['meta']['world_size'], other['meta']['epoch_length']
        with pytest.raises(ValueError, match=r'saved with end=2 .* the config now gives end=4 \(e.g. another '
                                             r'train_cfg.max_epochs\)'):
            check_schedule_unchanged(runner, other, 'epoch_1.pth')


def _world_size_cfg(work_dir: str) -> Config:
    """A run without FiniteLossHook (a config of one's own, built by Runner.from_cfg), whose schedule in epochs is
    converted to iterations: 2 per epoch on one process, so it ends at iteration 4 (at 2 on each of 2)."""
    cfg = _cfg(work_dir)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, end=2, by_epoch=True, convert_to_iter_based=True)]
    cfg.default_hooks.pop('finite_loss')
    return cfg


def _resume_refused(cfg: Config, checkpoint: str, match: str) -> None:
    """Resume ``checkpoint`` as tools/train.py does (its StrictCheckpointHook runs the schedule check)."""
    cfg.resume, cfg.load_from = True, checkpoint
    runner = Runner.from_cfg(cfg)
    assert not any(type(hook).__name__ == 'FiniteLossHook' for hook in runner.hooks)
    runner.register_hook(StrictCheckpointHook(checkpoint=checkpoint))
    with pytest.raises(ValueError, match=match):
        runner.train()


def test_a_run_without_finite_loss_hook_records_its_world_size_and_its_resume_names_both(tmp_path, monkeypatch):
    """meta['world_size'] was written by FiniteLossHook alone: a run without that hook saved none, and its resume
    on another number of processes was refused blaming train_cfg.max_epochs. Every runner's save_checkpoint
    records it now. The other world size is simulated as above: the resumed run's sampler and the check see 2
    processes, so each reads half of every epoch (1 iteration) and the converted schedule ends at 2, not 4."""
    import mmengine.dataset.sampler as sampler_module

    import automl_mm.engine.hooks as hooks_module

    runner = Runner.from_cfg(_world_size_cfg(str(tmp_path)))
    assert not any(type(hook).__name__ == 'FiniteLossHook' for hook in runner.hooks)
    runner.train()
    path = osp.join(str(tmp_path), 'epoch_1.pth')
    monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (0, 2))
    monkeypatch.setattr(hooks_module, 'get_world_size', lambda: 2)
    _resume_refused(_world_size_cfg(str(tmp_path / 'resumed')), path,
                    r'resuming .*epoch_1.pth: the checkpoint was trained by 1 process \(world size 1\), this run has '
                    r'world size 2: .*param_scheduler\[0\] \(CosineAnnealingLR\), given in epochs and converted to '
                    r'iterations, was saved with end=4 and now gives end=2 iterations.*Resume with 1 process,')
    saved = safe_torch_load(path)
    assert saved['meta']['world_size'] == 1 and saved['param_schedulers'][0]['end'] == 2 * 2


def _train_two_processes(cfg_path: str) -> None:
    """A worker's ``main`` (launch_local): train the dumped config as one of its processes (on CPUs as
    tools/train.py does: gloo, DDP without device ids)."""
    from automl_mm.engine.dist import gloo_without_gpus

    cfg = Config.fromfile(cfg_path)
    gloo_without_gpus(cfg)
    Runner.from_cfg(cfg).train()


@pytest.mark.slow  # 2 worker processes (a fork server that imports automl_mm: about 10 s on 2 busy cores)
def test_a_run_without_finite_loss_hook_on_2_processes_resumed_on_1_names_both_world_sizes(tmp_path):
    """The same, with no simulation: saved by 2 processes (each reads 1 of the 2 iterations of an epoch, so the
    schedule ends at iteration 2), resumed by 1 (it would end at 4)."""
    from automl_mm.engine.launch import launch_local

    launch_local(_world_size_cfg(str(tmp_path)), 2, _train_two_processes)
    path = osp.join(str(tmp_path), 'epoch_1.pth')
    saved = safe_torch_load(path)
    assert saved['meta']['world_size'] == 2 and saved['param_schedulers'][0]['end'] == 2
    _resume_refused(_world_size_cfg(str(tmp_path / 'resumed')), path,
                    r'the checkpoint was trained by 2 processes \(world size 2\), this run has world size 1: .*saved '
                    r'with end=2 and now gives end=4 iterations.*Resume with 2 processes,')


# --- 4. a non-finite loss stops plain training before it is saved -------------------------------------------------
def test_lr_1e6_stops_the_run_naming_the_iteration_and_saves_nothing_non_finite(tmp_path):
    work = str(tmp_path)
    cfg = _cfg(work, max_epochs=3, lr=1e6)
    assert cfg.default_hooks.finite_loss.type == 'FiniteLossHook'  # the base runtime has it
    # lr=1e6 sends the weights to inf in an update after a finite loss, so the save after epoch 2 is refused
    with pytest.raises(NonFiniteLossError, match=r'after iteration 4 \(epoch 2\): weight .* NaN/inf'):
        Runner.from_cfg(cfg).train()
    saved = glob.glob(osp.join(work, '*.pth'))
    assert [osp.basename(p) for p in saved] == ['epoch_1.pth']
    state = safe_torch_load(saved[0])['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert open(osp.join(work, 'last_checkpoint')).read().strip() == saved[0]


def test_without_the_hook_lr_1e6_trains_on_and_saves_a_nan_checkpoint(tmp_path):
    """The fault the hook guards against (and proof that lr=1e6 really diverges here); ``enabled=False`` (what
    tools/train.py writes for ``default_hooks.finite_loss=None``) is the same as no hook."""
    work = str(tmp_path)
    cfg = _cfg(work, max_epochs=2, lr=1e6)
    cfg.default_hooks.finite_loss = dict(type='FiniteLossHook', enabled=False)
    Runner.from_cfg(cfg).train()
    state = safe_torch_load(osp.join(work, 'epoch_2.pth'))['state_dict']
    assert any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_nan_loss_stops_at_the_iteration_it_appears():
    from automl_mm.engine import FiniteLossHook

    class _Runner:
        iter, epoch, hooks = 4, 1, []

    hook = FiniteLossHook()
    hook.before_train(_Runner())
    hook.after_train_iter(_Runner(), 0, outputs={'loss': torch.tensor(2.0), 'acc': torch.tensor(float('nan'))})
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at iteration 5 \(epoch 2\): \{'loss': nan\}"):
        hook.after_train_iter(_Runner(), 0, outputs={'loss': torch.tensor(float('nan'))})

    class _OHL:
        repairs_non_finite = True

    class _OHLRunner(_Runner):
        hooks = [_OHL()]

    hook.before_train(_OHLRunner())  # OHL repairs non-finite copies itself
    hook.after_train_iter(_OHLRunner(), 0, outputs={'loss': torch.tensor(float('nan'))})


def test_weights_turning_inf_are_refused_on_save(tmp_path):
    from automl_mm.engine import FiniteLossHook

    hook = FiniteLossHook()

    class _Runner:
        iter, epoch = 7, 0

    with pytest.raises(NonFiniteLossError, match=r"iteration 7.*'fc.weight'"):
        hook.before_save_checkpoint(_Runner(), {'state_dict': {'fc.weight': torch.tensor([1.0, float('inf')])}})
    hook.before_save_checkpoint(_Runner(), {'state_dict': {'fc.weight': torch.ones(2)}})


def test_a_remote_last_checkpoint_is_resumed_as_named(tmp_path):
    """CheckpointHook(out_dir='s3://...') writes a remote path into last_checkpoint: the local checks dropped it
    and the run started from scratch (or from a stale local file), overwriting the remote checkpoints."""
    torch.save({'state_dict': {}}, str(tmp_path / 'epoch_2.pth'))  # stale local file
    (tmp_path / 'last_checkpoint').write_text('s3://bucket/exp/epoch_12.pth')
    assert find_resumable_checkpoint(str(tmp_path)) == ('s3://bucket/exp/epoch_12.pth', [])
    from automl_mm.engine.resume import checkpoint_seed

    assert checkpoint_seed('s3://bucket/exp/epoch_12.pth') is None  # not read locally: mmengine restores its seed


def test_a_moved_work_dir_resumes_the_file_its_pointer_names(tmp_path):
    """last_checkpoint named /old/place/epoch_3.pth; ranking the folder's files by step picked an earlier run's
    epoch_10.pth left there."""
    torch.save({'state_dict': {}, 'run': 'old'}, str(tmp_path / 'epoch_10.pth'))
    torch.save({'state_dict': {}, 'run': 'this'}, str(tmp_path / 'epoch_3.pth'))
    (tmp_path / 'last_checkpoint').write_text('/old/place/work/epoch_3.pth')
    found, skipped = find_resumable_checkpoint(str(tmp_path))
    assert found == str(tmp_path / 'epoch_3.pth') and 'the file of that name here is used' in skipped[0]
