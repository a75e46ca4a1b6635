"""Relations between two settings a constructor checks, held after all of a trunk's writes
(``automl_mm/ohl/constructor_relations.py``).

mmdet's ``Brightness`` asserts ``min_mag <= max_mag`` when built; two OHL spaces (or a space and a replay hook)
writing the two sides left ``min_mag=1.5, max_mag=1.0`` without a word (every magnitude inverted), and mmcv's
``RandomFlip`` with a list ``prob`` written to sum above 1 stopped the run in ``np.random.choice`` mid-trunk.
Each row writes a good and a bad pair in both orders: the verdict is the pair's, never the order's."""
from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.constructor_relations import (
    CONSTRUCTOR_RELATIONS,
    check_choice_relations,
    check_relations,
    check_written_relations,
)
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook


def _mmdet(name, **kwargs):
    from mmdet.datasets import transforms

    return getattr(transforms, name)(**kwargs)


def _mmcv(name, **kwargs):
    from mmcv import transforms

    return getattr(transforms, name)(**kwargs)


def _scheduler():
    from mmengine.optim import LinearLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return LinearLR(optimizer, begin=0, end=10)


def _crop():
    from automl_mm.datasets.transforms import RandomResizedCrop

    return RandomResizedCrop(scale=8)


# '<table key>/<attribute of the relation's first setting>': (build the object, the two paths below it, a good pair
# whose lone first write breaks the relation on the old value, a bad pair each of whose lone writes keeps it, the
# relation as the message writes it)
ROWS = {
    'mmdet.ColorTransform/min_mag': (lambda: _mmdet('Brightness', min_mag=0.1, max_mag=0.5), ('min_mag', 'max_mag'),
                                     (1.0, 1.9), (0.3, 0.2), 'min_mag <= max_mag'),
    'mmdet.GeomTransform/min_mag': (lambda: _mmdet('ShearX', min_mag=0.0, max_mag=10.0), ('min_mag', 'max_mag'),
                                    (20.0, 30.0), (5.0, 4.0), 'min_mag <= max_mag'),
    'mmdet.RandomCrop/crop_size': (lambda: _mmdet('RandomCrop', crop_size=(10, 20), crop_type='absolute_range'),
                                   ('crop_size.0', 'crop_size.1'), (30, 40), (15, 12),
                                   r'crop_size\[0\] <= crop_size\[1\]'),
    'mmdet.CutOut/n_holes': (lambda: _mmdet('CutOut', n_holes=(1, 3), cutout_ratio=(0.2, 0.2)),
                             ('n_holes.0', 'n_holes.1'), (4, 6), (2, 1), r'n_holes\[0\] <= n_holes\[1\]'),
    'mmdet.RandomErasing/ratio': (lambda: _mmdet('RandomErasing', n_patches=(1, 3), ratio=(0.1, 0.4)),
                                  ('ratio.0', 'ratio.1'), (0.5, 0.6), (0.3, 0.2), r'ratio\[0\] <= ratio\[1\]'),
    'mmdet.RandomErasing/n_patches': (lambda: _mmdet('RandomErasing', n_patches=(1, 3), ratio=(0.1, 0.4)),
                                      ('n_patches.0', 'n_patches.1'), (4, 6), (2, 1),
                                      r'n_patches\[0\] <= n_patches\[1\]'),
    'mmdet.RandomAffine/scaling_ratio_range': (lambda: _mmdet('RandomAffine', scaling_ratio_range=(0.5, 1.5)),
                                               ('scaling_ratio_range.0', 'scaling_ratio_range.1'), (2.0, 3.0),
                                               (1.2, 0.8), r'scaling_ratio_range\[0\] <= scaling_ratio_range\[1\]'),
    'mmcv.RandomFlip/prob': (lambda: _mmcv('RandomFlip', prob=[0.1, 0.1], direction=['horizontal', 'vertical']),
                             ('prob.0', 'prob.1'), (0.95, 0.05), (0.6, 0.5),
                             r'sum\(prob\) <= 1 \(one probability per direction\)'),
    'mmcv.RandomResize/ratio_range': (lambda: _mmcv('RandomResize', scale=(32, 32), ratio_range=(0.5, 1.5)),
                                      ('ratio_range.0', 'ratio_range.1'), (2.0, 3.0), (1.2, 0.8),
                                      r'ratio_range\[0\] <= ratio_range\[1\]'),
    'mmcv.RandomChoice/prob': (lambda: _mmcv('RandomChoice', transforms=[[], []], prob=[0.5, 0.5]),
                               ('prob.0', 'prob.1'), (0.7, 0.3), (0.6, 0.5),
                               r'sum\(prob\) == 1 \(one probability per sub-pipeline\)'),
    'mmengine._ParamScheduler/begin': (_scheduler, ('begin', 'end'), (20, 30), (5, 5), 'begin < end'),
    'automl_mm.RandomResizedCrop/crop_ratio_range': (_crop, ('crop_ratio_range.0', 'crop_ratio_range.1'),
                                                     (0.05, 0.06), (0.5, 0.4),
                                                     r'crop_ratio_range\[0\] <= crop_ratio_range\[1\]'),
}


