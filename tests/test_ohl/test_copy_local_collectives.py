"""A copy's training step sees its own ranks as the world: torch.distributed's calls without a ``group`` (mmdet's
``reduce_mean`` of the positives that normalises the losses of FCOS, ATSS, GFL, TOOD, YOLOX, RTMDet and the DETR
heads) reduced over every copy, so each copy's loss was divided by the mean positive count of all copies. The world
is simulated here (no process group); ``test_broadcast.py`` runs mmdet's ``reduce_mean`` over a real gloo group."""
from __future__ import annotations

import inspect
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist

from automl_mm.ohl.copies import (
    CopyDataParallel,
    CopyLayout,
    ohl_copy_counts,
    temporary_copy_layout,
)
from automl_mm.ohl.copy_collectives import copy_local_collectives

_WORLD_CALLS = ('reduce', 'all_gather_into_tensor', 'reduce_scatter_tensor', 'reduce_scatter', 'gather', 'scatter',
                'all_to_all_single', 'barrier', 'all_gather_object')


class _World:
    """torch.distributed over 4 simulated ranks: the other ranks' tensors are ``others`` (summed in all_reduce)."""

    def __init__(self, others: float, copy_group: object) -> None:
        self.others, self.copy_group, self.calls = others, copy_group, []
        self.default_group = object()  # torch.distributed.group.WORLD, which mmengine.dist passes for group=None

    def get_world_size(self, group=None):
        return 2 if group is self.copy_group else 4

    def get_rank(self, group=None):
        return 1 if group is self.copy_group else 3

    def all_reduce(self, tensor, op=torch_dist.ReduceOp.SUM, group=None, async_op=False):
        self.calls.append(('all_reduce', group))
        if group is None or group is self.default_group:  # the whole world: every copy's ranks
            tensor.add_(self.others)

    def all_gather(self, tensor_list, tensor, group=None, async_op=False):
        self.calls.append(('all_gather', group))
        for t in tensor_list:
            t.copy_(tensor)

    def broadcast(self, tensor, src=None, group=None, async_op=False, group_src=None):
        self.calls.append(('broadcast', src, group))

    def patches(self):
        return [mock.patch.object(torch_dist, name, getattr(self, name))
                for name in ('get_world_size', 'get_rank', 'all_reduce', 'all_gather', 'broadcast')] + [
            mock.patch.object(torch_dist, 'is_initialized', lambda: True),
            mock.patch.object(torch_dist, 'GroupMember', SimpleNamespace(WORLD=self.default_group)),
            mock.patch('automl_mm.ohl.copies.is_distributed', lambda: True),
            mock.patch('automl_mm.ohl.copy_collectives.is_distributed', lambda: True)]


class _Head(torch.nn.Module):
    """A loss normalised as mmdet's dense heads do: ``num_pos = reduce_mean(num_pos)``."""

    def train_step(self, data, optim_wrapper):
        from mmdet.utils import reduce_mean

        return dict(num_pos=reduce_mean(torch.tensor(float(data))), world=torch_dist.get_world_size(),
                    rank=torch_dist.get_rank())


def _run(layout: CopyLayout, world: _World, num_pos: float) -> dict:
    patches = world.patches()
    for p in patches:
        p.start()
    try:
        with temporary_copy_layout(layout):
            return CopyDataParallel(_Head()).train_step(num_pos, None)
    finally:
        for p in reversed(patches):
            p.stop()


def test_a_copy_of_one_rank_normalises_its_loss_by_its_own_positives():
    """2 copies of 1 rank: copy 1 counted 6 positives, copy 0 (the 'world' rest) 2; mmdet's reduce_mean gave both
    copies 4 (the world mean), and gives copy 1 its own 6 now, as in a plain single-process run of that copy."""
    world = _World(others=2 / 4, copy_group=None)
    out = _run(CopyLayout(2, 1, rank=1, world_size=2), world, num_pos=6.0)
    assert float(out['num_pos']) == 6.0
    assert (out['world'], out['rank']) == (1, 0)
    assert world.calls == []  # nothing reached the other copy


