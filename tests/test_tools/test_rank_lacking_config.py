"""One node of a torchrun job lacks the config file (nodes that do not share a file system; a relative path from
another working directory): ``tools/train.py`` / ``tools/test.py`` agreed on the start checks of each rank's own
files (:func:`~automl_mm.engine.rank_agreement.checking_own_files_together`), but the config was read before, and the
process group's settings come from it: the rank lacking it refused alone, and the others waited for it in the
rendezvous until ``env_cfg.dist_cfg.timeout``, naming nothing. Now the reading is agreed on through the launcher's
rendezvous store (:func:`~automl_mm.engine.rank_agreement.reading_config_together`): the rank lacking the file raises
its own error, the others a ``RankFailure`` naming that rank and the path (2 gloo ranks, one of them in a folder
without ``cfg.py``)."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from _forked_ranks import fork_ranks, rank_outcomes, tool_rank
from torch.distributed.elastic.utils.distributed import get_free_port

CONFIG = '''
default_scope = 'mmengine'
model = dict(type='BaseModel')
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=60))
'''


@pytest.mark.slow  # two gloo ranks of the tool each (about 10 s on 2 shared cores: the tool's imports in each rank)
@pytest.mark.parametrize('name, lacking', [('train', 1), ('test', 0)])  # rank 0 serves the rendezvous store
def test_a_rank_lacking_the_config_file_stops_every_rank(tmp_path, name, lacking, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    for node in ('node0', 'node1'):
        (tmp_path / node).mkdir()
    (tmp_path / f'node{1 - lacking}' / 'cfg.py').write_text(CONFIG)
    torch.save(dict(state_dict={}, meta={}), tmp_path / 'model.pth')
    argv = ['cfg.py'] + ([str(tmp_path / 'model.pth')] if name == 'test' else [])
    argv += ['--work-dir', osp.join(tmp_path, 'work'), '--launcher', 'pytorch']
    # each rank in its own node's folder: the node without the config has no cfg.py there
    fork_ranks(tool_rank, (name, str(tmp_path), get_free_port(), argv, 'node{rank}'), timeout=120)
    found = rank_outcomes(tmp_path)
    missing = 'config file not found: cfg.py'
    assert found[lacking] is not None and found[lacking].startswith(f'FileNotFoundError: {missing}'), found[lacking]
    # the other rank has its config: it stops with the lacking one instead of waiting for it until the timeout
    other = found[1 - lacking]
    assert other is not None and other.startswith(
        f'RankFailure: tools/{name}.py: reading the config file failed on rank {lacking} (on '), other
    assert f': FileNotFoundError: {missing}' in other, other
    assert not (tmp_path / 'work').exists()
