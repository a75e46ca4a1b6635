"""The share of an OHL-Auto-Aug pair's cost spent checking the sample again in each geometric element.

``OHLAutoAugment.apply_choice`` checks a sample's per-pixel maps and masks against the image
(``geometric.check_annotation_sizes``, which lists the maps with ``geometric.pixel_map_keys``), and every geometric
element of the drawn pair checks them again (and lists the maps once more to warp them): dict look-ups and shape
reads, no I/O. Is it worth computing once per image and passing down? This script times, one thread, on a
128 x 128 detection-style sample (uint8 BGR image, 3 ``HorizontalBoxes`` with labels and ignore flags, 3
``BitmapMasks`` of the boxes), per image:

* ``as is``: the policy (the 36 elements, uniform pairs drawn by ``transform_with`` from a seeded stream);
* ``once``: the same policy and draws with the elements' own ``check_annotation_sizes`` made a no-op (the policy
  still checks once per image): what passing the check's result down would save at most, but for the elements'
  second ``pixel_map_keys`` (which finds the maps to warp);
* ``repeated``: the repeated work itself, measured apart: ``check_annotation_sizes`` plus ``pixel_map_keys`` on the
  sample (the fastest of 10 batches), times the mean number of geometric elements per pair (2 x 15 / 36 with the
  default elements);
* ``shapes``: the policy's own check that every element of its set can transform the sample's images
  (``OHLAutoAugment._check_shapes``, on every image whatever pair is drawn: each element's ``image_refusal`` once
  per distinct shapes, then a set look-up), measured apart as ``repeated`` is, per image as a run sees it (the
  look-up) and on a new shape (``new shape``: all 36 elements asked), each as a share of ``as is``;
* ``choice view`` / ``choice pair``: an ``OHLRandomChoice`` of mmdet's ``RandomFlip`` in mmcv's ``KeyMapper`` (mapping
  the image, boxes and masks) on those samples, and one of a transform that flips both images of a 1333 x 800
  change-detection pair (``--pairs`` of them, no wrapper), as is and with the choice's own checks off
  (:func:`choice_unchecked`: the drawn sub-pipeline alone, no view check, no copy or comparison of the pair's
  images), timed as the policy's sides are;
* ``start``: the first sample of a new place, where ``OHLRandomChoice`` tries every other choice that can be drawn on
  a deep copy of the sample (``_try_each_choice``), against that first sample with the trial off (:func:`untried`:
  the start as it was), for the choice in view above (2 choices, and 8 choices of mmdet's ``RandomFlip``) and the
  pair's (2 choices): each side on a freshly built transform, ABBA, its fastest of ``--repeats`` rounds, the ratio
  tried / untried and the trial's extra time against the checked per-sample cost above.

Each image runs both ways back to back, in alternating order from image to image (ABBA, ``_pairs.abba_order``),
with the same pair and signs, in each of ``--repeats`` rounds over the images; an image's cost on each side is
its fastest run (a round's sum scattered by 10-40 % between rounds of the same code on 2 cores shared with other
jobs). The script prints the microseconds per image of each side (the mean of those costs), the ratio once / as
is and the repeated work as a share of ``as is``.

Run: python benchmarks/augment_check_cost.py [--images 300] [--repeats 10] [--pairs 10]
"""
from __future__ import annotations

import argparse
import contextlib
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import cv2
import numpy as np
from _pairs import abba_order
from mmcv.transforms import BaseTransform, KeyMapper
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from automl_mm.augment import OHLAutoAugment, geometric
from automl_mm.augment.choice import OHLRandomChoice

SIZE = 128
BOXES = np.array([[10, 10, 50, 60], [30, 40, 100, 90], [60, 5, 120, 70]], np.float32)


def sample(rng: np.random.Generator) -> dict:
    """A 128 x 128 detection results dict as mmdet's ``LoadAnnotations(with_mask=True)`` leaves it."""
    masks = np.zeros((len(BOXES), SIZE, SIZE), np.uint8)
    for mask, (x1, y1, x2, y2) in zip(masks, BOXES.astype(int)):
        mask[y1:y2, x1:x2] = 1
    return dict(img=rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), img_shape=(SIZE, SIZE),
                gt_bboxes=HorizontalBoxes(BOXES.copy()), gt_bboxes_labels=np.arange(len(BOXES)),
                gt_ignore_flags=np.zeros(len(BOXES), bool), gt_masks=BitmapMasks(masks, SIZE, SIZE))


@contextlib.contextmanager
def checked_once():
    """The elements' ``check_annotation_sizes`` a no-op (``policy`` keeps its own reference, so it still checks)."""
    kept = geometric.check_annotation_sizes
    geometric.check_annotation_sizes = lambda *args, **kwargs: None
    try:
        yield
    finally:
        geometric.check_annotation_sizes = kept


