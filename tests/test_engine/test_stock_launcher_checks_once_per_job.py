"""Under a stock distributed launch (mmdet's ``dist_train.sh``: a process group of several ranks) the start-of-run
checks of a config-built runner ran in every rank: each rank read every COCO annotation file once more (a
``json.load`` of COCO train2017's 450 MB per GPU) for the same verdict. Rank 0 checks now, and every rank raises its
error (2 gloo processes)."""
from __future__ import annotations

import os
import os.path as osp
from types import SimpleNamespace

from _forked_ranks import fork_ranks, join_gloo, outcome


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as torch_dist

    from automl_mm.engine import preflight
    from automl_mm.engine.preflight_walk import ConfigCheckError

    join_gloo(rank, 2, init_file)
    for case in ('pass', 'fail'):
        def check_config(cfg, test_only=False, case=case):
            open(osp.join(out_dir, f'{case}_checked_by_rank{rank}'), 'w').close()
            if case == 'fail':
                raise ConfigCheckError('train_cfg.max_epochs: a bad value')

        preflight.check_config = check_config
        _check({}, osp.join(out_dir, f'{case}_outcome_rank{rank}'))
    torch_dist.destroy_process_group()


def _check(cfg: dict, path: str) -> None:
    """Run the start checks of a runner of ``cfg`` (``runner_checks._run_checks``, as a stock launch's runner runs
    them) and write ``'passed'`` or what they raised (:func:`~_forked_ranks.outcome`) to ``path``."""
    from automl_mm.engine import runner_checks

    with open(path, 'w') as f:
        f.write(outcome(lambda: runner_checks._run_checks(SimpleNamespace(cfg=cfg, model=None), 'train')) or 'passed')


def test_rank_0_checks_and_every_rank_raises_its_error(tmp_path):
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    import automl_mm.engine.preflight  # noqa: F401
    import automl_mm.engine.preflight_walk  # noqa: F401
    import automl_mm.engine.runner_checks  # noqa: F401
    out = tmp_path / 'out'
    out.mkdir()
    fork_ranks(_worker, (str(tmp_path / 'init'), str(out)))
    for case, expected in (('pass', 'passed'), ('fail', 'ConfigCheckError: train_cfg.max_epochs: a bad value')):
        assert sorted(n for n in os.listdir(out) if n.startswith(f'{case}_checked')) == [f'{case}_checked_by_rank0']
        assert [(out / f'{case}_outcome_rank{r}').read_text() for r in range(2)] == [expected] * 2


def _worker_other_config(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as torch_dist

    from automl_mm.engine import preflight

    join_gloo(rank, 2, init_file)
    preflight.check_config = lambda cfg, **kw: open(osp.join(out_dir, f'checked_by_rank{rank}'), 'w').close()
    cfg = {'train_cfg': {'max_epochs': 12 + rank}, 'model': {'type': 'M'}}  # node 1's config was not synced
    _check(cfg, osp.join(out_dir, f'outcome_rank{rank}'))
    torch_dist.destroy_process_group()


def test_ranks_with_other_configs_stop_before_rank_0_checks_for_all(tmp_path):
    """Rank 0's verdict stood for every rank although node 1 had read another config."""
    out = tmp_path / 'out'
    out.mkdir()
    fork_ranks(_worker_other_config, (str(tmp_path / 'init'), str(out)))
    assert not [n for n in os.listdir(out) if n.startswith('checked')]
    for rank in range(2):
        assert 'the config differs between ranks [0] (on' in (out / f'outcome_rank{rank}').read_text()
        assert 'top-level key train_cfg (' in (out / f'outcome_rank{rank}').read_text()
