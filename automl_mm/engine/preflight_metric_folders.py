"""The temporary folder mmdet's COCO-style metrics write their results to at every evaluation, checked before
training (part of :func:`automl_mm.engine.preflight.check_config`: :func:`check_metric_temp_folders`).

mmdet's ``CocoMetric`` (and ``LVISMetric``, ``OVCocoMetric``, ``CrowdHumanMetric``, ``YouTubeVISMetric``, the
subclasses that keep their ``compute_metrics``: ``CocoVideoMetric``, ``CocoOccludedSeparatedMetric``, automl_mm's
``UnroundedCocoMetric``) without ``outfile_prefix`` writes its results to a new ``tempfile.TemporaryDirectory()`` in
``compute_metrics``, at every evaluation; automl_mm's held-out readings (OHL rewards, NAS scores:
:func:`automl_mm.engine.evaluate.evaluate_locally`) always do, whatever the ``outfile_prefix``. Python's ``tempfile``
picks that folder once a process (``TMPDIR``, ``TEMP``, ``TMP``, else ``/tmp``, ...): with none usable the first
evaluation stopped with a bare ``FileNotFoundError`` naming a random path, after training up to it.

Others make theirs when they are built (:data:`_BUILD_TEMP_WRITERS`): ``CocoPanopticMetric`` and ``CityScapesMetric``
without ``outfile_prefix``, ``MOTChallengeMetric`` whatever it is (its ground truth goes there); the start's metric
check (:func:`~automl_mm.engine.preflight_metric_build.check_metric_arguments`, which builds them) stopped with a bare
``FileNotFoundError`` named by the evaluator's key alone. ``COCOCaptionMetric`` takes no ``outfile_prefix`` and
writes to a new temporary folder at every evaluation.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _evaluator_cfgs, config_scope, outside_split

#: The mmdet metrics whose ``compute_metrics`` writes to a new temporary folder without ``outfile_prefix``.
_TEMP_WRITERS = ('CocoMetric', 'LVISMetric', 'OVCocoMetric', 'CrowdHumanMetric', 'YouTubeVISMetric')
#: The mmdet metrics whose ``compute_metrics`` writes to a new temporary folder whatever their arguments.
_ALWAYS_TEMP_WRITERS = ('COCOCaptionMetric', )
#: The mmdet metrics whose ``__init__`` makes a temporary folder (``tempfile.TemporaryDirectory()``) without
#: ``outfile_prefix``: ``{name: whatever their outfile_prefix}`` (``MOTChallengeMetric``: always).
_BUILD_TEMP_WRITERS = {'CocoPanopticMetric': False, 'CityScapesMetric': False, 'MOTChallengeMetric': True}


def _temp_folder_use(metric: dict, scope: str | None) -> tuple[type, str, bool] | None:
    """``(the class a metric config builds (its ``_scope_``, else ``scope``), when it uses a new temporary folder:
    ``'build'`` / ``'evaluation'``, whether whatever its ``outfile_prefix``)`` where the ``__init__`` (for
    ``'build'``: :data:`_BUILD_TEMP_WRITERS`, a subclass's too) or the ``compute_metrics`` (:data:`_TEMP_WRITERS`,
    :data:`_ALWAYS_TEMP_WRITERS`; automl_mm's ``UnroundedCocoMetric`` runs ``CocoMetric``'s) it runs is mmdet's one
    that does, else ``None`` (a user's own method: not known; a type that does not resolve here: its build names
    it)."""
    try:
        import mmdet.evaluation.metrics as mmdet_metrics
        from mmengine.evaluator import BaseMetric

        from automl_mm.evaluation.coco import UnroundedCocoMetric
    except ImportError:  # no mmdet: none of them is built
        return None
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass

    cls = _subclass(metric, METRICS, BaseMetric, scope)  # (config_class: None where unresolvable)
    if cls is None:
        return None
    for name, always in _BUILD_TEMP_WRITERS.items():  # (a subclass's own __init__ runs theirs through super())
        builder = getattr(mmdet_metrics, name, None)
        if isinstance(builder, type) and issubclass(cls, builder):
            return cls, 'build', always
    owner = next((c for c in cls.__mro__ if 'compute_metrics' in vars(c)), None)
    if owner is not None and owner in {getattr(mmdet_metrics, name, None) for name in _ALWAYS_TEMP_WRITERS}:
        return cls, 'evaluation', True
    writers = {getattr(mmdet_metrics, name, None) for name in _TEMP_WRITERS} | {UnroundedCocoMetric}
    return (cls, 'evaluation', False) if owner in writers else None


def _held_out_readings(cfg: Any, scope: str | None) -> Iterator[tuple[Any, str, str]]:
    """``(evaluator config, its config key, who reads it)`` of the held-out readings of a config: the OHL hook's
    rewards and a NAS search loop's scores, each from its own evaluator, else the first top-level one set
    (:func:`~automl_mm.engine.evaluate.held_out_keys`: ``val_evaluator`` last), as the run resolves them."""
    from automl_mm.engine.evaluate import first_configured, held_out_keys
    from automl_mm.nas.loop import SearchLoopBase
    from automl_mm.ohl.copies import find_ohl_hook
    from automl_mm.registry import LOOPS

    from .preflight_walk import _subclass

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), scope)
    except ValueError:  # several OHL hooks: refused by the OHL checks
        found = None
    if found is not None:
        i, hook = found
        evaluator, where = first_configured(cfg, hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator',
                                            held_out_keys('reward')[1])
        yield evaluator, where, f'custom_hooks[{i}] ({config_type_name(hook)})'
    train_cfg = cfg.get('train_cfg')
    loop = _subclass(train_cfg, LOOPS, SearchLoopBase, scope)  # (config_class: None where unresolvable)
    if loop is not None:
        evaluator, where = first_configured(cfg, train_cfg.get('search_evaluator'), 'train_cfg.search_evaluator',
                                            held_out_keys('search')[1])
        yield evaluator, where, f'train_cfg ({config_type_name(train_cfg)})'


def _readings(cfg: Any, test_only: bool, split: str) -> Iterator[tuple[dict, str, bool]]:
    """``(metric config, how a message names it, held out)`` of every metric the run evaluates with: those of the
    val / test evaluators (``outside_split`` left out), and, when training, those of the held-out readings
    (:func:`_held_out_readings`), named by their evaluator's key and, for a fallback, their reader."""
    from .preflight_walk import evaluator_metrics

    for metric, key in _evaluator_cfgs(cfg):
        if key.split('[')[0] in ('val_evaluator', 'test_evaluator') and not outside_split(key, test_only, split):
            yield metric, key, False
    if test_only:
        return
    for evaluator, where, reader in _held_out_readings(cfg, config_scope(cfg)):
        metrics = evaluator_metrics(evaluator) if evaluator else []
        own = where.endswith(('reward_evaluator', 'search_evaluator'))
        for j, metric in enumerate(metrics):
            if isinstance(metric, dict):
                yield metric, (f'{where}[{j}]' if len(metrics) > 1 else where) + \
                    ('' if own else f' (read by {reader})'), True


