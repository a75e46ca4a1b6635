"""OHL-Auto-Aug inside mmdet's Faster R-CNN against mmdet's fixed detection policies, on Fashion-MNIST detection.

Every arm runs ``configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py`` unchanged apart from
its augmentation: the same detector (ResNet-18 FPN Faster R-CNN from scratch), training images, epochs and 4-copy
OHL engine (so best-copy selection by reward-split box mAP is the same in every arm: equal total training
iterations, copies counted). Arms:

* ``none``: no augmentation at all (no flip);
* ``flip``: horizontal flip only (the config's base pipeline, mmdet's default);
* ``uniform``: flip + a uniformly random ordered pair of the 36 elements per image (boxes follow the pixels);
* ``autoaugment``: flip + mmdet's ``AutoAugment`` with its default ``policies_v0()``: the 25 two-operation
  sub-policies AutoAugment learned on ImageNet (Cubuk et al., CVPR 2019; TensorFlow EfficientNet's ``policy_v0``),
  the fixed learned policy mmdet ships (Zoph et al.'s box-level COCO policy is not in mmdet);
* ``randaugment``: flip + mmdet's ``RandAugment`` (2 operations of its 15-operation ``RANDAUG_SPACE``, random
  magnitude);
* ``ohl``: flip + the pair distribution learned online by OHL-Auto-Aug (factorised 36 + 36 logits).

The fixed arms are a two-way choice between identical pipelines under ``FrozenController`` (θ fixed), so the engine
does the same work (reward evaluation, broadcast) in every arm. mmdet's geometric operations fill uncovered
pixels with ``img_border_value`` = 0 here (mmdet's default 128 is AutoAugment's ImageNet grey; the canvases are
dark, and OHL's elements fill with 0 in the config), their only change; mmdet's ``FilterAnnotations`` follows them
(boxes under 1 pixel dropped, as OHL's elements drop them; without it every copy diverged). The final number of
each run is the box mAP (and mAP_s / mAP_m / mAP_l, COCO's area ranges) of the best copy on the **test** split
(items from the official Fashion-MNIST test set only), evaluated once after the last epoch; every choice inside a
run is made on the reward split. The set is generated with ``tools/data/generate_fmnist_det.py``'s defaults
into ``--data-root`` when it is missing (deterministic; needs the Fashion-MNIST idx files, no download).

Run: python benchmarks/autoaug_det.py [--seeds 0 1 2] [--epochs 8] [--train-images 200] [--arms ...]
     [--elements ohl] [--trunk-iters N] [--lr 0.05] [--work-dir DIR]
(``--elements``: the pairs' elements of the uniform and ohl arms, e.g. ``randaugment``: 18 elements with
``Identity``; ``--trunk-iters``: shorter trunks, so more controller steps, every arm alike; ``--lr``: the ohl
arm's controller learning rate; ``--work-dir``: keep every run, with its ``ohl/history.json``, in
``DIR/<arm><seed>/``.)
Cost, measured on 2 idle CPU cores: about 20 minutes per run at the defaults (2 min 25 s per trunk), so 6 arms x 3
seeds take about 6 hours; the README's table used 100 training images and a 200-image reward split (a set made with
``tools/data/generate_fmnist_det.py data/fmnist_det_r200 --num-reward 200 --num-test 500``): 9.5-11 minutes per run.
At 200 training images and 24 epochs (``--epochs 24``, the regime ``benchmarks/det_regime.py`` chose) a run costs
about 41 minutes on 2 idle cores (estimated from measured iteration and scoring times: 30 training the 4 copies, 11
scoring the 200-image reward split after each trunk); three such runs side by side (with single-model runs beside
them) took 113-116 minutes each, measured.
``benchmarks/det_regime.py`` measures, for the same detector as one model on the val split, at which image count
and length augmentation starts to pay.
"""
from __future__ import annotations

