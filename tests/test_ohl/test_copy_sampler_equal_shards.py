"""``CopySampler(round_up=False)`` with several ranks per copy and a training set whose length they do not divide:
the ranks of a copy took shards of different lengths (5 samples, 2 ranks: 3 and 2), so with batches of one they ran
different numbers of iterations per epoch, and the longer ranks waited forever in the copy's DDP all-reduce (the
trunks, counted from ``len(train_dataloader)``, ended at other iterations too). Refused when the sampler is built
in every worker, and by ``check_config`` in the launching process, naming ``train_dataloader.sampler.round_up``."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl.copies import CopyLayout, CopySampler, temporary_copy_layout

from conftest import tiny_ohl_cfg

WORDS = r'train_dataloader.sampler.round_up=False with ranks_per_copy=2 and 5 training samples.*3 and 2 samples'


def _shards(n: int, round_up: bool, num_copies: int = 2, ranks_per_copy: int = 2) -> list[list[int]]:
    shards = []
    for rank in range(num_copies * ranks_per_copy):
        with temporary_copy_layout(CopyLayout(num_copies, ranks_per_copy, rank, num_copies * ranks_per_copy)):
            sampler = CopySampler(list(range(n)), seed=0, round_up=round_up)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1])
    return shards


def test_unequal_shards_of_a_copy_are_refused_when_the_sampler_is_built():
    with pytest.raises(ValueError, match=WORDS):
        _shards(5, round_up=False)


@pytest.mark.parametrize('n, round_up', [(5, True), (6, False), (6, True)])
def test_the_ranks_of_a_copy_take_equal_shards_that_cover_the_set(n, round_up):
    shards = _shards(n, round_up)
    assert len({len(s) for s in shards}) == 1
    for copy in range(2):
        assert set(shards[2 * copy] + shards[2 * copy + 1]) == set(range(n))
    if not round_up:  # each sample once per copy
        assert sorted(shards[0] + shards[1]) == list(range(n))


def test_one_rank_per_copy_needs_no_equal_division():
    assert [len(s) for s in _shards(5, round_up=False, num_copies=3, ranks_per_copy=1)] == [5, 5, 5]


def test_check_config_refuses_unequal_shards_at_start(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].update(num_copies=1, ranks_per_copy=2)
    cfg.train_dataloader.dataset.max_samples = 5
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.sampler = dict(type='CopySampler', shuffle=True, round_up=False)
    with pytest.raises(ConfigCheckError, match=WORDS + r'.*\(CopySampler\)$'):
        check_config(cfg)
    cfg.train_dataloader.dataset.max_samples = 6
    check_config(cfg)