def check_metric_temp_folders(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """A temporary folder can be made and written where a metric the run evaluates with makes one (see the
    module's docstring: :func:`_temp_folder_use`), when it is built or at every evaluation: a val / test metric
    without ``outfile_prefix`` (or whatever it is, for ``MOTChallengeMetric`` and ``COCOCaptionMetric``), and any
    such metric of a held-out reading (the OHL rewards, a NAS search's scores: their own evaluator, else the
    ``reward_evaluator`` / ``search_evaluator`` / ``val_evaluator`` they fall back to). Made and removed once
    (:func:`~automl_mm.engine.preflight_probe_folder.probe_folder`, with a file written in it), only where some
    metric needs it.

    Raises:
        ConfigCheckError: naming the evaluator keys (one message for those of one metric config:
            ``test_evaluator = val_evaluator``), the metric's class, when it makes the folder, the folder tried,
            ``TMPDIR`` to set and, for a val / test metric that makes none with one, its ``outfile_prefix`` key to
            give instead.
    """
    from .preflight_coco_settings import class_origin
    from .preflight_probe_folder import ProbeFolderError, probe_folder

    scope = config_scope(cfg)
    # (held out, when, whatever the outfile_prefix, the class as messages name it, the config) -> keys
    needing: dict[tuple, list[str]] = {}
    for metric, key, held_out in _readings(cfg, test_only, split):
        use = _temp_folder_use(metric, scope)
        if use is None or (not held_out and not use[2] and metric.get('outfile_prefix') is not None):
            continue
        cls, when, always = use
        needing.setdefault((held_out, when, always, class_origin(cls), repr(metric)), []).append(key)
    if not needing:
        return
    try:
        with probe_folder({'results.json': []}):
            return
    except ProbeFolderError as err:
        (held_out, when, always, origin, _), keys = next(iter(needing.items()))
        several = len(keys) > 1
        at = 'when it builds the metric' if when == 'build' else 'at every evaluation'
        fix = ''
        if held_out:
            what = (f'{" and ".join(keys)} ({origin}) {"are" if several else "is"} scored in a new temporary '
                    "folder at every reading (automl_mm's held-out readings leave outfile_prefix unset, so that "
                    'copies do not read back each other\'s results)')
        elif always:
            what = (f'{" and ".join(keys)} ({origin}) {"use" if several else "uses"} a new temporary folder {at}, '
                    'whatever its arguments')
        else:
            what = (f'{" and ".join(keys)} ({origin}) {"have" if several else "has"} no outfile_prefix: mmdet '
                    + ('makes a temporary folder for its results when it builds the metric' if when == 'build' else
                       'writes its results to a new temporary folder at every evaluation'))
            fix = f', or give {keys[0]}.outfile_prefix (a path prefix in a writable folder)'
        stop = ('The run would stop when it builds the metric' if when == 'build' else
                'The first evaluation would stop there, after training up to it')
        raise ConfigCheckError(f'{what}, and {err}{fix}. {stop}') from None
