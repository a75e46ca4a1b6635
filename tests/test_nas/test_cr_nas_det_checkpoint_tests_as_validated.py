"""A CR-NAS detection search (the tiny synthetic-COCO search of test_cr_nas_loop.py): ``tools/test.py --out`` on
its last checkpoint predicts exactly what the search's final model predicts (the searched allocation and
dilations applied, the BN statistics re-estimated for them). Before, the checkpoint ran the reference allocation
with dilation 1 and the supernet's statistics: every box score differed (up to 0.14), hidden behind an mAP of 0 at
this size. The scorer prefers high option indices so that the searched dilations are not the as-built ones."""
from __future__ import annotations

import importlib.util
import os.path as osp
import pickle
import sys

import pytest
import torch
from mmdet.evaluation import DumpDetResults
from mmengine.runner import Runner

from automl_mm.datasets.coco_split import split_coco
from automl_mm.nas import scoring_setup
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

sys.path.insert(0, osp.dirname(__file__))
from test_cr_nas_loop import _cfg  # noqa: E402


@pytest.mark.slow
def test_cr_nas_detection_checkpoint_predicts_as_the_final_model(coco_root, tmp_path, monkeypatch, capsys):
    split_coco(osp.join(coco_root, 'annotations', 'instances_train.json'), osp.join(coco_root, 'annotations'),
               val_images=2, seed=0)
    monkeypatch.setattr(scoring_setup, 'candidate_scorer', lambda *a, **k: (lambda c: float(sum(c))))
    cfg = _cfg(coco_root, str(tmp_path / 'search'), bn_recalibration_batches=2, checkpoint_interval_s=1e9)
    cfg.model.backbone.norm_eval = False  # BN layers that train: the re-estimated statistics matter
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # boxes to compare from an untrained detector
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert set(runner.train_loop.backbone.active_dilations) != {1}
    in_memory = str(tmp_path / 'in_memory.pkl')
    runner.test_loop.evaluator.metrics.append(DumpDetResults(out_file_path=in_memory))
    runner.test()
    config = str(tmp_path / 'search.py')
    cfg.dump(config)
    with open(osp.join(cfg.work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    spec = importlib.util.spec_from_file_location('_tool_test_cr_nas_det', osp.join(REPO_ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tested = str(tmp_path / 'tested.pkl')
    monkeypatch.setattr(sys, 'argv', ['test.py', config, last, '--work-dir', str(tmp_path / 'test'), '--out', tested])
    tool.main()
    with open(in_memory, 'rb') as f:
        expected = pickle.load(f)
    with open(tested, 'rb') as f:
        got = pickle.load(f)
    assert [e['img_id'] for e in expected] == [g['img_id'] for g in got]
    for e, g in zip(expected, got):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(e['pred_instances'][key], g['pred_instances'][key]), (e['img_id'], key)
