"""A resume the OHL hook refuses once its checkpoint is loaded (another trunk length, seed, number of copies, ...)
is refused by the launching process's ``build_check`` before any copy starts, with the message the hook gives in
every worker (there, after each had built its runner and dataloaders)."""
from __future__ import annotations

import os.path as osp

import pytest

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import tiny_ohl_cfg, train_copy_runner


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A one-copy, one-epoch OHL run with trunks of one epoch: its work dir (epoch_1.pth)."""
    work = str(tmp_path_factory.mktemp('ohl_resume') / 'work')
    cfg = tiny_ohl_cfg(work, seed=0)
    cfg.train_cfg.max_epochs = 1
    train_copy_runner(cfg)
    return work


def _resume(work, **hook):
    cfg = tiny_ohl_cfg(work, **dict(dict(seed=0), **hook))
    cfg.train_cfg.max_epochs = 2
    cfg.resume, cfg.load_from = True, osp.join(work, 'epoch_1.pth')
    return cfg


@pytest.mark.parametrize('change, words', [
    (dict(trunk_iters=2), r"the checkpoint's trunks were custom_hooks\[0\]\.trunk_epochs=1, this run has "
                          r"custom_hooks\[0\]\.trunk_iters=2"),
    (dict(seed=5), r"the checkpoint's search has seed 0, this run sets custom_hooks\[0\]\.seed=5"),
])
def test_a_resume_the_hook_refuses_is_refused_before_the_copies_start(trained, change, words):
    cfg = _resume(trained, **change)
    with pytest.raises(ConfigCheckError, match=r"^resuming '.*epoch_1.pth': .*" + words) as caught:
        build_check(cfg)
    assert 'this OHLHook is custom_hooks[0] of the config' in str(caught.value)
    with pytest.raises(ValueError) as real:  # what the runner's hook says, once the checkpoint is loaded
        train_copy_runner(cfg)
    assert str(caught.value).split(': ', 1)[1] == str(real.value)


def test_a_resume_of_the_same_search_passes(trained):
    build_check(_resume(trained))
