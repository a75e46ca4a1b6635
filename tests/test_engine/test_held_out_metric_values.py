"""A held-out split's metric (an OHL hook's ``reward_evaluator``, a NAS loop's ``search_evaluator``, or the top-level
key they fall back to) is built by :meth:`HeldOutEvaluator.build` at the run's start; its refusal of a value named no
config key: ``KeyError: "metric should be one of 'bbox', ... but got bboxx."`` from mmdet's ``CocoMetric``.

A single-process start constructs these metrics in place (``check_metric_arguments``), naming the key; since 64ba22b
a distributed start binds them to their signatures only (the run builds them anyway, and a COCO metric loads its
whole ``ann_file``), so the build at the run's start is where a bad value is found there: it now names the key as
the loops' builds of ``val_evaluator`` do (:func:`~automl_mm.engine.loader_keys.naming_loop_build`)."""
from __future__ import annotations

import functools
import json
import re
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.evaluate import HeldOutEvaluator


def _loader() -> dict:
    return dict(dataset=['r'] * 4, batch_size=2, collate_fn=dict(type='default_collate'))


@pytest.fixture
def ann(tmp_path) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='a')])))
    return str(path)


def _build(cfg: dict, **kwargs) -> HeldOutEvaluator:
    runner = SimpleNamespace(cfg=Config(cfg), build_evaluator=functools.partial(Runner.build_evaluator, None))
    return HeldOutEvaluator('reward', 'coco/bbox_mAP', 'OHLHook', metric_key_name='reward_key', **kwargs).build(runner)


@pytest.mark.parametrize('metric, error, said', [
    (dict(type='mmdet.CocoMetric', metric='bboxx'), KeyError,
     r"^{key} \(CocoMetric\): metric should be one of 'bbox', 'segm', 'proposal', 'proposal_fast', but got bboxx"),
    (dict(type='mmdet.CocoMetric', format_only=True), ValueError, r'^{key} \(CocoMetric\): outfile_prefix must be'),
    (dict(type='mmdet.CocoMetric', prefx='a'), TypeError, r"^{key}\.prefx: CocoMetric takes no argument 'prefx'"),
    (dict(type='mmdet.CocoMetricc'), KeyError, r"^{key}\.type='mmdet\.CocoMetricc' is not in the"),
])
@pytest.mark.parametrize('key', ['custom_hooks[0].reward_evaluator', 'reward_evaluator', 'val_evaluator'])
def test_a_held_out_metric_refusing_its_value_names_its_key(ann, metric, error, said, key):
    metric = dict(metric, ann_file=ann)
    if key.startswith('custom_hooks'):
        build = functools.partial(_build, dict(reward_dataloader=_loader()), evaluator=metric, evaluator_key=key)
    else:
        build = functools.partial(_build, {'reward_dataloader': _loader(), key: metric})
    with pytest.raises(error) as raised:
        build()
    assert re.match(said.format(key=re.escape(key)), str(raised.value).strip('"')), raised.value


def test_a_good_metric_is_built(ann):
    held = _build(dict(reward_dataloader=_loader(), reward_evaluator=dict(type='mmdet.CocoMetric', ann_file=ann)))
    assert type(held.evaluator.metrics[0]).__name__ == 'CocoMetric'
