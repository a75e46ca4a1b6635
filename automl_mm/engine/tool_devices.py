"""A tool's device option (``--device cuda``), refused as a usage error where this machine cannot run it
(:func:`checked_device`). Re-exported by :mod:`automl_mm.engine.tool_args`.
"""
from __future__ import annotations

import argparse
from typing import Any


def checked_device(parser: argparse.ArgumentParser, value: str, option: str = '--device') -> Any:
    """A tool's device option (``--device cuda``) as a ``torch.device``, refused as a usage error (exit status 2)
    where this machine cannot run it, before anything is read or built.

    ``tools/measure_latency.py --device cuda`` on a machine without CUDA read the config and built the supernet first,
    then stopped with ``ValueError: device='cuda' but CUDA is not available here`` below a traceback, naming neither
    the option nor ``--device cpu``.

    Args:
        parser: The tool's parser (its ``error`` exits).
        value: The option's value, e.g. ``'cuda'``, ``'cuda:1'``, ``'cpu'``.
        option: The option's name, for the message.

    Returns:
        ``torch.device(value)``.

    Raises:
        SystemExit: 2 (``parser.error``) for a name torch does not take (``gpu``), a CUDA device where torch sees
            none (suggesting ``--device cpu``) or an index past the devices it sees (``cuda:3`` of 1), another kind
            whose torch backend says it is not available here (``mps``, ``xpu``).
    """
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as err:
        parser.error(f'{option} {value!r} is not a torch device name (e.g. cpu, cuda, cuda:1): {err}')
    cpu_hint = f'; use {option} cpu to run on the CPU'
    if device.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = f'built for CUDA {torch.version.cuda}' if torch.version.cuda else 'built without CUDA'
            parser.error(f'{option} {value}: torch sees no CUDA device here (torch {torch.__version__}, {build})'
                         f'{cpu_hint}, or run on a machine with a GPU')
        if device.index is not None and device.index >= count:
            parser.error(f'{option} {value}: torch sees {count} CUDA device{"s" if count > 1 else ""} here '
                         f'(cuda:0{f" to cuda:{count - 1}" if count > 1 else ""}); give one of them{cpu_hint}')
    elif device.type != 'cpu':
        backend = torch.backends.mps if device.type == 'mps' else getattr(torch, device.type, None)
        available = getattr(backend, 'is_available', None)
        if callable(available) and not available():
            parser.error(f'{option} {value}: torch has no {device.type} device here{cpu_hint}')
    return device
