"""``final_policy.py`` after trunk t replays θ after trunk t's update, not an earlier trunk's.

Mutation audit (fifty-seventh session): an ``OHLReport`` that wrote ``final_policy.py`` after the first trunk only
(the policy of the first update, kept for the whole run) left every not-slow test of the report and the export
green; they wrote one trunk, or read the file's text and hooks, not which θ it holds.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch

from automl_mm.ohl import PipelineChoiceSpace
from automl_mm.ohl.report import OHLReport
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)


class _Visualizer:
    def add_scalars(self, scalars, step):
        pass


def _exported_probs(path) -> np.ndarray:
    namespace: dict = {}
    with open(path) as f:
        exec(f.read(), namespace)
    return np.asarray(namespace['ohl_fixed_aa']['probs'])


def test_final_policy_after_each_trunk_holds_that_trunks_theta(tmp_path):
    """θ on pair 7 after trunk 0 (logit 3), then on pair 200 after trunk 1 (logit 4, pair 7 back to 0): the file
    after trunk 1 replays pair 200 at e^4 / (e^4 + 323), pair 7 at 1 / (e^4 + 323)."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'))
    space = PipelineChoiceSpace(key='aa')
    space.name = 'aa'
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    runner.work_dir, runner.visualizer = str(tmp_path), _Visualizer()
    report = OHLReport(runner, 'ohl', [space], plot=False)
    path = tmp_path / 'ohl' / 'final_policy.py'
    history: list[dict] = []
    for trunk, (pair, logit) in enumerate([(7, 3.0), (200, 4.0)]):
        with torch.no_grad():
            space.distribution.logits.zero_()
            space.distribution.logits[pair] = logit
        history.append(dict(trunk=trunk, rewards=[1.0, 2.0], best=1, controller={'aa': {}},
                            distributions={'aa': space.distribution.summary()}))
        report.write(history, [space], step=trunk)
        probs = _exported_probs(path)
        norm = math.exp(logit) + 323
        assert int(np.argmax(probs)) == pair, f'after trunk {trunk}'
        np.testing.assert_allclose(probs[pair], math.exp(logit) / norm, rtol=1e-9)
        np.testing.assert_allclose(np.delete(probs, pair), 1 / norm, rtol=1e-9)
        assert path.read_text().startswith(f'# Exported by automl_mm OHLHook after trunk {trunk}.\n')
