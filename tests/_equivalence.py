"""Differential checks: a search engine run in a degenerate setting (one OHL copy, a space of one value, a θ that is
cross-entropy, a supernet of one candidate per layer) must train exactly as the plain mmengine run it stands for.

``record_run`` trains a config in process with a recording hook and returns, per training iteration, every
parameter group's lr and weight decay (before the step), the indices of the samples and the loss, sums of the
parameters and of the BN running statistics (after the step), the iterations at which validation ran and
checkpoints were saved, and the final state dict. ``differences`` lists what two such records disagree on
(bitwise)."""
from __future__ import annotations

import copy
import uuid
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from automl_mm.ohl import reset_copy_layout
from automl_mm.registry import HOOKS, RUNNERS

_RECORDS: dict[str, dict] = {}


def _model(runner) -> torch.nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module(force=True)
class EquivalenceRecorder(Hook):
    """Records what a run trained with (see the module docstring) into ``_RECORDS[tag]``."""

    priority = 'LOWEST'

    def __init__(self, tag: str) -> None:
        self.record = _RECORDS.setdefault(tag, {})

    def _add(self, key: str, value: Any) -> None:
        self.record.setdefault(key, []).append(value)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        groups = runner.optim_wrapper.param_groups
        self._add('lr', [g['lr'] for g in groups])
        self._add('weight_decay', [g['weight_decay'] for g in groups])

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        model = _model(runner)
        self._add('loss', float(outputs['loss'].detach()))
        samples = data_batch['data_samples']
        self._add('samples', [s.metainfo.get('sample_idx', s.metainfo.get('img_id')) for s in samples])
        self._add('params', float(sum(p.detach().double().sum() for p in model.parameters())))
        self._add('bn_statistics', [float(b.double().sum()) for n, b in model.named_buffers() if 'running' in n])

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._add('val_at', runner.iter)

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        self._add('checkpoint_at', runner.iter)


def record_run(cfg) -> dict:
    """Train ``cfg`` (a copy of it) in this process with :class:`EquivalenceRecorder`; return its record, with the
    final state dict (of the unwrapped model) under ``'state_dict'`` and the runner under ``'runner'``."""
    reset_copy_layout()
    tag = uuid.uuid4().hex
    cfg = copy.deepcopy(cfg)
    cfg.experiment_name = cfg.visualizer.name = f'equivalence_{tag}'  # two runs in one second share neither
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [dict(type='automl_mm.EquivalenceRecorder', tag=tag)]
    try:
        runner = RUNNERS.build(cfg)
        runner.train()
    finally:
        reset_copy_layout()
    record = _RECORDS.pop(tag)
    record['state_dict'] = {k: v.detach().clone() for k, v in _model(runner).state_dict().items()}
    record['runner'] = runner
    return record


def plain_counterpart(ohl, work_dir: str):
    """The plain mmengine run an OHL digits config ``ohl`` stands for when its spaces cannot change training: a
    ``Runner`` without the OHL hooks and copy wrapper, reading the training set in order (``DefaultSampler``,
    ``shuffle=False``) through the bare packing step, into ``work_dir``."""
    plain = copy.deepcopy(ohl)
    plain.work_dir = work_dir
    plain.runner_type = 'Runner'
    plain.custom_hooks = []
    plain.pop('model_wrapper_cfg')
    plain.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    plain.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    return plain


KEYS = ('samples', 'lr', 'weight_decay', 'loss', 'params', 'bn_statistics', 'val_at', 'checkpoint_at')


def differences(search: dict, plain: dict, keys: tuple[str, ...] = KEYS, state_dict: bool = True) -> list[str]:
    """What the two records disagree on, bitwise: per-iteration ``keys`` and (with ``state_dict``) every entry of
    the final state dict the two models share. ``[]`` when they trained alike."""
    out = []
    for key in keys:
        a, b = search.get(key), plain.get(key)
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a or [], b or [])) if x != y), None)
            out.append(f'{key}: first differs at {first}: {a!r:.300} != {b!r:.300}')
    if state_dict:
        for name, value in search['state_dict'].items():
            other = plain['state_dict'].get(name)
            if other is not None and not torch.equal(value, other):
                out.append(f'state_dict[{name!r}] differs by {(value.double() - other.double()).abs().max():.3g}')
    return out
