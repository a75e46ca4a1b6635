"""Generate the small deterministic COCO-format shapes set (no download).

Example:
    python tools/data/generate_coco.py data/synthetic_coco --num-train 64 --num-val 16 --img-size 128
"""
from __future__ import annotations

import argparse


if __name__ == '__main__':  # a Python without torch, mmengine, mmdet: which environment to use, before the imports
    import os.path as _osp
    import runpy as _runpy
    _early_cli = _osp.join(_osp.dirname(_osp.dirname(_osp.abspath(__file__))), '_early_cli.py')
    _runpy.run_path(_early_cli)['require_stack']('tools/data/generate_coco.py')

from automl_mm.datasets import generate_coco
from automl_mm.datasets.generated import seed_argument, set_summary
from automl_mm.engine.tool_args import option_named_error


D = ' (default: %(default)s)'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', nargs='?', default='data/synthetic_coco',
                        help='folder for annotations/ and the images' + D)
    parser.add_argument('--num-train', type=int, default=64, help='training images' + D)
    parser.add_argument('--num-val', type=int, default=16, help='validation images' + D)
    parser.add_argument('--img-size', type=int, default=128, help='image side in pixels, >= 32' + D)
    parser.add_argument('--max-objects', type=int, default=4, help='each image holds 1..N shapes' + D)
    parser.add_argument('--seed', type=seed_argument, default=0,
                        help='the same seed and arguments give the same files; in [0, 2**32)' + D)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace another set in OUT_DIR (default: refused; the same set is left as it is)')
    args = parser.parse_args()
    try:
        files = generate_coco(args.out_dir, args.num_train, args.num_val, args.img_size, args.max_objects, args.seed,
                              overwrite=args.overwrite)
    except FileExistsError as err:  # 'pass --overwrite', not the function's overwrite=True
        parser.exit(1, f'generate_coco.py: {option_named_error(err, ["--overwrite"]) or err}\n')
    except ValueError as err:  # a refused argument, named by its option (--num-train), not the function's num_train
        raise option_named_error(err, ['--num-train', '--num-val', '--img-size', '--max-objects', '--seed']) or err
    for split, path in files.items():
        print(f'{split}: {path}')
    print(set_summary('generate_coco.py', args.out_dir, files))


if __name__ == '__main__':
    from automl_mm.engine.tool_errors import exit_on_refusal

    exit_on_refusal(main, 'tools/data/generate_coco.py')  # a refused argument's message without the traceback above it
