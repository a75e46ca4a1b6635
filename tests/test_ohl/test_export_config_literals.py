"""Every exported config (``final_policy.py``, ``schedule_policy.py``, the NAS backbone fragment) loads with
``Config.fromfile`` in a fresh directory and holds the values the search used.

Input that showed it: an ``AttributeSpace`` given ``choices=list(np.linspace(0.0, 1e-3, 3))`` through the Python API
exported ``values={'...weight_decay': np.float64(0.0005)}`` (NumPy 2's ``repr``): ``Config.fromfile`` of the file
raised ``NameError: name 'np' is not defined``; so did ``fill=np.int64(100)`` of an ``OHLAutoAugment``, a NumPy
value in a searched backbone's config, and a non-finite value (``inf``, written ``inf``) in a schedule or a merged
``final_policy.py``."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.config import Config

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace
from automl_mm.ohl.report import final_policy_text, schedule_fragment
from automl_mm.utils.config_text import config_literal
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)

WD = 'optim_wrapper.optimizer.param_groups.*.weight_decay'


def _load(text: str, tmp_path, monkeypatch) -> Config:
    """``text`` written as a file and read by ``Config.fromfile`` from another directory."""
    (tmp_path / 'export').mkdir(exist_ok=True)
    (tmp_path / 'elsewhere').mkdir(exist_ok=True)
    path = tmp_path / 'export' / 'final_policy.py'
    path.write_text(text)
    monkeypatch.chdir(tmp_path / 'elsewhere')
    return Config.fromfile(str(path))


def _hook_values(cfg: Config) -> dict:
    return {k: v for hook in cfg.custom_hooks for k, v in hook['values'].items()}


def test_numpy_choices_of_an_attribute_space_export_as_python_numbers(tmp_path, monkeypatch):
    space = AttributeSpace(dict(type='Categorical'), target=WD, choices=list(np.linspace(0.0, 1e-3, 3)), name='wd')
    space.distribution.logits.data.copy_(torch.tensor([0.0, 2.0, 0.0]))
    values = _hook_values(_load(space.export_fragment(), tmp_path, monkeypatch))
    assert values == {WD: 0.0005} and type(values[WD]) is float
    # the history records what the copies applied: a np.float32 choice stopped json.dumps
    space32 = AttributeSpace(dict(type='Categorical'), target=WD, choices=[np.float32(0.25), np.float32(0.5)])
    space32.current = space32.value_of(torch.tensor(1))
    assert json.dumps(space32.applied_values()) == json.dumps({WD: 0.5})
    assert "optim_wrapper.optimizer.weight_decay=0.0005 instead" in space.export_fragment()  # the comment too


def test_a_non_finite_choice_exports_as_float_inf(tmp_path, monkeypatch):
    space = AttributeSpace(dict(type='Categorical'), target='model.max_norm', choices=[1.0, float('inf')])
    space.distribution.logits.data.copy_(torch.tensor([0.0, 2.0]))
    assert _hook_values(_load(space.export_fragment(), tmp_path, monkeypatch)) == {'model.max_norm': math.inf}


def test_a_merged_final_policy_and_a_schedule_keep_inf_and_numpy_values(tmp_path, monkeypatch):
    clip = AttributeSpace(dict(type='Categorical'), target='model.max_norm', choices=[1.0, float('inf')], name='a')
    clip.distribution.logits.data.copy_(torch.tensor([0.0, 2.0]))
    wd = AttributeSpace(dict(type='Categorical'), target=WD, choices=[np.float64(0.1), np.float64(0.2)], name='b')
    merged = final_policy_text([(s.name, s.export_fragment()) for s in (clip, wd)])
    assert _hook_values(_load(merged, tmp_path, monkeypatch)) == {'model.max_norm': math.inf, WD: 0.1}
    # a user space's applied values (copy_values) as they come: NumPy and non-finite
    history = [dict(trunk=t, best=0, broadcast=True, copy_values={'s': [{'model.x': v}]})
               for t, v in enumerate([np.float32(0.1), np.float64(math.inf), np.int64(3)])]
    cfg = _load(schedule_fragment(history, dict(trunk_iters=2)), tmp_path, monkeypatch)
    assert cfg.custom_hooks[0]['values'] == {'model.x': [float(np.float32(0.1)), math.inf, 3]}
    assert cfg.custom_hooks[0]['trunk_iters'] == 2


def test_an_auto_augment_policy_with_numpy_settings_loads_and_replays_them(tmp_path, monkeypatch):
    from automl_mm.augment import FixedAutoAugment, OHLAutoAugment

    live = OHLAutoAugment(elements=[('Rotate', np.float64(30.0)), ('Invert', None)], key='aa', fill=np.int64(100))
    runner = _pipeline_runner(live)
    space = PipelineChoiceSpace(key='aa')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    space.distribution.logits.data.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    cfg = _load(space.export_fragment(), tmp_path, monkeypatch)
    fixed = dict(cfg.ohl_fixed_aa)
    assert fixed.pop('type') == 'automl_mm.FixedAutoAugment'
    replay = FixedAutoAugment(**fixed)
    assert replay.fill == 100 and type(replay.fill) is int
    assert [e.name for e in replay.elements] == [e.name for e in live.elements] == ['Rotate(30)', 'Invert']
    probs = space.distribution.probs().double().numpy()
    assert np.array_equal(replay.fixed_probs, probs / probs.sum())


def test_a_searched_backbone_with_numpy_settings_loads_as_the_same_network(tmp_path, monkeypatch):
    from automl_mm.nas.retrain_export import backbone_fragment_text
    from automl_mm.registry import MODELS

    backbone = dict(type='CRResNet', depth=18, stage_blocks=[np.int64(1), 1, 3, 3],
                    dilations_per_block=[1, 1, 1, 2, 1, 1, 2, 3], out_indices=(np.int64(0), 1, 2, 3))
    cfg = _load(backbone_fragment_text('CR-NAS searched backbone', backbone), tmp_path, monkeypatch)
    assert cfg.backbone['out_indices'] == (0, 1, 2, 3) and cfg.backbone['stage_blocks'] == [1, 1, 3, 3]
    built, searched = MODELS.build(cfg.backbone), MODELS.build(dict(backbone, type='automl_mm.CRResNet'))
    assert [(k, v.shape) for k, v in built.state_dict().items()] == \
        [(k, v.shape) for k, v in searched.state_dict().items()]


def test_config_literal_reads_back_bit_for_bit():
    value = {'lr': np.float32(0.1), 'scale': (np.int64(32), 32), 'p': [1 / 3, float('-inf'), float('nan')],
             'flag': np.bool_(True)}
    namespace: dict = {}
    exec(f'v = {config_literal(value)}', namespace)
    got = namespace['v']
    assert got['lr'] == float(np.float32(0.1)) and got['scale'] == (32, 32) and type(got['scale']) is tuple
    assert got['p'][0] == 1 / 3 and got['p'][1] == -math.inf and math.isnan(got['p'][2]) and got['flag'] is True


def test_a_step_of_the_mmdet_example_with_an_infinite_setting_is_config_text():
    """The mmdet fragment's example lists the steps after the policy from their attributes: ``max_size=inf`` was
    written ``max_size=inf``, a ``NameError`` when the line is pasted into a config."""
    from automl_mm.ohl.pipeline_space import _step_text

    class Step:
        def __init__(self, max_size=None):
            self.max_size = float('inf')

    text = _step_text(Step())
    assert text == "dict(type='Step', max_size=float('inf'))" and eval(text) == dict(type='Step', max_size=math.inf)

    class Long:  # one line whatever its length: the example is a comment line
        def __init__(self, sizes=None):
            self.sizes = tuple(range(40))

    assert '\n' not in _step_text(Long())
