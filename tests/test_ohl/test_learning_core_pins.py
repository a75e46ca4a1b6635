"""Pins of the OHL learning core checked against METHODS.md §1 in the forty-fifth session (no fault found in these
formulas; each test plants the optimum and names the mutation it was shown red under).

* A copy whose reward evaluator reads NaN on finite weights (a metric of an empty class, mAP of no box) is a
  diverged copy at the trunk end: ``OHLHook._end_trunk``'s lead marks it invalid (``math.isfinite(reward)``), it gets
  the stand-in reward below the valid copies, is never the best copy, and θ moves toward the valid copy's choice.
* The merged probability of two augmentation elements that a written magnitude made identical is the *first*
  element's marginal (rows of the row-major pair grid, ``OHLAutoAugment.pair``: ``(i // E, i % E)``) and the
  *second*'s (columns): the earlier test's distribution was symmetric, so swapping them passed.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.dataset import Compose

from automl_mm.augment.policy import OHLAutoAugment
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace


def _hook() -> OHLHook:
    return OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='c',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='accuracy/top1', trunk_epochs=1, seed=0, verify_sync=False,
                   controller=dict(type='REINFORCE', optimizer=dict(type='SGD', lr=1.0)))


def test_a_nan_reward_on_finite_weights_is_a_diverged_copy_and_theta_learns_from_the_valid_one():
    """Copy 0 (this rank, the lead) drew choice 0 and its evaluator read NaN; copy 1 drew choice 1 and read 0.5.
    The stand-in is 0.5 - max(0, 5e-4, 1e-3) = 0.499 (``default_worst_reward``); the baseline averages the readings
    only (dd126a5), b = 0.5, A = (-0.001, 0), so at p = (0.5, 0.5) g = -0.001 ((1, 0) - p) / 2 = (-0.00025, 0.00025)
    and SGD (lr 1) adds it to the logits: p(choice 1) rises. Red (ValueError 'rewards must be finite' from
    the controller) when the lead takes the NaN reading as valid. (With the stand-in averaged into b, 0.4995 and
    A = ∓0.0005, g is the same at this p: the baseline is pinned apart.)"""
    hook = _hook()
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer.score = lambda model: (float('nan'), False)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    other = torch.tensor([0.5, 1, 0, 0, -1, 0, 1], dtype=torch.float64)  # copy 1: valid, reward 0.5, drew choice 1
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=lambda row: torch.stack([row, other])), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    record = hook.history[-1]
    assert record['valid'] == [False, True] and record['best'] == 1
    assert [c.kwargs['src'] for c in broadcast.call_args_list] == [1]
    assert record['rewards'] == pytest.approx([0.499, 0.5])
    assert record['controller']['c']['baseline'] == pytest.approx(0.5)  # the reading of copy 1, not 0.4995
    logits = hook.spaces[0].distribution.parameters()[0].detach()
    torch.testing.assert_close(logits, torch.tensor([-0.00025, 0.00025], dtype=torch.float64))


def test_merged_elements_report_the_first_and_the_second_elements_marginals_apart():
    """Elements Rotate(30), Rotate(10) → written to 30, Identity: elements 0 and 1 merge. Pair weights 1 except
    (first 0, second 2) = 4, of 12: p(first ∈ {0, 1}) = (6 + 3) / 12 = 0.75, p(second ∈ {0, 1}) = 6 / 12 = 0.5. Red
    with rows and columns swapped (the earlier test's symmetric weights read 0.7273 both ways)."""
    transform = OHLAutoAugment(key='autoaug', elements=[('Rotate', 30), ('Rotate', 10), ('Identity',)])
    dataset = SimpleNamespace(pipeline=Compose([transform]))
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset), logger=logging.getLogger('pins'))
    space = PipelineChoiceSpace(key='autoaug')
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    weights = torch.ones(9, dtype=torch.float64)
    weights[0 * 3 + 2] = 4.0
    space.distribution.load_state_dict({'logits': weights.log()})
    transform.elements[1].magnitude = 30
    assert [e.name for e in transform.pair(2)] == ['Rotate(30)', 'Identity']  # flat 2 = (first 0, second 2)
    assert space.merged_choices() == [('element Rotate(30)', [0, 1],
                                       'as the first element p = 0.75, as the second p = 0.5')]


def test_the_pair_figure_plots_the_first_and_the_second_elements_marginals_apart(tmp_path):
    """``distribution_<space>.png``'s left panel is p(first operation) / uniform over trunks, the middle one p(second
    operation): pairs whose first element is Invert (index 35) weighted e² give a first marginal of e²/(e² + 35)
    there (× 36) and a uniform second marginal. Red with the two sums swapped."""
    import matplotlib.axes
    import numpy as np

    from automl_mm.ohl.distributions import Categorical
    from automl_mm.ohl.report import OHLReport

    aug = OHLAutoAugment(key='autoaug')
    space = SimpleNamespace(name='autoaug', distribution=Categorical(36 * 36), transforms=[aug],
                            export_fragment=lambda: '# autoaug\n')
    with torch.no_grad():
        space.distribution.logits.view(36, 36)[35, :] += 2.0
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=SimpleNamespace(add_scalars=lambda *a, **k: None))
    report = OHLReport(runner, 'ohl', [space])
    history = [dict(trunk=0, rewards=[1.0, 2.0], best=1, controller={'autoaug': {}},
                    distributions={'autoaug': space.distribution.summary()})]
    shown = []
    real = matplotlib.axes.Axes.imshow

    def imshow(self, data, *args, **kwargs):
        shown.append(np.array(data))
        return real(self, data, *args, **kwargs)

    with mock.patch.object(matplotlib.axes.Axes, 'imshow', imshow):
        report.write(history, [space], step=0)
    first, second = shown[0][:, -1], shown[1][:, -1]  # (element, trunk) images: the last trunk's column
    favoured = 36 * np.e ** 2 / (np.e ** 2 + 35)
    np.testing.assert_allclose(first[35], favoured, rtol=1e-9)
    np.testing.assert_allclose(first[:35], 36 * 1 / (np.e ** 2 + 35), rtol=1e-9)
    np.testing.assert_allclose(second, np.ones(36), rtol=1e-9)