def _cosine(name, **kwargs):
    from mmengine.optim import scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return getattr(scheduler, name)(optimizer, begin=0, end=10, **kwargs)


# Relations no pair of lone writes keeps (one side must be None): '<table key>/<first setting>': (build the object,
# writes that keep it, writes that break it, the message); each written in both orders
NONE_ROWS = {
    'mmcv.Pad/size': (lambda: _mmcv('Pad', size_divisor=32), {'size': (32, 32), 'size_divisor': None},
                      {'size': (32, 32)}, r't\.size=\(32, 32\) and t\.size_divisor=32 break exactly one of size and '
                                          r'size_divisor set \(the other None\), which mmcv\.Pad'),
    'mmcv.Pad/pad_to_square': (lambda: _mmcv('Pad', size=(32, 32)), {'pad_to_square': True, 'size': None},
                               {'pad_to_square': True}, r't\.pad_to_square=True and t\.size=\(32, 32\) break size '
                                                        r'None under pad_to_square=True, which mmcv\.Pad'),
    'mmcv.Resize/scale': (lambda: _mmcv('Resize', scale=(32, 32)), {'scale': None, 'scale_factor': 0.5},
                          {'scale': None}, r't\.scale=None and t\.scale_factor=None break scale or scale_factor set '
                                           r'\(not both None\), which mmcv\.Resize'),
    'mmcv.Resize/scale_factor': (lambda: _mmcv('Resize', scale=(32, 32)), {'scale_factor': 0.5, 'scale': None},
                                 {'scale_factor': 0.5}, r't\.scale_factor=0\.5 breaks scale_factor None where scale '
                                                        r'is set .* \(Resize, mmcv\.Resize\): the written '
                                                        r'scale_factor would change nothing'),
    'mmengine.CosineAnnealingParamScheduler/eta_min': (
        lambda: _cosine('CosineAnnealingLR', T_max=10, eta_min_ratio=0.1), {'eta_min': 0.01, 'eta_min_ratio': None},
        {'eta_min': 0.01}, r't\.eta_min=0\.01 and t\.eta_min_ratio=0\.1 break not both of eta_min and eta_min_ratio '
                           r'set, which mmengine\.CosineAnnealingParamScheduler checks in its constructor'),
    # its constructor takes both None as eta_min=0 (it does not refuse them): a write of None is refused as what it
    # does then, naming no constructor check
    'mmengine.CosineAnnealingParamScheduler/eta_min#2': (
        lambda: _cosine('CosineAnnealingLR', T_max=10, eta_min=0.0), {'eta_min': None, 'eta_min_ratio': 0.1},
        {'eta_min': None}, r't\.eta_min=None and t\.eta_min_ratio=None break eta_min or eta_min_ratio set \(not both '
                           r'None\) \(CosineAnnealingLR, mmengine\.CosineAnnealingParamScheduler\): the next scheduler '
                           r'step would stop the run \(None in arithmetic\): given both None its constructor anneals '
                           r'to eta_min=0'),
    'mmengine.CosineRestartParamScheduler/eta_min': (
        lambda: _cosine('CosineRestartLR', periods=[5, 5], restart_weights=[1, 1], eta_min=0.0),
        {'eta_min_ratio': 0.1, 'eta_min': None}, {'eta_min': None},
        r't\.eta_min=None and t\.eta_min_ratio=None break exactly one of eta_min and eta_min_ratio set'),
    # mmengine's EMAHook asserts one of begin_iter / begin_epoch 0, and sets enabled_by_epoch = begin_epoch > 0 when
    # built: _ema_started reads begin_epoch only where it is set, so a begin_epoch written over 0 changed nothing
    # built with momentum=0 the loss has no acc_sum buffer, which forward reads wherever momentum > 0
    **{f'mmdet.{name}/momentum': (lambda name=name: _ghm(name, 0), {'momentum': 0}, {'momentum': 0.75},
                                  r't\.momentum=0\.75 breaks momentum 0 where the loss was built with momentum=0 '
                                  rf'.* \({name}, mmdet\.{name}\): the next forward would stop the run')
       for name in ('GHMC', 'GHMR')},
    # built by epoch, a begin_iter written beside begin_epoch=0 changed nothing (the EMA started at once); it passed
    # the old pair relation (one of them 0)
    'mmengine.EMAHook/begin_iter': (lambda: _ema_hook(begin_epoch=2), {'begin_epoch': 0, 'begin_iter': 0},
                                    {'begin_epoch': 0, 'begin_iter': 100},
                                    r't\.begin_iter=100 breaks begin_iter 0 where the hook was built with '
                                    r'begin_epoch > 0 .* \(EMAHook, mmengine\.EMAHook\): the written begin_iter '
                                    r'would change nothing'),
    'mmengine.EMAHook/begin_epoch': (lambda: _ema_hook(), {'begin_iter': 5}, {'begin_epoch': 3},
                                     r't\.begin_epoch=3 breaks begin_epoch 0 where the hook was built with '
                                     r'begin_epoch=0 .* \(EMAHook, mmengine\.EMAHook\): the written begin_epoch would '
                                     r'change nothing'),
}


