"""An AttributeSpace's exported fragment says when θ has no single mode.

Input that showed it: a 2-copy Faster R-CNN search of ``optim_wrapper.optimizer.param_groups.*.weight_decay``
over [0.0, 1e-4, 1e-3] (work_dirs/user/ohl_det_hparams.py, 2 trunks): both copies drew 0.0 in trunk 1 and the
rewards of trunk 0 tied, so θ stayed uniform, and ``final_policy.py`` wrote weight_decay 0.0 as "the value at the
mode of the learned distribution" with nothing to tell that it was only the first of three tied choices."""
from __future__ import annotations

import torch

from automl_mm.ohl.attribute_space import AttributeSpace

PATH = 'optim_wrapper.optimizer.param_groups.*.weight_decay'


def _space(logits):
    space = AttributeSpace(dict(type='Categorical'), target=PATH, choices=[0.0, 1e-4, 1e-3], name='wd')
    space.distribution.logits.data.copy_(torch.tensor(logits))
    return space


def test_a_tie_at_the_mode_is_said_in_the_fragment():
    text = _space([0.0, 0.0, 0.0]).export_fragment()
    assert '# θ has no single mode: choices [0.0, 0.0001, 0.001] tie' in text and f"'{PATH}': 0.0" in text
    assert 'choices [0.0001, 0.001] tie' in _space([-1.0, 0.5, 0.5]).export_fragment()


def test_a_learned_mode_is_not_called_a_tie():
    text = _space([0.0, 2.0, 0.0]).export_fragment()
    assert 'no single mode' not in text and f"'{PATH}': 0.0001" in text


def test_a_groups_parameter_fragment_names_the_base_value_for_a_scheduled_config():
    """final_policy.py of the ohl-lr-wd search, pasted into a config whose param_scheduler schedules the lr (every
    mmdet config, the digits baseline's cosine), is refused at start; the fragment says which base value to set
    instead. A path that is not every group's parameter gets no such line."""
    text = _space([0.0, 2.0, 0.0]).export_fragment()
    assert ("# Where a param_scheduler schedules 'weight_decay' (mmdet's configs schedule the lr), set the base "
            "value optim_wrapper.optimizer.weight_decay=0.0001 instead of this hook.\n") in text
    head = AttributeSpace(dict(type='Categorical'), target='model.head.loss_module.loss_weight', choices=[1.0, 2.0],
                          name='w').export_fragment()
    assert 'param_scheduler' not in head


def test_a_tie_note_names_the_value_the_fragment_writes():
    """Choices within 1e-9 in probability are a tie, but the mode is the argmax: with p(1e-4) above p(0.0) by 5e-13
    the comment said "the first of them (0.0) is written" over a hook that wrote 0.0001. It names the value written."""
    space = _space([0.0, 1e-12, -1.0])
    text = space.export_fragment()
    assert 'choices [0.0, 0.0001] tie' in text and f"'{PATH}': 0.0001" in text
    assert '0.0001 is written' in text and 'the first of them' not in text
    assert '0.0 is written' in _space([0.0, 0.0, 0.0]).export_fragment()
