"""Speed of the CR-NAS backbones against mmdet's ResNet and against fixed networks, interleaved in one run.

(a) CRResNet-18/-50 with the standard allocation against mmdet's ResNet-18/-50 with the same weights: forward +
    backward time; goal: ratio <= 1.03 (the CR machinery must cost nothing when it is not used).
(b) A CRResNet-18 supernet (``max_stage_blocks=(3, 3, 3, 3)``) whose allocation and dilations are resampled every
    step through ``set_allocation`` / ``set_dilations`` (allocations of 8 blocks in total, like ResNet-18's
    ``(2, 2, 2, 2)``; dilations from {1, 2, 3}) against a fixed CRResNet built with the same architecture;
    goal: ratio <= 1.10. Its last row puts the fixed ResNet-18 allocation ``(2, 2, 2, 2)`` with the same
    dilations beside it, for the cost of the reallocation itself.

Each step is timed alone (device synchronised); the two sides alternate step by step, in alternating order,
after a warm-up, and the table shows medians. The fixed networks for (b) come from a pool of ``--num-archs``
sampled architectures built before timing (building a network is not part of a search step).

Run: python benchmarks/cr_backbone_speed.py [--device cpu|cuda] [--repeats 20] [--size 224] [--batch 2] [--threads N]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from _options import refuse_bad_counts, refuse_bad_parallelism, refuse_bad_seeds
from mmdet.models.backbones import ResNet

from automl_mm.engine.tool_devices import checked_device
from automl_mm.models.backbones.cr_resnet import CRResNet

SUPERNET_MAX = (3, 3, 3, 3)
TOTAL_BLOCKS = 8
DILATION_CHOICES = (1, 2, 3)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _train_step(net: torch.nn.Module, x: torch.Tensor) -> None:
    net.zero_grad(set_to_none=True)
    outs = net(x)
    sum(o.float().mean() for o in outs).backward()


def _ready(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    net.to(device)
    net.train()  # mmdet backbones' train() returns None
    return net


def _timed(fn: Callable[[], None], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _interleaved(fns: list[Callable[[int], None]], repeats: int, warmup: int,
                 device: torch.device) -> list[list[float]]:
    """Run every ``fn(step)`` once per step, rotating the order each step; per-fn step times after the warm-up."""
    times: list[list[float]] = [[] for _ in fns]
    for step in range(warmup + repeats):
        order = list(range(len(fns)))
        if step % 2:
            order.reverse()
        for k in order:
            t = _timed(lambda k=k, step=step: fns[k](step), device)
            if step >= warmup:
                times[k].append(t)
    return times


def apply_timing_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--repeats`` < 1 or ``--warmup`` < 0 before anything is built (no timed step: the medians failed
    only at the end), ``--threads`` outside ``[0, usable cores]``, a ``--size``, ``--batch``, ``--num-archs`` or
    ``--eval-batch`` below 1 (those the script has) and a ``--seed`` outside ``[0, 2**32)``; then use ``--threads``
    torch CPU threads (0: torch's default)."""
    if args.repeats < 1 or args.warmup < 0:
        parser.error(f'--repeats must be >= 1 and --warmup >= 0 (steps per side), got {args.repeats} and '
                     f'{args.warmup}')
    # --threads -1 ran torch's default, and more threads than cores timed their contention
    refuse_bad_parallelism(parser, args, threads=('threads', ))
    counts = [dest for dest in ('size', 'batch', 'num_archs', 'eval_batch') if hasattr(args, dest)]  # the script's
    refuse_bad_counts(parser, args, at_least_1=counts)
    refuse_bad_seeds(parser, args, ('seed', ))
    if args.threads > 0:
        torch.set_num_threads(args.threads)


def _sample_allocation(rng: random.Random) -> tuple[int, ...]:
    while True:
        alloc = tuple(rng.randint(1, m) for m in SUPERNET_MAX)
        if sum(alloc) == TOTAL_BLOCKS:
            return alloc