def _ghm(name, momentum):
    from mmdet.models import losses

    return getattr(losses, name)(momentum=momentum)


def _ema_hook(**kwargs):
    from mmengine.hooks import EMAHook

    return EMAHook(**kwargs)


@pytest.mark.parametrize('row', sorted(NONE_ROWS))
def test_a_setting_read_only_where_another_is_none_is_held_with_it(row):
    """mmcv's ``Pad`` reads ``size`` only without ``size_divisor`` (and ``pad_to_square``), mmengine's cosine
    schedulers ``eta_min`` only without ``eta_min_ratio``: a write beside the other changed nothing, and both None
    stopped the run (``None`` in arithmetic)."""
    build, good, bad, message = NONE_ROWS[row]
    for writes in (good, dict(reversed(good.items()))):
        runner = SimpleNamespace(t=build())
        for attribute, value in writes.items():
            set_attribute(runner, f't.{attribute}', value)
        check_relations(runner, [f't.{a}' for a in writes], 'OHL trunk 3')
        check_written_relations(SimpleNamespace(t=build()), {f't.{a}': v for a, v in writes.items()}, 'hook')
    runner = SimpleNamespace(t=build())
    for attribute, value in bad.items():
        set_attribute(runner, f't.{attribute}', value)
    with pytest.raises(ValueError, match=rf'^OHL trunk 3: {message}'):
        check_relations(runner, [f't.{a}' for a in bad], 'OHL trunk 3')
    with pytest.raises(ValueError, match=rf'^hook: {message}'):
        check_written_relations(SimpleNamespace(t=build()), {f't.{a}': v for a, v in bad.items()}, 'hook')


def _table_keys():
    """``<table key>/<first setting's attribute>`` of each relation, ``#<n>`` on the n-th of one class and attribute."""
    seen, keys = Counter(), set()
    for key, relations in CONSTRUCTOR_RELATIONS.items():
        for relation in relations:
            name = f'{key}/{relation.settings[0].split(".")[0]}'
            seen[name] += 1
            keys.add(name if seen[name] == 1 else f'{name}#{seen[name]}')
    return keys


def test_every_relation_of_the_table_has_a_row():
    assert set(ROWS) | set(NONE_ROWS) | set(RUN_ROWS) == _table_keys()


@pytest.mark.parametrize('row', sorted(ROWS))
def test_a_pair_is_judged_after_all_writes_in_either_order(row):
    build, (first, second), good, bad, relation = ROWS[row]
    key = row.split('/')[0]
    for order in ((0, 1), (1, 0)):
        for pair, refused in ((good, False), (bad, True)):
            runner = SimpleNamespace(t=build())
            paths = [f't.{first}', f't.{second}']
            values = dict(zip(paths, pair))
            for i in order:  # each write alone passes its own checks
                set_attribute(runner, paths[i], values[paths[i]])
            if not refused:
                check_relations(runner, paths, 'OHL trunk 3')
                check_written_relations(SimpleNamespace(t=build()), values, 'SetAttributesHook')
                continue
            shown = ' and '.join(f't\\.{re.escape(p.split(".", 1)[1])}={re.escape(repr(v))}'
                                 for p, v in values.items())
            verb = 'break'
            if key in ('mmcv.RandomFlip', 'mmcv.RandomChoice'):  # one setting: the whole list
                shown, verb = r't\.prob=\[0\.6, 0\.5\]', 'breaks'
            message = rf'{shown} {verb} {relation}, which {re.escape(key)} checks in its constructor'
            if key == 'mmcv.RandomResize':  # asserted when a ratio is drawn, not by the constructor
                message = rf'{shown} {verb} {relation} \(RandomResize, mmcv\.RandomResize\): mmcv asserts'
            with pytest.raises(ValueError, match=rf'^OHL trunk 3: {message}'):
                check_relations(runner, paths, 'OHL trunk 3')
            with pytest.raises(ValueError, match=rf'^SetAttributesHook: {message}'):  # overlaid, nothing written
                check_written_relations(fresh := SimpleNamespace(t=build()), dict(reversed(values.items())) if
                                        order == (1, 0) else values, 'SetAttributesHook')
            attribute = first.split('.')[0]
            assert getattr(fresh.t, attribute) == getattr(build(), attribute)  # nothing written


