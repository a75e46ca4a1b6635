"""OHLRandomChoice and LivePolicy: a θ published after a trunk reaches persistent dataloader workers, per-image
choices are reproducible per trunk, two choice spaces of one pipeline draw independently, and fixed probabilities
replay a policy."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl import LivePolicy, OHLRandomChoice
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (autouse)


class _Images(Dataset):

    def __init__(self, n, transform):
        self.n, self.transform = n, transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.transform({'img': np.zeros((4, 4, 3), np.uint8), 'idx': i})


def _as_list(batch):
    return batch


def _choices(loader):
    return sorted({r['ohl_choice']['aug'] for batch in loader for r in batch})


def test_live_updates_reach_persistent_dataloader_workers():
    """A θ published after trunk t is what every (persistent) worker samples from in trunk t + 1."""
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    live = LivePolicy(3)
    transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
    loader = DataLoader(_Images(24, transform), batch_size=4, num_workers=2, persistent_workers=True,
                        collate_fn=_as_list)
    live.publish(torch.tensor([1.0, 0.0, 0.0]), version=0)
    assert _choices(loader) == [0]
    live.publish(torch.tensor([0.0, 0.0, 1.0]), version=1)
    assert _choices(loader) == [2]
    live.publish(torch.tensor([0.0, 1.0, 0.0]), version=2)
    assert _choices(loader) == [1]


def test_per_item_choices_are_reproducible_per_trunk():
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    live = LivePolicy(3)
    transform.bind(live, seed=3, copy_id=1, rank_in_copy=0)
    runs = []
    for version in (5, 6, 5):
        live.publish(torch.tensor([0.2, 0.3, 0.5]), version)
        runs.append([transform({'img': None})['ohl_choice']['aug'] for _ in range(50)])
    assert runs[0] == runs[2] != runs[1]


def test_two_choice_spaces_in_one_pipeline_draw_independently():
    """Every choice transform of a copy used to be seeded by (seed, copy, rank) alone: two spaces in one pipeline
    drew the same uniform number per image, so their choices were perfectly dependent (P(a == b) = 1 for two
    uniform 4-way spaces, where REINFORCE and the exported policy assume independent draws: 0.25)."""
    first, second = (OHLRandomChoice(transforms=[[], [], [], []], key=key) for key in ('a', 'b'))
    lives = [LivePolicy(4), LivePolicy(4)]
    for transform, live in zip((first, second), lives):
        transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
        live.publish(torch.full((4, ), 0.25), version=0)
    draws = []
    for _ in range(2000):
        results = second(first({'img': None}))
        draws.append((results['ohl_choice']['a'], results['ohl_choice']['b']))
    draws = np.array(draws)
    assert abs(np.mean(draws[:, 0] == draws[:, 1]) - 0.25) < 0.04
    counts = np.histogram2d(draws[:, 0], draws[:, 1], bins=4)[0]
    assert counts.min() > 80  # every joint pair occurs (expected 125 each)


def test_fixed_policy_replay_and_bad_input():
    np.random.seed(0)
    transform = OHLRandomChoice(transforms=[[], []], key='aug', probs=[0.0, 1.0])
    assert {transform({'img': None})['ohl_choice']['aug'] for _ in range(20)} == {1}
    with pytest.raises(ValueError, match='at least 2 choices'):
        OHLRandomChoice(transforms=[[]])
    with pytest.raises(ValueError, match='probs must be 2'):
        OHLRandomChoice(transforms=[[], []], probs=[1.0])
