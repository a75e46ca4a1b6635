"""tools/train.py --resume with another --cfg-options train_dataloader.batch_size (or another training-set size):
an epoch has another number of iterations, so a schedule given in epochs and converted to iterations
(``convert_to_iter_based``) has another span, and the resume is refused (mmengine restores the saved span, which
would end the schedule at another epoch). The refusal blamed "e.g. another train_cfg.max_epochs" where max_epochs
was unchanged. Every checkpoint records its epoch length now, and the message names the iterations per epoch and
the batch size as the cause, as it names another world size."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.runner import Runner

from automl_mm.engine import StrictCheckpointHook
from automl_mm.engine.checkpoint import safe_torch_load
from tests._tiny_runner import inductor_cache  # noqa: F401  (autouse)

from conftest import tiny_digits_cfg


def _cfg(work_dir: str, batch_size: int = 32):
    """The tiny digits run (64 images) with a cosine given in epochs, converted to iterations: 2 iterations per
    epoch at batch 32."""
    cfg = tiny_digits_cfg(work_dir, max_epochs=2)
    cfg.train_cfg.val_interval = 100
    cfg.train_dataloader.batch_size = batch_size
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, convert_to_iter_based=True)]
    return cfg


@pytest.fixture(scope='module')
def first_epoch(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('epoch_length'))
    Runner.from_cfg(_cfg(work)).train()
    return osp.join(work, 'epoch_1.pth')


def _resume(cfg, checkpoint: str):
    """Resume ``checkpoint`` as tools/train.py does (its StrictCheckpointHook runs the schedule check)."""
    cfg.resume, cfg.load_from = True, checkpoint
    runner = Runner.from_cfg(cfg)
    runner.register_hook(StrictCheckpointHook(checkpoint=checkpoint))
    runner.train()


def test_the_checkpoint_records_its_epoch_length(first_epoch):
    assert safe_torch_load(first_epoch)['meta']['epoch_length'] == 2


def test_another_batch_size_is_named_as_the_cause(first_epoch, tmp_path):
    with pytest.raises(ValueError, match=r'resuming .*epoch_1\.pth: an epoch of the checkpoint\'s run had 2 '
                                         r'iterations, this run\'s has 4 \(another train_dataloader\.batch_size, or '
                                         r'another size of the training set\): param_scheduler\[0\] '
                                         r'\(CosineAnnealingLR\), given in epochs and converted to iterations, was '
                                         r'saved with end=4 and now gives end=8 iterations'):
        _resume(_cfg(str(tmp_path), batch_size=16), first_epoch)


def test_without_the_record_or_at_the_same_epoch_length_max_epochs_is_named(first_epoch, tmp_path):
    """A checkpoint saved before the record (no epoch_length), and a schedule changed at the same epoch length:
    the max_epochs hint, as before."""
    import torch

    old = torch.load(first_epoch, weights_only=False)
    del old['meta']['epoch_length']
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    with pytest.raises(ValueError, match=r'saved with end=4 .* the config now gives end=8 \(e\.g\. another '
                                         r'train_cfg\.max_epochs\)'):
        _resume(_cfg(str(tmp_path / 'a'), batch_size=16), path)
    cfg = _cfg(str(tmp_path / 'b'))
    cfg.train_cfg.max_epochs = 4
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=4, by_epoch=True, convert_to_iter_based=True)]
    with pytest.raises(ValueError, match=r'saved with end=4 .* the config now gives end=8 \(e\.g\. another '
                                         r'train_cfg\.max_epochs\)'):
        _resume(cfg, first_epoch)


def _flexible_cfg(work_dir: str, batch_size: int = 32):
    """The same run under mmengine's FlexibleRunner (``runner_type='FlexibleRunner'``, one process)."""
    cfg = _cfg(work_dir, batch_size)
    cfg.runner_type = 'FlexibleRunner'
    cfg.strategy = dict(type='SingleDeviceStrategy')
    return cfg


def test_a_flexible_runner_checkpoint_records_both_and_its_resume_names_the_epoch_length(tmp_path):
    """FlexibleRunner is no Runner subclass and has its own save_checkpoint, which was not wrapped: its checkpoints
    recorded neither the world size nor the epoch length, so its resume under another batch size (or world size)
    blamed train_cfg.max_epochs."""
    from mmengine.runner import FlexibleRunner

    FlexibleRunner.from_cfg(_flexible_cfg(str(tmp_path))).train()
    path = osp.join(str(tmp_path), 'epoch_1.pth')
    meta = safe_torch_load(path)['meta']
    assert (meta.get('world_size'), meta.get('epoch_length')) == (1, 2)
    cfg = _flexible_cfg(str(tmp_path / 'resumed'), batch_size=16)
    cfg.resume, cfg.load_from = True, path
    runner = FlexibleRunner.from_cfg(cfg)
    runner.register_hook(StrictCheckpointHook(checkpoint=path))
    with pytest.raises(ValueError, match=r'an epoch of the checkpoint\'s run had 2 iterations, this run\'s has 4 '
                                         r'\(another train_dataloader\.batch_size'):
        runner.train()


def test_another_world_size_at_the_same_epoch_length_is_not_blamed(tmp_path, monkeypatch):
    """With ``train_dataloader.num_batch_per_epoch`` (mmengine slices the set to that many batches per process)
    an epoch has the same number of iterations on any number of processes, so another world size does not change a
    converted span: a resume on 2 processes of a 1-process run whose max_epochs was also changed was refused
    naming the world sizes ('Resume with 1 process', which is refused again), where the cause is max_epochs. The
    other world size is simulated as in tests/test_engine/test_resume.py (the runner's slice, the sampler and the
    check see 2 processes)."""
    import mmengine.dataset.sampler as sampler_module
    import mmengine.runner.runner as runner_module

    import automl_mm.engine.hooks as hooks_module

    def cfg(work_dir: str, max_epochs: int):
        cfg = _cfg(work_dir, batch_size=16)
        cfg.train_dataloader.num_batch_per_epoch = 2  # 32 of the 64 images on 1 process, 64 on 2: 2 batches each
        cfg.train_cfg.max_epochs = max_epochs
        cfg.param_scheduler[0].T_max = max_epochs
        return cfg

    Runner.from_cfg(cfg(str(tmp_path), 1)).train()
    path = osp.join(str(tmp_path), 'epoch_1.pth')
    assert safe_torch_load(path)['meta']['epoch_length'] == 2
    monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (0, 2))
    monkeypatch.setattr(runner_module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(hooks_module, 'get_world_size', lambda: 2)
    with pytest.raises(ValueError, match=r'saved with end=2 .* the config now gives end=4 \(e\.g\. another '
                                         r'train_cfg\.max_epochs\)'):
        _resume(cfg(str(tmp_path / 'resumed'), 2), path)