def test_the_spaces_choices_are_tried_in_every_combination_before_the_first_trunk():
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=1.9))
    low = AttributeSpace(dict(type='Categorical'), target='t.min_mag', choices=[0.1, 0.5], name='low')
    high = AttributeSpace(dict(type='Categorical'), target='t.max_mag', choices=[0.4, 1.0], name='high')
    for spaces in ([low, high], [high, low]):
        with pytest.raises(ValueError, match=r': t\.min_mag=0\.5 and t\.max_mag=0\.4 break min_mag <= max_mag, '
                                             r'which mmdet\.ColorTransform') as refused:
            check_choice_relations(runner, spaces)
        assert "'low' drawing 0.5" in str(refused.value) and "'high' drawing 0.4" in str(refused.value)
    high.choices = [0.5, 1.0]
    check_choice_relations(runner, [low, high])
    with pytest.raises(ValueError, match=r"'low' drawing 0\.5: t\.min_mag=0\.5 and t\.max_mag=0\.3"):
        runner.t.max_mag = 0.3  # one space against what the object holds
        check_choice_relations(runner, [low])


def test_the_spaces_choices_are_tried_with_a_trunk_schedule_of_the_other_side_before_the_first_trunk():
    """A ``TrunkScheduleHook`` writes ``max_mag=0.4`` at trunk 1, after ``OHLHook.before_train``: a space's
    ``min_mag=0.5`` beside it stopped the run at trunk 1's start; the choices are tried with every trunk's values."""
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=1.9), hooks=[])
    low = AttributeSpace(dict(type='Categorical'), target='t.min_mag', choices=[0.1, 0.5], name='low')
    runner.hooks.append(TrunkScheduleHook({'t.max_mag': [1.9, 1.0]}, trunk_iters=10))
    check_choice_relations(runner, [low])
    runner.hooks.append(TrunkScheduleHook({'t.max_mag': [1.9, 0.4]}, trunk_iters=10))
    with pytest.raises(ValueError, match=r"'low' drawing 0\.5: t\.min_mag=0\.5 and t\.max_mag=0\.4 break "
                                         r"min_mag <= max_mag, .*\(with TrunkScheduleHook's trunk 1 values "
                                         r"\{'t\.max_mag': 0\.4\}\)"):
        check_choice_relations(runner, [low])


def test_a_gaussian_on_a_side_of_a_relation_is_refused_by_its_worst_case_before_the_first_trunk():
    runner = SimpleNamespace(t=_mmdet('RandomAffine', scaling_ratio_range=(0.5, 1.5)))
    gaussian = AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=0.1), target='t.scaling_ratio_range.0',
                              transform='exp', name='g')
    with pytest.raises(ValueError, match=r"OHL space 'g': attribute path 't\.scaling_ratio_range\.0': a Gaussian "
                                         r"sample under transform='exp' takes any value in .*breaks "
                                         r'scaling_ratio_range\[0\] <= scaling_ratio_range\[1\] '
                                         r'\(t\.scaling_ratio_range\.0=0\.5 and t\.scaling_ratio_range\.1=1\.5 now\), '
                                         r'which mmdet\.RandomAffine'):
        check_choice_relations(runner, [gaussian])
    whole = AttributeSpace(dict(type='DiagGaussian', mean=[0.0, 0.0], std=0.1), target='t.scaling_ratio_range',
                           transform='exp', name='w')  # both sides from one draw: either order, independently
    with pytest.raises(ValueError, match=r"OHL space 'w': attribute path 't\.scaling_ratio_range': a Gaussian"):
        check_choice_relations(runner, [whole])


def test_a_gaussian_that_keeps_the_relation_over_its_whole_image_is_not_refused():
    """``exp`` on ``max_mag`` is above ``min_mag=0.0`` wherever it lands, and a cosine scheduler's ``eta_min``
    beside no ratio is set whatever is drawn: refusing them refused legal searches. ``min_mag=0.1`` is not."""
    def gaussian(path, transform='exp'):
        return AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=0.1), target=path, transform=transform,
                              name='g')

    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.0, max_mag=1.9),
                             s=_cosine('CosineAnnealingLR', T_max=10, eta_min=0.001))
    check_choice_relations(runner, [gaussian('t.max_mag')])
    check_choice_relations(runner, [gaussian('s.eta_min', None)])
    with pytest.raises(ValueError, match=r"OHL space 'g': attribute path 't\.max_mag': .*breaks min_mag <= max_mag"):
        check_choice_relations(runner, [gaussian('t.max_mag'), AttributeSpace(
            dict(type='Categorical'), target='t.min_mag', choices=[0.0, 0.1], name='low')])
    with pytest.raises(ValueError, match=r"attribute path 't\.min_mag': .*breaks min_mag <= max_mag"):
        check_choice_relations(runner, [gaussian('t.min_mag')])
    runner.t.min_mag = 0.1
    with pytest.raises(ValueError, match=r"attribute path 't\.max_mag': .*\(t\.min_mag=0\.1 and t\.max_mag=1\.9 now\)"):
        check_choice_relations(runner, [gaussian('t.max_mag')])


