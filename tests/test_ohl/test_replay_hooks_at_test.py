"""The replay hooks of the exports (``SetAttributesHook``, ``TrunkScheduleHook``) set their values in training
only: ``tools/test.py`` on the retrain's checkpoint (``Runner.test``, no ``before_train``) ran the model with the
config's values where the forward reads one in eval mode (a ``LeakyReLU``'s ``negative_slope``), not the ones it
trained and was validated with, silently. Now the model's paths get them before the test."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook

PATH = 'model.1.negative_slope'


def _runner():
    model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.LeakyReLU(0.01)).eval()
    return SimpleNamespace(model=model)


def _output(runner) -> float:
    with torch.no_grad():
        return float(runner.model(torch.tensor([-1.0]))[0])


def test_set_attributes_hook_sets_the_model_paths_before_a_test():
    runner = _runner()
    hook = SetAttributesHook({PATH: 0.3, 'optim_wrapper.optimizer.param_groups.*.lr': 0.1})
    hook.before_test(runner)  # no optimiser in a test: its path is left alone
    assert runner.model[1].negative_slope == 0.3 and _output(runner) == pytest.approx(-0.3)


@pytest.mark.parametrize('meta, expected', [
    (dict(epoch=4, iter=40), 0.2),  # the last trained epoch (3) is in trunk 1 (epochs 2, 3)
    (dict(epoch=2, iter=20), 0.1),  # saved after trunk 0
    (dict(epoch=9, iter=90), 0.3),  # after the last recorded trunk, its value stays
    ({}, 0.3),  # no epoch recorded: the last value
])
def test_trunk_schedule_hook_sets_the_checkpoints_trunk_before_a_test(meta, expected):
    runner = _runner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    hook.after_load_checkpoint(runner, dict(meta=meta, state_dict={}))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == expected


def test_an_iteration_schedule_reads_the_checkpoints_iteration():
    runner = _runner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_iters=5)
    hook.after_load_checkpoint(runner, dict(meta=dict(epoch=0, iter=10)))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == 0.2
