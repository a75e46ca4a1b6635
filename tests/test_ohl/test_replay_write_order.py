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
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.report import schedule_fragment
from automl_mm.ohl.write_order import check_search_order

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
