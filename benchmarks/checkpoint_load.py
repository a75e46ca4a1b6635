"""Cost of allow-listed checkpoint loading against an unrestricted ``torch.load`` (same file, same run).

Builds an mmengine-shaped checkpoint (ResNet-50 weights, SGD momentum state, a message hub with HistoryBuffers)
and prints load times (the best of ``--repeats`` per side) and the ratio safe / unrestricted. The two loads
alternate, in alternating order (as ``cr_backbone_speed.py`` and ``channels_last_speed.py`` time their sides), so a
change of load on a shared machine reaches both sides alike. Run: python benchmarks/checkpoint_load.py
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from _pairs import abba_order
from mmengine.logging import MessageHub

from automl_mm.engine import safe_torch_load
from automl_mm.models import ResNet


def _checkpoint(path: str) -> None:
    model = ResNet(depth=50)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 64, 64))[-1].mean().backward()
    optim.step()
    hub = MessageHub.get_instance('bench')
    for i in range(1000):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('train/lr', 0.1)
    hub.update_info('epoch', 3)
    torch.save({'meta': {'epoch': 3, 'iter': 1000, 'seed': 0}, 'state_dict': model.state_dict(),
                'optimizer': optim.state_dict(), 'message_hub': hub.state_dict()}, path)


def _best_of_interleaved(fns: list, repeats: int) -> list[float]:
    """The best (lowest) of ``repeats`` wall times (s) of each function in ``fns``, called once per round, the
    order reversed every other round (the first function first in rounds 0, 2, ...)."""
    times: list[list[float]] = [[] for _ in fns]
    for step in range(repeats):
        for k in abba_order(range(len(fns)), step):
            start = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - start)
    return [min(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1 (loads timed per side), got {args.repeats}')
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'ckpt.pth')
        _checkpoint(path)
        size_mb = os.path.getsize(path) / 2**20
        unrestricted, safe = _best_of_interleaved([lambda: torch.load(path, weights_only=False),
                                                   lambda: safe_torch_load(path)], args.repeats)
    print(f'checkpoint: {size_mb:.1f} MiB, best of {args.repeats}')
    print(f'torch.load(weights_only=False): {unrestricted * 1e3:.1f} ms')
    print(f'automl_mm safe_torch_load:      {safe * 1e3:.1f} ms')
    print(f'ratio safe / unrestricted: {safe / unrestricted:.2f}')


if __name__ == '__main__':
    main()