import argparse
import copy
import json
import os.path as osp

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import (
    ROOT,
    UniqueValues,
    add_det_set_options,
    add_elements_option,
    add_work_dir_option,
    ensure_fmnist_det,
    final_accuracy,
    mean_std,
    move_data_root,
    refuse_bad_counts,
    refuse_bad_rates,
    refuse_bad_trunk_length,
    refuse_more_train_images_than_split,
    refuse_unused_options,
    run_arms,
    set_trunk_iters,
    uniform_pair_entropy,
    unrounded_coco,
)
from _options import refuse_bad_seeds
from autoaug_fmnist import policy_summary
from mmdet.datasets.transforms.augment_wrappers import RANDAUG_SPACE, policies_v0
from mmdet.datasets.transforms.geometric import GeomTransform
from mmdet.registry import TRANSFORMS

CONFIG = osp.join(ROOT, 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py')
ARMS = ('none', 'flip', 'uniform', 'autoaugment', 'randaugment', 'ohl')
AREAS = ('coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l')


def dark_fill(ops: list[dict]) -> list[dict]:
    """``ops`` (mmdet transform configs) with ``img_border_value=0`` on the geometric ones (``GeomTransform``)."""
    out = []
    for op in ops:
        op = copy.deepcopy(op)
        if issubclass(TRANSFORMS.get(op['type']), GeomTransform):
            op['img_border_value'] = 0
        out.append(op)
    return out


# mmdet's geometric operations clip boxes to the image but keep those clipped to nothing, whose regression targets
# are not finite (every copy of both mmdet arms diverged without this). mmdet's own RandAugment pipelines filter
# after the policy (configs/_base_/datasets/semi_coco_detection.py); the 1-pixel minimum is mmdet's default and
# the one OHL's elements apply; an image whose boxes all vanish is kept without boxes, as OHL's elements keep it.
FILTER = dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False)


def fixed_policy(arm: str) -> list[dict]:
    """The mmdet transforms of a fixed-policy arm, the policy then ``FILTER`` (empty for ``none``, ``flip`` and
    ``uniform``)."""
    if arm == 'autoaugment':
        return [dict(type='AutoAugment', policies=[dark_fill(p) for p in policies_v0()]), FILTER]
    if arm == 'randaugment':
        return [dict(type='RandAugment', aug_space=[dark_fill(s) for s in RANDAUG_SPACE], aug_num=2), FILTER]
    return []


