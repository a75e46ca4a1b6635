"""A process that torchrun / slurm started for an OHL config whose copies need another number of processes is
refused by ``check_config`` (``tools/train.py`` runs it in every such process before its runner is built;
``CopyRunner`` refused it only after mmengine had built the model and hooks and initialised the process group)."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_ohl_cfg


def test_a_launcher_world_size_the_copies_do_not_fill_is_refused_at_start(tmp_path, monkeypatch):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].num_copies = 2
    cfg.launcher = 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '3')
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] \(OHLHook\): world size 3 does not fit the OHL '
                                               r'configuration: num_copies \(2\) x ranks_per_copy \(1\) = 2 .*'
                                               r'\(WORLD_SIZE=3\)'):
        check_config(cfg)
    monkeypatch.setenv('WORLD_SIZE', '2')
    check_config(cfg)
    cfg.launcher = 'none'  # tools/train.py starts the workers itself: no launcher's count to check
    monkeypatch.setenv('WORLD_SIZE', '3')
    check_config(cfg)
