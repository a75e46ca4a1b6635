"""A ``CheckpointHook`` ``interval`` / ``save_begin`` that is not a whole number (``'2'`` from a hand-edited config)
is refused by ``check_config`` naming the key: mmengine compares it only at the first save, after training up to
it (``TypeError: '<=' not supported between instances of 'str' and 'int'``, no key named). The OHL schedule check
(which reads them) hit the same comparison."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_digits_cfg, tiny_ohl_cfg


@pytest.mark.parametrize('make', [tiny_digits_cfg, tiny_ohl_cfg])
def test_a_checkpoint_interval_that_is_not_a_whole_number_is_refused_at_start(tmp_path, make):
    cfg = make(str(tmp_path / 'work'))
    cfg.default_hooks.checkpoint.interval = '2'
    with pytest.raises(ConfigCheckError, match=r"default_hooks.checkpoint.interval='2' must be a whole number"):
        check_config(cfg)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [dict(type='CheckpointHook', interval=1,
                                                                    save_begin=1.5)]
    index = len(cfg.custom_hooks) - 1
    with pytest.raises(ConfigCheckError, match=rf'custom_hooks\[{index}\]\.save_begin=1.5 must be a whole number'):
        check_config(cfg)
