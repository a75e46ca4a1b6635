"""Regime check on reduced Fashion-MNIST, outside the engine: does crop + flip beat no augmentation?

A plain PyTorch loop (one process, one thread) with the demo's model (SimpleConvNet 32/64/128 + global pooling +
linear, SGD lr 0.05 momentum 0.9 wd 5e-4, cosine, batch 64): ``per_class`` images of each class from the official
training set minus a 5,000-image held-out part (seeded permutation), ``epochs`` epochs, arm ``none`` or
``cropflip`` (pad PAD, default 2, crop 28, horizontal flip). Prints one JSON line with the accuracy on the first
2,000 images of the held-out part and on all 5,000 of it (never the test set), to choose the benchmark's image
count and epochs.

Run: python benchmarks/fmnist_regime.py PER_CLASS EPOCHS {none,cropflip} SEED [WIDTHS, e.g. 32,64,128] [PAD]
"""

from __future__ import annotations

import gzip
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = '/usr/share/datasets/fashion-mnist/'


def _read(path: str, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main() -> None:
    torch.set_num_threads(1)
    per_class, epochs, arm, seed = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    width = tuple(int(c) for c in sys.argv[5].split(',')) if len(sys.argv) > 5 else (32, 64, 128)
    pad = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    images = _read(ROOT + 'train-images-idx3-ubyte.gz', 16).reshape(-1, 28, 28)
    labels = _read(ROOT + 'train-labels-idx1-ubyte.gz', 8).astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(labels))
    held_out, pool = perm[:5000], perm[5000:]
    rng = np.random.default_rng([seed, 7])
    train = np.concatenate([rng.choice(pool[labels[pool] == c], per_class, replace=False) for c in range(10)])

    def tensor(idx):
        return torch.tensor(images[idx], dtype=torch.float32)[:, None].sub(127.5).div(127.5)

    xt, yt = tensor(train), torch.tensor(labels[train])
    xr, yr = tensor(held_out), torch.tensor(labels[held_out])
    torch.manual_seed(seed)
    layers, c_in = [], 1
    for c_out in width:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c_in = c_out
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))
    batch = 64
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(train) + batch - 1) // batch))
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), batch):
            idx = order[i:i + batch]
            x = xt[idx]
            if arm == 'cropflip':
                padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
                dx = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
                dy = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
                x = torch.stack([padded[k, :, dy[k]:dy[k] + 28, dx[k]:dx[k] + 28] for k in range(len(x))])
                flip = torch.rand(len(x), generator=gen) < 0.5
                x[flip] = x[flip].flip(-1)
            loss = F.cross_entropy(net(x), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        hits = (net(xr).argmax(1) == yr).float()
    print(json.dumps(dict(per_class=per_class, epochs=epochs, arm=arm, seed=seed, width=width, pad=pad,
                          held_out_acc=round(hits[:2000].mean().item() * 100, 2),
                          held_out_5000_acc=round(hits.mean().item() * 100, 2),
                          seconds=round(time.time() - start, 1))), flush=True)


if __name__ == '__main__':
    main()
