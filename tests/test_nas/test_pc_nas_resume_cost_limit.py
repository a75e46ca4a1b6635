"""A PC-NAS search resumed between stages keeps the cost constraint its pool was chosen under, or is refused.

One real digits search (flops_limit 3.5e6, 4 stages), resumed from its checkpoints under another limit."""
from __future__ import annotations

import glob
import os.path as osp

import pytest
from mmengine.runner import Runner
from test_nas._resume import resuming
from test_nas.test_pc_nas_loop import _cfg, _result


@pytest.fixture(scope='module')
def searched(tmp_path_factory) -> str:
    work = str(tmp_path_factory.mktemp('pc_resume_cost') / 'run')
    cfg = _cfg(work)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 20
    Runner.from_cfg(cfg).train()
    return work


def _checkpoint(work: str, name: str) -> str:
    """iter_9.pth: the supernet training of stage 3, stages 1 and 2 decided; final: the finished search."""
    found = glob.glob(osp.join(work, 'search_final_iter_*.pth' if name == 'final' else name))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize('name', ['iter_9.pth', 'final'])
def test_a_resume_between_stages_under_another_flops_limit_is_refused(searched, tmp_path, name):
    """Stages 1 and 2 kept their 2 partial models by potentials over completions within 3.5 MFLOPs; resumed under
    2.3 MFLOPs, stages 3 and 4 were searched under the other limit and the final pool reported 'cost_limit':
    2300000.0 (from the finished search: the old pool re-exported under the new limit), with mmengine's generic
    warning only."""
    cfg = resuming(_cfg(str(tmp_path / 'other'), flops_limit=2.3e6), _checkpoint(searched, name))
    with pytest.raises(ValueError, match=r'within the cost constraint train_cfg\.flops_limit=3500000\.0, this run '
                                         r'sets train_cfg\.flops_limit=2300000\.0'):
        Runner.from_cfg(cfg).train()
    assert not osp.exists(osp.join(tmp_path, 'other', 'search', 'pc_nas_result.json'))


def test_a_resume_between_stages_under_the_same_constraint_gives_the_same_search(searched, tmp_path):
    work = str(tmp_path / 'same')
    cfg = resuming(_cfg(work), _checkpoint(searched, 'iter_9.pth'))
    Runner.from_cfg(cfg).train()
    assert _result(work)['final_pool'] == _result(searched)['final_pool']
    assert _result(work)['cost_limit'] == 3.5e6
