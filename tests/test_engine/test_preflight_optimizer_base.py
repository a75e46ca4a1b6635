"""``tools/train.py``'s config check refuses an OHL search of the base weight decay
(``optim_wrapper.optimizer.weight_decay``, :mod:`automl_mm.ohl.optimizer_base`) whose built optimiser has a base
of 0 (each group's paramwise_cfg multiplier is 0 / 0), naming the config key, before the copies start; a non-zero
base passes."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _with_base_space(weight_decay: float) -> Config:
    cfg = Config.fromfile(OHL)
    cfg.optim_wrapper.optimizer.weight_decay = weight_decay
    cfg.optim_wrapper.paramwise_cfg = dict(norm_decay_mult=0.)
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='wd', choices=[1e-4, 5e-4],
                                           target='optim_wrapper.optimizer.weight_decay',
                                           distribution=dict(type='Categorical')))
    return cfg


def test_a_zero_base_is_refused_at_start_naming_the_key():
    with pytest.raises(ConfigCheckError, match=r"OHL space 'wd': attribute path 'optim_wrapper\.optimizer\."
                                               r"weight_decay': the optimiser was built with weight_decay=0"):
        build_check(_with_base_space(0.0))


def test_a_non_zero_base_passes():
    build_check(_with_base_space(1e-4))
