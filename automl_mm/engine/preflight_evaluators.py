"""Evaluator configs that failed or scored wrongly only at their first evaluation (part of
:func:`automl_mm.engine.preflight.check_config`; :func:`check_rank_local_evaluator` also runs in
:meth:`~automl_mm.engine.evaluate.HeldOutEvaluator.build`).

* :func:`check_metric_clash`: two metrics of one evaluator that report the same key (``reward_evaluator=[
  dict(type='Accuracy', topk=1), dict(type='Accuracy', topk=(1, 5))]``: both report ``accuracy/top1``). mmengine's
  ``Evaluator.evaluate`` and the OHL reward / NAS scoring refuse it, but only once the metrics are computed: an OHL
  run stopped after its first trunk had trained, a validation after its first training epochs.
* :func:`check_rank_local_evaluator`: the OHL rewards and NAS scores are computed rank-locally
  (:func:`~automl_mm.engine.evaluate.evaluate_locally`: each metric's ``compute_metrics`` on this rank's results),
  not through the evaluator's ``evaluate``. An evaluator class that overrides ``evaluate`` (mmdet's
  ``MultiDatasetsEvaluator``: one metric per dataset of a ``ConcatDataset``, on its own slice, keys prefixed with
  the dataset's name) was scored as a plain list of metrics over the whole split: a 64-image digits reward split
  under ``MultiDatasetsEvaluator(metrics=[Accuracy], dataset_prefixes=['a'])`` rewarded ``accuracy/top1`` over all
  of it, where the evaluator reports ``a/accuracy/top1`` over dataset ``a``, silently.
* :func:`warn_selection_on_test`: ``default_hooks.checkpoint.save_best``, an ``EarlyStoppingHook`` or a
  ``ReduceOnPlateauLR`` (mmengine's plateau parameter schedulers) choose by the validation metric; where
  ``val_dataloader`` is the test split (the digits, Fashion-MNIST, CIFAR-10 and ImageNet bases have no validation
  split of their own), the kept checkpoint, the stopping epoch or the lr schedule was chosen on the test images that
  ``tools/test.py`` then reports, silently. Warned about (not refused: reporting test accuracy while training is
  what those bases do).
* :func:`check_selection_rules`: those choosers left without a ``rule`` read a direction the key does not have:
  mmengine's ``CheckpointHook`` / ``EarlyStoppingHook`` infer it by substrings (``save_best='error/top1'`` contains
  ``top``: the checkpoint of the *highest* error was kept), and ``ReduceOnPlateau*`` defaults to ``rule='less'``
  (``monitor='accuracy/top1'`` cut the lr whenever the accuracy failed to fall). Refused where
  :func:`~automl_mm.utils.metric_rule.infer_rule` (the rule of OHL's ``reward_rule`` and the NAS loops'
  ``metric_rule``) reads the key the other way, naming the key and the ``rule`` to set.
"""
from __future__ import annotations

import logging
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.wording import a_class

from .preflight_walk import ConfigCheckError, config_scope, evaluator_metrics


def reports_own_keys(evaluator: Any) -> bool:
    """Whether an evaluator config builds an evaluator class other than mmengine's ``Evaluator`` (a dict with
    ``metrics`` and another ``type``, e.g. mmdet's ``MultiDatasetsEvaluator``): its ``evaluate`` may name the keys
    otherwise than its metrics do (prefixed per dataset), so the metrics' keys are not its keys."""
    return isinstance(evaluator, dict) and 'metrics' in evaluator and \
        evaluator.get('type', 'Evaluator') not in ('Evaluator', 'mmengine.Evaluator')


