"""Regime check on reduced Fashion-MNIST, outside the engine: does crop + flip beat no augmentation?

A plain PyTorch loop (one process, one thread) with the demo's model (SimpleConvNet 32/64/128 + global pooling +
linear, SGD lr 0.05 momentum 0.9 wd 5e-4, cosine, batch 64): ``per_class`` images of each class from the official
training set minus a 5,000-image held-out part (seeded permutation), ``epochs`` epochs, arm ``none`` or
``cropflip`` (pad PAD, default 2, crop 28, horizontal flip). Prints one JSON line with the accuracy on the first
2,000 images of the held-out part and on all 5,000 of it (never the test set), to choose the benchmark's image
count and epochs. ``benchmarks/reward_horizon.py`` reuses its data split, model and training loop.

Run: python benchmarks/fmnist_regime.py PER_CLASS EPOCHS {none,cropflip} SEED [WIDTHS, e.g. 32,64,128] [PAD]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from _options import refuse_bad_seeds

from automl_mm.datasets.fashion_mnist import load_fashion_mnist

BATCH = 64
ARMS = ('none', 'cropflip')


def _held_out_and_pool(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the 5,000 held-out images and of the rest (the pool training images are drawn from): a
    permutation of seed 0, the same for every run."""
    perm = np.random.default_rng(0).permutation(len(labels))
    return perm[:5000], perm[5000:]


def refuse_more_per_class_than_pool(per_class: int, labels: np.ndarray | None = None) -> None:
    """Raise ``ValueError`` when a class has fewer than ``per_class`` images in the pool :func:`load_split` draws
    from (numpy's 'Cannot take a larger sample than population' named neither the count nor the class); call it
    before any work: without ``labels`` it reads the official training labels (the images too, kept for
    :func:`load_split` by the reader's cache) and passes where the files are missing or unreadable (the data read
    names them).

    Args:
        per_class: Training images asked per class.
        labels: The official training labels (60,000), or None to read them.
    """
    if labels is None:
        try:
            labels = load_fashion_mnist(None, 'train')[1]
        except (FileNotFoundError, ValueError):
            return
    sizes = np.bincount(labels[_held_out_and_pool(labels)[1]], minlength=10)
    smallest = int(sizes.argmin())
    if per_class > sizes[smallest]:
        raise ValueError(f'{per_class} training images per class: the pool (the official training images less the '
                         f'5,000 held out) holds {sizes[smallest]} images of class {smallest}; give at most '
                         f'{sizes[smallest]}')


def load_split(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(images, labels, train, held_out)``: all 60,000 official training images (uint8, (60000, 28, 28)) and
    labels, the indices of ``per_class`` training images per class (drawn with ``seed``) and of the 5,000 held-out
    images (the same for every seed; disjoint from ``train``). The files are found as ``FashionMNISTDataset``
    finds them (``data/fashion-mnist``, then ``/usr/share/datasets/fashion-mnist``).

    Raises:
        ValueError: a class has fewer than ``per_class`` images in the pool (:func:`refuse_more_per_class_than_pool`).
    """
    images, labels = load_fashion_mnist(None, 'train')
    held_out, pool = _held_out_and_pool(labels)
    refuse_more_per_class_than_pool(per_class, labels)
    rng = np.random.default_rng([seed, 7])
    train = np.concatenate([rng.choice(pool[labels[pool] == c], per_class, replace=False) for c in range(10)])
    return images, labels, train, held_out


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) → float (N, 1, 28, 28) in [-1, 1] (the demo's mean 127.5, std 127.5)."""
    return torch.tensor(images, dtype=torch.float32)[:, None].sub(127.5).div(127.5)


def build_net(width: tuple[int, ...] = (32, 64, 128)) -> nn.Module:
    """The demo's SimpleConvNet: per width a 3×3 conv, BN, ReLU and 2×2 max-pool; global pooling; linear to 10."""
    layers, c_in = [], 1
    for c_out in width:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))


