"""Local workers (tools/train.py without --launcher): how they start and what they inherit."""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.launch import launch_local, start_method


def _report(cfg_path: str) -> None:
    """A worker's ``main``: write what it sees next to the dumped config."""
    import mmengine.runner.checkpoint

    from automl_mm.engine.resume import save_checkpoint_atomic

    rank = os.environ['RANK']
    with open(osp.join(osp.dirname(cfg_path), f'rank{rank}.json'), 'w') as f:
        json.dump(dict(world_size=os.environ['WORLD_SIZE'], parent=os.getppid(),
                       patched=mmengine.runner.checkpoint.save_checkpoint is save_checkpoint_atomic), f)


@pytest.mark.slow  # starts a fork server that imports automl_mm (about 10 s on 2 busy cores)
def test_cpu_workers_are_forked_from_a_preloaded_server_and_keep_the_patches(tmp_path):
    assert start_method() == 'forkserver'  # CPUs on Linux; CUDA or a platform without it: 'spawn'
    launch_local(Config(dict(work_dir=str(tmp_path))), 2, _report)
    reports = [json.loads((tmp_path / f'rank{rank}.json').read_text()) for rank in (0, 1)]
    assert [r['world_size'] for r in reports] == ['2', '2']
    assert all(r['patched'] for r in reports)  # the server imported automl_mm, which installs the patches
    assert reports[0]['parent'] == reports[1]['parent'] != os.getpid()  # the OS parent is the server, not this process