def time_round(policy: OHLAutoAugment, samples: list[dict], seed: int) -> np.ndarray:
    """(2, N) seconds of ``policy`` on (shallow copies of) each of the N ``samples``, as is (row 0) and checked
    once (row 1): each image runs both ways back to back (in ABBA order from image to image, so that a change of
    the machine's load reaches both alike), with the same pair and signs (drawn from the stream ``(seed, image)``).
    """
    spent = np.zeros((2, len(samples)))
    for index, results in enumerate(samples):
        for once in abba_order((False, True), index):
            copy, rng = dict(results), np.random.default_rng([seed, index])
            with checked_once() if once else contextlib.nullcontext():
                start = time.perf_counter()
                policy.transform_with(copy, rng)
                spent[int(once), index] = time.perf_counter() - start
    return spent


@contextlib.contextmanager
def choice_unchecked():
    """``OHLRandomChoice``'s own checks off: ``apply_choice`` runs the drawn sub-pipeline alone (no view check, no
    copy or comparison of a pair's images)."""
    kept = OHLRandomChoice.apply_choice
    OHLRandomChoice.apply_choice = lambda self, results, index, rng: self.pipelines[index](results)
    try:
        yield
    finally:
        OHLRandomChoice.apply_choice = kept


class FlipPair(BaseTransform):
    """A change-detection transform: flips ``img`` and ``img2`` left-right, each into a new array."""

    def transform(self, results: dict) -> dict:
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        results['img2'] = np.ascontiguousarray(results['img2'][:, ::-1])
        return results


def choice_in_view(choices: int = 2) -> KeyMapper:
    """An ``OHLRandomChoice`` of mmdet's ``RandomFlip`` (``choices`` equal choices) in a ``KeyMapper`` that gives back
    the image, boxes and masks of :func:`sample`."""
    flip = [dict(type='mmdet.RandomFlip', prob=1.0)]
    return KeyMapper(mapping=dict(img='img', gt_bboxes='gt_bboxes', gt_masks='gt_masks'),
                     transforms=[OHLRandomChoice([flip] * choices, key='flip')])


def pair(rng: np.random.Generator) -> dict:
    """A 1333 x 800 change-detection pair (uint8 ``img`` and ``img2``)."""
    return dict(img=rng.integers(0, 256, (800, 1333, 3), dtype=np.uint8),
                img2=rng.integers(0, 256, (800, 1333, 3), dtype=np.uint8))


def time_choice(transform, samples: list[dict], repeats: int) -> tuple[float, float]:
    """Seconds per sample of ``transform`` (holding an ``OHLRandomChoice``) on shallow copies of ``samples``, as is
    and :func:`choice_unchecked`: each sample both ways back to back in ABBA order, its cost on each side its fastest
    of ``repeats`` rounds, the mean over the samples."""
    spent = np.full((2, len(samples)), np.inf)
    transform(dict(samples[0]))  # the first sample's view read, apart
    for round_ in range(repeats):
        for index, results in enumerate(samples):
            for unchecked in abba_order((False, True), index + round_):
                copy = dict(results)
                with choice_unchecked() if unchecked else contextlib.nullcontext():
                    start = time.perf_counter()
                    transform(copy)
                    spent[int(unchecked), index] = min(spent[int(unchecked), index], time.perf_counter() - start)
    as_is, unchecked = spent.mean(1)
    return float(as_is), float(unchecked)


@contextlib.contextmanager
def untried():
    """``OHLRandomChoice``'s trial of every choice at the first sample of a place off (the start before it)."""
    kept = OHLRandomChoice._try_each_choice
    OHLRandomChoice._try_each_choice = lambda self, results, drawn, view: None
    try:
        yield
    finally:
        OHLRandomChoice._try_each_choice = kept


def time_start(make, samples: list[dict], repeats: int) -> tuple[float, float]:
    """Seconds of the first sample of a transform ``make()`` builds (holding an ``OHLRandomChoice``), with every
    choice tried and :func:`untried`: each sample both ways on a fresh transform (built untimed) back to back in ABBA
    order, its cost on each side its fastest of ``repeats`` rounds, the mean over the samples."""
    spent = np.full((2, len(samples)), np.inf)
    make()(dict(samples[0]))  # imports and first calls, apart
    for round_ in range(repeats):
        for index, results in enumerate(samples):
            for off in abba_order((False, True), index + round_):
                transform, copy = make(), dict(results)
                with untried() if off else contextlib.nullcontext():
                    start = time.perf_counter()
                    transform(copy)
                    spent[int(off), index] = min(spent[int(off), index], time.perf_counter() - start)
    tried, plain = spent.mean(1)
    return float(tried), float(plain)


