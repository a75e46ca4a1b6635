"""OHL's cost: an N-copy OHL run against N plain runs of the same iterations, side by side in one run.

Both sides train the digits CNN on the same data for the same epochs with N processes at once (the OHL run
spawns its N copies; the plain side starts N independent trainings), so they compete for the same cores.
Prints the wall-time ratio and, from the OHL run's own per-trunk timings (``history.json``), the breakdown:
training, reward evaluation, waiting for the slowest copy (load imbalance between copies), gather +
controller update, broadcast of the best copy, the sync check, and the main process's report (history, policy
and figures, which every copy waits for at the next trunk end). The engine's own cost is the gather, update,
broadcast and check; its goal is < 2 % of training.

Run: python benchmarks/ohl_overhead.py [--copies 2] [--epochs 6] [--trunk-epochs 2] [--train-samples 1078]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from automl_mm.engine.launch import EXIT_WITH_PARENT_ENV, usable_cpus

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
PLAIN = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


def _common(epochs: int) -> list[str]:
    return [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1000', 'default_hooks.logger.interval=50',
            'default_hooks.checkpoint.interval=1000', 'default_hooks.checkpoint.save_last=False',
            f'param_scheduler.0.T_max={epochs}', 'visualizer.vis_backends.0.type=LocalVisBackend']


def _env(threads: int) -> dict:
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
                OMP_NUM_THREADS=str(threads), **{EXIT_WITH_PARENT_ENV: '1'})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--copies', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument('--trunk-epochs', type=int, default=2)
    parser.add_argument('--train-samples', type=int, default=1078, help='digits training images (1078 = all)')
    args = parser.parse_args()
    threads = max(1, usable_cpus() // args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        procs = [subprocess.Popen(
            [sys.executable, 'tools/train.py', PLAIN, '--work-dir', osp.join(tmp, f'plain{i}'), '--cfg-options',
             *_common(args.epochs), f'train_dataloader.dataset.max_samples={args.train_samples}',
             f'randomness.seed={i}'],
            cwd=ROOT, env=_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for i in range(args.copies)]
        for p in procs:
            _, err = p.communicate()
            if p.returncode:
                raise RuntimeError(f'plain run failed:\n{err[-3000:]}')
        plain = time.perf_counter() - start

        start = time.perf_counter()
        work = osp.join(tmp, 'ohl')
        proc = subprocess.run(
            [sys.executable, 'tools/train.py', OHL, '--work-dir', work, '--cfg-options', *_common(args.epochs),
             f'custom_hooks.0.num_copies={args.copies}', f'custom_hooks.0.trunk_epochs={args.trunk_epochs}',
             f'train_dataloader.dataset.max_samples={args.train_samples}'],
            cwd=ROOT, env=_env(threads), capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f'OHL run failed:\n{proc.stderr[-3000:]}')
        ohl = time.perf_counter() - start
        with open(osp.join(work, 'ohl', 'history.json')) as f:
            history = json.load(f)

    totals = {k: sum(h['seconds'].get(k, 0.0) for h in history) for k in history[-1]['seconds']}
    engine = totals['gather_update'] + totals['broadcast'] + totals['verify']
    print(f'{args.copies} copies x {args.epochs} epochs on digits ({args.train_samples} training images), '
          f'{len(history)} trunks of {args.trunk_epochs} epochs')
    print(f'wall time: {args.copies} plain runs {plain:.1f} s, OHL run {ohl:.1f} s, '
          f'ratio OHL / plain {ohl / plain:.2f}')
    print('OHL rank-0 breakdown (s): ' + ', '.join(f'{k} {v:.3f}' for k, v in totals.items()))
    print(f'reward evaluation / training: {totals["reward"] / totals["train"]:.3f}; '
          f'waiting for the slowest copy / training: {totals["wait"] / totals["train"]:.3f}; '
          f'main-process report (history, policy, figures) / training: '
          f'{totals.get("report", 0.0) / totals["train"]:.3f}')
    print(f'engine (gather + update + broadcast + verify) / training: {engine / totals["train"]:.4f} '
          f'(goal < 0.02); without the optional sync check: {(engine - totals["verify"]) / totals["train"]:.4f}')


if __name__ == '__main__':
    main()
