"""A copy whose reward evaluator returned no metrics (reward 0) is named by the main process, whichever rank is the
copy's lead. It was warned on the lead rank alone, and mmengine's logger shows only errors on ranks other than 0:
with 4 copies over 2 nodes (torchrun --nnodes 2 --nproc_per_node 2) an empty copy 2 or 3 (leads on node 1) was
scored 0 without a word in the log or on the console."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger

from automl_mm.ohl import Categorical
from automl_mm.ohl.reward import settle_rewards


def _settle(empty: list[bool], valid: list[bool], caplog) -> str:
    space = SimpleNamespace(name='aug', key='aug', per_item=True, distribution=Categorical(num_choices=2))
    trunk = dict(rewards=[0.5, 0.6, 0.0, 0.4], valid=valid, empty=empty,
                 stats={'aug': [torch.tensor([5.0, 0.0], dtype=torch.float64)] * 4})
    scorer = SimpleNamespace(metric_names=lambda: ['EmptyMetric'], reward_key='accuracy/top1')
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        settle_rewards(trunk, [space], scorer, None, 3, 2)
    finally:
        logger.removeHandler(caplog.handler)
    return caplog.text


def test_an_empty_copy_is_named_from_the_gathered_flags(caplog):
    """settle_rewards runs on every rank from the all-gathered rows: rank 0 names copy 2, scored on rank 2."""
    text = _settle([False, False, True, False], [True] * 4, caplog)
    assert "OHL trunk 3: copy 2 got no metrics from the reward evaluator (['EmptyMetric']); its reward is 0" in text
    assert "reward_key='accuracy/top1'" in text
    # the detection cause is named too: a copy that predicted no box gets no metrics from mmdet's CocoMetric, which
    # the advice to check format_only alone did not explain (a 1-epoch Faster R-CNN OHL run on the shapes set)
    assert 'format_only=True computes nothing' in text and 'predicted no box on the reward split' in text
    assert "score_thr above its scores) and reward_key='accuracy/top1'" in text


def test_several_empty_copies_in_one_line_and_a_diverged_one_not_called_empty(caplog):
    text = _settle([False, True, True, True], [True, True, True, False], caplog)
    assert 'copies 1, 2 got no metrics' in text and 'their rewards are 0' in text


def test_no_warning_when_every_copy_has_metrics(caplog):
    assert 'no metrics' not in _settle([False] * 4, [True] * 4, caplog)


def test_no_metrics_for_any_copy_names_the_detection_cause_too(caplog):
    """Every copy without metrics stops the trunk; its advice names a detector that predicted no box as well."""
    with pytest.raises(RuntimeError, match=r"no metrics for any copy.*format_only=True computes nothing; "
                                           r"mmdet's CocoMetric returns none for a copy that predicted no box"):
        _settle([True] * 4, [True] * 4, caplog)
