"""Overlapping attribute paths are replayed in one canonical order (a covering path first), not the dict's.

Input that showed the fault: an OHL search whose space ``'all'`` searched ``optim_wrapper.param_groups.*.lr`` and
space ``'g0'`` then ``optim_wrapper.optimizer.param_groups.0.lr`` (group 0 trained at g0's value, the other groups
at all's) exports ``TrunkScheduleHook(values={'...param_groups.*.lr': [...], '...param_groups.0.lr': [...]})``.
mmengine's ``Config.dump`` (the work_dir copy, the config automl_mm's launcher hands its workers) sorts dict keys,
so the replay read from it wrote group 0 first and every group after it: group 0 trained at all's value, silently.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from torch import nn, optim

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.base import PerCopySpace
from automl_mm.ohl.replay_hooks import SearchedValuesHook, SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.report import schedule_fragment
from automl_mm.ohl.sync import adopt_model_values
from automl_mm.ohl.write_order import check_search_order, write_order

WIDE = ['optim_wrapper.param_groups.*.lr',  # sorts after the narrower path below
        'optim_wrapper.optimizer.weight_decay']  # the base form: every group's weight_decay
NARROW = ['optim_wrapper.optimizer.param_groups.0.lr', 'optim_wrapper.optimizer.param_groups.0.weight_decay']


def _runner():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    sgd = optim.SGD([{'params': model[0].parameters()}, {'params': model[1].parameters()}], lr=0.1,
                    momentum=0.9, weight_decay=1e-4)
    cfg = dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                                                                      weight_decay=1e-4)))
    return SimpleNamespace(model=model, optim_wrapper=OptimWrapper(sgd), param_schedulers=[], cfg=cfg, epoch=0,
                           iter=0, max_iters=10, train_loop=SimpleNamespace(), train_dataloader=None)


def _space(name, path):
    return AttributeSpace(dict(type='Categorical'), target=path, choices=[0.01, 0.2], name=name)


def _groups(runner, key):
    return [group[key] for group in runner.optim_wrapper.optimizer.param_groups]


def _dumped(text, tmp_path):
    """The config as the work_dir copy and the launched workers read it: dumped by mmengine and read back."""
    Config.fromstring(text, file_format='.py').dump(tmp_path / 'dumped.py')
    return Config.fromfile(tmp_path / 'dumped.py')


@pytest.mark.parametrize('wide, narrow', list(zip(WIDE, NARROW)))
def test_a_schedule_read_from_a_dumped_config_replays_the_searchs_values(tmp_path, wide, narrow):
    key = wide.rsplit('.', 1)[1]
    spaces = [_space('all', wide), _space('g0', narrow)]
    search = _runner()
    check_search_order(search, spaces)  # the wider space first: the order the replay writes in
    for all_value, g0_value in [(0.3, 0.05), (0.2, 0.01)]:  # trunks 0 and 1
        for space, value in zip(spaces, (all_value, g0_value)):  # OHLHook: space by space
            set_attribute(search, space.targets[0], value)
    history = [dict(trunk=t, best=0, broadcast=True, copy_values={'all': [{wide: a}], 'g0': [{narrow: g}]})
               for t, (a, g) in enumerate([(0.3, 0.05), (0.2, 0.01)])]
    cfg = _dumped(schedule_fragment(history, dict(trunk_iters=1)), tmp_path)
    assert list(cfg.custom_hooks[0]['values']) == sorted([wide, narrow])  # the dump sorted them
    hook = TrunkScheduleHook(**{k: v for k, v in cfg.custom_hooks[0].items() if k != 'type'})
    replay = _runner()
    hook.before_run(replay)
    hook.before_train(replay)
    replay.iter = 1
    hook.before_train_iter(replay, 0)
    assert _groups(search, key) == pytest.approx([0.01, 0.2])
    assert _groups(replay, key) == pytest.approx(_groups(search, key))

    fixed = _dumped(f"custom_hooks = [dict(type='SetAttributesHook', values={{{narrow!r}: 0.01, {wide!r}: 0.2}})]",
                    tmp_path)
    hook = SetAttributesHook(fixed.custom_hooks[0]['values'])
    replay = _runner()
    hook.before_run(replay)
    hook.before_train(replay)
    assert _groups(replay, key) == pytest.approx([0.01, 0.2])


def test_a_search_writing_a_narrower_space_before_a_covering_one_is_refused_naming_both():
    spaces = [_space('g0', NARROW[0]), _space('all', WIDE[0])]
    with pytest.raises(ValueError, match=r"OHL spaces 'g0' and 'all' .*param_groups.0.lr.*param_groups.\*.lr.*"
                                         r"list OHL space 'all' before 'g0'"):
        check_search_order(_runner(), spaces)


def test_two_spellings_of_one_value_with_different_values_are_refused_naming_both():
    two = {'optim_wrapper.param_groups.0.lr': 0.2, 'optim_wrapper.optimizer.param_groups.0.lr': 0.01}
    runner = _runner()
    hook = SetAttributesHook(two)
    hook.before_run(runner)
    with pytest.raises(ValueError, match=r"SetAttributesHook: attribute paths 'optim_wrapper.param_groups.0.lr' and "
                                         r"'optim_wrapper.optimizer.param_groups.0.lr' reach the same values"):
        hook.before_train(runner)
    SetAttributesHook(dict.fromkeys(two, 0.2)).before_train(runner)  # the same value both ways: no order matters
    assert _groups(runner, 'lr') == [0.2, 0.1]


def test_the_model_paths_set_before_a_test_are_written_in_the_same_order():
    runner = SimpleNamespace(model=nn.Sequential(nn.LeakyReLU(0.01), nn.LeakyReLU(0.01)))
    SetAttributesHook({'model.0.negative_slope': 0.3, 'model.*.negative_slope': 0.1}).before_test(runner)
    assert [m.negative_slope for m in runner.model] == [0.3, 0.1]


class _Slopes(PerCopySpace):
    """A user's per-copy space (not an ``AttributeSpace``): writes its ``values`` of the drawn choice in its own
    ``apply`` (a covering path first) and reports them in ``values``' order."""

    def __init__(self, name, values):
        super().__init__(dict(type='Categorical', num_choices=2), name=name)
        self.values, self.current = values, None  # {path: [value of choice 0, value of choice 1]}

    def apply(self, sample, runner):
        self.current = {path: v[int(sample)] for path, v in self.values.items()}
        for path in write_order(runner, self.current, self.name):
            set_attribute(runner, path, self.current[path])

    def scheduled_values(self):
        return {path: v[int(self.distribution.mode())] for path, v in self.values.items()}

    def applied_values(self):
        return self.current

    def export_fragment(self):
        return ''


