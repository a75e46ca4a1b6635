"""The held-out split of an OHL reward / a NAS score (:class:`~automl_mm.engine.evaluate.HeldOutEvaluator`) falls
back to what its runner runs, not only to its ``cfg``: mmengine's ``Runner(...)`` runs its ``val_evaluator`` /
``test_dataloader`` arguments and keeps its ``cfg`` argument (which may describe it in part) only to dump it
(:func:`~automl_mm.engine.runner_checks.checked_config`).

Inputs that showed the faults: ``Runner(..., val_evaluator=dict(type='automl_mm.Accuracy'), ...,
cfg=dict(search_dataloader=...))`` was refused ("needs evaluator (or a top-level search_evaluator / reward_evaluator /
val_evaluator)"), the ``cfg`` having no ``val_evaluator``; a ``reward_dataloader`` reading the split of the
``test_dataloader`` argument was scored without a word (the test split read from the ``cfg``: none)."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner

from automl_mm.engine.evaluate import HeldOutEvaluator
from tests._tiny_runner import LinearNet, inductor_cache  # noqa: F401  (autouse)


def _loader(name: str) -> dict:
    return dict(dataset=[name] * 4, batch_size=2, collate_fn=dict(type='default_collate'))


_ACCURACY = dict(type='automl_mm.Accuracy')


def test_the_val_evaluator_given_is_the_fallback(tmp_path):
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), val_dataloader=_loader('val'), val_cfg=dict(),
                    val_evaluator=_ACCURACY, cfg=dict(search_dataloader=_loader('search')))
    held = HeldOutEvaluator('search', 'accuracy/top1', 'Owner').build(runner)
    assert held.loader.dataset[0] == 'search' and held.metric_names() == 'Accuracy'


def test_a_split_of_the_test_dataloader_given_is_refused(tmp_path):
    test = dict(batch_size=1, dataset=dict(type='DigitsDataset', split='test'))
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), test_dataloader=test, test_cfg=dict(),
                    test_evaluator=_ACCURACY, cfg=dict(reward_dataloader=test, reward_evaluator=_ACCURACY))
    # (a split='test' is refused whatever test_dataloader reads: here it is named as the data the runner tests on)
    with pytest.raises(ValueError, match=r'^Owner: reward_dataloader reads the test split \(reward_dataloader\.dataset '
                                         r"\(DigitsDataset, split='test'\) reads the test split: the data "
                                         r'test_dataloader reports'):
        HeldOutEvaluator('reward', 'accuracy/top1', 'Owner').build(runner)
