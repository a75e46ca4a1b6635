"""A ``model.`` target of an OHL ``AttributeSpace`` that does not resolve was refused by ``build_check`` naming the
path only (``ValueError: attribute path 'model.head.nonexist': ...``), not the hook entry or the space, unlike the
other targets' refusals; it names all three: the space at its config key, ``custom_hooks[0].spaces[1]`` (it was
``custom_hooks[0] (OHLHook): OHL space 'x': ...``, the entry but not which of its spaces)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def test_a_model_target_that_does_not_resolve_names_hook_space_and_path():
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='x', target='model.head.nonexist',
                                           choices=[1, 2], distribution=dict(type='Categorical')))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'x': attribute path "
                                               r"'model.head.nonexist': LinearClsHead has no attribute 'nonexist'$"):
        build_check(cfg)
