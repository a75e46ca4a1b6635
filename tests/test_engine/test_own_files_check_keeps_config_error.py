"""A config error in ``env_cfg.mp_cfg`` / ``env_cfg.dist_cfg`` under torchrun: ``check_config`` refuses it naming the
key, inside ``rank_agreement.checking_own_files_together`` (``tools/train.py`` / ``tools/test.py`` with ``--launcher
pytorch``), which then starts the process group from that same config to agree on the failure. The process group
cannot start from it (mmengine's ``set_multi_processing`` / ``init_dist`` raise ``TypeError: ... unexpected keyword
argument``), and that ``TypeError`` ended every rank with a traceback, the refusal naming the key only as its
context: before the agreement came, each rank printed the one-line refusal. The rank's own error must stay the one
raised (its message in it)."""
from __future__ import annotations

import inspect
import multiprocessing

import pytest
import torch.multiprocessing
from mmengine.config import Config
from mmengine.utils import dl_utils

from automl_mm.engine.preflight_runner_args import check_runner_arguments
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.engine.rank_agreement import checking_own_files_together
from automl_mm.engine.tool_errors import raised_as_refusal


@pytest.mark.parametrize('env_cfg, key', [
    (dict(mp_cfg=dict(mp_start_methd='fork'), dist_cfg=dict(backend='gloo')), 'env_cfg.mp_cfg.mp_start_methd'),
    (dict(dist_cfg=dict(backend='gloo', timout=60)), 'env_cfg.dist_cfg.timout'),
])
def test_a_config_error_that_keeps_the_process_group_from_starting_is_still_the_refusal(env_cfg, key, monkeypatch):
    real = dl_utils.set_multi_processing  # its arguments checked as it would, without setting the start method

    def checking_arguments(**kwargs):
        inspect.signature(real).bind(**kwargs)

    checking_arguments.__signature__ = inspect.signature(real)  # what check_config reads of it
    monkeypatch.setattr(dl_utils, 'set_multi_processing', checking_arguments)
    method = multiprocessing.get_start_method(allow_none=True)  # mmengine's init_dist sets it where unset
    for module in (multiprocessing, torch.multiprocessing):
        monkeypatch.setattr(module, 'set_start_method', lambda *a, **k: None)
    cfg = Config(dict(launcher='pytorch', env_cfg=env_cfg))
    with pytest.raises(Exception) as caught, checking_own_files_together(cfg, 'tools/train.py: the start checks'):
        check_runner_arguments(cfg, 'mmengine')
    err = caught.value
    assert multiprocessing.get_start_method(allow_none=True) == method
    assert not isinstance(err, TypeError), err  # mmengine's / torch's, naming no key
    assert f'ConfigCheckError: {key}: ' in str(err) and isinstance(err.__cause__, ConfigCheckError), err
    assert raised_as_refusal(err)  # tools' exit_on_refusal prints it as one line, as before the agreement
