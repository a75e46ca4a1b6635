"""Regime check on the Fashion-MNIST detection set, outside the OHL engine: where does augmentation start to pay?

The detection analogue of ``benchmarks/fmnist_regime.py``: ``configs/baselines/
baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py`` (the OHL detection config's detector, optimiser, schedule and
test settings as one model: no copies, no controller, no reward split) trained from scratch through
``tools/train.py`` on the first ``--train-images`` training images for ``--epochs`` epochs (the cosine schedule
spans the run), with one augmentation arm:

* ``none``: no augmentation at all (the config's ``RandomFlip`` removed);
* ``flip``: horizontal flip (the config's pipeline, mmdet's default);
* ``uniform``: flip + a uniformly random ordered pair of OHL-Auto-Aug's 36 elements per image
  (``FixedAutoAugment`` with ``probs=None``, fill 0, boxes follow the pixels; ``--elements randaugment``: of
  RandAugment's operations at magnitude 9, 18 elements with ``Identity``, or another named set);
* ``autoaugment`` / ``randaugment``: flip + mmdet's fixed ``AutoAugment`` (``policies_v0()``) or ``RandAugment``
  (2 of 15 operations), set as in ``benchmarks/autoaug_det.py``'s arms (fill 0, ``FilterAnnotations`` after).

Each run prints its **val**-split box mAP after every ``--val-interval`` epochs and mAP_s / mAP_m / mAP_l at the
end (the val split is disjoint from the reward and test splits; the test split is never read here), then the
mean ± std per arm over ``--seeds``. It chooses the image count and length at which ``benchmarks/autoaug_det.py``'s
comparison means something: there, after 200 iterations from scratch, every augmentation lowered box mAP.

Run: python benchmarks/det_regime.py [--seeds 0 1 2] [--arms none flip uniform] [--train-images 200] [--epochs 24]
     [--val-interval 8] [--data-root data/fmnist_det] [--elements ohl] [--work-dir DIR]
"""
from __future__ import annotations

import argparse
import os.path as osp
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import (
    ROOT,
    UniqueValues,
    add_det_set_options,
    add_elements_option,
    add_work_dir_option,
    ensure_fmnist_det,
    final_accuracy,
    logged_rows,
    move_data_root,
    refuse_bad_counts,
    refuse_more_train_images_than_split,
    refuse_unused_options,
    run_arms,
    unrounded_coco,
)
from _options import refuse_bad_seeds
from autoaug_det import AREAS, fixed_policy

CONFIG = osp.join(ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')
ARMS = ('none', 'flip', 'uniform', 'autoaugment', 'randaugment')


def make_configure(args: argparse.Namespace):
    """``configure(cfg, arm)`` for :func:`_arms.run_arms`: ``arm``'s augmentation after the config's ``RandomFlip``
    (which ``none`` removes), ``--train-images``, ``--val-interval`` and ``--data-root`` applied, the val
    evaluator at full precision (``_arms.unrounded_coco``). Raises
    ``ValueError`` for an unknown arm or a train pipeline without ``RandomFlip``."""
    def configure(cfg, arm: str) -> None:
        if arm not in ARMS:
            raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')
        cfg.train_dataloader.dataset.indices = args.train_images
        cfg.train_cfg.val_interval = args.val_interval or cfg.train_cfg.max_epochs
        cfg.val_evaluator = unrounded_coco(cfg.val_evaluator)  # mmdet's CocoMetric rounds to 3 decimals
        if args.data_root.rstrip('/') != cfg.data_root.rstrip('/'):
            move_data_root(cfg, args.data_root)
        pipeline = cfg.train_dataloader.dataset.pipeline
        types = [step['type'] for step in pipeline]
        if 'RandomFlip' not in types:
            raise ValueError(f'{CONFIG}: train_dataloader.dataset.pipeline has no RandomFlip ({types})')
        flip = types.index('RandomFlip')
        uniform = dict(type='automl_mm.FixedAutoAugment', fill=0, elements=args.elements)
        policy = {'none': [], 'flip': [], 'uniform': [uniform]}.get(arm)
        policy = fixed_policy(arm) if policy is None else policy
        head = pipeline[:flip] if arm == 'none' else pipeline[:flip + 1]
        cfg.train_dataloader.dataset.pipeline = [*head, *policy, *pipeline[flip + 1:]]
    return configure


def val_curve(work_dir: str) -> list[tuple[int, float]]:
    """``(epoch, coco/bbox_mAP)`` of every validation the run logged (its ``scalars.json``)."""
    return [(row['step'], row['coco/bbox_mAP']) for row in logged_rows(work_dir, 'coco/bbox_mAP')]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=['none', 'flip', 'uniform'], choices=ARMS)
    parser.add_argument('--epochs', type=int, default=24)
    parser.add_argument('--val-interval', type=int, default=8, help='epochs between val evaluations (0: at the end)')
    add_det_set_options(parser, train_images=200)
    add_elements_option(parser, 'uniform arm')
    add_work_dir_option(parser)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('epochs', 'train_images'), at_least_0=('val_interval', ))
    refuse_bad_seeds(parser, args)
    refuse_unused_options(parser, args, args.arms, dict(elements=('uniform', )))
    ensure_fmnist_det(args.data_root)
    refuse_more_train_images_than_split(parser, args)
    print(f'Fashion-MNIST detection set, Faster R-CNN R-18 FPN (one model), {args.train_images} training images, '
          f'{args.epochs} epochs, seeds {args.seeds}, elements {args.elements}; box mAP on the val split', flush=True)
    start = [time.monotonic()]

    def describe(arm: str, work: str) -> str:
        sml = [final_accuracy(work, key) for key in AREAS]
        curve = ', '.join(f'e{epoch} {value:.3f}' for epoch, value in val_curve(work))
        minutes, start[0] = (time.monotonic() - start[0]) / 60, time.monotonic()
        return f' | mAP_s/m/l {sml[0]:.3f} / {sml[1]:.3f} / {sml[2]:.3f} | val curve {curve} | {minutes:.1f} min'

    run_arms(CONFIG, args.arms, args.seeds, args.epochs, make_configure(args), describe, metric='coco/bbox_mAP',
             label='val bbox mAP', fmt='.3f', work_dir=args.work_dir)


if __name__ == '__main__':
    main()
