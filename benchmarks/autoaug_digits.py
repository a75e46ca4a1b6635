"""OHL-Auto-Aug evidence on digits: no augmentation vs uniform-random pairs vs the learned policy.

All three arms run the same 4-copy OHL engine for the same iterations on the same 300 training images (the
embedded default config); only the augmentation policy differs:

* ``none``: no augmentation (a two-way choice between identities, so copies, rewards and best-copy selection
  are identical to the other arms);
* ``uniform``: a uniformly random ordered pair of the 36 elements per image (controller learning rate 0);
* ``ohl``: the pair distribution learned online by OHL-Auto-Aug.

Prints the final test accuracy, mean ± std over the seeds, and the learned top pairs of each OHL run.
Run: python benchmarks/autoaug_digits.py [--seeds 0 1 2] [--epochs 30]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')


def _arm_config(arm: str, seed: int, epochs: int, path: str) -> None:
    cfg = Config.fromfile(CONFIG)
    cfg.randomness = dict(seed=seed, deterministic=False)
    hook = cfg.custom_hooks[0]
    hook.seed = seed
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[0].T_max = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if arm == 'uniform':
        hook.controller.optimizer.lr = 0.0
    elif arm == 'none':
        hook.controller.optimizer.lr = 0.0
        hook.spaces[0].distribution = dict(type='Categorical', num_choices=2)
        cfg.train_dataloader.dataset.pipeline[0] = dict(type='OHLRandomChoice', key='autoaug', transforms=[[], []])
    elif arm != 'ohl':
        raise ValueError(f'unknown arm {arm!r}')
    cfg.dump(path)


def _final_accuracy(work_dir: str) -> float:
    rows = []
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(osp.join(dirpath, 'scalars.json')) as f:
                rows += [json.loads(line) for line in f if 'accuracy/top1' in line]
    return rows[-1]['accuracy/top1']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--arms', nargs='+', default=['none', 'uniform', 'ohl'])
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    results: dict[str, list[float]] = {arm: [] for arm in args.arms}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for arm in args.arms:
                cfg_path, work = osp.join(tmp, f'{arm}{seed}.py'), osp.join(tmp, f'{arm}{seed}')
                _arm_config(arm, seed, args.epochs, cfg_path)
                proc = subprocess.run([sys.executable, 'tools/train.py', cfg_path, '--work-dir', work], cwd=ROOT,
                                      env=env, capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError(f'{arm} seed {seed} failed:\n{proc.stderr[-3000:]}')
                acc = _final_accuracy(work)
                results[arm].append(acc)
                line = f'seed {seed} {arm:8s} test top-1 {acc:.2f}'
                if arm == 'ohl':
                    with open(osp.join(work, 'ohl', 'history.json')) as f:
                        last = json.load(f)[-1]['distributions']['autoaug']
                    top = ', '.join(f'{t["choice"]} {t["prob"]:.4f}' for t in last['top'][:3])
                    line += f' | entropy {last["entropy"]:.3f} (uniform 7.167) | top pairs: {top}'
                print(line, flush=True)
    print(f'\n{len(args.seeds)} seeds, {args.epochs} epochs, 4 copies, 300 training images:')
    for arm, accs in results.items():
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f'{arm:8s} {statistics.mean(accs):.2f} ± {std:.2f}  ({", ".join(f"{a:.2f}" for a in accs)})')


if __name__ == '__main__':
    main()
