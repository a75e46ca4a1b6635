"""``CopySampler(round_up=False)`` with several ranks per copy and a training set whose length they do not divide:
the ranks of a copy took shards of different lengths (5 samples, 2 ranks: 3 and 2), so with batches of one they ran
different numbers of iterations per epoch, and the longer ranks waited forever in the copy's DDP all-reduce (the
trunks, counted from ``len(train_dataloader)``, ended at other iterations too). Refused by ``OHLHook``'s start
checks in every worker (the sampler itself is built without the batch size) and by ``check_config`` in the
launching process, naming ``train_dataloader.sampler.round_up``, only where the two shard lengths make different
numbers of batches: 26 and 25 samples at ``batch_size=16`` (2 batches on each rank) used to be refused too."""
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


def _loader(n: int, batch_size: int, drop_last: bool = False, rank: int = 0):
    """A DataLoader over ``CopySampler(round_up=False)`` as rank ``rank`` of one copy of 2 ranks builds it."""
    from torch.utils.data import DataLoader

    with temporary_copy_layout(CopyLayout(1, 2, rank, 2)):
        sampler = CopySampler(list(range(n)), seed=0, round_up=False)
    return DataLoader(list(range(n)), batch_size=batch_size, sampler=sampler, drop_last=drop_last)


@pytest.mark.parametrize('n, batch_size, drop_last', [(51, 16, False), (5, 4, False), (33, 16, True)])
def test_uneven_shards_with_the_same_batch_count_are_accepted(n, batch_size, drop_last):
    """51 samples on 2 ranks at batches of 16: shards of 26 and 25, 2 batches on each rank (drop_last: 33 -> 17
    and 16, one batch each, where without drop_last 17 would make two): every rank runs the same iterations, so
    nothing hangs."""
    from automl_mm.ohl.checks import check_copy_shards

    loaders = [_loader(n, batch_size, drop_last, rank) for rank in range(2)]
    assert len({len(loader) for loader in loaders}) == 1
    assert len({len(loader.sampler) for loader in loaders}) == 2
    for loader in loaders:
        check_copy_shards(loader)


def test_uneven_shards_with_a_batch_more_are_refused_at_the_hook_start():
    from automl_mm.ohl.checks import check_copy_shards

    with pytest.raises(ValueError, match=WORDS + r'.*batch_size=2: 2 and 1 iterations'):
        check_copy_shards(_loader(5, 2))


def test_check_config_accepts_uneven_shards_with_the_same_batch_count(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].update(num_copies=1, ranks_per_copy=2)
    cfg.train_dataloader.dataset.max_samples = 51
    cfg.train_dataloader.sampler = dict(type='CopySampler', shuffle=True, round_up=False)
    check_config(cfg)  # batch_size 16: 26 and 25 samples, 2 batches on each rank
    cfg.train_dataloader.batch_size = 25
    with pytest.raises(ConfigCheckError, match=r'51 training samples.*26 and 25 .*batch_size=25: 2 and 1 iter'):
        check_config(cfg)


def test_the_ohl_start_checks_refuse_a_batch_more_on_one_rank():
    """``check_train_setup`` (``OHLHook.before_train``, in every worker) runs the shard check on the built loader."""
    from types import SimpleNamespace

    import torch

    from automl_mm.ohl.checks import check_train_setup

    layout = CopyLayout(1, 2, 0, 2)
    runner = SimpleNamespace(train_loop=object(), model=torch.nn.Linear(1, 1), hooks=[], optim_wrapper=None,
                             train_dataloader=_loader(51, 16))
    check_train_setup(runner, layout, trunk_epochs=1)
    runner.train_dataloader = _loader(51, 25)
    with pytest.raises(ValueError, match=r'26 and 25 samples per epoch \(at batch_size=25: 2 and 1 iterations\)'):
        check_train_setup(runner, layout, trunk_epochs=1)


def test_a_batch_sampler_is_read_as_the_config_check_reads_it():
    """A ``batch_sampler`` keeping its last batch batches at its own ``batch_size`` (51 at 16: accepted); one that
    drops it (mmdet's ``AspectRatioBatchSampler`` drops what its groups leave over) is unknown batching: any uneven
    split is refused, naming no iteration counts."""
    from torch.utils.data import BatchSampler, DataLoader

    from automl_mm.ohl.checks import check_copy_shards

    sampler = _loader(51, 16).sampler
    check_copy_shards(DataLoader(list(range(51)), batch_sampler=BatchSampler(sampler, 16, drop_last=False)))
    with pytest.raises(ValueError, match=r'26 and 25 samples per epoch; under an epoch loop'):
        check_copy_shards(DataLoader(list(range(51)), batch_sampler=BatchSampler(sampler, 16, drop_last=True)))


def test_uneven_shards_iterated_unchecked_warn_once():
    """Built without ``OHLHook`` (a loop of one's own over ``init_copy_layout``), uneven shards used to be refused
    when the sampler was built; unchecked they now warn when iterated, not after ``check_copy_shards`` passed."""
    import warnings

    from automl_mm.ohl.checks import check_copy_shards

    unchecked = _loader(5, 2).sampler
    with pytest.warns(UserWarning, match=r'shards of 3 and 2 of 5 samples, not checked.*check_copy_shards'):
        list(unchecked)
    checked = _loader(51, 16)
    check_copy_shards(checked)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        list(unchecked), list(checked.sampler)  # once only; checked: silent


def test_a_sampler_on_a_copy_runners_layout_does_not_warn_before_the_hooks_check(monkeypatch):
    """mmengine's ``IterBasedTrainLoop`` starts its loader's workers when the loop is built, before ``OHLHook``'s
    start checks: they draw from the sampler of a ``CopyRunner``'s layout, which its hook checks next (no warning)."""
    import warnings

    from automl_mm.ohl import copies

    layout = CopyLayout(1, 2, 0, 2)
    monkeypatch.setattr(copies, '_HOOKED_LAYOUT', layout)
    with temporary_copy_layout(layout), warnings.catch_warnings():
        warnings.simplefilter('error')
        list(CopySampler(list(range(5)), seed=0, round_up=False))


def test_a_copy_runner_marks_its_layout_for_its_samplers(tmp_path, monkeypatch):
    from automl_mm.ohl import copies
    from automl_mm.registry import RUNNERS

    monkeypatch.setattr(copies, '_HOOKED_LAYOUT', None)
    runner = RUNNERS.build(tiny_ohl_cfg(str(tmp_path / 'work')))
    assert copies._HOOKED_LAYOUT is runner.copy_layout is not None
    assert runner.train_dataloader.sampler._hook_checks
