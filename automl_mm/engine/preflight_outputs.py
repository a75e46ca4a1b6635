"""Where a run writes late, checked before it trains (part of :func:`automl_mm.engine.preflight.check_config`):
``default_hooks.checkpoint``'s ``out_dir`` can be made and its ``save_best`` keys are reported
(:func:`_check_checkpoint_hook`); a folder can be made (:func:`_check_folder`, also for a NAS search's ``out_dir``).
mmengine and the search loops write there only at the first save, validation or the search's end: a file in the
way, or a read-only folder, stopped the run after it had trained up to there.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any

from .preflight_metrics import check_metric_key
from .preflight_walk import ConfigCheckError, config_scope


def _check_folder(path: str, key: str, value: Any, first_write: str) -> None:
    """``path`` can be made: its first existing ancestor is a writable folder (``key=value`` named if not)."""
    if not path:
        return
    folder = osp.abspath(osp.expanduser(path))
    while not osp.lexists(folder) and osp.dirname(folder) != folder:
        folder = osp.dirname(folder)
    if not osp.isdir(folder):
        raise ConfigCheckError(f'{key}={value!r} cannot be made: {folder} is not a folder; {first_write} would '
                               'fail after training up to it')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigCheckError(f'{key}={value!r}: {folder} is not writable; {first_write} would fail after '
                               'training up to it')


def _check_checkpoint_hook(cfg: Any) -> None:
    """``default_hooks.checkpoint``'s ``out_dir`` can be made (a local folder whose first existing ancestor is a
    writable folder) and its ``save_best`` keys are reported by ``val_evaluator`` (for metrics whose keys are known
    statically). mmengine reads both only at the first save or validation: a file in the way, or a key the metric
    does not report (``KeyError``), stopped the run after it had trained up to there, and lost that work."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict):
        return
    out_dir = hook.get('out_dir')
    if isinstance(out_dir, str) and '://' not in out_dir and not hook.get('backend_args'):
        _check_folder(out_dir, 'default_hooks.checkpoint.out_dir', out_dir, 'the first checkpoint')
    save_best = hook.get('save_best')
    keys = [save_best] if isinstance(save_best, str) else list(save_best) if isinstance(save_best, (list, tuple)) \
        else []
    for key in keys:
        if key != 'auto' and cfg.get('val_dataloader') is not None and cfg.get('val_evaluator') is not None:
            check_metric_key(key, 'default_hooks.checkpoint.save_best', cfg.get('val_evaluator'), 'val_evaluator',
                             config_scope(cfg))