def test_a_copy_of_several_ranks_reduces_over_its_own_process_group():
    """2 copies of 2 ranks (this is global rank 3, copy 1's second rank): the mean runs over the copy's group, the
    world size and rank are the copy's, and a broadcast from rank 0 comes from the copy's lead (global rank 2)."""
    group = object()
    world = _World(others=2.0, copy_group=group)
    layout = CopyLayout(2, 2, rank=3, world_size=4, group=group)
    patches = world.patches()
    for p in patches:
        p.start()
    try:
        with copy_local_collectives(layout):  # CopyDataParallel's step (its DDP needs a real group)
            out = _Head().train_step(6.0, None)
            assert float(out['num_pos']) == 3.0  # 6 / 2 ranks, summed over the copy's group (simulated: + 0)
            assert (out['world'], out['rank']) == (2, 1)
            assert world.calls == [('all_reduce', group)]
            torch_dist.broadcast(torch.zeros(1), 0)
            torch_dist.all_gather([torch.zeros(1), torch.zeros(1)], torch.ones(1))
            torch_dist.all_reduce(torch.zeros(1), group=world)  # an explicit group is left alone
        torch_dist.all_reduce(torch.zeros(1))  # after the block: the world's
    finally:
        for p in reversed(patches):
            p.stop()
    assert world.calls[1:] == [('broadcast', 2, group), ('all_gather', group), ('all_reduce', world),
                               ('all_reduce', None)]


def test_the_world_group_named_explicitly_is_the_copy_too():
    """``group=torch.distributed.group.WORLD`` (the default group: what mmengine's ``mmengine.dist`` functions pass
    for ``group=None``, and torch's ``SyncBatchNorm`` without a process group) was left alone as 'a named group':
    inside a copy's step it summed every copy's ranks (here + 2 from the other copy) and said world size 4, rank 3.
    Now it is the copy's group, as ``None`` is (gloo: test_broadcast.py)."""
    group = object()
    world = _World(others=2.0, copy_group=group)
    patches = world.patches()
    for p in patches:
        p.start()
    try:
        with copy_local_collectives(CopyLayout(2, 2, rank=3, world_size=4, group=group)):
            x = torch.ones(1)
            torch_dist.all_reduce(x, group=world.default_group)
            sizes = torch_dist.get_world_size(world.default_group), torch_dist.get_rank(group=world.default_group)
            torch_dist.broadcast(torch.zeros(1), 0, group=world.default_group)
        assert torch_dist.get_world_size(world.default_group) == 4  # after the block: the world
    finally:
        for p in reversed(patches):
            p.stop()
    assert float(x) == 1.0 and sizes == (2, 1)
    assert world.calls == [('all_reduce', group), ('broadcast', 2, group)]  # src 0: the copy's lead, rank 2


def test_the_wrappers_are_built_once_per_layout():
    """Each training step wrapped ~20 torch.distributed functions afresh: CopyLayout was an unhashable dataclass, so
    nothing could be kept per layout. It is frozen and hashable now; the same layout gets the same wrappers
    (timing: benchmarks/copy_local_wrappers.py)."""
    layout = CopyLayout(2, 1, rank=1, world_size=2)
    assert hash(layout) == hash(CopyLayout(2, 1, rank=1, world_size=2))
    with pytest.raises(AttributeError):
        layout.rank = 0  # frozen: a cached wrapper's layout cannot change under it
    seen = []
    with mock.patch('automl_mm.ohl.copy_collectives.is_distributed', lambda: True):
        for same in (layout, CopyLayout(2, 1, rank=1, world_size=2), CopyLayout(2, 1, rank=0, world_size=2)):
            with copy_local_collectives(same):
                seen.append((torch_dist.all_reduce, torch_dist.get_world_size))
                # an equal layout built anew reuses the wrappers, which then still act for it
                assert torch_dist.get_world_size() == 1
    assert seen[0] == seen[1] != seen[2]


def test_only_the_latest_layouts_wrappers_and_process_group_are_held():
    """The wrappers were kept in a dict per layout for the life of the process, and with them every run's layout and
    process group (runs one after another in a test session or a notebook). Only the latest layout's are held now."""
    import gc
    import weakref

    class Group:  # a process group stand-in that a weak reference can watch
        pass

    first, second = Group(), Group()
    gone = weakref.ref(first)
    with mock.patch('automl_mm.ohl.copy_collectives.is_distributed', lambda: True):
        for group in (first, second):
            with copy_local_collectives(CopyLayout(2, 1, rank=1, world_size=2, group=group)):
                pass
    del first, group
    gc.collect()
    assert gone() is None  # the first layout's group was let go
    from automl_mm.ohl import copy_collectives as copies
    assert copies._WRAPPERS[1] == CopyLayout(2, 1, rank=1, world_size=2, group=second)