def _evaluator_class(evaluator: Any, scope: str) -> type | None:
    """The class an evaluator config builds (``Runner.build_evaluator``: a dict with ``metrics`` builds its
    ``type``, default mmengine's ``Evaluator``; a metric or list of metrics builds an ``Evaluator``), or the built
    evaluator's class; ``None`` when its type does not resolve here (the runner names it)."""
    from mmengine.evaluator import Evaluator
    from mmengine.registry import EVALUATOR

    from automl_mm.registry import registered_class

    if not isinstance(evaluator, dict):
        return type(evaluator) if isinstance(evaluator, Evaluator) else Evaluator
    if 'metrics' not in evaluator:
        return Evaluator
    kind = evaluator.get('type', 'Evaluator')
    if isinstance(kind, type):
        return kind
    try:
        cls = registered_class(EVALUATOR, kind, evaluator.get('_scope_') or scope)
    except KeyError:
        return None
    return cls if isinstance(cls, type) else None


def check_rank_local_evaluator(evaluator: Any, key: str, scope: str = 'automl_mm') -> None:
    """Refuse an evaluator (config or built) whose class overrides mmengine's ``Evaluator.evaluate`` for a split
    scored rank-locally (OHL rewards, NAS scores; see the module docstring).

    Raises:
        ValueError: naming ``key`` and the class.
    """
    from mmengine.evaluator import Evaluator

    cls = _evaluator_class(evaluator, scope)
    if cls is None or not issubclass(cls, Evaluator) or cls.evaluate is Evaluator.evaluate:
        return
    raise ValueError(f'{key} is {a_class(cls)}, which computes its results in its own evaluate(); OHL rewards and '
                     "NAS scores are computed rank-locally from each metric's compute_metrics, so its own results "
                     '(per-dataset slices, prefixed keys) would not be what is scored. Give a metric or a list of '
                     'metrics (one split per reward / search loader)')


def check_metric_clash(evaluator: Any, key: str, scope: str | None = None) -> None:
    """Refuse two metrics of ``evaluator`` (a config at ``key``) that report the same key, where both metrics' keys
    are known without running them (:func:`~automl_mm.engine.preflight_metrics.metric_keys`, the metrics' types
    resolved in ``scope``, the config's ``default_scope``).

    Raises:
        ConfigCheckError: naming the clashing metric key and both metrics' config keys.
    """
    from .preflight_metrics import metric_keys

    if reports_own_keys(evaluator):
        return  # its own evaluate() names the keys (e.g. prefixed per dataset)
    metrics = evaluator_metrics(evaluator)
    seen: dict[str, str] = {}
    for j, metric in enumerate(metrics):
        where = f'{key}[{j}]' if len(metrics) > 1 else key
        for name in sorted(metric_keys(metric, complete=False, scope=scope) or ()):
            if name in seen:
                raise ConfigCheckError(
                    f'{seen[name]} and {where} both report {name!r}: the evaluation refuses two metrics of one '
                    'key, but only once they are computed (after the first OHL trunk, validation or NAS '
                    'scoring has been trained for); give one of them another prefix')
            seen[name] = where


