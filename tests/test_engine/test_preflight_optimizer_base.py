"""``tools/train.py``'s config check of an OHL search of the base weight decay
(``optim_wrapper.optimizer.weight_decay``, :mod:`automl_mm.ohl.optimizer_base`): each group's rule is read from the
config's constructor (run at the bases 1 and 2) on the optimiser the check built, before the copies start, so a
config whose base is 0 passes too (it used to be refused: each group's ratio to the built base was 0 / 0)."""
from __future__ import annotations

from mmengine.config import Config

from automl_mm.engine.preflight import build_check

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


def test_a_zero_base_passes_where_the_config_rebuilds_the_optimiser():
    build_check(_with_base_space(0.0))


def test_a_non_zero_base_passes():
    build_check(_with_base_space(1e-4))
