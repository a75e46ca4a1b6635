"""The cost of the mask areas a CocoMetric without ``ann_file`` writes into its own ground truth.

:func:`automl_mm.evaluation.coco.unrounded_coco_metrics` (every OHL reward / NAS score reading of a ``CocoMetric``,
and ``UnroundedCocoMetric``) rewrites the ground-truth file mmdet writes (``gt_to_coco_json``) with each masked
object's mask area (:func:`~automl_mm.evaluation.coco.gt_json_with_mask_areas`: load, ``mask_area`` per object,
write). This script times one bbox reading (``unrounded_coco_metrics`` on processed results) of ``--images`` images
of 640 x 640 with ``--objects`` polygon-masked objects each (30 vertices, radius 5-50 px, 3 classes, one noisy box
predicted per object), with the rewrite (``with``) and without it (``without``: the context made a no-op), the two
sides alternating (ABBA) over ``--repeats`` rounds, each side's fastest; prints both and the ratio with / without
(scattered by 10-30 % between runs on 2 shared cores), and the rewrite's own parts (steadier), each its fastest of
``--repeats``: loading mmdet's file, the mask areas, and writing the file back, as ``dump`` to the file wrote it
(json.dump: Python's encoder) and as it is written now (``put_text`` of mmengine's ``dump`` to a string: C encoder),
against mmdet's own ``gt_to_coco_json``.

Run: python benchmarks/coco_mask_area_cost.py [--images 1000] [--objects 7] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
import torch
from _options import refuse_bad_counts
from mmdet.evaluation import CocoMetric

import automl_mm.evaluation.coco as coco


def _samples(images: int, objects: int, size: int = 640) -> list[dict]:
    rng = np.random.default_rng(0)
    samples = []
    for i in range(images):
        instances, boxes = [], []
        for k in range(objects):
            cx, cy, r = rng.uniform(50, size - 50), rng.uniform(50, size - 50), rng.uniform(5, 50)
            t = np.sort(rng.uniform(0, 2 * np.pi, 30))
            rr = r * rng.uniform(0.6, 1, 30)
            xs, ys = cx + rr * np.cos(t), cy + rr * np.sin(t)
            box = [xs.min(), ys.min(), xs.max(), ys.max()]
            instances.append(dict(bbox=box, bbox_label=k % 3, ignore_flag=0,
                                  mask=[np.stack([xs, ys], 1).ravel().round(2).tolist()]))
            boxes.append(box)
        predicted = torch.tensor(boxes, dtype=torch.float32) + torch.randn(objects, 4)
        samples.append(dict(img_id=i + 1, ori_shape=(size, size), instances=instances,
                            pred_instances=dict(bboxes=predicted, scores=torch.rand(objects),
                                                labels=torch.arange(objects) % 3)))
    return samples


def _reading(samples: list[dict], rewrite: bool) -> float:
    metric = CocoMetric(ann_file=None, metric='bbox')
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, samples)
    own = coco._mask_areas_in_own_ground_truth
    if not rewrite:
        coco._mask_areas_in_own_ground_truth = lambda metric: contextlib.nullcontext()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            coco.unrounded_coco_metrics(metric, metric.results)
            return time.perf_counter() - start
    finally:
        coco._mask_areas_in_own_ground_truth = own


def _rewrite_parts(samples: list[dict], repeats: int) -> None:
    from mmengine.fileio import dump, load, put_text

    metric = CocoMetric(ann_file=None, metric='bbox')
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, samples)
    gts = [result[0] for result in metric.results]
    folder = tempfile.mkdtemp()
    try:
        start = time.perf_counter()
        written = metric.gt_to_coco_json(gts, os.path.join(folder, 'mmdet'))
        own = time.perf_counter() - start
        parts: dict[str, list[tuple[float, float, float]]] = {'json.dump to the file': [], 'put_text (now)': []}
        for _ in range(repeats):
            for way in parts:
                path = os.path.join(folder, 'rewritten.gt.json')
                shutil.copy(written, path)
                t0 = time.perf_counter()
                coco_json = load(path)
                t1 = time.perf_counter()
                sizes = {image['id']: (image['height'], image['width']) for image in coco_json['images']}
                for annotation in coco_json['annotations']:
                    annotation['area'] = coco.mask_area(annotation['segmentation'], *sizes[annotation['image_id']])
                t2 = time.perf_counter()
                if way.startswith('json.dump'):
                    dump(coco_json, path)
                else:
                    put_text(dump(coco_json, file_format='json'), path)
                parts[way].append((t1 - t0, t2 - t1, time.perf_counter() - t2))
        print(f"mmdet's gt_to_coco_json {own:.2f} s; the rewrite:")
        for way, runs in parts.items():
            load_s, areas_s, write_s = (min(run[i] for run in runs) for i in range(3))
            print(f'  {way}: load {load_s:.2f} s, mask areas {areas_s:.2f} s, write {write_s:.2f} s, '
                  f'total {load_s + areas_s + write_s:.2f} s')
    finally:
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--objects', type=int, default=7)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('images', 'objects', 'repeats'))  # 0 repeats failed at the min()
    from mmengine.logging import MMLogger
    MMLogger.get_instance('coco_mask_area_cost', log_level='ERROR')
    samples = _samples(args.images, args.objects)
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.repeats):
        for rewrite in ((True, False) if r % 2 == 0 else (False, True)):
            times[rewrite].append(_reading(samples, rewrite))
    with_, without = min(times[True]), min(times[False])
    print(f'{args.images} images x {args.objects} polygon objects, bbox reading (fastest of {args.repeats}): '
          f'without {without:.2f} s, with {with_:.2f} s, ratio {with_ / without:.3f}')
    _rewrite_parts(samples, args.repeats)


if __name__ == '__main__':
    main()
