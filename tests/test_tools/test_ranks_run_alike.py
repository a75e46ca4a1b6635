"""Every process of a torchrun / srun job reads the config and imports the code on its own node: a node with another
--cfg-options value (or config file, checkout, packages) trained another model or searched another space, with
collectives that matched by shape (silently wrong results) or not (a hang far from the cause). tools/train.py now
compares them on real gloo process groups before the runner is built, and stops naming what differs."""
from __future__ import annotations

import os
import os.path as osp
import socket

import pytest
from _forked_ranks import fork_ranks, load_tool, torchrun_env
from torch.distributed.elastic.utils.distributed import get_free_port

from conftest import REPO_ROOT, run_tool

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _worker(rank: int, port: int, work_dir: str, options: list[list[str]], out: str) -> None:
    """One torchrun-like process: its own command line through tools/train.py's build_config, then the check."""
    import sys

    from automl_mm.engine.rank_agreement import check_ranks_run_alike, join_process_group

    os.environ.update(torchrun_env(rank, port))
    tool = load_tool('train')
    results = []
    for case in options:
        sys.argv = ['tools/train.py', DIGITS, '--launcher', 'pytorch', '--work-dir', work_dir, '--cfg-options',
                    *case[rank]]
        cfg = tool.build_config(tool.parse_args())
        assert join_process_group(cfg)  # the launcher's process group, before any runner
        try:
            check_ranks_run_alike(cfg)
            results.append('passed')
        except RuntimeError as err:
            results.append(str(err))
    with open(f'{out}.{rank}', 'w') as f:
        f.write('\n'.join(results))




def test_two_gloo_ranks_with_one_other_cfg_option_stop_naming_the_key(tmp_path):
    same = ['train_cfg.max_epochs=2']
    cases = [(same, same),  # what tools/train.py resolves in each process agrees: nothing per rank differs
             (same, ['train_cfg.max_epochs=3'])]  # node 1's command line was not updated
    out = str(tmp_path / 'result')
    fork_ranks(_worker, (get_free_port(), str(tmp_path / 'work'), cases, out))
    for rank in range(2):
        with open(f'{out}.{rank}') as f:
            results = f.read().split('\n')
        assert results[0] == 'passed'
        assert ('the config differs between ranks [0] (on {host}) and ranks [1] (on {host}): top-level key '
                'train_cfg ('.format(host=socket.gethostname())) in results[1]  # every rank raises it


@pytest.mark.slow
def test_torchrun_with_another_config_value_on_one_rank_stops_before_building_the_runner(tmp_path):
    """torchrun runs one command line; the config reads the rank (mmengine's {{$VAR}} substitution) as a node whose
    config file was edited and not synced would."""
    cfg = tmp_path / 'per_rank.py'
    cfg.write_text(f"_base_ = {DIGITS!r}\noptim_wrapper = dict(optimizer=dict(lr=0.05 * (1 + {{{{'$RANK:0'}}}})))\n")
    proc = run_tool('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(get_free_port()),
                    'tools/train.py', str(cfg), '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'work'),
                    check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for rank in range(2):
        assert (f'[rank{rank}]: tools/train.py: error: the processes of this run do not run the same thing (each one '
                'read the config and imported the code on its own node): the config differs between ranks [0] (on') \
            in out, out[-3000:]
    assert 'and ranks [1] (on' in out and 'top-level key optim_wrapper (' in out
    assert 'Sync the automl_mm checkout and the config files to every node' in out
    assert 'Epoch(train)' not in out and 'Checkpoints will be saved' not in out  # before the runner was built
