"""What the other ranks of a distributed start are told where one rank's config could not be used because an
import failed: they said ``tools/train.py: reading the config file failed on rank 1`` and advised to give every node
the same config file, also where that rank read the file and a module of its ``custom_imports`` failed to import
(the config was there: the module, or a package it imports, was not on that node), and where its import of
automl_mm's own modules failed before any config was read. The message now says what failed: the
``custom_imports`` module by name, or the rank's own checks (``checks_what``), with the advice for it. 2 forked ranks
(srun's variables), no process group."""
from __future__ import annotations

import json
import os
import os.path as osp
import sys

import pytest
from _forked_ranks import fork_ranks, outcome
from torch.distributed.elastic.utils.distributed import get_free_port

from automl_mm.engine.config_read import read_config
from automl_mm.engine.rank_agreement import reading_config_together

WHAT = 'tools/train.py: reading the config file'
SLURM = dict(SLURM_PROCID='{rank}', SLURM_NTASKS='2', SLURM_JOB_ID='4321988', SLURM_STEP_ID='0',
             MASTER_ADDR='127.0.0.1')


def _rank(rank: int, tmp: str, planted: str) -> None:
    def checks() -> None:
        if planted == 'checks' and rank == 1:
            raise ImportError("planted: cannot import name 'DetDataSample' from 'mmdet.structures'")

    os.environ.update({k: v.format(rank=rank) for k, v in SLURM.items()})
    sys.path.insert(0, osp.join(tmp, 'plugins'))
    # rank 1's node lacks the module its config's custom_imports names, or has one that fails otherwise
    config = osp.join(tmp, f'cfg{rank}.py') if planted == 'custom_imports' else \
        osp.join(tmp, f'raising{rank}.py') if planted == 'raising' else osp.join(tmp, 'cfg0.py')
    found = outcome(lambda: reading_config_together(
        lambda: read_config(config), 'slurm', WHAT, checks=checks,
        checks_what="tools/train.py: importing automl_mm's modules", checks_advice='the same installed packages'))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)


def _run(tmp_path, monkeypatch, planted: str, allow_failed_imports: bool = False) -> list:
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'TORCHELASTIC_USE_AGENT_STORE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('MASTER_PORT', str(get_free_port()))
    (tmp_path / 'cfg0.py').write_text("env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=20))\n")
    (tmp_path / 'cfg1.py').write_text("custom_imports = dict(imports=['lacking_plugin.spaces'])\n"
                                      "env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=20))\n")
    (tmp_path / 'plugins').mkdir()
    (tmp_path / 'plugins' / 'node_ops.py').write_text(
        "import os\nif os.environ['SLURM_PROCID'] == '1':\n    raise RuntimeError('node_ops built for CUDA 12.1, "
        "this node has 11.8')\n")
    for rank in range(2):
        (tmp_path / f'raising{rank}.py').write_text(
            f"custom_imports = dict(imports=['node_ops'], allow_failed_imports={allow_failed_imports})\n"
            "env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=20))\n")
    fork_ranks(_rank, (str(tmp_path), planted), timeout=60)
    return [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]


def test_a_rank_whose_custom_imports_module_fails_is_named_by_its_module(tmp_path, monkeypatch):
    found = _run(tmp_path, monkeypatch, 'custom_imports')
    assert found[1] is not None and found[1].startswith(f"ImportError: {tmp_path / 'cfg1.py'}: custom_imports: no "
                                                        "module 'lacking_plugin.spaces'"), found
    assert found[0] is not None and found[0].startswith(
        "RankFailure: tools/train.py: importing the config's custom_imports module 'lacking_plugin.spaces' failed "
        'on rank 1 (on '), found
    assert 'reading the config file' not in found[0] and 'same config file' not in found[0], found
    assert found[0].endswith("each rank imports its config's custom_imports modules on its own node: give every node "
                             'the module lacking_plugin.spaces on its PYTHONPATH and the packages it imports)'), found


def test_a_rank_whose_own_checks_fail_is_named_by_the_checks(tmp_path, monkeypatch):
    found = _run(tmp_path, monkeypatch, 'checks')
    assert found[0] is not None and found[0].startswith(
        "RankFailure: tools/train.py: importing automl_mm's modules failed on rank 1 (on "), found
    assert found[0].endswith('(the same installed packages)'), found


@pytest.mark.parametrize('allow_failed_imports', [False, True])  # (mmengine's import, automl_mm's wrapper of it)
def test_a_rank_whose_custom_imports_module_raises_another_error_is_named_by_its_module(tmp_path, monkeypatch,
                                                                                       allow_failed_imports):
    """mmengine wraps only an ``ImportError`` of a ``custom_imports`` module (``Failed to import X``): one that
    raised anything else at import (an extension built for another CUDA: ``RuntimeError``; a ``SyntaxError`` of an
    older copy) reached the others as ``reading the config file failed``, with the advice to give every node the same
    config file (also under ``allow_failed_imports=True``, which lets only an ``ImportError`` through). The failing
    rank keeps the error as raised (its traceback: a plugin's own)."""
    found = _run(tmp_path, monkeypatch, 'raising', allow_failed_imports)
    assert found[1] == 'RuntimeError: node_ops built for CUDA 12.1, this node has 11.8', found
    assert found[0] is not None and found[0].startswith(
        "RankFailure: tools/train.py: importing the config's custom_imports module 'node_ops' failed on rank 1 (on "),\
        found
    assert found[0].endswith('RuntimeError: node_ops built for CUDA 12.1, this node has 11.8); every rank stops here '
                             "(each rank imports its config's custom_imports modules on its own node: give every node "
                             'the module node_ops on its PYTHONPATH and the packages it imports)'), found