def test_a_trunk_start_holds_the_relation_after_every_space_wrote():
    from _spaces import begin_trunk  # noqa: PLC0415  (tests/test_ohl on the path, as the other OHL tests)

    def space(path, value, name):
        return AttributeSpace(dict(type='Categorical', logits=[30.0, -30.0]), target=path, choices=[value, 0.1],
                              name=name)

    for values, refused in (((1.5, 1.8), False), ((1.5, 1.0), True)):
        for reverse in (False, True):
            runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=0.5))
            spaces = [space('t.min_mag', values[0], 'low'), space('t.max_mag', values[1], 'high')]
            if refused:
                with pytest.raises(ValueError, match=r'OHL trunk 0 \(copy 0\): t\.min_mag=1\.5 and t\.max_mag=1\.0 '
                                                     r'break min_mag <= max_mag'):
                    begin_trunk(spaces[::-1] if reverse else spaces, runner)
                # refused before any space wrote: the live transform never held the broken pair
                assert (runner.t.min_mag, runner.t.max_mag) == (0.1, 0.5)
            else:
                begin_trunk(spaces[::-1] if reverse else spaces, runner)


def test_a_replayed_schedule_is_refused_at_the_trunk_whose_values_break_it_before_any_write():
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=0.5), train_loop=SimpleNamespace(),
                             epoch=0, iter=0, hooks=[], cfg=None)
    hook = TrunkScheduleHook({'t.min_mag': [0.2, 1.5], 't.max_mag': [1.0, 1.6, 1.0]}, trunk_iters=10)
    with pytest.raises(ValueError, match=r'TrunkScheduleHook: trunk 2: t\.min_mag=1\.5 and t\.max_mag=1\.0 break'):
        hook.before_train(runner)
    assert (runner.t.min_mag, runner.t.max_mag) == (0.1, 0.5)  # nothing written
    with pytest.raises(ValueError, match=r'SetAttributesHook: t\.min_mag=1\.5 and t\.max_mag=1\.0 break'):
        SetAttributesHook({'t.max_mag': 1.0, 't.min_mag': 1.5}).before_train(runner)
    assert (runner.t.min_mag, runner.t.max_mag) == (0.1, 0.5)


def test_a_whole_pair_and_one_element_of_it_are_overlaid_as_written_the_whole_first():
    """``write_order`` writes a covering path before its elements, whatever the dict's order: so does the overlay."""
    runner = SimpleNamespace(t=_mmdet('RandomCrop', crop_size=(10, 20), crop_type='absolute_range'))
    with pytest.raises(ValueError, match=r'crop_size\.0=30 and t\.crop_size\.1=12 break'):
        check_written_relations(runner, {'t.crop_size.1': 12, 't.crop_size': (30, 40)}, 'SetAttributesHook')


def test_choices_are_multiplied_per_relation_and_past_the_cap_a_warning_names_the_spaces(caplog):
    """A space writing another attribute of the object (``prob``) does not multiply a relation's combinations; past
    :data:`MAX_COMBINATIONS` the untried ones are said, not dropped silently."""
    from mmengine.logging import MMLogger

    from automl_mm.ohl import constructor_relations

    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=1.9))
    low = AttributeSpace(dict(type='Categorical'), target='t.min_mag', choices=[0.1, 0.2, 0.3], name='low')
    high = AttributeSpace(dict(type='Categorical'), target='t.max_mag', choices=[1.0, 1.5, 1.0], name='high')
    prob = AttributeSpace(dict(type='Categorical'), target='t.prob', choices=[0.1, 0.2, 0.3], name='prob')
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(constructor_relations, 'MAX_COMBINATIONS', 6)  # 3 x 2 distinct: prob not multiplied
            check_choice_relations(runner, [low, high, prob])
            assert 'combinations' not in caplog.text
            high.choices = [1.0, 1.5, 0.25]  # 9 > 6: (0.3, 0.25) is the ninth, untried
            check_choice_relations(runner, [low, high, prob])
    finally:
        logger.removeHandler(caplog.handler)
    assert ("OHL spaces 'low', 'high': 9 combinations of their choices on min_mag <= max_mag "
            '(mmdet.ColorTransform); the first 6 were tried') in caplog.text


