"""The cost of ``verify_sync``'s weight fingerprint (``automl_mm.ohl.fingerprint.fingerprint``), against one training
iteration and against the fingerprints it replaced, interleaved in one run.

Per model, four steps alternate (the order reversed every other round, after a warm-up) and the fastest round of
each (best of ``--repeats``: on cores other jobs share, the least disturbed) is printed with the fingerprint's ratio
to each:

* a training iteration: forward, loss, backward and an SGD step (momentum 0.9) on random images;
* ``float64 sum``: the fingerprint before the sixtieth session, the sum and a tensor-weighted sum of squares of
  every parameter and buffer in float64, two host transfers per tensor (not exact: its rounding follows the order
  of the reduction, which stopped a mixed cluster's run);
* ``16-bit pieces``: the exact fingerprint of the sixtieth session, integer sums of each tensor's bits cut into
  16-bit pieces, widened to int64 (4x a float32 tensor's memory), one host transfer per piece;
* the fingerprint now: wrapping int64 sums of each tensor's words and of their high 32 bits as one grid's row and
  column sums, one host transfer per device.

Models: ``resnet18`` and ``resnet50`` (torchvision, random weights; ``--batch`` images of ``--size`` pixels, 1000
classes) and ``demo``, ``make demo``'s Fashion-MNIST ImageClassifier (its config's ``channels_last`` model and
``train_dataloader.batch_size``, 28 x 28 images, its data preprocessor; an OHL copy runs one such process on one
thread). A fingerprint is taken twice per trunk end (before and after the broadcast), so a trunk of ``k``
iterations spends about ``2 x ratio / k`` of its training time on them.

Run: python benchmarks/fingerprint_cost.py [--models resnet18 resnet50 demo] [--repeats 15] [--warmup 2]
     [--batch 8] [--size 224] [--threads N] [--device cpu|cuda]
Smoke: python benchmarks/fingerprint_cost.py --models demo --repeats 1 --warmup 0
"""
from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from _arms import UniqueValues
from channels_last_speed import CONFIG, _batch
from cr_backbone_speed import _interleaved, apply_timing_options

from automl_mm.engine.tool_devices import checked_device
from automl_mm.ohl.fingerprint import fingerprint

MODELS = ('resnet18', 'resnet50', 'demo')


def float64_sums(module: torch.nn.Module) -> torch.Tensor:
    """The float64 fingerprint (before the sixtieth session): per group (parameters, buffers) the sum of the values
    and the sum over tensors of ``(index + 1) * sum of squares``, each read back to the host."""
    out = torch.zeros(4, dtype=torch.float64)
    for base, tensors in ((0, module.parameters()), (2, module.buffers())):
        for index, t in enumerate(tensors):
            values = t.detach().double()
            out[base] += values.sum().cpu()
            out[base + 1] += (index + 1) * values.square().sum().cpu()
    return out


def sixteen_bit_pieces(module: torch.nn.Module) -> list[int]:
    """The exact fingerprint of the sixtieth session, as costly: each tensor's bit patterns widened to int64, cut
    into 16-bit pieces, each piece summed plain and weighted by ``position % 65521 + 1`` and read back on its own."""
    widths = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    out = []
    for tensors in (module.parameters(), module.buffers()):
        plain = weighted = 0
        for index, t in enumerate(tensors):
            v = t.detach()
            v = (torch.view_as_real(v) if v.is_complex() else v).contiguous().flatten()
            v = v.view(torch.uint8) if v.dtype == torch.bool else v
            bits = v.view(widths[v.element_size()]).to(torch.int64)
            weight = torch.arange(v.numel(), device=v.device, dtype=torch.int64) % 65521 + 1
            one = positioned = 0
            for piece in range(max(v.element_size() // 2, 1)):
                part = (bits >> (16 * piece)) & 0xFFFF
                one += (piece + 1) * int(part.sum())
                positioned += (piece + 1) * int((part * weight).sum())
            plain += one
            weighted += (index + 1) * (one + positioned)
            bool(v.is_floating_point() and not torch.isfinite(v).all())
        out += [plain, weighted]
    return out


def _torchvision_step(name: str, batch: int, size: int, device: torch.device,
                      gen: torch.Generator) -> tuple[torch.nn.Module, Callable[[], None]]:
    import torchvision

    model = getattr(torchvision.models, name)(weights=None).to(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    images = torch.randn(batch, 3, size, size, generator=gen).to(device)
    labels = torch.randint(0, 1000, (batch,), generator=gen).to(device)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return model, step


def _demo_step(device: torch.device, gen: torch.Generator) -> tuple[torch.nn.Module, Callable[[], None], int]:
    from mmengine.config import Config

    import automl_mm.models  # noqa: F401  (registers the models)
    from automl_mm.registry import MODELS as REGISTRY

    cfg = Config.fromfile(CONFIG)
    model = REGISTRY.build(copy.deepcopy(cfg.model)).to(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    data = _batch(cfg.train_dataloader.batch_size, 28, cfg.model.head.num_classes, gen)

    def step() -> None:
        loss = model(**model.data_preprocessor(data, training=True), mode='loss')['loss']
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return model, step, cfg.train_dataloader.batch_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', choices=MODELS, action=UniqueValues, default=list(MODELS))
    parser.add_argument('--repeats', type=int, default=15, help='timed rounds (each step once per round)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument('--batch', type=int, default=8, help='images per ResNet training iteration')
    parser.add_argument('--size', type=int, default=224, help='ResNet input height and width')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads, at most the cores this process may run on; 0: torch default')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    apply_timing_options(parser, args)
    device = checked_device(parser, args.device)  # without CUDA: a usage error suggesting --device cpu
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    print(f'device={device} threads={torch.get_num_threads()} repeats={args.repeats} warmup={args.warmup} '
          f'torch={torch.__version__}; best of the rounds, ms; fp = the fingerprint now')
    print('| model | params | tensors | training iteration | float64 sum | 16-bit pieces | fingerprint '
          '| fp / iteration | fp / float64 sum | fp / 16-bit pieces |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for name in args.models:
        if name == 'demo':
            model, step, batch = _demo_step(device, gen)
            label = f'demo (batch {batch}, 28 px)'
        else:
            model, step = _torchvision_step(name, args.batch, args.size, device, gen)
            label = f'{name} (batch {args.batch}, {args.size} px)'
        steps = [lambda _, step=step: step(), lambda _, model=model: float64_sums(model),
                 lambda _, model=model: sixteen_bit_pieces(model), lambda _, model=model: fingerprint(model)]
        train, f64, pieces, now = (min(t) * 1e3
                                   for t in _interleaved(steps, args.repeats, args.warmup, device))
        params = sum(p.numel() for p in model.parameters())
        tensors = len(list(model.parameters())) + len(list(model.buffers()))
        print(f'| {label} | {params / 1e6:.2f} M | {tensors} | {train:.1f} | {f64:.1f} | {pieces:.1f} | {now:.1f} '
              f'| {now / train:.3f} | {now / f64:.2f} | {now / pieces:.2f} |')


if __name__ == '__main__':
    main()
