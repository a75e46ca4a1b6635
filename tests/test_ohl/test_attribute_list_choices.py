"""An ``AttributeSpace`` choice that is itself a list of one value (``[(32, 32)]``, a resize's list of scales) is
reported, recorded and exported as written: the space unwrapped every one-element list (meant for a tensor
sample's ``tolist()``), so ``copy_values``, ``final_policy.py`` and ``schedule_policy.py`` replayed ``(32, 32)``
where the copies had trained with ``[(32, 32)]``."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from mmengine.config import Config

from automl_mm.ohl import AttributeSpace, CopyLayout
from automl_mm.ohl.report import final_policy_text, schedule_fragment
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (autouse)

CHOICES = [[(32, 32)], [(48, 48)]]


def _runner():
    return SimpleNamespace(model=SimpleNamespace(resize=SimpleNamespace(scales=[(64, 64)])))


def test_a_one_element_list_choice_is_written_recorded_and_exported_whole(tmp_path):
    runner = _runner()
    space = AttributeSpace(dict(type='Categorical'), target='model.resize.scales', choices=CHOICES, name='scales')
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.distribution.load_state_dict({'logits': torch.tensor([0.0, 3.0], dtype=torch.float64)})
    space.apply(torch.tensor(1), runner)
    assert runner.model.resize.scales == [(48, 48)]  # what the copy trained with
    assert space.applied_values() == {'model.resize.scales': [(48, 48)]}  # history's copy_values
    assert space.scheduled_values() == {'model.resize.scales': [(48, 48)]}  # history's schedule
    for name, text in (('final_policy.py', final_policy_text([('scales', space.export_fragment())])),
                       ('schedule_policy.py', schedule_fragment(
                           [dict(trunk=0, best=0, broadcast=True, copy_values={'scales': [space.applied_values()]})],
                           dict(trunk_epochs=1)))):
        path = tmp_path / name
        path.write_text(text)
        values = Config.fromfile(str(path)).custom_hooks[0]['values']['model.resize.scales']
        # SetAttributesHook's value; TrunkScheduleHook's list holds one value per trunk
        assert values == ([(48, 48)] if name == 'final_policy.py' else [[(48, 48)]]), name


def test_a_scalar_and_a_gaussian_sample_are_still_plain_numbers():
    space = AttributeSpace(dict(type='DiagGaussian', mean=[-2.0], std=0.1), target='model.resize.p', transform='pow10')
    value = space.value_of(torch.tensor([-2.0]))
    assert isinstance(value, float) and abs(value - 0.01) < 1e-12
    assert isinstance(space.reported(value), float)
    cat = AttributeSpace(dict(type='Categorical'), target='model.resize.p', choices=[0.1, 0.2])
    assert cat.reported(cat.value_of(torch.tensor([1]))) == 0.2