def test_a_choice_probability_list_is_held_to_numpys_tolerance_not_to_exact_equality():
    """np.random.choice takes [0.3, 0.6, 0.1] (summing to 0.9999999999999999), which the written pair makes."""
    runner = SimpleNamespace(t=_mmcv('RandomChoice', transforms=[[], [], []], prob=[0.3, 0.2, 0.5]))
    check_written_relations(runner, {'t.prob.1': 0.6, 't.prob.2': 0.1}, 'hook')
    with pytest.raises(ValueError, match=r'sum\(prob\) == 1'):
        check_written_relations(runner, {'t.prob.1': 0.6, 't.prob.2': 0.09}, 'hook')
    import numpy as np

    for off, taken in ((1e-9, True), (1e-6, False)):  # numpy's own verdict at its tolerance's two sides
        try:
            np.random.choice(3, p=[0.3, 0.6, 0.1 + off])
        except ValueError:
            assert not taken
        else:
            assert taken
        if taken:
            check_written_relations(runner, {'t.prob.1': 0.6, 't.prob.2': 0.1 + off}, 'hook')
            continue
        with pytest.raises(ValueError, match=r'sum\(prob\) == 1'):
            check_written_relations(runner, {'t.prob.1': 0.6, 't.prob.2': 0.1 + off}, 'hook')


def _relation_rank(rank, tmp):
    import json
    import os.path as osp

    from _forked_ranks import join_gloo
    from _spaces import begin_trunk

    join_gloo(rank, 2, osp.join(tmp, 'init'))
    # one draw (min_mag=0.3) on both ranks; only rank 1's object holds a max_mag below it
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=0.5 if rank == 0 else 0.2))
    space = AttributeSpace(dict(type='Categorical', logits=[30.0, -30.0]), target='t.min_mag', choices=[0.3, 0.1],
                           name='low')
    try:
        begin_trunk([space], runner)
        out = 'trained'
    except Exception as err:  # noqa: BLE001 (what each rank met is the result)
        out = f'{type(err).__name__}: {err}'
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)


def test_a_pair_broken_on_one_rank_at_a_trunk_start_stops_every_rank_there(tmp_path):
    """Copies draw apart, so one rank alone can meet a broken pair: the others must stop at the same trunk start,
    not wait for it in the trunk's first collective. Real 2-rank gloo group, forked."""
    import json

    from _forked_ranks import fork_ranks

    fork_ranks(_relation_rank, (str(tmp_path),), timeout=120)
    outs = [json.loads((tmp_path / f'rank{rank}.json').read_text()) for rank in range(2)]
    assert outs[1].startswith('ValueError: OHL trunk 0 (copy 0): t.min_mag=0.3 and t.max_mag=0.2 break'), outs
    assert outs[0].startswith('RankFailure: ') and 'failed on rank 1' in outs[0], outs


def test_a_trunk_schedules_write_is_held_with_what_another_writer_left_and_a_relation_only_where_it_applies():
    """``TrunkScheduleHook`` writes at each trunk start after a space (or anything) moved the other side since its
    ``before_train``; and ``RandomCrop``'s order holds under ``absolute_range`` only (a relative crop's two
    fractions are drawn apart: ``(0.9, 0.5)`` is legal)."""
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=0.5))
    hook = TrunkScheduleHook({'t.max_mag': [0.5, 0.3]}, trunk_iters=10)
    hook._order = None
    hook._apply(runner, 0)
    runner.t.min_mag = 0.4  # another writer, after the schedule's before_train
    with pytest.raises(ValueError, match=r'^TrunkScheduleHook: trunk 1: t\.min_mag=0\.4 and t\.max_mag=0\.3 break'):
        hook._apply(runner, 1)
    assert runner.t.max_mag == 0.5  # refused before its write: the live transform never held the broken pair
    relative = SimpleNamespace(t=_mmdet('RandomCrop', crop_size=(0.5, 0.9), crop_type='relative_range'))
    check_written_relations(relative, {'t.crop_size.0': 0.9, 't.crop_size.1': 0.5}, 'hook')


def test_a_write_of_what_a_relations_condition_reads_is_judged_with_it():
    """RandomCrop holds crop_size[0] <= [1] only under crop_type='absolute_range': a space drawing crop_type beside
    one drawing crop_size.1 was tried in no combination (grouped per relation, by its settings alone), and a
    crop_type written alone over a held relative (0.5, 0.3) passed the trunk-start check."""
    runner = SimpleNamespace(t=_mmdet('RandomCrop', crop_size=(0.5, 0.9), crop_type='relative_range'))
    kind = AttributeSpace(dict(type='Categorical'), target='t.crop_type', choices=['relative_range', 'absolute_range'],
                          name='kind')
    high = AttributeSpace(dict(type='Categorical'), target='t.crop_size.1', choices=[0.9, 0.3], name='high')
    with pytest.raises(ValueError, match=r"'kind' drawing 'absolute_range', 'high' drawing 0\.3: .*crop_size\[0\] "
                                         r'<= crop_size\[1\]'):
        check_choice_relations(runner, [kind, high])
    runner.t.crop_size = (0.5, 0.3)
    with pytest.raises(ValueError, match=r'crop_size\[0\] <= crop_size\[1\]'):
        check_written_relations(runner, {'t.crop_type': 'absolute_range'}, 'hook')


