"""Learned hyper-parameters held in a model's ``state_dict``: ``load_from`` keeps the config's, a resume the
checkpoint's, and either is said when the two differ.

An :class:`~automl_mm.losses.AMLFSLoss` keeps its θ in a buffer (so a resume inside an OHL trunk continues it), and a
buffer is loaded with the weights. A run started with ``load_from`` from a searched checkpoint (an AM-LFS search's,
whose θ is a copy's last sample) into a config whose loss is a plain ``AMLFSLoss()`` (cross-entropy) or has its own
``theta`` (``tools/final_policy.py``'s learned loss) trained with the checkpoint's θ, without a word where the config
set none. In mmengine and mmdet ``load_from`` takes a checkpoint's weights into a new run built from the config, and
``resume`` continues the checkpoint's run whole (as the OHL and NAS hooks keep their search state: restored on resume,
restarted on ``load_from``); a learned hyper-parameter is the config's, not a weight.

A module declares such buffers with a class attribute ``learned_state = {buffer name: constructor argument}``
(``AMLFSLoss``: ``{'_theta': 'theta'}``). :class:`LearnedStateHook`, which :func:`automl_mm.engine.patches.install`
registers on every runner that trains (``Runner.train`` / ``FlexibleRunner.train``; not a config entry), runs in
``after_load_checkpoint``, before the weights are copied (and before ``EMAHook`` copies them into its average):

* ``load_from`` (no resume): each declared buffer of the checkpoint is replaced by the model's own (the config's
  value), and one warning names every one that differed: its ``state_dict`` key, its config key
  (:func:`config_key`, e.g. ``model.head.loss.theta``) and both values;
* resume: nothing is replaced (the checkpoint's run continues); :func:`learned_config_keys` tells
  :class:`~automl_mm.engine.resume_config.ResumeConfigHook` that those config keys are restored from the checkpoint, so
  an edited ``model.head.loss.theta`` is reported as replaced by the checkpoint's value, not as taking effect.
"""
from __future__ import annotations

import logging
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from .checkpoint import inner_model


def learned_buffers(model: torch.nn.Module) -> list[tuple[str, str, str]]:
    """``(state_dict key, config key, buffer name)`` of every buffer a module of ``model`` (unwrapped) declares in
    its ``learned_state``, in ``named_modules`` order."""
    found = []
    for path, module in inner_model(model).named_modules():
        for buffer, argument in (getattr(type(module), 'learned_state', None) or {}).items():
            found.append((f'{path}.{buffer}' if path else buffer, config_key(path, argument), buffer))
    return found


def config_key(module_path: str, argument: str) -> str:
    """The config key that sets ``argument`` of the module at ``module_path`` of a model built from ``model``:
    ``model.<path>.<argument>``, with ``loss_module`` (the attribute mmpretrain-style heads build from ``loss``)
    spelt ``loss``, as :meth:`automl_mm.losses.LossFunctionSpace.export_fragment` sets it.

    Examples:
        >>> config_key('head.loss_module', 'theta')
        'model.head.loss.theta'
        >>> config_key('roi_head.bbox_head.loss_cls', 'theta')
        'model.roi_head.bbox_head.loss_cls.theta'
    """
    parts = module_path.split('.') if module_path else []
    if parts and parts[-1] == 'loss_module':
        parts[-1] = 'loss'
    return '.'.join(['model', *parts, argument])


def learned_config_keys(runner: Any) -> list[str]:
    """The config keys of the learned buffers of ``runner.model`` (empty for a runner without a model)."""
    model = getattr(runner, 'model', None)
    return [key for _, key, _ in learned_buffers(model)] if isinstance(model, torch.nn.Module) else []


def _find(state: dict, key: str) -> str | None:
    # Runner.load_checkpoint strips a DDP 'module.' prefix after this hook has run
    return next((k for k in (key, f'module.{key}') if k in state), None)


def _shown(value: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in value.reshape(-1).tolist()]


def keep_configured_learned_state(model: torch.nn.Module, checkpoint: dict) -> list[str]:
    """Replace, in ``checkpoint['state_dict']`` (in place), each learned buffer that differs from ``model``'s by
    the model's value, and return one line per replaced buffer (its keys and both values) for the warning.

    A buffer the checkpoint lacks, or holds in another shape, is left to the loader (and to
    :class:`~automl_mm.engine.hooks.StrictCheckpointHook`, which names it).
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        return []
    own = inner_model(model).state_dict()
    lines = []
    for key, cfg_key, _ in learned_buffers(model):
        found = _find(state, key)
        saved, mine = state.get(found), own.get(key)
        if found is None or not torch.is_tensor(saved) or mine is None or saved.shape != mine.shape:
            continue
        if torch.equal(saved.to(mine), mine):
            continue
        lines.append(f'{key} (config key {cfg_key}): checkpoint {_shown(saved)}, this run {_shown(mine)}')
        state[found] = mine.detach().clone().to(saved.dtype)
    return lines


class LearnedStateHook(Hook):
    """On ``load_from``, keep the config's learned hyper-parameters over a checkpoint's, and say so (see the module
    docstring). Registered on every runner that trains by :func:`automl_mm.engine.patches.install`. Never raises.
    """

    priority = 'VERY_HIGH'  # before EMAHook (NORMAL) copies the checkpoint's state_dict into its average

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from .data_fingerprint import _resumed_file
        from .run_info import is_resume

        if is_resume(runner):  # the checkpoint's run continues; ResumeConfigHook names edited keys
            return
        model = getattr(runner, 'model', None)
        if not isinstance(model, torch.nn.Module):
            return
        lines = keep_configured_learned_state(model, checkpoint)
        if lines:
            print_log(f'load_from {_resumed_file(runner)}: the checkpoint\'s learned hyper-parameters are not loaded, '
                      'this run\'s config keeps its own (load_from takes the weights into a new run; resume continues '
                      'a run whole): ' + '; '.join(lines) + '. To train with the checkpoint\'s value, set that config '
                      'key to it (e.g. tools/final_policy.py\'s fragment of a search), or resume the run',
                      logger='current', level=logging.WARNING)


__all__ = ['LearnedStateHook', 'config_key', 'keep_configured_learned_state', 'learned_buffers',
           'learned_config_keys']