def _slopes_runner(slope=0.01):
    return SimpleNamespace(model=nn.Sequential(nn.LeakyReLU(slope), nn.LeakyReLU(slope)))


def _slopes(runner):
    return [m.negative_slope for m in runner.model]


def test_a_users_space_before_a_covering_attribute_space_is_refused_and_after_it_replays_the_same():
    narrow = _Slopes('l0', {'model.0.negative_slope': [0.3, 0.05]})
    wide = AttributeSpace(dict(type='Categorical'), target='model.*.negative_slope', choices=[0.1, 0.2], name='all')
    # listed l0 first, the copies trained with all's value on layer 0 ([0.1, 0.1]); the replay of their values
    # (SearchedValuesHook, the schedule) writes the covering path first: [0.3, 0.1], silently
    with pytest.raises(ValueError, match=r"OHL spaces 'l0' and 'all' .*'model.0.negative_slope' and "
                                         r"'model.\*.negative_slope'.*list OHL space 'all' before 'l0'"):
        check_search_order(_slopes_runner(), [narrow, wide])
    search = _slopes_runner()
    check_search_order(search, [wide, narrow])
    wide.apply(0, search)
    narrow.apply(0, search)  # OHLHook: space by space
    replay = _slopes_runner()
    SearchedValuesHook().before_test(replay)  # nothing loaded: nothing set
    hook = SearchedValuesHook()
    hook.values = {**wide.applied_values(), **narrow.applied_values()}
    hook.before_test(replay)
    assert _slopes(search) == [0.3, 0.1]
    assert _slopes(replay) == _slopes(search)


def test_the_best_copys_values_written_into_every_copy_are_those_it_trained_with():
    # the user's space reports the narrower path first; it applied the covering one first (layer 0 at 0.3)
    space = _Slopes('slopes', {'model.0.negative_slope': [0.3, 0.05], 'model.*.negative_slope': [0.1, 0.2]})
    best = _slopes_runner()
    space.apply(0, best)
    other = _slopes_runner(0.02)  # another copy, which drew its own value
    adopt_model_values(other, {'slopes': [{'model.0.negative_slope': 0.05, 'model.*.negative_slope': 0.2},
                                          space.applied_values()]}, best=1)
    assert _slopes(best) == [0.3, 0.1]
    assert _slopes(other) == _slopes(best)  # in the reported order, every copy held [0.1, 0.1]


def test_the_best_copys_values_across_spaces_are_written_in_the_order_the_copies_wrote():
    wide = AttributeSpace(dict(type='Categorical'), target='model.*.negative_slope', choices=[0.1, 0.2], name='all')
    narrow = AttributeSpace(dict(type='Categorical'), target='model.0.negative_slope', choices=[0.3, 0.05],
                            name='l0')
    best = _slopes_runner()
    check_search_order(best, [wide, narrow])
    wide.apply(0, best)
    narrow.apply(0, best)
    other = _slopes_runner(0.02)
    adopt_model_values(other, {'all': [wide.applied_values()], 'l0': [narrow.applied_values()]}, best=0)
    assert _slopes(other) == _slopes(best) == [0.3, 0.1]
