"""An OHL ``AttributeSpace`` target whose first part is no attribute of the run's runner class (the config key
``param_scheduler`` for the runner's ``param_schedulers``, a misspelled ``modle``) was refused only in
``AttributeSpace.setup`` ("the runner has no attribute ..."), in every worker after the launch; ``build_check``
refuses it, naming the hook, the space and the path."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'  # runner_type CopyRunner


def _with_space(target: str) -> Config:
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='x', target=target, choices=[1, 2],
                                           distribution=dict(type='Categorical')))
    return cfg


@pytest.mark.parametrize('target, hint', [('param_scheduler.0.eta_min', "'param_schedulers'"),
                                          ('modle.head.loss_module.label_smoothing', "'model'")])
def test_a_root_the_runner_does_not_have_is_refused_at_start(target, hint):
    with pytest.raises(ConfigCheckError, match=rf"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'x': attribute path "
                                               rf"'{target}': the runner \(CopyRunner\) has no attribute "
                                               rf"'{target.split('.')[0]}' \(did you mean {hint}\?\)"):
        build_check(_with_space(target))


@pytest.mark.parametrize('target', ['message_hub.runtime_info', 'val_loop.x', 'log_processor.window_size'])
def test_roots_a_runner_has_are_not_refused_here(target):
    # (cfg.seed was here: runner.cfg is refused now, as nothing reads it after the build, tests/test_ohl/
    # test_build_time_targets.py)
    build_check(_with_space(target))  # not built here: left to the workers
