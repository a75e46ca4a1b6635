"""tools/dist_test.sh CONFIG CKPT 2 --show-dir DIR drew only rank 0's half of the test images: mmdet's
DetLocalVisualizer.add_datasample (and the dataset_meta / image accessors it calls) are master_only, so every other
rank returned without drawing. tools/test.py wraps the visualizer so each rank draws its share."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from automl_mm.engine import tool_args


@pytest.fixture
def second_rank(monkeypatch):
    """This process as rank 1 of 2, as mmengine's master_only sees it."""
    import mmengine.dist
    from mmengine.dist import utils as dist_utils

    monkeypatch.setattr(mmengine.dist, 'get_world_size', lambda *a, **k: 2)
    monkeypatch.setattr(dist_utils, 'is_main_process', lambda *a, **k: False)
    return dist_utils


def _visualizer_and_runner(name: str):
    from mmdet.visualization import DetLocalVisualizer

    visualizer = DetLocalVisualizer(name=name)
    visualizer.dataset_meta = dict(classes=('a', 'b'), palette=[(255, 0, 0), (0, 255, 0)])  # skipped off rank 0
    metainfo = dict(classes=('a', 'b'), palette=[(255, 0, 0), (0, 255, 0)])
    runner = SimpleNamespace(visualizer=visualizer, test_loop=SimpleNamespace(
        dataloader=SimpleNamespace(dataset=SimpleNamespace(metainfo=metainfo))))
    return visualizer, runner


def _sample():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    sample = DetDataSample()
    sample.pred_instances = InstanceData(bboxes=torch.tensor([[2., 3., 20., 25.]]), scores=torch.tensor([0.9]),
                                         labels=torch.tensor([1]))
    return sample


def test_a_second_rank_draws_its_images_into_the_show_dir(second_rank, tmp_path):
    visualizer, runner = _visualizer_and_runner('show_dir_rank1')
    assert visualizer.dataset_meta is None  # as on rank 1 of a real run: the setter is master_only
    tool_args.draw_on_every_rank(runner)
    out = str(tmp_path / 'vis' / '000002.png')
    visualizer.add_datasample('test_img', np.zeros((32, 32, 3), np.uint8), data_sample=_sample(), draw_gt=False,
                              pred_score_thr=0.3, out_file=out)
    assert osp.isfile(out)
    import cv2
    drawn = cv2.imread(out)
    assert drawn.shape == (32, 32, 3) and drawn.any()  # the box was drawn
    assert second_rank.is_main_process() is False  # restored after the call


def test_without_an_out_file_other_ranks_still_skip(second_rank, tmp_path):
    """A vis backend's add_image stays the main process's (its files and TensorBoard events are rank 0's)."""
    visualizer, runner = _visualizer_and_runner('show_dir_rank1_backend')
    tool_args.draw_on_every_rank(runner)
    assert visualizer.add_datasample('test_img', np.zeros((32, 32, 3), np.uint8), data_sample=_sample()) is None
    assert visualizer.dataset_meta is None


def test_one_process_is_left_as_it_is():
    visualizer, runner = _visualizer_and_runner('show_dir_single')
    method = visualizer.add_datasample
    tool_args.draw_on_every_rank(runner)
    assert visualizer.add_datasample == method