def check_evaluators(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """:func:`check_metric_clash` for every evaluator of the config (``{split}_evaluator`` alone when ``test_only``):
    the top-level ones, ``train_cfg.search_evaluator`` and each ``custom_hooks[i].reward_evaluator``."""
    from .preflight_walk import _EVALUATORS, config_scope, outside_split

    found = [(cfg.get(k), k) for k in _EVALUATORS if not outside_split(k, test_only, split)]
    if not test_only:
        found.append(((cfg.get('train_cfg') or {}).get('search_evaluator'), 'train_cfg.search_evaluator'))
        found += [(hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator')
                  for i, hook in enumerate(cfg.get('custom_hooks') or []) if isinstance(hook, dict)]
    for evaluator, key in found:
        if evaluator:
            check_metric_clash(evaluator, key, config_scope(cfg))


def _plateau_schedulers(cfg: Any) -> list[tuple[dict, str]]:
    """``(node, key)`` of each ``param_scheduler`` entry that steps on the validation metrics: mmengine's
    ``ReduceOnPlateauLR`` / ``ReduceOnPlateauMomentum`` / ``ReduceOnPlateauParamScheduler`` (or a subclass),
    resolved in the config's scope; a ``param_scheduler`` dict of lists (one per ``OptimWrapperDict`` wrapper)
    too."""
    from mmengine.optim.scheduler.param_scheduler import ReduceOnPlateauParamScheduler

    from automl_mm.registry import PARAM_SCHEDULERS, registered_class

    from .preflight_training import _scheduler_nodes

    value, scope = cfg.get('param_scheduler'), config_scope(cfg)
    nodes = _scheduler_nodes(value, 'param_scheduler')
    if isinstance(value, dict) and 'type' not in value:
        nodes = [n for name, inner in value.items() for n in _scheduler_nodes(inner, f'param_scheduler.{name}')]
    found = []
    for node, key in nodes:
        kind = node.get('type')
        try:
            cls = kind if isinstance(kind, type) else registered_class(
                PARAM_SCHEDULERS, kind, node.get('_scope_') or scope)
        except KeyError:
            cls = None  # an unknown scope prefix: check_training_config names it
        if isinstance(cls, type) and issubclass(cls, ReduceOnPlateauParamScheduler):
            found.append((node, key))
    return found


def warn_selection_on_test(cfg: Any) -> bool:
    """Warn, once, when ``default_hooks.checkpoint.save_best`` (``'auto'`` too), an ``EarlyStoppingHook``
    (``custom_hooks``) or a ``ReduceOnPlateau*`` parameter scheduler (:func:`_plateau_schedulers`) choose by a
    ``val_dataloader`` that reads the test split (:func:`~automl_mm.engine.preflight_eval_splits.test_split_read`
    against ``test_dataloader``, as the reward and search loaders are refused it): the digits and Fashion-MNIST bases
    set ``test_dataloader = val_dataloader``, as mmpretrain's CIFAR configs do, so a warning, not a refusal. It names
    each chooser's key (a hook's and a scheduler's with its ``monitor``), the leaf that reads the test split and why
    (the data ``test_dataloader`` reports, or another data set's ``split='test'``), and the option that validates on
    the reward split (:func:`_reward_split_hint`). Returns whether it warned."""
    from automl_mm.utils.scope import config_type_name

    from .preflight_eval_splits import _test_leaf_read, test_split_read

    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    choosers = []
    if isinstance(checkpoint, dict) and checkpoint.get('save_best'):
        choosers.append(f'default_hooks.checkpoint.save_best={checkpoint["save_best"]!r}')
    # a hook's monitor has no default (mmengine's EarlyStoppingHook requires it); a scheduler's is 'loss'
    choosers += [f'custom_hooks[{i}] ({config_type_name(h)}, monitor={h.get("monitor")!r})'
                 for i, h in enumerate(cfg.get('custom_hooks') or [])
                 if isinstance(h, dict) and config_type_name(h) == 'EarlyStoppingHook']
    choosers += [f'{key} ({config_type_name(node)}, monitor={node.get("monitor", "loss")!r})'
                 for node, key in _plateau_schedulers(cfg)]
    val, test = cfg.get('val_dataloader'), cfg.get('test_dataloader')
    if not choosers or not isinstance(val, dict):
        return False
    test = test if isinstance(test, dict) else None
    found = test_split_read(val, test, 'val_dataloader.dataset')
    if found is None:
        return False
    # the test loader's own data: its score is of the images chosen on; another data set's test split: held out
    # for testing all the same (until the fifty-seventh session told as "the one test_dataloader reports")
    reported = _test_leaf_read(val, test, 'val_dataloader.dataset', 'test_dataloader')[1] is not None
    effect = ('the test images test_dataloader reports, and the test score optimistic' if reported else
              'images held out for testing')
    print_log(f'{" and ".join(choosers)} choose(s) by the validation metric, but val_dataloader reads the test split '
              f'({found}): what they choose (the checkpoint kept, the epoch to stop at, the lr schedule) would be '
              f'chosen on {effect}; give val_dataloader a split held out of training and test (e.g. the reward '
              f'split{_reward_split_hint(val, cfg.get("reward_dataloader"))})', logger='current',
              level=logging.WARNING)
    return True


def check_selection_rules(cfg: Any) -> None:
    """Refuse a chooser of the validation metric whose direction, left to mmengine, is not the key's
    (:func:`~automl_mm.utils.metric_rule.infer_rule`): ``default_hooks.checkpoint.save_best`` and an
    ``EarlyStoppingHook`` (``custom_hooks``) without ``rule`` (mmengine's substring inference,
    :func:`~automl_mm.utils.metric_rule.mmengine_rule`; a hook given its own ``greater_keys`` / ``less_keys`` is left
    to them), and a ``ReduceOnPlateau*`` parameter scheduler without ``rule`` (mmengine's default ``'less'``). A key
    mmengine cannot read is left to mmengine, which refuses it when the hook is built; ``'auto'`` is not checked.

    Raises:
        ConfigCheckError: naming the config key, the metric, the direction the chooser would read and the
            ``rule`` to set.
    """
    from automl_mm.utils.metric_rule import infer_rule, mmengine_rule
    from automl_mm.utils.scope import config_type_name

    found = []  # (config key of the chooser, metric key, rule it reads, its rule's config key, what it chooses)
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('save_best') and checkpoint.get('rule') is None \
            and checkpoint.get('greater_keys') is None and checkpoint.get('less_keys') is None:
        save_best = checkpoint['save_best']
        keys = [save_best] if isinstance(save_best, str) else save_best if isinstance(save_best, (list, tuple)) else []
        for key in keys:
            if isinstance(key, str) and key != 'auto':
                found.append(('default_hooks.checkpoint.save_best', key, mmengine_rule(key),
                              'default_hooks.checkpoint.rule', 'the best checkpoint'))
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and config_type_name(hook) == 'EarlyStoppingHook' and hook.get('rule') is None \
                and isinstance(hook.get('monitor'), str):
            found.append((f'custom_hooks[{i}].monitor', hook['monitor'], mmengine_rule(hook['monitor']),
                          f'custom_hooks[{i}].rule', 'the epoch to stop at'))
    for node, key in _plateau_schedulers(cfg):
        monitor = node.get('monitor', 'loss')
        if node.get('rule') is None and isinstance(monitor, str):
            found.append((f'{key}.monitor', monitor, 'less', f'{key}.rule', 'when to reduce the parameter (mmengine\'s '
                          'default rule)'))
    for where, metric, reads, rule_key, chooses in found:
        rule = infer_rule(metric)
        if reads is not None and reads != rule:
            raise ConfigCheckError(
                f'{where}={metric!r} has no rule, and {chooses} would be chosen as if a '
                f'{"higher" if reads == "greater" else "lower"} {metric} were better ({reads!r}), but {metric!r} names '
                f'a {"higher" if rule == "greater" else "lower"}-is-better metric ({rule!r}, as OHL\'s reward_rule and '
                f'the NAS loops\' metric_rule read it): set {rule_key}={rule!r} (or {reads!r} if that is really meant)')


def _reward_split_hint(val: dict, reward: Any) -> str:
    """``': --cfg-options val_dataloader.dataset.split=reward'`` where ``reward_dataloader`` reads another ``split``
    of the same dataset type as ``val_dataloader`` (the digits, Fashion-MNIST, CIFAR-10 and ImageNet bases), else
    ``''``: the one option that validates on the held-out split."""
    val_set = val.get('dataset')
    reward_set = reward.get('dataset') if isinstance(reward, dict) else None
    if not isinstance(val_set, dict) or not isinstance(reward_set, dict):
        return ''
    split = reward_set.get('split')
    if val_set.get('type') != reward_set.get('type') or not isinstance(split, str) or split == val_set.get('split'):
        return ''
    return f': --cfg-options val_dataloader.dataset.split={split}'
