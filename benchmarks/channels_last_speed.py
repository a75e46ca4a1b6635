"""Speed of ``ImageClassifier(channels_last=True)`` against the default layout, interleaved in one run.

The model of a config (default: ``make demo``'s Fashion-MNIST CNN) is built twice with the same weights, once with
``channels_last=False`` and once with ``True``, and timed on random 28 x 28 images (``--size``) in the two steps an
OHL copy repeats:

* a training step: the data preprocessor, ``mode='loss'``, backward and an SGD step, at the config's
  ``train_dataloader.batch_size``;
* a reward reading: ``mode='predict'`` under ``torch.no_grad`` in eval mode, at the config's
  ``reward_dataloader.batch_size`` (and at ``--eval-batch`` sizes, if given).

The two layouts alternate step by step, in alternating order, after a warm-up; the table shows medians and the
ratio default / channels_last (> 1: channels_last is faster). Use ``--threads 1`` to match a copy of ``make demo``
(4 single-threaded processes on 2 cores).

Run: python benchmarks/channels_last_speed.py [--config CFG] [--repeats 20] [--threads 1] [--eval-batch 256]
(``--eval-batch`` adds sizes besides the config's ``reward_dataloader.batch_size``, 64 for the default config, which
is measured anyway and refused there; this line read ``--eval-batch 64`` until the fifty-ninth session.)
"""
from __future__ import annotations

import argparse
import copy
import os.path as osp
import statistics

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from _arms import UniqueValues
from cr_backbone_speed import _interleaved, apply_timing_options  # the same alternating timing
from mmengine.config import Config
from mmengine.structures import BaseDataElement

import automl_mm.models  # noqa: F401  (registers the models)
from automl_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py')


def _batch(n: int, size: int, num_classes: int, gen: torch.Generator) -> dict:
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    samples = []
    for label in labels:
        sample = BaseDataElement()
        sample.gt_label = label.view(1)
        samples.append(sample)
    return dict(inputs=list(images), data_samples=samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG, help='a config whose model is an ImageClassifier')
    parser.add_argument('--repeats', type=int, default=20, help='timed steps per layout')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per layout first')
    parser.add_argument('--size', type=int, default=28, help='input height and width')
    parser.add_argument('--eval-batch', type=int, nargs='*', action=UniqueValues, default=[],
                        help='more batch sizes for the reward reading, besides reward_dataloader.batch_size')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads, at most the cores this process may run on; 0: torch default (use '
                             '1 when other jobs share the cores)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    apply_timing_options(parser, args)
    cfg = Config.fromfile(args.config)
    if cfg.model.get('type') != 'ImageClassifier':
        parser.error(f'--config {args.config}: model.type is {cfg.model.get("type")!r}, not ImageClassifier')
    if cfg.reward_dataloader.batch_size in args.eval_batch:  # the same row twice, as if two settings
        parser.error(f'--eval-batch {cfg.reward_dataloader.batch_size} is the config\'s reward_dataloader.batch_size, '
                     'measured anyway: leave it out')
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    models = {}
    for layout in (False, True):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg['channels_last'] = layout
        models[layout] = MODELS.build(model_cfg)
    models[True].load_state_dict(models[False].state_dict())
    optims = {k: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for k, m in models.items()}
    num_classes = cfg.model.head.num_classes
    train_batch = _batch(cfg.train_dataloader.batch_size, args.size, num_classes, gen)

    def train_step(layout: bool) -> None:
        model = models[layout].train()
        data = model.data_preprocessor(train_batch, training=True)
        loss = model(**data, mode='loss')['loss']
        optims[layout].zero_grad(set_to_none=True)
        loss.backward()
        optims[layout].step()

    def reward_reading(layout: bool, batch: dict) -> None:
        model = models[layout].eval()
        with torch.no_grad():
            model(**model.data_preprocessor(batch, training=False), mode='predict')

    print(f'config={osp.relpath(args.config, ROOT)} size={args.size} repeats={args.repeats} warmup={args.warmup} '
          f'threads={torch.get_num_threads()} torch={torch.__version__}')
    print(f'| {"step":<34} | {"default ms":>10} | {"channels_last ms":>16} | {"ratio":>6} |')
    print('|' + '-' * 36 + '|' + '-' * 12 + '|' + '-' * 18 + '|' + '-' * 8 + '|')
    steps = [(f'training step, batch {cfg.train_dataloader.batch_size}', train_step)]
    for size in [cfg.reward_dataloader.batch_size, *args.eval_batch]:
        batch = _batch(size, args.size, num_classes, gen)
        steps.append((f'reward reading, batch {size}', lambda layout, batch=batch: reward_reading(layout, batch)))
    for name, fn in steps:
        plain, fast = _interleaved([lambda step, fn=fn: fn(False), lambda step, fn=fn: fn(True)], args.repeats,
                                   args.warmup, torch.device('cpu'))
        plain_ms, fast_ms = statistics.median(plain) * 1e3, statistics.median(fast) * 1e3
        print(f'| {name:<34} | {plain_ms:10.2f} | {fast_ms:16.2f} | {plain_ms / fast_ms:6.2f} |')


if __name__ == '__main__':
    main()