def time_repeated_check(results: dict, calls: int = 400, batches: int = 10) -> float:
    """Seconds of one element's repeated work, ``check_annotation_sizes`` and ``pixel_map_keys`` on ``results``:
    the fastest of ``batches`` batches of ``calls`` calls, per call."""
    best = float('inf')
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            geometric.check_annotation_sizes(results, SIZE, SIZE, 'benchmark')
            geometric.pixel_map_keys(results, 'benchmark')
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def time_shape_check(policy: OHLAutoAugment, results: dict, calls: int = 400, batches: int = 10) -> tuple:
    """Seconds of the policy's per-sample image check on ``results``, as ``(seen shape, new shape)``: the fastest
    of ``batches`` batches of ``calls`` calls, per call (``new shape``: its memory of checked shapes emptied before
    each call, so every element is asked)."""
    owner, img = 'benchmark', results['img']
    seen = new = float('inf')
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            policy._check_shapes(results, img, [], owner)
        seen = min(seen, (time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for _ in range(calls // 10):
            policy._shapes_checked.clear()
            policy._check_shapes(results, img, [], owner)
        new = min(new, (time.perf_counter() - start) / (calls // 10))
    return seen, new


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=300, help='samples per round')
    parser.add_argument('--repeats', type=int, default=10, help='rounds over the images (both sides in each)')
    parser.add_argument('--pairs', type=int, default=10, help='1333 x 800 change-detection pairs per round')
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeats < 1 or args.pairs < 1:
        parser.error(f'--images, --repeats and --pairs must be >= 1, got {args.images}, {args.repeats} and '
                     f'{args.pairs}')
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    samples = [sample(rng) for _ in range(args.images)]
    policy = OHLAutoAugment(key='autoaug')
    geometric_share = sum(e.geometric for e in policy.elements) / len(policy.elements)
    time_round(policy, samples[:50], 0)  # warm-up
    # every round draws the same pairs and signs (seed 0): an image's fastest run of each side is its cost
    # without the other jobs' preemptions, which on a loaded machine scatter a whole round's sum by 10-40 %
    as_is, once = np.stack([time_round(policy, samples, 0) for _ in range(args.repeats)]).min(0).mean(1)
    repeated = time_repeated_check(samples[0]) * 2 * geometric_share
    shapes, new_shape = time_shape_check(policy, samples[0])
    view, view_unchecked = time_choice(choice_in_view(), samples, args.repeats)
    pair_choice = OHLRandomChoice([[dict(type=FlipPair)], [dict(type=FlipPair)]], key='pair')
    pairs, pairs_unchecked = time_choice(pair_choice, [pair(rng) for _ in range(args.pairs)], args.repeats)
    start_samples = samples[:max(1, min(20, args.images))]
    start_view, start_view_plain = time_start(choice_in_view, start_samples, args.repeats)
    start_view8, start_view8_plain = time_start(lambda: choice_in_view(8), start_samples, args.repeats)
    pairs_made = [pair(rng) for _ in range(max(1, min(3, args.pairs)))]
    start_pair, start_pair_plain = time_start(
        lambda: OHLRandomChoice([[dict(type=FlipPair)], [dict(type=FlipPair)]], key='pair'), pairs_made, args.repeats)
    print(f'{SIZE}x{SIZE}, 3 boxes + bitmap masks, {args.images} images x {args.repeats} rounds '
          '(sides interleaved per image)')
    print(f'as is     {as_is * 1e6:8.1f} us/image')
    print(f'once      {once * 1e6:8.1f} us/image   ratio once / as is {once / as_is:.4f}')
    print(f'repeated  {repeated * 1e6:8.2f} us/image   = {100 * repeated / as_is:.2f} % of as is '
          f'({2 * geometric_share:.2f} geometric elements per pair)')
    print(f'shapes    {shapes * 1e6:8.2f} us/image   = {100 * shapes / as_is:.2f} % of as is '
          f'(new shape: {new_shape * 1e6:.2f} us = {100 * new_shape / as_is:.2f} %, {len(policy.elements)} elements '
          'asked)')
    print(f'choice view {view * 1e6:8.1f} us/image   unchecked {view_unchecked * 1e6:.1f} us '
          f'(checks {100 * (view - view_unchecked) / view:.1f} %: OHLRandomChoice of mmdet RandomFlip in a KeyMapper)')
    print(f'choice pair {pairs * 1e3:8.2f} ms/pair    unchecked {pairs_unchecked * 1e3:.2f} ms '
          f'(checks {100 * (pairs - pairs_unchecked) / pairs:.1f} %: 1333 x 800 change-detection pair, both flipped)')
    for name, tried, plain, steady in (('view, 2 choices', start_view, start_view_plain, view),
                                       ('view, 8 choices', start_view8, start_view8_plain, view),
                                       ('pair, 2 choices', start_pair, start_pair_plain, pairs)):
        print(f'start {name}: {tried * 1e3:7.3f} ms tried, {plain * 1e3:7.3f} ms untried (ratio {tried / plain:.2f}; '
              f'the trial = {(tried - plain) / steady:.1f} checked samples), once per place and key set per process')
    return dict(start_view=start_view, start_view_plain=start_view_plain, start_view8=start_view8,
                start_view8_plain=start_view8_plain, start_pair=start_pair, start_pair_plain=start_pair_plain,
                as_is=as_is, once=once, ratio=once / as_is, repeated=repeated, shapes=shapes, new_shape=new_shape,
                shapes_ratio=shapes / as_is, choice_view=view, choice_view_unchecked=view_unchecked,
                choice_pair=pairs, choice_pair_unchecked=pairs_unchecked)


if __name__ == '__main__':
    main()
