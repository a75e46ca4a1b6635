"""Augmentation throughput, one thread: OHL-Auto-Aug's ops against torchvision's AutoAugment.

(a) ours: per image, a uniform random ordered pair of the 36 elements (``build_elements()``) applied to a uint8
HWC array through ``op.apply(results, rng)``, pair and signs drawn from ``np.random.default_rng``;
(b) ``torchvision.transforms.v2.AutoAugment(AutoAugmentPolicy.CIFAR10)`` on uint8 CHW tensors (its native,
fastest input). Both run on the same random images at 32x32 and at 512x512 in one run, their timed passes
alternating (in alternating order, so a change of load on a shared machine reaches both sides alike); the script
prints images per second (the best pass of each side) and the ratio ours / torchvision for each size. Goal: ratio
>= 2 at 32x32.

Run: python benchmarks/augment_throughput.py [--small 5000] [--large 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import cv2
import numpy as np
import torch
from _options import refuse_bad_counts
from _pairs import abba_order
from torchvision.transforms import v2

from automl_mm.augment.elements import build_elements


def _ours(images: list[np.ndarray], seed: int) -> float:
    ops = build_elements()
    rng = np.random.default_rng(seed)
    pairs = len(ops)
    start = time.perf_counter()
    for img in images:
        choice = int(rng.integers(pairs * pairs))
        results = {'img': img}
        ops[choice // pairs].apply(results, rng)
        ops[choice % pairs].apply(results, rng)
    return len(images) / (time.perf_counter() - start)


def _torchvision(images: list[np.ndarray], seed: int) -> float:
    augment = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    tensors = [torch.from_numpy(img).permute(2, 0, 1).contiguous() for img in images]
    torch.manual_seed(seed)
    start = time.perf_counter()
    for tensor in tensors:
        augment(tensor)
    return len(tensors) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--small', type=int, default=5000, help='number of 32x32 images')
    parser.add_argument('--large', type=int, default=300, help='number of 512x512 images')
    parser.add_argument('--repeats', type=int, default=3, help='timed passes per side; the best one is reported')
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1 (timed passes per side), got {args.repeats}')
    refuse_bad_counts(parser, args, at_least_1=('small', 'large'))  # no image: a rate of nothing
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f'{"size":>9} {"images":>7} {"ours img/s":>11} {"torchvision img/s":>18} {"ratio":>6}')
    for size, count in ((32, args.small), (512, args.large)):
        images = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]
        _ours(images[:50], 0), _torchvision(images[:50], 0)  # warm-up (lazy imports, caches)
        rates: dict = {_ours: [], _torchvision: []}
        for seed in range(args.repeats):  # the sides alternate, first one then the other first
            for side in abba_order((_ours, _torchvision), seed):
                rates[side].append(side(images, seed))
        ours, theirs = max(rates[_ours]), max(rates[_torchvision])
        print(f'{size:>4}x{size:<4} {count:>7} {ours:>11,.0f} {theirs:>18,.0f} {ours / theirs:>6.2f}')


if __name__ == '__main__':
    main()
