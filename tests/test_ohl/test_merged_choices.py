"""Choices of a ``PipelineChoiceSpace`` that are the same augmentation at run time are reported with their merged
probability.

Input that showed it: ``OHLAutoAugment(elements=[('Rotate', 10), ('Rotate', 30), ('Identity',)])`` with an
``AttributeSpace`` on ``...transforms.0.elements.0.magnitude`` (choices 30 / 0) that wrote 30: elements 0 and 1 were
both ``Rotate(30)`` for that trunk, so each pair with either was one augmentation under two logits; the history, the
progress line and the plots showed ``Rotate(30)`` split in two, and nothing said so. ``OHLHook`` now warns once,
after every space began the trunk, naming the elements and the summed probability."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import torch
from mmengine.dataset import Compose

from automl_mm.augment.choice import OHLRandomChoice
from automl_mm.augment.policy import OHLAutoAugment
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.hook import OHLHook
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace, link_magnitude_writers

PATH = 'train_dataloader.dataset.pipeline.transforms.0.elements.0.magnitude'


class _Dataset:
    def __init__(self, pipeline):
        self.pipeline = pipeline


def _runner(transform):
    logger = logging.getLogger('test_merged_choices')
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(Compose([transform]))), logger=logger)


def _hook(spaces):
    hook = OHLHook.__new__(OHLHook)
    hook.spaces, hook.seed, hook.trunk = spaces, 0, 0
    hook.layout = SimpleNamespace(copy_id=0, rank_in_copy=0)
    hook._merged_warned = set()
    return hook


def test_a_written_magnitude_making_two_elements_identical_is_warned_with_the_summed_probability(caplog):
    runner = _runner(OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Rotate', 30), ('Identity',)]))
    choice = PipelineChoiceSpace(key='autoaug')
    magnitude = AttributeSpace(dict(type='Categorical', logits=[9.0, -9.0]), target=PATH, choices=[30, 0],
                               name='rot_mag')
    spaces = [choice, magnitude]
    for space in spaces:
        space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    link_magnitude_writers(runner, spaces)
    logits = torch.zeros(9, dtype=torch.float64)
    logits[0] = logits[4] = torch.log(torch.tensor(2.0))  # pairs (0, 0) and (1, 1) twice as likely: 2 / 11 each
    choice.distribution.load_state_dict({'logits': logits})
    assert choice.merged_choices() == []  # Rotate(10) and Rotate(30): two elements
    hook = _hook(spaces)
    with caplog.at_level(logging.WARNING, logger='test_merged_choices'):
        OHLHook._begin_trunk(hook, runner)
        assert runner.train_dataloader.dataset.pipeline.transforms[0].elements[0].magnitude == 30
        # rows 0 and 1 of the 3 x 3 pairs: (2 + 1 + 1) + (1 + 2 + 1) of 11
        assert choice.merged_choices() == [('element Rotate(30)', [0, 1],
                                            'as the first element p = 0.7273, as the second p = 0.7273')]
        hook._in_trunk = False
        OHLHook._begin_trunk(hook, runner)  # the same merge at the next trunk: said once
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["OHL space 'autoaug': at trunk 0 some of its choices are the same: element Rotate(30) at "
                        'indices [0, 1] (as the first element p = 0.7273, as the second p = 0.7273). Each one\'s '
                        'probability is split between those indices in the history, the progress line and the '
                        'plots: read the sum']


def test_an_ohl_random_choice_listing_one_sub_pipeline_twice_reports_the_summed_probability():
    flip = dict(type='mmcv.RandomFlip', prob=1.0)
    runner = _runner(OHLRandomChoice([[flip], [], [dict(flip)]], key='aug'))
    space = PipelineChoiceSpace(key='aug')
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    assert space.merged_choices() == [(f'sub-pipeline {[flip]!r}', [0, 2], 'p = 0.6667')]
    distinct = PipelineChoiceSpace(key='aug2')
    distinct.setup(_runner(OHLRandomChoice([[flip], []], key='aug2')), SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    assert distinct.merged_choices() == []