def _row(name: str, t: list[float], ref: list[float] | None = None, goal: str = '') -> str:
    med = statistics.median(t) * 1e3
    if ref is None:
        return f'| {name:<44} | {med:9.2f} | {"":>6} | {goal:>6} |'
    ratio = statistics.median(t) / statistics.median(ref)
    return f'| {name:<44} | {med:9.2f} | {ratio:6.3f} | {goal:>6} |'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--repeats', type=int, default=20, help='timed steps per network')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per network first')
    parser.add_argument('--size', type=int, default=224, help='input height and width')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--num-archs', type=int, default=6, help='pool of sampled architectures for (b)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads, at most the cores this process may run on; 0: torch default (use '
                             '1 when other jobs share the cores)')
    args = parser.parse_args()
    apply_timing_options(parser, args)
    device = checked_device(parser, args.device)  # without CUDA: a usage error suggesting --device cpu
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)

    header = f'| {"network (forward + backward)":<44} | {"median ms":>9} | {"ratio":>6} | {"goal":>6} |'
    rule = '|' + '-' * 46 + '|' + '-' * 11 + '|' + '-' * 8 + '|' + '-' * 8 + '|'
    print(f'device={device} batch={args.batch} size={args.size} repeats={args.repeats} warmup={args.warmup} '
          f'threads={torch.get_num_threads()}')
    print(header)
    print(rule)

    # (a) standard allocation: CRResNet against mmdet's ResNet.
    for depth in (18, 50):
        ref = _ready(ResNet(depth=depth), device)
        cr = _ready(CRResNet(depth=depth), device)
        cr.load_state_dict(ref.state_dict())
        t_ref, t_cr = _interleaved([lambda _s, n=ref: _train_step(n, x), lambda _s, n=cr: _train_step(n, x)],
                                   args.repeats, args.warmup, device)
        print(_row(f'mmdet ResNet-{depth}', t_ref))
        print(_row(f'CRResNet-{depth}, standard allocation', t_cr, t_ref, '<=1.03'))
        del ref, cr

    # (b) supernet step against fixed networks of the same architecture.
    supernet = _ready(CRResNet(depth=18, max_stage_blocks=SUPERNET_MAX), device)
    pool = []
    for _ in range(args.num_archs):
        alloc = _sample_allocation(rng)
        dilations = [rng.choice(DILATION_CHOICES) for _ in range(TOTAL_BLOCKS)]
        fixed = CRResNet(depth=18, stage_blocks=alloc, dilations_per_block=dilations)
        fixed.load_state_dict(supernet.state_dict(), strict=False)
        standard = CRResNet(depth=18, dilations_per_block=dilations)
        standard.load_state_dict(supernet.state_dict(), strict=False)
        pool.append((alloc, dilations, _ready(fixed, device), _ready(standard, device)))
    schedule = [rng.randrange(len(pool)) for _ in range(args.warmup + args.repeats)]

    def supernet_step(step: int) -> None:
        alloc, dilations, _, _ = pool[schedule[step]]
        supernet.set_allocation(alloc)
        supernet.set_dilations(dilations)
        _train_step(supernet, x)

    def fixed_step(step: int) -> None:
        _train_step(pool[schedule[step]][2], x)

    def standard_step(step: int) -> None:
        _train_step(pool[schedule[step]][3], x)

    t_super, t_fixed, t_std = _interleaved([supernet_step, fixed_step, standard_step], args.repeats, args.warmup,
                                           device)
    print(_row('fixed CRResNet-18, same arch as the supernet', t_fixed))
    print(_row('CRResNet-18 supernet, resampled every step', t_super, t_fixed, '<=1.10'))
    print(_row('fixed CRResNet-18 (2,2,2,2), same dilations', t_std, t_fixed))
    print(f'architectures in the pool: {[(a, d) for a, d, _, _ in pool]}')


if __name__ == '__main__':
    main()
