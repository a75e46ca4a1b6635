"""Generate the Fashion-MNIST detection set: real items pasted on canvases, COCO json + PNG (needs Fashion-MNIST).

Example:
    python tools/data/generate_fmnist_det.py data/fmnist_det --num-train 2000 --num-reward 500 --num-val 500 \\
        --num-test 1000 --img-size 160
"""
from __future__ import annotations

import argparse
import time


if __name__ == '__main__':  # a Python without torch, mmengine, mmdet: which environment to use, before the imports
    import os.path as _osp
    import runpy as _runpy
    _early_cli = _osp.join(_osp.dirname(_osp.dirname(_osp.abspath(__file__))), '_early_cli.py')
    _runpy.run_path(_early_cli)['require_stack']('tools/data/generate_fmnist_det.py')

from automl_mm.datasets import generate_fmnist_det
from automl_mm.datasets.generated import seed_argument, set_summary
from automl_mm.engine.tool_args import option_named_error


D = ' (default: %(default)s)'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', nargs='?', default='data/fmnist_det',
                        help='folder for annotations/ and the images' + D)
    parser.add_argument('--num-train', type=int, default=2000, help='training images' + D)
    parser.add_argument('--num-reward', type=int, default=500, help='reward-split images' + D)
    parser.add_argument('--num-val', type=int, default=500, help='validation images' + D)
    parser.add_argument('--num-test', type=int, default=1000, help='test images (official test items)' + D)
    parser.add_argument('--img-size', type=int, default=160, help='canvas side in pixels, 128..192' + D)
    parser.add_argument('--max-objects', type=int, default=6, help='each image holds 1..N items' + D)
    parser.add_argument('--max-iou', type=float, default=0.3, help='largest IoU between two boxes of an image' + D)
    parser.add_argument('--min-visible', type=float, default=0.5,
                        help='fraction of its pixels an item keeps visible under later items' + D)
    parser.add_argument('--threshold', type=int, default=16, help='mask threshold on 0..255 pixel values' + D)
    parser.add_argument('--background', choices=('noise', 'black'), default='noise',
                        help='seeded noise texture at or below the threshold, or none' + D)
    parser.add_argument('--seed', type=seed_argument, default=0,
                        help='the same seed and arguments give the same files; in [0, 2**32)' + D)
    parser.add_argument('--data-root', default=None,
                        help='Fashion-MNIST idx folder (default: data/fashion-mnist, then '
                        '/usr/share/datasets/fashion-mnist)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace another set in OUT_DIR (default: refused; the same set is left as it is)')
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        files = generate_fmnist_det(args.out_dir, args.num_train, args.num_reward, args.num_val, args.num_test,
                                    img_size=args.img_size, max_objects=args.max_objects, max_iou=args.max_iou,
                                    min_visible=args.min_visible, threshold=args.threshold,
                                    background=args.background, seed=args.seed, data_root=args.data_root,
                                    overwrite=args.overwrite)
    except FileExistsError as err:  # 'pass --overwrite', not the function's overwrite=True
        parser.exit(1, f'generate_fmnist_det.py: {option_named_error(err, ["--overwrite"]) or err}\n')
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # a refused argument, named by its option
        # (--img-size, --data-root, --threshold), not the function's img_size / data_root=None / threshold=16
        raise option_named_error(err, ['--num-train', '--num-reward', '--num-val', '--num-test', '--img-size',
                                       '--max-objects', '--max-iou', '--min-visible', '--threshold', '--seed',
                                       '--data-root']) or err
    for split, path in files.items():
        counts = files.counts[split]  # what the generator wrote, or read once from the set there already
        print(f'{split}: {path} ({counts["images"]} images; objects small {counts["small"]}, '
              f'medium {counts["medium"]}, large {counts["large"]})')
    print(set_summary('generate_fmnist_det.py', args.out_dir, files)
          + (f' (in {time.perf_counter() - start:.1f} s)' if files.written else ''))


if __name__ == '__main__':
    from automl_mm.engine.tool_errors import exit_on_refusal

    exit_on_refusal(main, 'tools/data/generate_fmnist_det.py')  # a refused argument's message without the traceback above it