def crop_flip(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random 28×28 crop of the batch padded by ``pad`` (background −1, i.e. black) and a horizontal flip with
    probability 0.5; ``x`` is (B, 1, 28, 28)."""
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dx = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
    dy = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
    offsets = torch.arange(28)
    rows, cols = (dy[:, None] + offsets)[:, :, None], (dx[:, None] + offsets)[:, None, :]  # (B, 28, 1), (B, 1, 28)
    x = padded[torch.arange(len(x))[:, None, None], 0, rows, cols][:, None]  # each image's own window, at once
    flip = torch.rand(len(x), generator=gen) < 0.5
    x[flip] = x[flip].flip(-1)
    return x


def train_epoch(net: nn.Module, opt: torch.optim.Optimizer, sched, images: torch.Tensor, labels: torch.Tensor,
                gen: torch.Generator, *, cropflip: bool = True, pad: int = 2,
                augment: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
    """One epoch over ``images`` (:func:`to_tensor`'s (N, 1, 28, 28)) in batches of 64, in an order drawn from
    ``gen``; ``augment`` maps one uint8 (28, 28) image to another (applied after crop + flip, as the engine's
    pipeline does). Batches go to the device of ``net``'s parameters; images and labels stay where they are."""
    device = next(net.parameters()).device
    net.train()
    order = torch.randperm(len(images), generator=gen)
    for i in range(0, len(images), BATCH):
        idx = order[i:i + BATCH]
        x = images[idx]
        if cropflip:
            x = crop_flip(x, pad, gen)
        if augment is not None:
            grey = x[:, 0].mul(127.5).add(127.5).round().clamp(0, 255).to(torch.uint8).numpy()
            x = to_tensor(np.stack([augment(img) for img in grey]))
        loss = F.cross_entropy(net(x.to(device)), labels[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image hits (float, 1 = correct, on the CPU) of ``net`` in eval mode, on its parameters' device."""
    device = next(net.parameters()).device
    net.eval()
    with torch.no_grad():
        return (net(x.to(device)).argmax(1).cpu() == y).float()


def make_optimizer(net: nn.Module, epochs: int, num_train: int):
    """The demo's SGD (lr 0.05, momentum 0.9, weight decay 5e-4) and a per-iteration cosine over ``epochs``."""
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((num_train + BATCH - 1) // BATCH))


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse ``type``; its name is what argparse's message calls the value)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (argparse ``type``)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def widths(text: str) -> tuple[int, ...]:
    """Channels per stage, comma-separated positive integers, e.g. ``'32,64,128'`` (argparse ``type``)."""
    return tuple(positive_int(part) for part in text.split(','))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: ``PER_CLASS EPOCHS ARM SEED [WIDTHS] [PAD]`` (argparse: ``--help`` works, and a missing or
    malformed argument exits 2 naming it). ARM is checked by :func:`main` (its message predates argparse here)."""
    parser = argparse.ArgumentParser(prog='fmnist_regime.py', description=__doc__.splitlines()[0])
    parser.add_argument('per_class', metavar='PER_CLASS', type=positive_int, help='training images per class')
    parser.add_argument('epochs', metavar='EPOCHS', type=positive_int)
    parser.add_argument('arm', metavar='ARM', help=f'one of {", ".join(ARMS)}')
    parser.add_argument('seed', metavar='SEED', type=int)
    parser.add_argument('width', metavar='WIDTHS', type=widths, nargs='?', default=(32, 64, 128),
                        help='channels per stage, comma-separated (default 32,64,128: the demo\'s)')
    parser.add_argument('pad', metavar='PAD', type=non_negative_int, nargs='?', default=None,
                        help='crop padding of the cropflip arm (default 2)')
    parser.add_argument('rest', nargs='*', help=argparse.SUPPRESS)  # refused in main, with its own message
    args = parser.parse_args(argv)
    refuse_bad_seeds(parser, args, ('seed', ))  # numpy refused a negative one only when the data was split
    return args


def main() -> None:
    torch.set_num_threads(1)
    args = parse_args()
    per_class, epochs, arm, seed, width = args.per_class, args.epochs, args.arm, args.seed, args.width
    pad = 2 if args.pad is None else args.pad
    if arm not in ARMS:  # any other name trained the 'none' arm under that name
        sys.exit(f'fmnist_regime.py: the arm (third argument) must be one of {", ".join(ARMS)}, got {arm!r}')
    if args.rest:  # a seventh argument was dropped, silently
        sys.exit(f'fmnist_regime.py takes at most 6 arguments (PER_CLASS EPOCHS ARM SEED [WIDTHS] [PAD]), got '
                 f'{len(sys.argv) - 1}: {" ".join(sys.argv[1:])}')
    if args.pad is not None and arm != 'cropflip':  # no crop to pad: the JSON line said pad=4 of a run never padded
        sys.exit(f'fmnist_regime.py: PAD (sixth argument, {pad}) applies to the cropflip arm only; the {arm} arm '
                 'crops nothing, so it would change nothing: leave it out')
    try:
        refuse_more_per_class_than_pool(per_class)
    except ValueError as err:  # numpy's message named neither the argument nor the class
        sys.exit(f'fmnist_regime.py: PER_CLASS (first argument): {err}')
    images, labels, train, held_out = load_split(per_class, seed)
    xt, yt = to_tensor(images[train]), torch.tensor(labels[train])
    xr, yr = to_tensor(images[held_out]), torch.tensor(labels[held_out])
    torch.manual_seed(seed)
    net = build_net(width)
    opt, sched = make_optimizer(net, epochs, len(train))
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    for _ in range(epochs):
        train_epoch(net, opt, sched, xt, yt, gen, cropflip=arm == 'cropflip', pad=pad)
    hits = accuracy(net, xr, yr)
    print(json.dumps(dict(per_class=per_class, epochs=epochs, arm=arm, seed=seed, width=width, pad=pad,
                          held_out_acc=round(hits[:2000].mean().item() * 100, 2),
                          held_out_5000_acc=round(hits.mean().item() * 100, 2),
                          seconds=round(time.time() - start, 1))), flush=True)


if __name__ == '__main__':
    main()
