"""The AutoML engines' own settings (part of :func:`automl_mm.engine.preflight.check_config`).

* OHL (:func:`_check_ohl_hook`): the ``OHLHook`` (found by type) runs under a ``CopyRunner``, its ``reward_key`` is
  reported by the reward evaluator, and its reward loader is held out (no test images; a COCO metric scores the
  file the loader reads); the reward loader and the BN re-estimation loader set no key their reading would not
  apply (:func:`~automl_mm.engine.evaluate.check_local_loader`), nor does a NAS search loader.
* NAS (:func:`_check_search_loop`): a ``PCNASLoop`` / ``CRNASLoop``'s ``metric_key`` is reported by the search
  evaluator, its search loader is held out, its ``out_dir`` can be made (the result is written there only at the
  search's end), and CR-NAS's ``reference_allocation`` lies in its ``stage_space``.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_classes import check_searched_topk
from .preflight_eval_splits import check_held_out
from .preflight_metrics import check_metric_key, warn_area_ranges_differ, warn_rounded_search_metric
from .preflight_outputs import _check_folder
from .preflight_walk import ConfigCheckError, config_scope


def _check_rank_local(evaluator: Any, key: str, cfg: Any) -> None:
    """The reward / search evaluator is one the rank-local scoring computes as configured
    (:func:`~automl_mm.engine.preflight_evaluators.check_rank_local_evaluator`)."""
    from .preflight_evaluators import check_rank_local_evaluator

    if not evaluator:
        return
    try:
        check_rank_local_evaluator(evaluator, key, config_scope(cfg))
    except ValueError as err:
        raise ConfigCheckError(str(err)) from None


def _check_rule(rule: Any, key: Any, rule_name: str, key_name: str) -> None:
    """``rule`` is ``'greater'``, ``'less'`` or ``None`` (:func:`~automl_mm.utils.metric_rule.resolve_rule`)."""
    from automl_mm.utils.metric_rule import resolve_rule

    try:
        resolve_rule(rule, key, rule_name, key_name)
    except ValueError as err:
        raise ConfigCheckError(str(err)) from None


def _check_ohl_hook(cfg: Any) -> None:
    """The OHL hook (found by type) runs under a ``CopyRunner``, its ``reward_key`` is reported and its reward
    loader is held out."""
    from automl_mm.engine.evaluate import first_configured, held_out_keys
    from automl_mm.ohl.copies import CopyRunner, find_ohl_hook
    from automl_mm.registry import RUNNERS

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), config_scope(cfg))
    except ValueError as err:
        raise ConfigCheckError(str(err)) from None
    if found is None:
        return
    i, hook = found
    runner_type = cfg.get('runner_type', 'Runner')
    runner_cls = RUNNERS.get(runner_type) if isinstance(runner_type, str) else runner_type
    if not (isinstance(runner_cls, type) and issubclass(runner_cls, CopyRunner)):
        raise ConfigCheckError(f"custom_hooks[{i}] is an OHLHook, which needs runner_type='automl_mm.CopyRunner' (it "
                               f'creates the copy layout; inherit configs/_base_/ohl_copies.py), got runner_type='
                               f'{runner_type!r}')
    evaluator, where = first_configured(cfg, hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator',
                                        held_out_keys('reward')[1])
    _check_rank_local(evaluator, where, cfg)
    if hook.get('reward_key') is not None:
        check_metric_key(hook['reward_key'], f'custom_hooks[{i}].reward_key', evaluator, where, config_scope(cfg))
        check_searched_topk(cfg, hook['reward_key'], f'custom_hooks[{i}].reward_key', evaluator, where)
        warn_rounded_search_metric(hook['reward_key'], f'custom_hooks[{i}].reward_key', evaluator, where,
                                   config_scope(cfg))
        warn_area_ranges_differ(hook['reward_key'], f'custom_hooks[{i}].reward_key', evaluator, where, cfg,
                                config_scope(cfg))
        _check_rule(hook.get('reward_rule'), hook['reward_key'], f'custom_hooks[{i}].reward_rule',
                    f'custom_hooks[{i}].reward_key')
    loader, loader_key = first_configured(cfg, hook.get('reward_dataloader'), f'custom_hooks[{i}].reward_dataloader',
                                          held_out_keys('reward')[0])
    check_held_out(cfg, loader, loader_key, evaluator, where)
    _check_local_loader(loader, loader_key, 'score')
    bn_key = f'custom_hooks[{i}].bn_recalibration_dataloader'
    _check_local_loader(hook.get('bn_recalibration_dataloader'), bn_key, 'sample')
    _check_bn_loader(cfg, hook.get('bn_recalibration_dataloader'), bn_key, loader, loader_key)


def _check_local_loader(loader: Any, key: str, purpose: str) -> None:
    """A loader the engine builds itself sets no key its reading would not apply
    (:func:`~automl_mm.engine.evaluate.check_local_loader`), and the keys it hands torch's ``DataLoader`` are
    ``DataLoader``'s arguments (``batch_szie=4`` failed when the loader was built, in every worker, with torch's
    ``unexpected keyword argument``, naming no key); raises :class:`ConfigCheckError` naming it."""
    from torch.utils.data import DataLoader

    from automl_mm.engine.evaluate import LOCAL_LOADER_OWN, check_local_loader

    from .preflight_training import check_arguments

    try:
        check_local_loader(loader, key, purpose)
    except ValueError as err:
        raise ConfigCheckError(str(err)) from None
    if isinstance(loader, dict):
        check_arguments(DataLoader, {k: v for k, v in loader.items() if k not in LOCAL_LOADER_OWN}, key)


def _check_bn_loader(cfg: Any, bn_loader: Any, bn_key: str, reward_loader: Any, reward_key: str) -> None:
    """An explicit ``bn_recalibration_dataloader`` (``bn_key``) reads neither the test split nor the reward split
    (``reward_loader``, read from ``reward_key``), judged as a reward loader is against the test split
    (:func:`~automl_mm.engine.preflight_eval_splits.reads_test_split`: ``split='test'``, or the same annotation file,
    image folder or split, copies included). BN statistics re-estimated on the images being scored fit them: the
    test split's leaked into every reward, the reward split's made the reward optimistic, silently. The default
    (``train_dataloader`` with ``test_pipeline``) reads the training split, checked as such. Test or reward images
    listed under another COCO annotation file are found image by image
    (:func:`~automl_mm.engine.preflight_coco_shared.check_shared_folders`). Raises :class:`ConfigCheckError` naming
    ``bn_key``."""
    from .preflight_eval_splits import reads_test_split, test_split_read

    if not isinstance(bn_loader, dict):
        return
    fix = (f'Give {bn_key} clean training images, or leave it out (train_dataloader read with the '
           'test_pipeline)')
    test = test_split_read(bn_loader, cfg.get('test_dataloader'), f'{bn_key}.dataset')
    if test is not None:
        raise ConfigCheckError(f'{bn_key} reads the test split ({test}): BN statistics re-estimated on test images '
                               f'leak them into every reward. {fix}')
    if reads_test_split(bn_loader, reward_loader):
        raise ConfigCheckError(f'{bn_key} reads the reward split ({reward_key}): BN statistics re-estimated on the '
                               f'images being scored fit them, so the rewards read high. {fix}')


def _check_search_loop(cfg: Any, train_cfg: Any) -> None:
    """A NAS search loop's (``PCNASLoop``, ``CRNASLoop``) ``metric_key`` is reported by its search evaluator, its
    search loader is held out, its ``out_dir`` can be made and CR-NAS's ``reference_allocation`` lies in its
    ``stage_space``; other loops are not checked."""
    from automl_mm.engine.evaluate import first_configured, held_out_keys

    loop = config_type_name(train_cfg)
    if loop not in ('PCNASLoop', 'CRNASLoop'):
        return
    default_key = 'coco/bbox_mAP' if loop == 'CRNASLoop' else 'accuracy/top1'
    evaluator, where = first_configured(cfg, train_cfg.get('search_evaluator'), 'train_cfg.search_evaluator',
                                        held_out_keys('search')[1])
    _check_rank_local(evaluator, where, cfg)
    check_metric_key(train_cfg.get('metric_key', default_key), 'train_cfg.metric_key', evaluator, where,
                     config_scope(cfg))
    check_searched_topk(cfg, train_cfg.get('metric_key', default_key), 'train_cfg.metric_key', evaluator, where)
    warn_rounded_search_metric(train_cfg.get('metric_key', default_key), 'train_cfg.metric_key', evaluator, where,
                               config_scope(cfg))
    warn_area_ranges_differ(train_cfg.get('metric_key', default_key), 'train_cfg.metric_key', evaluator, where, cfg,
                            config_scope(cfg))
    _check_rule(train_cfg.get('metric_rule'), train_cfg.get('metric_key', default_key), 'train_cfg.metric_rule',
                'train_cfg.metric_key')
    loader, loader_key = first_configured(cfg, train_cfg.get('search_dataloader'), 'train_cfg.search_dataloader',
                                          held_out_keys('search')[0])
    check_held_out(cfg, loader, loader_key, evaluator, where)
    _check_local_loader(loader, loader_key, 'score')
    # the search writes its result there only at its end (SearchLoopBase.write_json / write_text)
    out_dir = train_cfg.get('out_dir', 'search')
    if isinstance(out_dir, str) and (osp.isabs(out_dir) or cfg.get('work_dir')):
        _check_folder(osp.join(cfg.get('work_dir') or '', out_dir), 'train_cfg.out_dir', out_dir,
                      'exporting the searched architecture')
    if loop == 'CRNASLoop':
        _check_reference_allocation(train_cfg)


def _check_reference_allocation(train_cfg: Any) -> None:
    reference = train_cfg.get('reference_allocation')
    space = train_cfg.get('stage_space') or {}
    if reference is None or 'stage_choices' not in space:
        return  # the backbone's own allocation: CRNASLoop checks it against the space when it is built
    from automl_mm.nas.base import build_path_space

    try:  # built as CRNASLoop builds it (a stage_space without total_blocks raised a bare KeyError here)
        built = build_path_space({'type': 'StageAllocationSpace', **space}, 'train_cfg.stage_space')
    except (TypeError, ValueError) as err:  # the space itself, named as such (not the reference allocation)
        raise ConfigCheckError(str(err)) from None
    if not callable(getattr(built, 'path_of', None)):
        return  # a space of the user's own: CRNASLoop checks the reference when it is built
    try:
        built.path_of(tuple(reference))
    except ValueError as err:
        raise ConfigCheckError(f'train_cfg.reference_allocation: {err}') from None

