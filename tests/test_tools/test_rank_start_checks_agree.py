"""What a rank of ``tools/test.py`` / ``tools/train.py`` checks of its own node before the config is read:
``--show``'s display (matplotlib's backend on that node) and the import of automl_mm's modules
(``register_all_modules``: a package missing or broken on one node). Each refused on its node alone, while the other
ranks waited for it in the rendezvous until ``env_cfg.dist_cfg.timeout``, naming nothing; both are now part of the
reading agreed on through the launcher's store (``reading_config_together``): the failing rank raises its own error,
the others a ``RankFailure`` naming it. 2 forked ranks of the tool under torchrun's variables; no process group
starts."""
from __future__ import annotations

import pytest
from _forked_ranks import fork_ranks, rank_outcomes, tool_rank
from torch.distributed.elastic.utils.distributed import get_free_port

CONFIG = '''
default_scope = 'mmengine'
model = dict(type='BaseModel')
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=20))
'''


def _rank(rank: int, tool: str, tmp: str, port: int, argv: list[str], planted: str) -> None:
    if rank == 1 and planted == 'display':  # this node has no display: matplotlib fell back to agg
        import matplotlib

        matplotlib.get_backend = lambda: 'agg'
    elif rank == 0 and planted == 'display':  # the other has one
        import matplotlib

        matplotlib.get_backend = lambda: 'TkAgg'
    if rank == 1 and planted == 'import':
        import automl_mm.utils

        def register_all_modules(init_default_scope=True):
            raise ImportError("planted: cannot import name 'DetDataSample' from 'mmdet.structures'")
        automl_mm.utils.register_all_modules = register_all_modules  # the tool imports it from here
    tool_rank(rank, tool, tmp, port, argv)


@pytest.mark.slow  # about 5 s each on 2 shared cores: the tool's imports and automl_mm's registration in each rank
@pytest.mark.parametrize('tool, planted, cause', [
    ('test', 'display', "RuntimeError: --show shows each test image in a window, but matplotlib's backend here is "
                        "'agg'"),
    ('train', 'import', "ImportError: planted: cannot import name 'DetDataSample' from 'mmdet.structures'")])
def test_a_rank_failing_its_own_start_check_stops_every_rank(tmp_path, monkeypatch, tool, planted, cause):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    (tmp_path / 'cfg.py').write_text(CONFIG)
    argv = [str(tmp_path / 'cfg.py')] + ([str(tmp_path / 'model.pth')] if tool == 'test' else [])
    argv += ['--work-dir', str(tmp_path / 'work'), '--launcher', 'pytorch']
    argv += ['--show'] if planted == 'display' else []
    fork_ranks(_rank, (tool, str(tmp_path), get_free_port(), argv, planted), timeout=120)
    found = rank_outcomes(tmp_path)
    assert found[1] is not None and found[1].startswith(cause), found
    # named by what failed there, not 'reading the config file'
    checked = "checking the display (--show) and importing automl_mm's modules" if planted == 'display' else \
        "importing automl_mm's modules"
    assert found[0] is not None and found[0].startswith(
        f'RankFailure: tools/{tool}.py: {checked} failed on rank 1 (on '), found
    assert f': {cause}' in found[0], found
    advice = ("each rank imports automl_mm's modules and checks its display (--show) on its own node: give every node "
              'the same installed packages and a display' if planted == 'display' else
              "each rank imports automl_mm's modules on its own node: give every node the same installed packages")
    assert f'every rank stops here ({advice}' in found[0], found  # not 'give every node the same config file'
    assert not (tmp_path / 'work').exists()