def test_the_ohl_copy_counts_are_read_from_hook_configs_before_the_runner_builds_them():
    """CopyRunner builds the model inside the copy (test_broadcast.py) from the counts of its OHL hook's config."""
    from automl_mm.ohl.hook import OHLHook

    assert ohl_copy_counts([dict(type='CheckpointHook'), dict(type='OHLHook', num_copies=4)]) == (4, 1)
    assert ohl_copy_counts([dict(type='automl_mm.OHLHook', num_copies=2, ranks_per_copy=3)]) == (2, 3)
    assert ohl_copy_counts([dict(type=OHLHook, num_copies=2, ranks_per_copy=2)]) == (2, 2)
    assert ohl_copy_counts(None) is None and ohl_copy_counts([dict(type='CheckpointHook')]) is None
    # left to the hook's and the runner's own errors, which name the key
    assert ohl_copy_counts([dict(type='OHLHook', num_copies='2')]) is None
    assert ohl_copy_counts([dict(type='OHLHook', num_copies=2)] * 2) is None


def test_one_copy_and_a_plain_process_are_left_alone():
    """With one copy the world is the copy; outside a distributed run nothing is patched."""
    before = torch_dist.all_reduce
    with copy_local_collectives(CopyLayout(1, 2, rank=0, world_size=2)):
        assert torch_dist.all_reduce is before
    with copy_local_collectives(CopyLayout(2, 1, rank=0, world_size=2)):  # not distributed here
        assert torch_dist.all_reduce is before
    assert torch_dist.all_reduce is before


_REAL = {name: getattr(torch_dist, name) for name in _WORLD_CALLS}


class _WorldOfEveryCall(_World):
    """The simulated world of 4 ranks with torch.distributed's other collectives, each recording its group."""

    NAMES = _WORLD_CALLS

    def __getattr__(self, name):
        if name not in self.NAMES:
            raise AttributeError(name)

        signature = inspect.signature(_REAL[name])

        def collective(*args, **kwargs):
            call = signature.bind(*args, **kwargs).arguments
            self.calls.append((name, call.get('group'), call.get('dst', call.get('src'))))
        collective.__signature__ = signature
        return collective

    def patches(self):
        return super().patches() + [mock.patch.object(torch_dist, name, getattr(self, name)) for name in self.NAMES]


def test_every_collective_without_a_group_stays_in_the_copy():
    """A loss may reduce with other collectives than all_reduce (``reduce`` then a division by ``get_world_size()``,
    ``all_gather_into_tensor`` into a buffer sized by it): they reached every copy's ranks while get_world_size and
    get_rank already said the copy's, silently mixing copies. With one rank per copy they give the copy's own values;
    with several they run over the copy's group, ``dst`` / ``src`` read as ranks of the copy."""
    world = _WorldOfEveryCall(others=0.0, copy_group=None)
    patches = world.patches()
    for p in patches:
        p.start()
    try:
        with copy_local_collectives(CopyLayout(2, 1, rank=1, world_size=2)):
            x = torch.tensor([1.0, 2.0])
            torch_dist.reduce(x, dst=0)
            out = torch.zeros(torch_dist.get_world_size() * 2)
            torch_dist.all_gather_into_tensor(out, x)
            assert out.tolist() == [1.0, 2.0]
            one = torch.zeros(2)
            torch_dist.reduce_scatter_tensor(one, x)
            assert one.tolist() == [1.0, 2.0]
            part = torch.zeros(2)
            torch_dist.reduce_scatter(part, [x * 3])
            assert part.tolist() == [3.0, 6.0]
            gathered = [torch.zeros(2)]
            torch_dist.gather(x, gathered, dst=0)
            assert gathered[0].tolist() == [1.0, 2.0]
            got = torch.zeros(2)
            torch_dist.scatter(got, [x * 2], src=0)
            assert got.tolist() == [2.0, 4.0]
            swapped = torch.zeros(2)
            torch_dist.all_to_all_single(swapped, x)
            assert swapped.tolist() == [1.0, 2.0]
            torch_dist.barrier()
            with pytest.raises(ValueError, match=r"a list of 2 tensors inside an OHL copy of one rank"):
                torch_dist.all_gather([torch.zeros(2), torch.zeros(2)], x)  # sized by the world: half left empty
            objects = [None]
            torch_dist.all_gather_object(objects, {'n': 3})
            assert objects == [{'n': 3}]
        assert world.calls == []  # nothing reached the other copy
        group = object()
        world = _WorldOfEveryCall(others=0.0, copy_group=group)
        for p in reversed(patches):
            p.stop()
        patches = world.patches()
        for p in patches:
            p.start()
        with copy_local_collectives(CopyLayout(2, 2, rank=3, world_size=4, group=group)):
            torch_dist.reduce(torch.zeros(1), dst=0)
            torch_dist.gather(torch.zeros(1), dst=1)
            torch_dist.barrier()
            torch_dist.reduce(torch.zeros(1), dst=0, group=world)  # an explicit group is left alone
        assert world.calls == [('reduce', group, 2), ('gather', group, 3), ('barrier', group, None),
                               ('reduce', world, 0)]
    finally:
        for p in reversed(patches):
            p.stop()


