"""The trunk-end broadcast of the best copy's optimiser / scheduler / hook state keeps every container's type on the
receiving ranks (``sync.broadcast_state``), over a real gloo process group."""
from __future__ import annotations

import os.path as osp
from collections import Counter, OrderedDict, defaultdict, namedtuple

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo

from automl_mm.ohl.sync import map_containers

Step = namedtuple('Step', ['count', 'value'])


def _state(rank: int) -> dict:
    """A state whose every value differs between the ranks, in dict subclasses, a namedtuple and real schedulers'."""
    from mmengine.optim import MultiStepLR as MMMultiStepLR

    def sgd():
        return torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)

    torch_scheduler = torch.optim.lr_scheduler.MultiStepLR(sgd(), milestones=[rank + 2, rank + 4])
    mm_scheduler = MMMultiStepLR(sgd(), milestones=[rank + 3])
    factory = defaultdict(list, {'a': [torch.full((2,), float(rank))]})
    return {
        'torch_multistep': torch_scheduler.state_dict(),
        'mmengine_multistep': mm_scheduler.state_dict(),
        'ordered': OrderedDict([('b', torch.tensor(rank)), ('a', rank)]),
        'factory': factory,
        'step': Step(torch.tensor([rank, rank]), rank * 0.5),
        'counter': Counter({'x': rank + 1}),
    }


def _typed(obj):
    """``obj`` as nested ``(type, content)`` pairs, so that ``==`` compares types as well as values."""
    if isinstance(obj, dict):
        extra = obj.default_factory if isinstance(obj, defaultdict) else None
        return type(obj), extra, [(k, _typed(v)) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return type(obj), [_typed(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return type(obj), obj.dtype, obj.tolist()
    return type(obj), obj


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from automl_mm.ohl.sync import broadcast_state

    join_gloo(rank, 2, init_file)
    received = broadcast_state(_state(rank), src=1)
    torch.save(_typed(received), osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


def test_map_containers_keeps_dict_subclasses_namedtuples_and_sequences():
    state = _state(0)
    assert _typed(map_containers(state, lambda v: v)) == _typed(state)
    doubled = map_containers(Step(1, 2), lambda v: 2 * v)
    assert type(doubled) is Step and doubled == (2, 4)
    factory = map_containers(defaultdict(int, a=1), lambda v: v + 1)
    assert type(factory) is defaultdict and factory.default_factory is int and factory == {'a': 2}


def test_receiving_ranks_get_the_senders_state_in_type_and_value(tmp_path):
    """Rank 0 received a plain dict for torch's and mmengine's ``MultiStepLR`` ``milestones`` (a ``Counter``), the
    ``OrderedDict``, the ``defaultdict``; the namedtuple failed to rebuild (``Step`` from one generator)."""
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    import mmengine.optim  # noqa: F401

    import automl_mm.ohl.sync  # noqa: F401
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    r0, r1 = (torch.load(str(tmp_path / f'rank{r}.pth'), weights_only=False) for r in range(2))
    assert r1 == _typed(_state(1))  # the sender kept its own
    assert r0 == r1
    for scheduler in ('torch_multistep', 'mmengine_multistep'):
        assert dict(dict(r0[2])[scheduler][2])['milestones'][0] is Counter
