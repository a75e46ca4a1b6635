"""The image size a search's exported retrain config runs at, against the size the search ran and counted at.

A PC-NAS search exports ``pc_nas_final_config.py``, which inherits ``train_cfg.retrain_config`` and sets only the
searched ``arch``: the data, and so the image size, are the retrain config's. A digits search whose images were set
to 32 px (``train_cfg.input_shape=(1, 3, 32, 32)``, ``flops_limit=14e6``) exported a config that retrained at the
template's 16 px: the network kept under the FLOPs limit at 32 px was trained and tested at 16 px (a quarter of the
FLOPs the search reported), and the ranking it was chosen by was made at another size; nothing said so.

:func:`check_retrain_input` compares the two before the search trains. The retrain size is that of the first image of
the retrain config's ``test_dataloader`` (else ``val_dataloader``: the size it is scored and its costs quoted at),
through its model's ``data_preprocessor``, the same way the search's size is read from its search split.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

from mmengine.logging import print_log

from automl_mm.engine.evaluate import kept_global_rngs


def retrain_input_chw(retrain_config: str, data_preprocessor: Any = None) -> tuple[tuple[int, ...], str] | None:
    """``((C, H, W), loader key)`` of the first image the retrain config's ``test_dataloader`` (else
    ``val_dataloader``) gives its network, or ``None`` when it has neither, or its batches are not one 4-D tensor
    (detection's lists of images of several sizes).

    Args:
        retrain_config: Path of the retrain config.
        data_preprocessor: Used when the retrain config's ``model`` sets no ``data_preprocessor`` (the search
            model's).

    Raises:
        Exception: whatever building the loader, reading a batch or building the preprocessor raises.
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from automl_mm.registry import MODELS

    cfg = Config.fromfile(retrain_config)
    key = next((k for k in ('test_dataloader', 'val_dataloader') if isinstance(cfg.get(k), dict)), None)
    if key is None:
        return None
    loader_cfg = copy.deepcopy(cfg.get(key))
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader_cfg.pop('prefetch_factor', None)  # torch refuses it without workers
    # a look before training: the search's training must draw as if it had not looked (kept_global_rngs)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or 'automl_mm'), kept_global_rngs():
        batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
        own = (cfg.get('model') or {}).get('data_preprocessor')
        preprocessor = MODELS.build(own) if isinstance(own, dict) else data_preprocessor
        inputs = preprocessor(batch, False)['inputs'] if preprocessor is not None else batch.get('inputs')
    if not hasattr(inputs, 'dim') or inputs.dim() != 4:
        return None
    return tuple(int(v) for v in inputs.shape[1:]), key


def check_retrain_input(retrain_config: str | None, searched_chw: Sequence[int] | None, costed: str | None,
                        data_preprocessor: Any = None) -> None:
    """Refuse (with costs) or warn about (without) a retrain config whose images reach the network at another
    ``(C, H, W)`` than the search's (see the module docstring).

    Args:
        retrain_config: Absolute path of ``train_cfg.retrain_config``, or ``None``: nothing to check.
        searched_chw: ``(C, H, W)`` the supernet ran at on the search split, or ``None``: not known (detection).
        costed: The key the search's FLOPs / latency were counted at (``'train_cfg.input_shape'``), or ``None``
            when the search counted no costs: then a different size only changes where the ranking was made, and is
            warned about.
        data_preprocessor: The search model's, for a retrain config whose model sets none.

    Raises:
        ValueError: ``costed`` and the sizes differ, naming ``train_cfg.retrain_config``, its loader key, both
            sizes and ``costed``.
    """
    if retrain_config is None or searched_chw is None:
        return
    try:
        found = retrain_input_chw(retrain_config, data_preprocessor)
    except Exception as err:  # noqa: BLE001  (the retrain is a later run; the search need not read its data)
        print_log(f'train_cfg.retrain_config {retrain_config}: its image size could not be read to compare with the '
                  f"search's ({type(err).__name__}: {err}); check that it retrains at (C, H, W) = "
                  f'{tuple(searched_chw)}', logger='current', level=logging.WARNING)
        return
    if found is None:
        return
    retrain, key = found
    searched = tuple(int(v) for v in searched_chw)
    if retrain == searched:
        return
    msg = (f'train_cfg.retrain_config {retrain_config}: its {key} gives the network images of (C, H, W) = '
           f"{retrain}, the search's split {searched}: the exported config inherits the retrain config's data, so "
           f'the searched architecture would be retrained and scored at another size than it was searched at')
    if costed is None:
        print_log(msg + '; set the retrain config\'s image size to the search\'s', logger='current',
                  level=logging.WARNING)
        return
    raise ValueError(msg + f', and its FLOPs / latency (counted at {costed}) and the cost limit would not hold for '
                     "it; give the retrain config the search's image size (or search at the retrain size)")
