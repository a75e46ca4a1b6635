"""What a space, distribution or controller of one's own returns to the OHL engine is checked before the first
trunk, naming the config key and the class. Before, a controller whose ``step`` returned ``None`` (or numpy
scalars), a ``summary()`` holding a tensor and an ``export_fragment()`` returning ``None`` trained a whole trunk and
stopped the run in the report's writing (``TypeError: Object of type Tensor is not JSON serializable in <OHLHook
object at 0x...>``), and a controller without ``step`` was refused naming the class only."""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _train_ranks import train_ranks
from mmengine.config import Config

from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import CONTROLLERS

PLUGIN = '''
import numpy as np
import torch

from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.spaces import PipelineChoiceSpace
from automl_mm.registry import CONTROLLERS, SEARCH_SPACES


@CONTROLLERS.register_module()
class HxNoneStep(REINFORCE):
    def step(self, stats, rewards):
        super().step(stats, rewards)  # forgot to return the logs


@CONTROLLERS.register_module()
class HxNumpyStep(REINFORCE):
    def step(self, stats, rewards):
        logs = super().step(stats, rewards)
        return {k: np.float32(v) for k, v in logs.items()} | {'t': torch.tensor(1.5)}


@SEARCH_SPACES.register_module()
class HxNoFragment(PipelineChoiceSpace):
    def export_fragment(self):
        return None


@SEARCH_SPACES.register_module()
class HxTensorSummary(PipelineChoiceSpace):
    def set_distribution(self, distribution):
        super().set_distribution(distribution)
        summary = self.distribution.summary
        self.distribution.summary = lambda top_k=5: dict(summary(top_k), theta=self.distribution.parameters()[0])
'''


def _cfg(tmp_path, space: str = 'PipelineChoiceSpace', controller: str = 'REINFORCE') -> str:
    (tmp_path / 'hx_plugin.py').write_text(PLUGIN)
    cfg = Config.fromfile('configs/ohl/ohl_convnet_1x4_12e_digits.py')
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.dataset.max_samples = 32
    cfg.model.backbone.channels = (8, 16)
    cfg.model.head.in_channels = 16
    cfg.param_scheduler = []
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 1, 100
    cfg.custom_imports = dict(imports=['hx_plugin'], allow_failed_imports=False)
    cfg.custom_hooks[0].update(num_copies=2, plot=False, controller=dict(type=controller))
    cfg.custom_hooks[0]['spaces'][0]['type'] = space
    path = str(tmp_path / f'{space}_{controller}.py')
    cfg.dump(path)
    return path


