"""OHLHook's wiring of the random streams (METHODS.md §1, step 1): at a trunk start each space draws from a
generator of its own (seed, copy, trunk, space index), the same on every rank of a copy, and every segment re-seeds
the rank's global RNGs from (seed, copy, rank, trunk, epoch, iteration). Shown red by mutation: the hook passing
one space index for every space, copy 0 for every copy to the space generator, or copy 0 to the segment seeds."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook


class _Space(SimpleNamespace):
    """Records the first draws of the generator the hook hands it at the trunk start."""

    def reset_stats(self):
        pass

    def begin_trunk(self, runner, trunk, generator):
        self.draws = tuple(torch.randint(1000, (8,), generator=generator).tolist())

    def begin_segment(self, runner, segment):
        pass


def _start(copy_id: int, rank_in_copy: int, trunk: int = 0, epoch: int = 0, iteration: int = 0):
    """``(each space's draws, the global torch stream's first draws)`` after the hook starts a segment on this rank
    of 2 copies x 2 ranks."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name=n,
                                distribution=dict(type='Categorical', num_choices=2)) for n in ('a', 'b')],
                   num_copies=2, ranks_per_copy=2, reward_key='accuracy/top1', trunk_epochs=1, seed=0)
    hook.spaces = [_Space(name='a'), _Space(name='b')]
    hook.layout = CopyLayout(2, 2, copy_id * 2 + rank_in_copy, 4)
    hook.trunk = trunk
    hook._start_segment(SimpleNamespace(epoch=epoch, iter=iteration))
    return [s.draws for s in hook.spaces], tuple(torch.randint(1000, (8,)).tolist())


def test_each_space_and_copy_draws_its_own_trunk_sample_the_ranks_of_a_copy_the_same():
    (a0, b0), _ = _start(copy_id=0, rank_in_copy=0)
    assert a0 != b0  # two spaces of one copy: two streams
    assert _start(copy_id=0, rank_in_copy=1)[0] == [a0, b0]  # the other rank of the copy: the same samples
    (a1, b1), _ = _start(copy_id=1, rank_in_copy=0)
    assert a1 != a0 and b1 != b0  # another copy: other samples
    assert _start(copy_id=0, rank_in_copy=0, trunk=1)[0][0] != a0  # another trunk: another sample
    assert _start(copy_id=0, rank_in_copy=0)[0] == [a0, b0]  # the same seed: the same samples


def test_every_copy_and_rank_trains_on_its_own_global_stream_and_a_segment_restarts_it():
    streams = {(c, r): _start(c, r)[1] for c in range(2) for r in range(2)}
    assert len(set(streams.values())) == 4  # random transforms differ between copies and between ranks
    assert _start(1, 1)[1] == streams[1, 1]  # re-derived, not continued
    assert _start(1, 1, epoch=1, iteration=4)[1] != streams[1, 1]  # another segment, another stream
