"""The reward reading of one OHL copy of two ranks: its lead reading the whole reward split alone while the other
rank waits (as every copy of several ranks read it until the forty-seventh session) against the two ranks reading
it sharded (``RewardScorer.score`` with the copy's process group: each rank a block of the split's batches, the
lead's buffers broadcast first, the results collected on the lead), in the same run.

Two processes over gloo on the CPU (one thread each: a copy's ranks each have their own device), the digits CNN
of ``configs/ohl/ohl_convnet_1x4_12e_digits.py`` (``--channels``, seeded weights) and ``--images`` images of the
digits reward split in batches of ``--batch-size``, read by ``HeldOutEvaluator`` with ``Accuracy`` as
``reward_key`` ``accuracy/top1``. Each side is timed on the lead from a barrier before the reading to a barrier
after it (what the copy waits for at a trunk end), and by the CPU seconds of its busiest rank (each rank's own
process time from the start of the reading to its end, collectives included): on a cluster each rank of a copy has
its own GPU and the wall time follows the busiest rank's work, while on a shared CPU machine the two processes
compete for the same cores (and, where the scheduler groups a session's processes, for one share of them), so the
wall time there need not drop at all. After one untimed reading of each side, ``--rounds`` rounds time both sides in
alternating order (alone first in rounds 1, 3, ..., sharded first in 2, 4, ...: ABBA); printed: each side's median
and the alone / sharded ratio as the mean ± sample std of the rounds' paired ratios, for both measures, and
whether the two sides' rewards are equal (they must be: the same batches through the same model).

Run: python benchmarks/sharded_reward_reading.py [--images 1024] [--batch-size 64] [--rounds 5]
     [--channels 32,64,128]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')


def _worker(rank: int, init_file: str, args: argparse.Namespace, out: str) -> None:
    sys.path[:0] = [ROOT, osp.dirname(osp.abspath(__file__))]
    from _pairs import abba_order
    from mmengine.config import Config
    from mmengine.dist import all_gather_object
    from mmengine.evaluator import Evaluator

    from automl_mm.engine.evaluate import HeldOutEvaluator
    from automl_mm.ohl.reward import RewardScorer
    from automl_mm.registry import METRICS, MODELS
    from automl_mm.utils import register_all_modules

    torch.set_num_threads(1)
    register_all_modules(init_default_scope=True)
    torch_dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    group = torch_dist.new_group([0, 1])  # the copy's process group, as init_copy_layout creates it
    cfg = Config.fromfile(CONFIG)
    channels = tuple(int(c) for c in args.channels.split(','))
    cfg.model.backbone.channels = channels
    cfg.model.head.in_channels = channels[-1]
    loader = dict(cfg.reward_dataloader, batch_size=args.batch_size)
    loader['dataset'] = dict(loader['dataset'], max_samples=args.images)
    runner = SimpleNamespace(cfg=cfg, build_evaluator=lambda m: Evaluator([METRICS.build(m)]))
    scorer = RewardScorer('accuracy/top1')
    scorer.held_out = HeldOutEvaluator('reward', 'accuracy/top1', 'OHLHook', loader,
                                       dict(type='Accuracy', topk=(1, ))).build(runner)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # the same weights on both ranks, as DDP keeps them

    def read(side: str) -> tuple[float, float, float | None]:
        torch_dist.barrier(group)
        start, cpu = time.perf_counter(), time.process_time()
        if side == 'alone':  # the lead reads the whole split; the other rank waits at the barrier
            scored = scorer.score(model) if rank == 0 else None
        else:
            scored = scorer.score(model, group)
        cpu = time.process_time() - cpu  # this rank's own work (and its share of the collectives)
        torch_dist.barrier(group)
        busiest = max(all_gather_object(cpu, group))
        return time.perf_counter() - start, busiest, None if scored is None else scored[0]

    sides = ('alone', 'sharded')
    warm = {side: read(side)[2] for side in sides}
    times: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    rewards: dict[str, set] = {side: {warm[side]} for side in sides}
    for i in range(args.rounds):
        for side in abba_order(sides, i):
            seconds, busiest, reward = read(side)
            times[side].append(seconds)
            cpu[side].append(busiest)
            rewards[side].add(reward)
    if rank == 0:
        torch.save(dict(times=times, cpu=cpu, rewards=rewards, images=len(scorer.held_out.loader.dataset)), out)
    torch_dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=1024,
                        help='at most this many images of the digits reward split (it holds 362)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--channels', default='32,64,128', help="the CNN's stage widths")
    args = parser.parse_args()
    sys.path[:0] = [osp.dirname(osp.abspath(__file__))]
    from _options import refuse_bad_counts
    from _pairs import paired_ratios

    refuse_bad_counts(parser, args, at_least_1=('images', 'batch_size', 'rounds'))

    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'times.pth')
        mp.start_processes(_worker, args=(osp.join(tmp, 'init'), args, out), nprocs=2, join=True,
                           start_method='spawn')
        result = torch.load(out, weights_only=False)
    times, cpu, rewards = result['times'], result['cpu'], result['rewards']
    print(f'one copy of 2 ranks, {result["images"]} images in batches of {args.batch_size}, CNN {args.channels}, '
          f'{args.rounds} rounds, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    for what, values in (('wall seconds (barrier to barrier)', times),
                         ("CPU seconds of the busiest rank (each rank's own process time)", cpu)):
        ratios = paired_ratios(values['alone'], values['sharded'], '--rounds: alone and sharded rounds')
        spread = f' ± {statistics.stdev(ratios):.2f}' if len(ratios) > 1 else ''
        print(f'{what}:')
        for side in ('alone', 'sharded'):
            print(f'  {side:>8}: median {statistics.median(values[side]):.3f} '
                  f'({", ".join(f"{t:.3f}" for t in values[side])})')
        print(f'  ratio alone / sharded: {statistics.mean(ratios):.2f}{spread} (per round: '
              f'{", ".join(f"{r:.2f}" for r in ratios)})')
    print(f'rewards: alone {sorted(rewards["alone"])}, sharded {sorted(rewards["sharded"])}, '
          f'equal: {rewards["alone"] == rewards["sharded"]}')


if __name__ == '__main__':
    main()
