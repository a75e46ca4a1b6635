"""A rank whose runner fails to build (inside mmengine's ``Runner.__init__``: the model's constructor, after the
process group started and the runner's seed broadcast) left the other ranks in the runner's next collective (DDP's
broadcast of the parameters): over gloo they failed with the backend's bare ``Connection closed by peer``, over NCCL
they waited until the process group's timeout, naming nothing. ``tools/train.py`` and ``tools/test.py`` agreed on a
failure only from ``runner.train()`` / ``runner.test()`` on (``naming_first_failure``); the runner's build and the
checks of the built runner are inside it now. 2 forked gloo ranks run ``tools/train.py``'s ``run`` and
``tools/test.py``'s ``main`` (their start checks and the reading of the config, tested elsewhere, left out) with a
model whose constructor raises on rank 1."""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp

import pytest
from _forked_ranks import fork_ranks, load_tool, torchrun_env
from torch.distributed.elastic.utils.distributed import get_free_port

CAUSE = 'OSError: BuildFailsOnRankOne: the pretrained weights are not on this node'



def _run_tool_and_record(tool, tool_name: str, cfg, tmp: str, rank: int) -> None:
    """Run ``tools/train.py``'s ``run(cfg)`` or ``tools/test.py``'s ``main`` (the runner is built there; what comes
    before the process group is left out) on ``cfg``, write the error it raised (or ``None``) to
    ``<tmp>/rank<rank>.json`` and leave the process at once: a rank of a failed run whose process group is still up
    may abort at exit (gloo's threads)."""
    try:
        if tool_name == 'train':
            tool.run(cfg)
        else:
            tool.reading_config_together = lambda read, *args, **kwargs: cfg
            tool.checking_own_files_together = lambda *args: contextlib.nullcontext()
            tool._check_checkpoint_and_config = lambda *args: None
            tool.main([osp.join(tmp, 'cfg.py'), osp.join(tmp, 'weights.pth'), '--work-dir', cfg.work_dir,
                       '--launcher', 'pytorch'])
        found = None
    except Exception as err:  # noqa: BLE001 (recorded for the test)
        found = f'{type(err).__name__}: {err}'
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    os._exit(0)

def _rank(rank: int, tmp: str, port: int, tool_name: str) -> None:
    import torch
    from mmengine.config import Config
    from mmengine.model import BaseModel
    from mmengine.registry import MODELS

    @MODELS.register_module(force=True)
    class BuildFailsOnRankOne(BaseModel):
        def __init__(self, data_preprocessor=None):
            super().__init__(data_preprocessor)
            if os.environ['RANK'] == '1':
                raise OSError('BuildFailsOnRankOne: the pretrained weights are not on this node')
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return []

    os.environ.update(torchrun_env(rank, port))
    tool = load_tool(tool_name)
    tool.register_all_modules = lambda **kwargs: None  # mmdet's modules (2 s a rank): the test's model is mmengine's
    cfg = Config(dict(
        default_scope='mmengine', launcher='pytorch', work_dir=osp.join(tmp, 'work'),
        model=dict(type='BuildFailsOnRankOne'),
        model_wrapper_cfg=dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False),
        env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=30)), log_level='WARNING'))
    _run_tool_and_record(tool, tool_name, cfg, tmp, rank)


@pytest.mark.slow  # 2 forked gloo ranks a tool: some 2 s each on idle cores (tools/test.py's imports), 10 s loaded
@pytest.mark.parametrize('tool, what', [('train', 'tools/train.py: the run'), ('test', 'tools/test.py: the test')])
def test_every_rank_names_the_rank_whose_runner_failed_to_build(tmp_path, tool, what):
    fork_ranks(_rank, (str(tmp_path), get_free_port(), tool), timeout=120)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert found[1] == CAUSE, found
    # rank 0 was in DDP's broadcast when rank 1 left: its error names rank 1's, not only the backend's
    assert found[0] is not None and found[0].startswith(f'RankFailure: {what} failed on rank 1 ({CAUSE}); this rank '
                                                        'stopped with it ('), found


RUN_CAUSE = "OSError: OwnGroupRunner: rank 1's run failed"


class OwnGroupRunner:
    """A runner that starts its own process group as it is built (as FlexibleRunner's strategies do: the tools'
    join_process_group leaves it to the runner), whose run fails on rank 1 while rank 0 waits in a barrier."""

    def __init__(self, cfg):
        import datetime

        import torch
        import torch.distributed as torch_dist

        torch_dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=30))
        self.model = torch.nn.Linear(2, 1)

    @classmethod
    def from_cfg(cls, cfg):
        return cls(cfg)

    def register_hook(self, hook, priority='NORMAL'):
        pass

    def _run(self):
        import torch.distributed as torch_dist

        if os.environ['RANK'] == '1':
            raise OSError("OwnGroupRunner: rank 1's run failed")
        torch_dist.barrier()  # rank 1 has left: gloo's 'Connection closed by peer' here
        return {}

    train = test = _run


def _own_group_rank(rank: int, tmp: str, port: int, tool_name: str) -> None:
    from mmengine.config import Config
    from mmengine.registry import RUNNERS

    RUNNERS.register_module(module=OwnGroupRunner, force=True)
    os.environ.update(torchrun_env(rank, port))
    tool = load_tool(tool_name)
    tool.register_all_modules = lambda **kwargs: None
    cfg = Config(dict(default_scope='mmengine', launcher='pytorch', runner_type='OwnGroupRunner',
                      work_dir=osp.join(tmp, 'work'), env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=30)),
                      log_level='WARNING'))
    _run_tool_and_record(tool, tool_name, cfg, tmp, rank)


@pytest.mark.slow  # 2 forked gloo ranks a tool, as above
@pytest.mark.parametrize('tool, what', [('train', 'tools/train.py: the run'), ('test', 'tools/test.py: the test')])
def test_a_rank_failing_in_the_run_of_a_runner_that_starts_its_own_group_is_named(tmp_path, tool, what):
    """9076d9c entered naming_first_failure before the runner's build: for a runner that starts its own process
    group (join_process_group False: FlexibleRunner) no group existed there yet, so the whole block ran plainly and
    a rank failing in runner.train() / test() was no longer named on the others (it was before: the block began after
    the build). Such a runner is built first again."""
    fork_ranks(_own_group_rank, (str(tmp_path), get_free_port(), tool), timeout=120)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert found[1] == RUN_CAUSE, found
    assert found[0] is not None and found[0].startswith(f'RankFailure: {what} failed on rank 1 ({RUN_CAUSE}); this '
                                                        'rank stopped with it ('), found