def _fork_servers_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` running multiprocessing's fork server."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        with contextlib.suppress(OSError):
            command = Path(f'/proc/{pid}/cmdline').read_bytes()
            if os.getpgid(int(pid)) == pgid and b'multiprocessing.forkserver' in command:
                found.append(int(pid))
    return found


@pytest.mark.slow
@pytest.mark.parametrize('space, controller, message', [
    ('PipelineChoiceSpace', 'HxNoneStep', r'custom_hooks\[0\].controller \(HxNoneStep, of custom_hooks\[0\]'
     r'.spaces\[0\] \(PipelineChoiceSpace .aug.\)\): step\(stats, rewards\) must return a dict'),
    ('HxNoFragment', 'REINFORCE', r'custom_hooks\[0\].spaces\[0\] \(HxNoFragment .aug.\): export_fragment\(\) '
     'must return'),
    ('HxTensorSummary', 'REINFORCE', r'custom_hooks\[0\].spaces\[0\] \(HxTensorSummary .aug.\): '
     r'Categorical.summary\(\) must be JSON-serialisable'),
])
def test_a_wrong_return_of_ones_own_class_is_refused_before_the_first_trunk(tmp_path, space, controller, message):
    import re

    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}:{osp.abspath(".")}')
    with open(tmp_path / 'output', 'w+') as output:  # a file, not a pipe: the tool's exit is seen, not its pipes'
        tool = subprocess.Popen([sys.executable, 'tools/train.py', _cfg(tmp_path, space, controller), '--work-dir',
                                 work], env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            assert tool.wait(timeout=600) != 0
            # the workers' fork server does not outlive the tool: still importing when the check refused, it held
            # the tool's stdout / stderr open for seconds after its exit (red without stop_prestarted_workers)
            assert _fork_servers_in_group(tool.pid) == []
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tool.pid, signal.SIGKILL)
        output.seek(0)
        text = output.read()
    assert re.search(message, text), text[-3000:]
    assert not osp.exists(osp.join(work, 'ohl', 'history.json'))  # before the first trunk


@pytest.mark.slow
def test_numpy_and_tensor_scalars_from_step_are_logged_as_floats(tmp_path):
    import json

    work = str(tmp_path / 'work')
    # tools/train.py's main in forked gloo ranks (tests/_train_ranks.py): a subprocess of the tool imported
    # everything again in its launcher and in its fork server, most of the run
    train_ranks([_cfg(tmp_path, controller='HxNumpyStep'), '--work-dir', work], 2, sys_path=[str(tmp_path)])
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        logs = json.load(f)[0]['controller']['aug']
    assert logs['t'] == 1.5 and all(isinstance(v, float) for v in logs.values())


def test_a_controller_without_step_is_refused_naming_the_config_key(tmp_path, monkeypatch):
    (tmp_path / 'hx_abstract.py').write_text(
        'from automl_mm.ohl.base import BaseController\nfrom automl_mm.registry import CONTROLLERS\n\n\n'
        '@CONTROLLERS.register_module()\nclass HxNoStep(BaseController):\n'
        '    def __init__(self, distribution):\n        self.distribution = distribution\n\n'
        '    def state_dict(self):\n        return {}\n\n    def load_state_dict(self, state):\n        pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    import hx_abstract  # noqa: F401
    try:
        with pytest.raises(TypeError, match=r"OHLHook.controller: Can't instantiate abstract class HxNoStep"):
            OHLHook(spaces=[dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=2),
                                 target='optim_wrapper.optimizer.param_groups.*.lr', choices=[0.1, 0.01])],
                    num_copies=2, trunk_epochs=1, controller=dict(type='HxNoStep'), reward_key='accuracy/top1')
    finally:
        CONTROLLERS.module_dict.pop('HxNoStep', None)
        sys.modules.pop('hx_abstract', None)


def test_controller_logs_converts_scalars_and_names_the_controller():
    from automl_mm.ohl.plugin_returns import controller_logs

    assert controller_logs({'a': np.float32(0.5), 'b': torch.tensor(2.0), 'c': 3}, 'X') == dict(a=0.5, b=2.0, c=3.0)
    for bad, message in ((None, 'must return a dict'), ({1: 0.0}, 'must be str'), ({'a': 'x'}, r"\['a'\] must be")):
        with pytest.raises(TypeError, match=f'X: .*{message}'):
            controller_logs(bad, 'X')




def _count_space(drop_count: bool = False, float32_stats: bool = False):
    """An AttributeSpace over a Categorical of one's own that lacks ``sample_count`` or returns float32 statistics."""
    from automl_mm.ohl.attribute_space import AttributeSpace
    from automl_mm.ohl.distributions import Categorical

    class HxCategorical(Categorical):
        def sample_count(self, stats):
            if drop_count:
                raise NotImplementedError('HxCategorical does not implement sample_count')
            return super().sample_count(stats)

        def sufficient_stats(self, samples):
            stats = super().sufficient_stats(samples)
            return stats.float() if float32_stats else stats

    return AttributeSpace(distribution=HxCategorical(num_choices=2), target='optim_wrapper.optimizer.param_groups.*.lr',
                          choices=[0.1, 0.01], name='lr')


@pytest.mark.parametrize('kwargs, message', [
    (dict(drop_count=True), r'OHLHook.spaces\[0\] \(AttributeSpace .lr.\): HxCategorical must implement sample_count'),
    (dict(float32_stats=True), r'HxCategorical.sufficient_stats\(samples\) must return a float64 tensor of shape '
     r'\(stats_size\(\),\) = \(2,\), got torch.float32'),
])
def test_a_distribution_without_sample_count_or_with_float32_stats_is_refused_before_the_first_trunk(kwargs, message):
    """Without ``sample_count`` (optional in ``BaseDistribution``, and passed by ``check_distribution``) the run
    stopped at the first trunk end in ``settle_rewards`` with ``NotImplementedError``."""
    from automl_mm.ohl.base import build_controller
    from automl_mm.ohl.plugin_returns import check_plugin_returns

    space = _count_space(**kwargs)
    with pytest.raises(TypeError, match=message):
        check_plugin_returns([space], [build_controller(dict(type='REINFORCE'), space.distribution)], 2)


def test_check_distribution_requires_sample_count():
    from automl_mm.testing import check_distribution

    with pytest.raises(AssertionError, match='HxCategorical: sample_count\\(stats\\) must be implemented'):
        check_distribution(_count_space(drop_count=True).distribution)
