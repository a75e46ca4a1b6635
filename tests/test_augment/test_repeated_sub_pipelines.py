"""An ``OHLRandomChoice`` whose ``transforms`` list one sub-pipeline twice (``[[flip], [], [flip]]``) gave that
sub-pipeline two logits: under a controller that learns, its probability was learned split between them, and the
history, the plots and the exported policy misstated the policy (the flip, drawn at 2/3 under uniform logits,
reported as two choices of 1/3 each); only a warning at each trunk said so. The OHL spaces' own ``choices`` listing
one value twice are refused for that (``AttributeSpace(choices=[0.1, 0.1, 0.2])``); now so is this, when ``OHLHook``
resolves its spaces, naming the config key and the repeated entry; kept under a ``FrozenController``."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.dataset import Compose

from automl_mm.augment import OHLRandomChoice
from automl_mm.ohl import OHLHook

FLIP = dict(type='mmcv.RandomFlip', prob=1.0)


def _resolve(transform, controller):
    hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug')], reward_key='accuracy/top1', num_copies=2,
                   trunk_epochs=1, controller=controller)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=Compose([transform]))))
    hook.resolve_spaces(runner)
    return hook


def test_a_sub_pipeline_listed_twice_is_found_by_its_built_class_and_keys_in_any_order():
    flip_b = dict(prob=1.0, type='mmcv.RandomFlip')  # the same config, keys in another order
    assert OHLRandomChoice([[FLIP], [], [flip_b]], key='aug').repeated_choices() == [([FLIP], [0, 2])]
    assert OHLRandomChoice([FLIP, [], [FLIP]], key='aug').repeated_choices() == [([FLIP], [0, 2])]  # bare or list
    by_name = dict(FLIP, type='RandomFlip')  # mmengine's registry: mmcv's RandomFlip, as FLIP builds
    assert OHLRandomChoice([[by_name], [FLIP]], key='aug').repeated_choices() == [([by_name], [0, 1])]
    assert OHLRandomChoice([[FLIP], [dict(FLIP, prob=0.5)], []], key='aug').repeated_choices() == []
    assert OHLRandomChoice([[FLIP], []], key='aug').choices_config_key() == "OHLRandomChoice(key='aug').transforms"


def test_a_learning_controller_refuses_it_naming_the_config_key_and_the_entry():
    with pytest.raises(ValueError, match=(
            r"OHL space 'aug' \(PipelineChoiceSpace\) lists the choice \[\{'type': 'mmcv.RandomFlip', 'prob': 1.0\}\] "
            r"more than once \(at indices \[0, 2\] of train_dataloader.dataset.pipeline: "
            r"OHLRandomChoice\(key='aug'\).transforms\)")):
        _resolve(OHLRandomChoice([[FLIP], [], [FLIP]], key='aug'), dict(type='REINFORCE'))


def test_distinct_sub_pipelines_and_a_frozen_control_arm_are_kept():
    _resolve(OHLRandomChoice([[FLIP], []], key='aug'), dict(type='REINFORCE'))
    hook = _resolve(OHLRandomChoice([[FLIP], [], [FLIP]], key='aug'), dict(type='FrozenController'))
    assert hook.spaces[0].repeated_choices() == [([FLIP], [0, 2])]  # warned of at each trunk (merged_choices)
    assert hook.spaces[0].merged_choices() == [(f'sub-pipeline {[FLIP]!r}', [0, 2], 'p = 0.6667')]
