"""OHL spaces on a parameter scheduler's step counts (``param_schedulers.<i>.T_max`` / ``begin`` / ``end`` /
``milestones`` ...) are written into the built scheduler, which is not always in the config's terms:

* a scheduler given in epochs with ``convert_to_iter_based=True`` is built in iterations (mmengine's
  ``build_iter_from_epoch``: ``T_max=3`` epochs of 4 iterations is 12), so a searched ``T_max`` of 2 meant as epochs
  ended the cosine after 2 iterations and the lr climbed back up (at iteration 4 it was back at the full lr);
* ``MultiStepLR`` keeps its milestones as a ``Counter`` of steps, and a written list was indexed by the step
  (``gamma ** milestones[step]``).
* ``LinearLR`` / ``ConstantLR`` / ``PolyLR`` fix ``total_iters = end - begin - 1`` when built, so a written ``end``
  only moved where they stop stepping (a warm-up from 0.1 built with ``end=5`` and written ``end=9`` climbed on to
  1.9 × the lr, ``end=3`` stopped it at 0.55 ×); ``CosineRestartLR`` makes ``cumulative_periods`` of ``periods``,
  ``OneCycleLR`` its phases and each group's initial / max / min lr.

Each is refused before training (the launching process's config check too), naming the scheduler's config key; a
per-epoch cosine (not converted) takes a searched ``T_max`` in epochs, and trains on its cosine."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from _equivalence import record_run
from mmengine.config import Config
from mmengine.optim import CosineAnnealingLR, MultiStepLR, build_optim_wrapper
from torch import nn

from automl_mm.ohl.ownership import check_owned_attribute

from conftest import tiny_ohl_cfg


def _cfg(work_dir, scheduler, target, choices):
    cfg = tiny_ohl_cfg(work_dir, trunk_epochs=3)  # one trunk: the value is written once, before the first step
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    cfg.param_scheduler = [scheduler]
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='span', target=target, choices=choices,
                                       distribution=dict(type='Categorical'))]
    return cfg


def test_a_searched_t_max_of_a_converted_cosine_is_refused(tmp_path):
    cfg = _cfg(str(tmp_path), dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True),
               'param_schedulers.0.T_max', [2, 3])
    with pytest.raises(ValueError, match=r"OHL space 'span' writes param_schedulers\.0\.T_max, but "
                                         r"param_scheduler\[0\] \(CosineAnnealingLR\) is given in epochs with "
                                         r"convert_to_iter_based=True, so mmengine built it in iterations: its T_max "
                                         r"is 12 for the config's 3"):
        record_run(cfg)


def test_a_searched_t_max_of_a_per_epoch_cosine_counts_epochs(tmp_path):
    cfg = _cfg(str(tmp_path), dict(type='CosineAnnealingLR', T_max=3, by_epoch=True), 'param_schedulers.0.T_max',
               [2, 2])
    cfg.custom_hooks[0].controller = dict(type='FrozenController')  # one value listed twice: nothing to learn
    lrs = [row[0] for row in record_run(cfg)['lr']]
    # mmengine's cosine at epoch e of T_max=2 (epochs), 4 iterations per epoch, from the config's lr 0.05
    expected = [0.05 * (1 + math.cos(math.pi * (i // 4) / 2)) / 2 for i in range(12)]
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(lrs, expected)), (lrs, expected)


def _runner(scheduler_cfg, build):
    net = nn.Linear(2, 2)
    wrapper = build_optim_wrapper(net, dict(optimizer=dict(type='SGD', lr=0.1)))
    return SimpleNamespace(model=net, optim_wrapper=wrapper, param_schedulers=[build(wrapper)],
                           cfg=Config(dict(param_scheduler=[scheduler_cfg])))


@pytest.mark.parametrize('key,held', [('T_max', 12), ('begin', 4), ('end', 16)])
def test_every_step_count_of_a_converted_scheduler_is_refused(key, held):
    entry = dict(type='CosineAnnealingLR', T_max=3, begin=1, end=4, by_epoch=True, convert_to_iter_based=True)
    runner = _runner(entry, lambda w: CosineAnnealingLR.build_iter_from_epoch(w, T_max=3, begin=1, end=4,
                                                                              by_epoch=True, epoch_length=4))
    with pytest.raises(ValueError, match=rf"its {key} is {held} for the config's {entry[key]}"):
        check_owned_attribute(runner, f'param_schedulers.0.{key}', 'OHL space')
    check_owned_attribute(runner, 'param_schedulers.0.eta_min', 'OHL space')  # no unit: written as given


@pytest.mark.parametrize('path', ['param_schedulers.0.milestones', 'param_schedulers.*.milestones'])
def test_multistep_milestones_are_refused_and_gamma_is_not(path):
    runner = _runner(dict(type='MultiStepLR', milestones=[1, 2]), lambda w: MultiStepLR(w, milestones=[1, 2]))
    with pytest.raises(ValueError, match=r"param_scheduler\[0\] \(MultiStepLR\) keeps its milestones as a Counter of "
                                         r"steps .* or search param_scheduler\[0\]\.gamma"):
        check_owned_attribute(runner, path, 'OHL space')
    check_owned_attribute(runner, 'param_schedulers.0.gamma', 'OHL space')


def test_the_launching_process_refuses_it_too(tmp_path):
    from automl_mm.engine.preflight import build_check

    cfg = _cfg(str(tmp_path), dict(type='MultiStepLR', milestones=[1, 2], by_epoch=True, convert_to_iter_based=True),
               'param_schedulers.0.gamma', [0.1, 0.5])
    build_check(cfg)  # gamma has no unit
    cfg.custom_hooks[0].spaces[0].update(target='param_schedulers.0.milestones', choices=[[1], [2]])
    with pytest.raises(ValueError, match=r"param_schedulers\.0\.milestones, but param_scheduler\[0\] \(MultiStepLR\)"):
        build_check(cfg)


RESTART = dict(periods=[4, 4], restart_weights=[1, 0.5], eta_min=0.0)


def _built(cls_name, **kwargs):
    from mmengine.optim.scheduler import lr_scheduler

    cls = getattr(lr_scheduler, cls_name)
    return _runner(dict(type=cls_name, **kwargs), lambda w: cls(w, by_epoch=False, **kwargs))


@pytest.mark.parametrize('cls_name,kwargs,key,made', [
    ('LinearLR', dict(start_factor=0.1, end=5), 'end', 'total_iters'),
    ('LinearLR', dict(start_factor=0.1, begin=1, end=5), 'begin', 'total_iters'),
    ('ConstantLR', dict(factor=0.5, end=5), 'end', 'total_iters'),
    ('PolyLR', dict(power=2.0, end=5), 'end', 'total_iters'),
    ('CosineRestartLR', RESTART, 'periods', 'cumulative_periods'),
    ('OneCycleLR', dict(eta_max=0.5, total_steps=10), 'pct_start', 'its phases'),
    ('OneCycleLR', dict(eta_max=0.5, total_steps=10), 'eta_max', 'its phases')])
def test_an_attribute_a_scheduler_turns_into_others_when_built_is_refused(cls_name, kwargs, key, made):
    runner = _built(cls_name, **kwargs)
    with pytest.raises(ValueError, match=rf"param_scheduler\[0\] \({cls_name}\) reads '{key}' when it is built, to "
                                         rf"make {made}"):
        check_owned_attribute(runner, f'param_schedulers.0.{key}', 'OHL space')


def test_a_cosines_bounds_are_refused_where_it_made_t_max_of_them():
    """mmengine's ``CosineAnnealingParamScheduler`` makes ``T_max = end - begin`` where none is given and anneals
    over it: a written ``end`` of 4 on one built with 8 stopped at half the cosine (the lr never reached eta_min), a
    written 12 let it climb back up from its floor. One whose config gives ``T_max`` (equal to ``end - begin`` too, as
    mmdet's configs write it) reads ``end`` only to stop stepping, as a build with the written end would."""
    runner = _built('CosineAnnealingLR', begin=2, end=10, eta_min=0.0)
    assert runner.param_schedulers[0].T_max == 8
    for key in ('end', 'begin'):
        with pytest.raises(ValueError, match=rf"param_scheduler\[0\] \(CosineAnnealingLR\) holds T_max = end - begin "
                                             rf"\(8\), which mmengine made of them .*written {key} .*climb back up"):
            check_owned_attribute(runner, f'param_schedulers.0.{key}', 'OHL space')
    for t_max in (6, 8):
        check_owned_attribute(_built('CosineAnnealingLR', T_max=t_max, begin=2, end=10, eta_min=0.0),
                              'param_schedulers.0.end', 'OHL space')
    runner.cfg = None  # no config entry to read: a T_max equal to end - begin is taken as made of them
    with pytest.raises(ValueError, match=r'holds T_max = end - begin \(8\)'):
        check_owned_attribute(runner, 'param_schedulers.0.end', 'OHL space')


@pytest.mark.parametrize('cls_name,key,built,written,ends_at', [('LinearLR', 'start_factor', 0.1, 0.5, 0.2),
                                                                  ('ConstantLR', 'factor', 0.5, 0.25, 2.0)])
def test_a_factor_a_scheduler_applied_when_it_was_built_is_refused(cls_name, key, built, written, ends_at):
    """mmengine's ``LinearLR`` / ``ConstantLR`` multiply the lr by ``start_factor`` / ``factor`` in the step their
    constructor makes and divide the held one back out later: a written one left the lr at built / written × the
    lr for the rest of the run (``ends_at``, what the write did)."""
    runner = _built(cls_name, **{key: built}, end=5)
    with pytest.raises(ValueError, match=rf"param_scheduler\[0\] \({cls_name}\) multiplied each group's lr by its "
                                         rf"built {key} \({built}\) when it was built"):
        check_owned_attribute(runner, f'param_schedulers.0.{key}', 'OHL space')
    scheduler, wrapper = runner.param_schedulers[0], runner.optim_wrapper
    setattr(scheduler, key, written)
    for _ in range(6):
        wrapper.step()
        scheduler.step()
    assert math.isclose(wrapper.optimizer.param_groups[0]['lr'], 0.1 * ends_at)


@pytest.mark.parametrize('cls_name,kwargs,key', [('LinearLR', dict(start_factor=0.1, end=5), 'end_factor'),
                                                 ('PolyLR', dict(power=2.0, end=5), 'power'),
                                                 ('CosineRestartLR', RESTART, 'eta_min')])
def test_what_a_scheduler_reads_at_every_step_may_be_written(cls_name, kwargs, key):
    check_owned_attribute(_built(cls_name, **kwargs), f'param_schedulers.0.{key}', 'OHL space')


def test_a_warm_ups_end_is_refused_in_a_run(tmp_path):
    cfg = _cfg(str(tmp_path), dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=5),
               'param_schedulers.0.end', [3, 9])
    with pytest.raises(ValueError, match=r"OHL space 'span' writes param_schedulers\.0\.end, but param_scheduler\[0\] "
                                         r"\(LinearLR\) reads 'end' when it is built, to make total_iters = end - "):
        record_run(cfg)


@pytest.mark.parametrize('cls_name,kwargs', [('CosineAnnealingLR', dict(T_max=8, eta_min_ratio=0.1)),
                                             ('CosineRestartLR', dict(RESTART, eta_min=None, eta_min_ratio=0.1))])
def test_eta_min_beside_eta_min_ratio_is_refused(cls_name, kwargs):
    runner = _built(cls_name, **kwargs)
    with pytest.raises(ValueError, match=rf"param_scheduler\[0\] \({cls_name}\) has eta_min_ratio=0\.1, and its "
                                         r"floor is then base × eta_min_ratio at every step: the written eta_min would "
                                         r"change nothing\. Search param_scheduler\[0\]\.eta_min_ratio instead"):
        check_owned_attribute(runner, 'param_schedulers.0.eta_min', 'OHL space')
    check_owned_attribute(runner, 'param_schedulers.0.eta_min_ratio', 'OHL space')
