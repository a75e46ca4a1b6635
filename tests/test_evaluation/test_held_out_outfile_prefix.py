"""Held-out scores (OHL rewards, NAS candidate scores) of a CocoMetric with an ``outfile_prefix`` (set on the run's
val_evaluator, from which the reward evaluator is derived): mmdet wrote each copy's predictions to the prefix and
read them back to score them, while the other copies, in their own processes, wrote theirs to the same file, so a
copy could be rewarded for another copy's predictions; and the rewards overwrote the val / test files there."""
from __future__ import annotations

import json
import os.path as osp

import mmdet.evaluation.metrics.coco_metric as mmdet_coco
import torch
from mmdet.evaluation import CocoMetric
from mmengine.evaluator import Evaluator

from automl_mm.engine.evaluate import evaluate_locally


class _Replay(torch.nn.Module):
    def val_step(self, data):
        return data


def _ann_file(tmp_path) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=i + 1, width=64, height=64, file_name=f'{i}.png') for i in range(2)],
        'annotations': [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[8, 8, 20, 20], area=400, iscrowd=0)
                        for i in range(2)],
        'categories': [dict(id=1, name='item')]}))
    return str(path)


def _predictions(box: list[float]) -> list[dict]:
    return [dict(img_id=i + 1, ori_shape=(64, 64), pred_instances=dict(
        bboxes=torch.tensor([box]), scores=torch.tensor([0.9]), labels=torch.tensor([0]))) for i in range(2)]


def test_a_copys_reward_is_its_own_whatever_another_process_writes_to_the_prefix(tmp_path, monkeypatch):
    prefix = str(tmp_path / 'out' / 'results')
    other_copy = [dict(image_id=i + 1, category_id=1, bbox=[40.0, 40.0, 20.0, 20.0], score=0.9) for i in range(2)]
    real_load = mmdet_coco.load

    def load_after_another_copy_wrote(path, *args, **kwargs):
        # another copy's process writes its predictions to the same prefix between this copy's dump and load
        with open(f'{prefix}.bbox.json', 'w') as f:
            json.dump(other_copy, f)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(mmdet_coco, 'load', load_after_another_copy_wrote)
    metric = CocoMetric(ann_file=_ann_file(tmp_path), metric='bbox', outfile_prefix=prefix)
    metric.dataset_meta = dict(classes=('item',))
    (tmp_path / 'out').mkdir()
    perfect = evaluate_locally(_Replay(), [_predictions([8.0, 8.0, 28.0, 28.0])], Evaluator(metric))
    assert perfect['coco/bbox_mAP'] == 1.0  # its own perfect boxes, not the other copy's misses (0.0)
    assert metric.outfile_prefix == prefix  # restored for the val / test evaluation of the same metric object
    with open(f'{prefix}.bbox.json') as f:
        assert json.load(f) == other_copy  # the held-out score wrote nothing there
    assert not osp.exists(f'{prefix}.segm.json')