def make_configure(args: argparse.Namespace):
    """``configure(cfg, arm)`` for :func:`_arms.run_arms`: the config's train pipeline with ``arm``'s augmentation
    (between ``RandomFlip`` and ``PackDetInputs``, found by type), ``--train-images``, ``--data-root`` and
    ``--trunk-iters`` applied (every arm), ``--elements`` (uniform and ohl arms) and ``--lr`` (ohl arm), and the
    final evaluation on the test split (at full precision: ``_arms.unrounded_coco``). Raises ``ValueError`` for an
    unknown arm or a pipeline without ``RandomFlip`` / ``automl_mm.OHLAutoAugment``."""
    def configure(cfg, arm: str) -> None:
        if arm not in ARMS:
            raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')
        hook = cfg.custom_hooks[0]
        cfg.train_dataloader.dataset.indices = args.train_images
        if args.data_root.rstrip('/') != cfg.data_root.rstrip('/'):
            move_data_root(cfg, args.data_root)
        # The one evaluation after the last epoch is the test split's (choices use the reward split only), its
        # values unrounded (mmdet's CocoMetric rounds to 3 decimals)
        cfg.val_dataloader, cfg.val_evaluator = cfg.test_dataloader, unrounded_coco(cfg.test_evaluator)
        if args.trunk_iters is not None:  # the engine's trunk, every arm alike
            set_trunk_iters(hook, args.trunk_iters)
        pipeline = cfg.train_dataloader.dataset.pipeline  # load, annotations, resize, flip, OHLAutoAugment, pack
        types = [step['type'] for step in pipeline]
        for needed in ('RandomFlip', 'automl_mm.OHLAutoAugment'):
            if needed not in types:
                raise ValueError(f'{CONFIG}: train_dataloader.dataset.pipeline has no {needed} ({types})')
        flip, learned = types.index('RandomFlip'), types.index('automl_mm.OHLAutoAugment')
        if arm in ('uniform', 'ohl'):
            pipeline[learned]['elements'] = args.elements
        if arm == 'ohl':
            if args.lr is not None:
                hook.controller.optimizer.lr = args.lr
            return
        hook.controller.type = 'FrozenController'  # the engine of the OHL arm, theta fixed
        if arm == 'uniform':
            return
        hook.spaces[0].distribution = dict(type='Categorical', num_choices=2)
        inner = fixed_policy(arm)
        choice = dict(type='automl_mm.OHLRandomChoice', key='autoaug', transforms=[inner, inner])
        kept = [step for i, step in enumerate(pipeline[:learned]) if not (arm == 'none' and i == flip)]
        cfg.train_dataloader.dataset.pipeline = [*kept, choice, *pipeline[learned + 1:]]
    return configure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=8, help='epochs of every run (= OHL trunks unless --trunk-iters)')
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=list(ARMS), choices=ARMS)
    add_det_set_options(parser, train_images=200)
    add_elements_option(parser, 'uniform and ohl arms')
    parser.add_argument('--trunk-iters', type=int, default=None,
                        help="OHL trunk length in iterations, every arm (default: the config's one epoch)")
    parser.add_argument('--lr', type=float, default=None,
                        help="controller learning rate of the ohl arm (default: the config's Adam lr 0.05)")
    add_work_dir_option(parser)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('epochs', 'train_images'))
    refuse_bad_seeds(parser, args)
    refuse_unused_options(parser, args, args.arms, dict(elements=('uniform', 'ohl'), lr=('ohl', )))
    refuse_bad_trunk_length(parser, args)
    refuse_bad_rates(parser, args, positive=('lr', ))  # inf passed a plain lr > 0 and failed in the ohl arm's run
    ensure_fmnist_det(args.data_root)
    refuse_more_train_images_than_split(parser, args)
    print(f'Fashion-MNIST detection set, Faster R-CNN R-18 FPN, {args.train_images} training images, '
          f'{args.epochs} epochs, 4 copies, seeds {args.seeds}, elements {args.elements}, trunk '
          f'{f"{args.trunk_iters} iterations" if args.trunk_iters else "1 epoch"}, controller lr '
          f'{args.lr or "of the config"}; box mAP on the test split', flush=True)
    areas: dict[str, list[list[float]]] = {arm: [] for arm in args.arms}

    def describe(arm: str, work: str) -> str:
        with open(osp.join(work, 'ohl', 'history.json')) as f:
            last = json.load(f)[-1]
        sml = [final_accuracy(work, key) for key in AREAS]
        areas[arm].append(sml)
        text = (f' | mAP_s/m/l {sml[0]:.3f} / {sml[1]:.3f} / {sml[2]:.3f} | best copy reward '
                f'{last["rewards"][last["best"]]:.3f}')
        if arm != 'ohl':
            return text
        entropy, uniform = last['distributions']['autoaug']['entropy'], uniform_pair_entropy(args.elements)
        return text + f' | entropy {entropy:.3f} (uniform {uniform:.3f})' + policy_summary(work, args.elements)

    run_arms(CONFIG, args.arms, args.seeds, args.epochs, make_configure(args), describe, metric='coco/bbox_mAP',
             label='test bbox mAP', fmt='.3f', work_dir=args.work_dir)
    print('\nmAP_s / mAP_m / mAP_l (mean ± std):')
    for arm, rows in areas.items():
        print(f'{arm:12s} ' + ' / '.join(mean_std([r[i] for r in rows], '.3f') for i in range(3)))


if __name__ == '__main__':
    main()