def test_a_function_that_cannot_be_wrapped_leaves_none_of_them_patched():
    """The functions were patched one by one before the block's try: one whose signature cannot be read (here
    ``reduce``, replaced by another library) raised with the earlier ones (``all_reduce``, ``get_world_size``)
    left pointing at the copy for the rest of the process, silently (evaluation and hooks then reduced over one
    copy)."""
    class Unreadable:
        __signature__ = 'not a signature'

        def __call__(self, *args, **kwargs):
            return None

    before = torch_dist.all_reduce, torch_dist.get_world_size
    with mock.patch.object(torch_dist, 'reduce', Unreadable()), \
            mock.patch('automl_mm.ohl.copy_collectives.is_distributed', lambda: True), \
            mock.patch.object(torch_dist, 'all_reduce', before[0]), \
            mock.patch.object(torch_dist, 'get_world_size', before[1]):  # put back for the next tests, whatever
        with pytest.raises(TypeError):
            with copy_local_collectives(CopyLayout(2, 1, rank=1, world_size=2)):
                pass
        assert (torch_dist.all_reduce, torch_dist.get_world_size) == before


def test_functions_bound_at_import_are_the_copys_for_the_block_only(monkeypatch):
    """``from torch.distributed import get_world_size`` in a module outside torch kept the world's function inside a
    copy's step (4 in a world of 2 copies of 2 ranks); it is the copy's inside the block and the world's after it.
    An object in ``sys.modules`` whose namespace cannot be read is passed over (gloo: test_broadcast.py)."""
    import sys
    import types

    class Unreadable(types.ModuleType):
        @property
        def __dict__(self):
            raise RuntimeError('a lazy module that fails to load')

    bound = types.ModuleType('_bound_at_import')
    world = _World(others=0.0, copy_group=object())
    patches = world.patches()
    for p in patches:
        p.start()
    try:
        bound.get_world_size = torch_dist.get_world_size
        monkeypatch.setitem(sys.modules, bound.__name__, bound)
        monkeypatch.setitem(sys.modules, '_unreadable', Unreadable('_unreadable'))
        with copy_local_collectives(CopyLayout(2, 2, rank=3, world_size=4, group=world.copy_group)):
            inside = bound.get_world_size()
        after = bound.get_world_size()
    finally:
        for p in reversed(patches):
            p.stop()
    assert (inside, after) == (2, 4)


def test_the_copy_counts_resolve_the_hook_in_the_runners_scope_not_an_earlier_runners():
    """CopyRunner reads its OHL hook's counts before Runner.__init__ sets its default scope: resolved in the
    scope of the process's latest runner (an mmdet detector built earlier, default_scope='mmdet'), an unprefixed
    'OHLHook' of an automl_mm config was not found, and the model was built in the world's view, silently."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.copies import runner_copy_counts

    hooks = [dict(type='OHLHook', num_copies=2)]
    with DefaultScope.overwrite_default_scope('mmdet'):  # an earlier runner's scope is the current one
        assert runner_copy_counts((), dict(model=dict(), work_dir='w', custom_hooks=hooks,
                                           default_scope='automl_mm')) == (2, 1)
        # Runner.__init__'s own default is 'mmengine', whose registry holds no OHLHook (as when it builds the hooks)
        assert runner_copy_counts((), dict(model=dict(), work_dir='w', custom_hooks=hooks)) is None
        assert runner_copy_counts((), dict(model=dict(), work_dir='w', no_such_argument=1)) is None