def test_each_relation_s_refusal_says_its_own_consequence_and_names_a_constructor_only_where_it_refuses():
    """The refusals said one text for every relation (a copy "would stop, train with an inverted range or ignore a
    written value") and named the constructor of relations none checks (mmcv's ``Resize`` takes a ``scale_factor``
    beside a ``scale``; its ``RandomResize`` asserts ``ratio_range`` only when it draws)."""
    assert all(relation.consequence for relations in CONSTRUCTOR_RELATIONS.values() for relation in relations)
    runner = SimpleNamespace(t=_mmdet('Brightness', min_mag=0.1, max_mag=1.9))
    low = AttributeSpace(dict(type='Categorical'), target='t.min_mag', choices=[0.1, 1.5], name='low')
    high = AttributeSpace(dict(type='Categorical'), target='t.max_mag', choices=[1.9, 1.0], name='high')
    with pytest.raises(ValueError) as err:
        check_choice_relations(runner, [low, high])
    assert 'which mmdet.ColorTransform checks in its constructor (Brightness): every magnitude, level / 10 * ' \
        '(max_mag - min_mag) + min_mag, would be inverted, silently (the highest level the weakest); without a level ' \
        '(level=None) drawn as from the swapped pair, silently' in str(err.value)
    assert 'ignore a written value' not in str(err.value)
    with pytest.raises(ValueError) as err:
        check_written_relations(SimpleNamespace(t=_mmcv('Resize', scale=(32, 32))), {'t.scale_factor': 0.5}, 'hook')
    assert 'constructor' not in str(err.value) and str(err.value).endswith(
        '(Resize, mmcv.Resize): the written scale_factor would change nothing'), str(err.value)
    with pytest.raises(ValueError) as err:
        check_written_relations(SimpleNamespace(t=_mmdet('RandomCrop', crop_size=(10, 20), crop_type='absolute_range')),
                                {'t.crop_size.0': 25}, 'hook')
    assert str(err.value).endswith('which mmdet.RandomCrop checks in its constructor (RandomCrop): np.random.randint '
                                   'raises on the inverted pair at the next image larger than crop_size[1], stopping '
                                   'the run'), str(err.value)


def test_a_ghm_loss_built_with_a_momentum_takes_another():
    """Built with momentum > 0 the loss holds its ``acc_sum`` buffer: any momentum in range is written."""
    runner = SimpleNamespace(t=_ghm('GHMC', 0.75))
    set_attribute(runner, 't.momentum', 0.5)
    check_relations(runner, ['t.momentum'], 'OHL trunk 3')


def _bare(cls, **attributes):
    obj = object.__new__(cls)
    obj.__dict__.update(attributes)
    return obj


def _step(by_epoch):
    from mmengine.optim import StepLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return StepLR(optimizer, step_size=5, begin=0, end=1000, by_epoch=by_epoch)


def _mmdet_hook(name, **kwargs):
    from mmdet.engine import hooks

    return getattr(hooks, name)(**kwargs)


def _loop(name, **attributes):
    from mmengine import runner

    return _bare(getattr(runner, name), **attributes)


# A setting past the run's length, which the run then never reaches (mmengine's EMAHook asserts it in before_train
# only, before any write): '<table key>/<attribute>#<n>': (build the object, the attribute, the run's lengths, the
# last value that the run reaches, the length's label in the refusal, the consequence's start)
def _profiler(**kwargs):
    from mmengine.hooks import ProfilerHook

    return ProfilerHook(by_epoch=False, **kwargs)


