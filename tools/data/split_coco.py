"""Split a COCO annotation file by image into arch-train / arch-val parts (CR-NAS's search split).

Example (CR-NAS on COCO train2017: 5K images for arch-val, the rest for arch-train):
    python tools/data/split_coco.py data/coco/annotations/instances_train2017.json data/coco/annotations \
        --val-images 5000
Both output files keep the original ``file_name`` entries, so they read images from ``train2017/``.
"""
from __future__ import annotations

import argparse


if __name__ == '__main__':  # a Python without torch, mmengine, mmdet: which environment to use, before the imports
    import os.path as _osp
    import runpy as _runpy
    _early_cli = _osp.join(_osp.dirname(_osp.dirname(_osp.abspath(__file__))), '_early_cli.py')
    _runpy.run_path(_early_cli)['require_stack']('tools/data/split_coco.py')

from automl_mm.datasets.coco_split import DEFAULT_VAL_FRACTION, split_coco
from automl_mm.datasets.generated import seed_argument
from automl_mm.engine.tool_args import option_named_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file', help='COCO annotation JSON to split')
    parser.add_argument('out_dir', help='directory for <prefix>-train.json and <prefix>-val.json')
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--val-images', type=int, default=None,
                      help='number of arch-val images (5000 for CR-NAS on COCO train2017)')
    size.add_argument('--val-fraction', type=float, default=None,
                      help=f'fraction of images for arch-val (default {DEFAULT_VAL_FRACTION:.5f} = 5000/118287)')
    parser.add_argument('--seed', type=seed_argument, default=0,
                        help='seed of the image shuffle, in [0, 2**32); the same file and seed give the same split '
                             '(default: %(default)s)')
    parser.add_argument('--prefix', default='instances_arch', help='output file name prefix (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace output files of another split (default: refused; the same split is rewritten)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        files = split_coco(args.ann_file, args.out_dir, val_images=args.val_images, val_fraction=args.val_fraction,
                           seed=args.seed, prefix=args.prefix, overwrite=args.overwrite)
    except FileExistsError as err:  # 'pass --overwrite', not the function's overwrite=True
        raise SystemExit(f'split_coco.py: {option_named_error(err, ["--overwrite"]) or err}') from None
    except ValueError as err:  # a refused argument, named by its option (--val-fraction), not the function's
        raise option_named_error(err, ['--val-images', '--val-fraction', '--seed', '--prefix']) or err
    images = annotations = 0
    for split, path, (n, a) in zip(('arch-train', 'arch-val'), files, files.counts):  # as written: no read back
        images, annotations = images + n, annotations + a
        print(f'{split}: {n} images, {a} annotations -> {path}')
    print(f'split_coco.py: wrote {len(files)} files under {args.out_dir} ({images} images, {annotations} annotations '
          f'of {args.ann_file} split by image)')


if __name__ == '__main__':
    from automl_mm.engine.tool_errors import exit_on_refusal

    exit_on_refusal(main, 'tools/data/split_coco.py')  # a refused argument's message without the traceback above it
