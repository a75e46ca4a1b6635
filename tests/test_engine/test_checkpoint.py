from __future__ import annotations

import hashlib
import os
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner, load_checkpoint

from automl_mm.engine import UnsafeCheckpointError, allowed_checkpoint_globals, safe_torch_load

from conftest import REPO_ROOT, tiny_digits_cfg

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


class _RunsACommand:
    """Unpickling this would run ``touch <marker>``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def _tiny_runner(work_dir: str, max_epochs: int = 1, resume: bool = False) -> Runner:
    cfg = tiny_digits_cfg(work_dir, max_epochs)
    cfg.train_cfg.val_interval = max_epochs
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs + 1, by_epoch=True)]
    cfg.resume = resume
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory) -> str:
    work_dir = str(tmp_path_factory.mktemp('ckpt'))
    _tiny_runner(work_dir).train()
    return osp.join(work_dir, 'epoch_1.pth')


def test_allow_list_is_exactly_what_runner_checkpoints_need(runner_ckpt):
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(runner_ckpt))
    allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
               for g in allowed_checkpoint_globals()}
    assert needed, 'a runner checkpoint holds HistoryBuffer and numpy objects'
    assert needed <= allowed, f'not allow-listed: {needed - allowed}'
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in needed
    # nothing callable beyond data holders: no os, subprocess, and builtins only through a restricted stand-in
    assert not any(name.split('.')[0] in ('os', 'posix', 'subprocess') for name in allowed)
    assert all(g[0] is not getattr for g in allowed_checkpoint_globals() if isinstance(g, tuple))


class _GetattrEscape:
    """Pickles as getattr(HistoryBuffer_instance, '__init__'): a first step towards __globals__."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer

        return (getattr, (HistoryBuffer(), '__init__'))


def test_getattr_is_restricted_to_history_buffer_methods(tmp_path):
    path = str(tmp_path / 'escape.pth')
    torch.save({'meta': {'x': _GetattrEscape()}}, path)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        safe_torch_load(path)


def test_plain_torch_load_refuses_what_safe_load_accepts(runner_ckpt):
    import pickle

    with pytest.raises(pickle.UnpicklingError):
        torch.load(runner_ckpt, weights_only=True)  # what mmengine 0.10.7 gets on torch >= 2.6
    ckpt = safe_torch_load(runner_ckpt)
    assert ckpt['meta']['epoch'] == 1 and 'state_dict' in ckpt and 'message_hub' in ckpt


def test_load_checkpoint_and_resume_go_through_safe_loading(runner_ckpt, tmp_path):
    runner = _tiny_runner(str(tmp_path), max_epochs=2)
    ckpt = load_checkpoint(runner.model, runner_ckpt)
    assert ckpt['meta']['epoch'] == 1
    runner.resume(runner_ckpt)
    assert runner.train_loop.epoch == 1
    # the message hub's HistoryBuffers came back with their statistics methods
    loss_history = runner.message_hub.get_scalar('train/loss')
    assert len(loss_history.data[0]) > 0 and loss_history.mean() > 0


def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'executed'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': {'payload': _RunsACommand(str(marker))}}, path)
    before = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    model = torch.nn.Linear(2, 1)
    with pytest.raises(UnsafeCheckpointError, match=r"Refusing to load checkpoint .*evil\.pth.*(posix|os)\.system"):
        load_checkpoint(model, path)
    runner_like = _tiny_runner(str(tmp_path / 'w'))
    with pytest.raises(UnsafeCheckpointError):
        runner_like.resume(path)
    assert not marker.exists(), 'unpickling ran the command'
    assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == before, 'the file must be left intact'


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), str(tmp_path / 'nope.pth'))


def test_checkpoint_mismatch_counts_what_mmengine_would_not_copy_and_not_what_it_accepts():
    """A numpy array of the right shape passed (mmengine skips non-tensors: the model kept random weights); a
    BatchNorm without num_batches_tracked was reported missing though mmengine loads it strictly."""
    import numpy as np

    from automl_mm.engine import checkpoint_mismatch

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    assert checkpoint_mismatch(model, state) == {'missing': [], 'unexpected': [], 'shape': []}
    state['0.weight'] = np.full((2, 3), 7.0, np.float32)
    assert checkpoint_mismatch(model, state)['shape'] == ['0.weight: ndarray (2, 3) vs (2, 3)']


def test_atomic_writes_keep_an_existing_files_mode_and_follow_symlinks(tmp_path):
    """A private 0600 file became 0644; a symlink was replaced by a regular file and its target kept the old text."""
    from automl_mm.utils.io import write_text_atomic

    private = tmp_path / 'private.txt'
    private.write_text('old')
    os.chmod(private, 0o600)
    write_text_atomic('new', str(private))
    assert private.read_text() == 'new' and (os.stat(private).st_mode & 0o777) == 0o600
    target = tmp_path / 'target.txt'
    target.write_text('old')
    link = tmp_path / 'link.txt'
    os.symlink(target, link)
    write_text_atomic('new', str(link))
    assert osp.islink(link) and target.read_text() == 'new'


def test_a_type_outside_the_allow_list_is_named_not_called_corrupt(tmp_path):
    """A complete file holding a numpy string array was reported as "not a torch checkpoint or corrupt"."""
    import numpy as np

    path = str(tmp_path / 'strings.pth')
    torch.save({'state_dict': {}, 'classes': np.array(['cat', 'dog'])}, path)
    with pytest.raises(UnsafeCheckpointError, match="it pickles the object 'numpy.dtypes.StrDType'"):
        safe_torch_load(path)


def test_a_truncated_legacy_checkpoint_is_called_truncated_at_every_cut(tmp_path):
    """A pre-zip (pickle stream) file cut short failed as a bare IndexError, struct.error or 'unexpected EOF'
    RuntimeError, or as an UnsafeCheckpointError naming a cut name ('torch._utils._rebuild_t', '.'); a real refused
    global in such a file is still named."""
    from collections import OrderedDict

    from automl_mm.engine import CheckpointFormatError

    path = str(tmp_path / 'legacy.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=OrderedDict(w=torch.ones(64), b=torch.zeros(3))), path,
               _use_new_zipfile_serialization=False)
    data = open(path, 'rb').read()
    cut = str(tmp_path / 'cut.pth')
    for n in range(1, len(data), 3):
        with open(cut, 'wb') as f:
            f.write(data[:n])
        with pytest.raises(CheckpointFormatError, match='truncated or corrupt|not a torch checkpoint'):
            safe_torch_load(cut)
    assert safe_torch_load(path)['meta'] == {'epoch': 1}
    marker = tmp_path / 'executed'
    torch.save({'meta': {'payload': _RunsACommand(str(marker))}}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError, match=r'(posix|os)\.system'):
        safe_torch_load(path)
    assert not marker.exists()


def test_a_temporary_file_a_killed_save_left_is_removed_by_the_next_save_of_that_file(tmp_path):
    """A SIGTERM during a save left .epoch_2.pth*.tmp (the whole checkpoint's size) for good; a recent one may be
    another writer's in progress and stays, as do other files' temporaries."""
    import time

    from automl_mm.utils.io import write_text_atomic

    stale, recent, other = (tmp_path / '.policy.py1234.tmp', tmp_path / '.policy.py5678.tmp',
                            tmp_path / '.history.json99.tmp')
    for f in (stale, recent, other):
        f.write_text('partial')
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_text_atomic('done', str(tmp_path / 'policy.py'))
    assert not stale.exists() and recent.exists() and other.exists()
    assert (tmp_path / 'policy.py').read_text() == 'done'