RUN_ROWS = {
    'mmengine.EMAHook/begin_epoch#2': (lambda: _ema_hook(begin_epoch=2), 'begin_epoch', dict(max_epochs=12), 12,
                                       'train_cfg.max_epochs', 'the EMA would never start'),
    'mmengine.EMAHook/begin_iter#2': (lambda: _ema_hook(begin_iter=5), 'begin_iter', dict(max_iters=100), 100,
                                      'train_cfg.max_iters', 'the EMA would never start'),
    'mmengine._ParamScheduler/begin#2': (lambda: _step(True), 'begin', dict(max_epochs=12, max_iters=1200), 11,
                                         'train_cfg.max_epochs', 'the scheduler would never set a value'),
    'mmengine._ParamScheduler/begin#3': (lambda: _step(False), 'begin', dict(max_epochs=12, max_iters=500), 499,
                                         'train_cfg.max_iters', 'the scheduler would never set a value'),
    'mmdet.PipelineSwitchHook/switch_epoch': (lambda: _mmdet_hook('PipelineSwitchHook', switch_epoch=5,
                                                                  switch_pipeline=[]),
                                              'switch_epoch', dict(max_epochs=12), 11, 'train_cfg.max_epochs',
                                              'the pipeline would never switch'),
    'mmdet.MeanTeacherHook/interval': (lambda: _mmdet_hook('MeanTeacherHook'), 'interval', dict(max_iters=100), 100,
                                       'train_cfg.max_iters', 'the teacher would never be updated'),
    'mmdet.CheckInvalidLossHook/interval': (lambda: _mmdet_hook('CheckInvalidLossHook'), 'interval',
                                            dict(max_iters=100), 100, 'train_cfg.max_iters',
                                            'the loss would never be checked'),
    'mmengine.EpochBasedTrainLoop/val_begin': (lambda: _loop('EpochBasedTrainLoop', val_begin=1), 'val_begin',
                                               dict(max_epochs=12), 12, 'train_cfg.max_epochs',
                                               'the run would never validate'),
    'mmengine.IterBasedTrainLoop/val_begin': (lambda: _loop('IterBasedTrainLoop', val_begin=1), 'val_begin',
                                              dict(max_iters=100), 100, 'train_cfg.max_iters',
                                              'the run would never validate'),
    'mmengine.ProfilerHook/profile_times': (lambda: _profiler(profile_times=5), 'profile_times', dict(max_iters=100),
                                            100, 'train_cfg.max_iters', 'the profiler would never stop'),
}


@pytest.mark.parametrize('row', sorted(RUN_ROWS))
def test_a_setting_past_the_runs_length_is_refused_naming_both_and_one_it_reaches_is_written(row):
    """An ``EMAHook`` ``begin_epoch`` written past ``max_epochs`` never started the EMA: the run validated and saved
    as without one, silently (mmengine asserts ``begin_epoch <= max_epochs`` in ``before_train`` only); a scheduler's
    ``begin``, a ``PipelineSwitchHook``'s ``switch_epoch``, a teacher's update interval, a loop's ``val_begin``
    past the run were as silently never reached."""
    build, attribute, lengths, last, label, consequence = RUN_ROWS[row]
    for value in (last, last - 1):
        runner = SimpleNamespace(t=build(), **lengths)
        check_written_relations(runner, {f't.{attribute}': value}, 'hook')
        set_attribute(runner, f't.{attribute}', value)
        check_relations(runner, [f't.{attribute}'], 'OHL trunk 3')
    bad = last + 1
    message = (rf'^hook: t\.{attribute}={bad} and {re.escape(label)}={lengths[label.split(".")[-1]]} break '
               rf'{attribute} <=? max_\w+.* \({type(build()).__name__}, [\w.]+\): {consequence} .*silently$')
    with pytest.raises(ValueError, match=message):
        check_written_relations(SimpleNamespace(t=build(), **lengths), {f't.{attribute}': bad}, 'hook')
    runner = SimpleNamespace(t=build(), **lengths)
    set_attribute(runner, f't.{attribute}', bad)
    at_trunk = message.replace('^hook', '^OHL trunk 3').replace('silently$', 'silently; nothing trained')
    with pytest.raises(ValueError, match=at_trunk):
        check_relations(runner, [f't.{attribute}'], 'OHL trunk 3')
    # where the run's length is not known (a stand-in without it; a Runner without a train loop gives 0): not held
    check_written_relations(SimpleNamespace(t=build()), {f't.{attribute}': bad}, 'hook')
    check_written_relations(SimpleNamespace(t=build(), **{k: 0 for k in lengths}), {f't.{attribute}': bad}, 'hook')


def test_an_epoch_loops_iterations_are_named_by_its_epochs_and_a_space_is_held_to_the_run():
    """An epoch-based loop's ``max_iters`` is no config key: the refusal names the epochs it comes from; a space's
    choices past the run are refused before the first trunk, a Gaussian on one too."""
    loop = _loop('EpochBasedTrainLoop', _max_epochs=12, val_begin=1)
    runner = SimpleNamespace(t=_mmdet_hook('MeanTeacherHook'), train_loop=loop, max_epochs=12, max_iters=1200)
    with pytest.raises(ValueError, match=r't\.interval=1201 and max_iters \(train_cfg\.max_epochs=12 epochs of 100 '
                                         r'iterations\)=1200 break interval <= max_iters'):
        check_written_relations(runner, {'t.interval': 1201}, 'hook')
    runner = SimpleNamespace(t=_ema_hook(begin_epoch=2), max_epochs=12)
    space = AttributeSpace(dict(type='Categorical'), target='t.begin_epoch', choices=[2, 13], name='begin')
    with pytest.raises(ValueError, match=r"OHL spaces 'begin' drawing 13: t\.begin_epoch=13 and train_cfg\.max_epochs"
                                         r'=12 break begin_epoch <= max_epochs'):
        check_choice_relations(runner, [space])
    check_choice_relations(runner, [AttributeSpace(dict(type='Categorical'), target='t.begin_epoch', choices=[2, 12],
                                                   name='begin')])
