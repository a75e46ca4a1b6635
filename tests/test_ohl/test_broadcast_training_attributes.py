"""The trunk-end broadcast carries the plain training state of a module (neither parameters nor buffers), over a
real gloo process group of 2 copies: mmdet's ``DynamicRoIHead`` (Dynamic R-CNN) sets its assigner's IoU thresholds
and its SmoothL1 loss's ``beta`` from the IoU and target histories it keeps in lists, so a losing copy that kept its
own trained the next trunk on other thresholds than the best copy's; a module of your own declares such state in
``ohl_copy_state``."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo


class _Counting(torch.nn.Module):
    ohl_copy_state = ('seen', 'stats.total')

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.seen, self.stats = 0, SimpleNamespace(total=0.0)


def _dynamic_head(rank: int):
    """A ``DynamicRoIHead`` as its training leaves it (built without mmdet's RoI extractor and heads)."""
    from mmdet.models.losses import SmoothL1Loss
    from mmdet.models.roi_heads import DynamicRoIHead
    from mmdet.models.task_modules import MaxIoUAssigner

    head = DynamicRoIHead.__new__(DynamicRoIHead)
    torch.nn.Module.__init__(head)
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('mmdet'):  # a forked rank keeps the test process's scope
        head.bbox_assigner = MaxIoUAssigner(pos_iou_thr=0.4 + 0.1 * rank, neg_iou_thr=0.4 + 0.1 * rank,
                                            min_pos_iou=0.4 + 0.1 * rank)
    head.bbox_head = torch.nn.Module()
    head.bbox_head.loss_bbox = SmoothL1Loss(beta=1.0 / (rank + 1))
    head.iou_history, head.beta_history = [0.1 * rank] * (rank + 1), [0.2 * rank]
    return head


def _attributes(model) -> dict:
    head, counting = model.roi_head, model.counting
    return dict(thresholds=(head.bbox_assigner.pos_iou_thr, head.bbox_assigner.neg_iou_thr,
                            head.bbox_assigner.min_pos_iou),
                beta=head.bbox_head.loss_bbox.beta, iou_history=head.iou_history, beta_history=head.beta_history,
                seen=counting.seen, total=counting.stats.total)


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from mmengine.optim import OptimWrapper

    from automl_mm.ohl.sync import broadcast_copy_state

    join_gloo(rank, 2, init_file)
    torch.manual_seed(rank)
    model = torch.nn.Module()
    model.roi_head, model.counting = _dynamic_head(rank), _Counting()
    model.counting.seen, model.counting.stats.total = 10 * (rank + 1), 0.5 * rank
    runner = SimpleNamespace(model=model, param_schedulers=[], hooks=[],
                             optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    before = _attributes(model)
    broadcast_copy_state(runner, src=1)
    torch.save({'before': before, 'after': _attributes(model)}, osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


def test_broadcast_carries_dynamic_rcnn_thresholds_and_declared_attributes(tmp_path):
    """The 2 ranks are forked from this process with mmdet and automl_mm imported here (2 spawned processes
    importing mmdet took about 20 s on 2 busy cores; forked, about 2 s)."""
    import mmdet.models  # noqa: F401  (imported once here, not in each rank)
    import mmengine.optim  # noqa: F401

    import automl_mm.ohl.sync  # noqa: F401

    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    r0, r1 = (torch.load(str(tmp_path / f'rank{r}.pth'), weights_only=False) for r in range(2))
    assert r1['before'] == dict(thresholds=(0.5, 0.5, 0.5), beta=0.5, iou_history=[0.1, 0.1], beta_history=[0.2],
                                seen=20, total=0.5)
    assert r0['before']['thresholds'] == (0.4, 0.4, 0.4)  # the copies differed
    assert r0['after'] == r1['before']  # copy 0 now holds copy 1's (the best's)
    assert r1['after'] == r1['before']


def test_training_attributes_skip_a_missing_library_path_and_refuse_a_declared_one():
    """A ``DynamicRoIHead`` built without ``train_cfg`` (no assigner) carries its histories only; a path a module
    declares in ``ohl_copy_state`` and does not have is refused by name (every rank would fail the same way at the
    start-of-run broadcast)."""
    from mmdet.models.roi_heads import DynamicRoIHead

    from automl_mm.ohl.sync import training_attributes

    head = DynamicRoIHead.__new__(DynamicRoIHead)
    torch.nn.Module.__init__(head)
    head.iou_history, head.beta_history = [], []
    assert training_attributes(head) == ('iou_history', 'beta_history')
    assert training_attributes(_Counting()) == ('seen', 'stats.total')

    class Typo(torch.nn.Module):
        ohl_copy_state = ('sen',)

    with pytest.raises(AttributeError, match=r"Typo.ohl_copy_state names 'sen'"):
        training_attributes(Typo())
