"""A custom hook whose constructor refuses its arguments is named by its ``custom_hooks`` entry in the launching
process's ``build_check`` (mmengine's message named the class only: ``trunk_iters must be a positive integer,
got '4'`` did not say which hook of the config)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def test_an_ohl_hook_argument_error_names_its_custom_hooks_entry():
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].trunk_iters = '4'
    with pytest.raises(ValueError, match=r"^custom_hooks\[0\]: .*trunk_iters must be a positive integer, got '4'"):
        build_check(cfg)
