"""The metrics a start checks (:func:`check_metric_arguments`): constructed where the run builds them anyway,
bound to their signature (:func:`check_metric_signature`) where it does not, and mmdet's / mmengine's / automl_mm's
of those constructed aside (:func:`_construct_aside`: their output folders, and the temporary folders their
constructors make, moved into a throw-away folder). Split from :mod:`~automl_mm.engine.preflight_build`, whose
:func:`~automl_mm.engine.preflight_build.build_check` runs :func:`_build_metrics`; importable from
:mod:`automl_mm.engine.preflight` as before.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import os.path as osp
import re
import tempfile
from typing import Any

from .preflight_build import _named
from .preflight_walk import ConfigCheckError, _evaluator_cfgs, outside_split, remote_backend, runner_scope

#: The evaluators a training run (``Runner.train()``: its train loop, its validation loop, the search loops and hooks
#: that score held-out splits) never builds: ``tools/train.py``'s start checks their arguments without constructing
#: them.
UNBUILT_BY_TRAINING = ('test_evaluator', )


def check_metric_arguments(cfg: Any, test_only: bool = False, split: str = 'test', construct: bool = True) -> None:
    """Check every metric of ``cfg``'s evaluators (``val_evaluator``, ``test_evaluator``,
    ``train_cfg.search_evaluator``, a hook's ``reward_evaluator``; with ``test_only``, ``{split}_evaluator`` alone) in
    this process, as :func:`build_check` checks them: a misspelled, missing or refused argument is named at its key
    (``val_evaluator.prefx: Accuracy takes no argument 'prefx' (it takes ...) (did you mean
    val_evaluator.prefix?)``). ``tools/train.py`` runs it with :func:`check_data_sources` on each rank of a
    launcher before its runner is built (``construct=False``; a one-process run gets :func:`build_check`, which
    builds the metrics as this does), ``tools/test.py`` (``test_only``) before its runner: the runner's loops build the
    evaluators only in ``train()`` / ``test()``, after the model, the hooks (and the checkpoint's loading) and some 290
    log lines.

    The metrics of the evaluators the run builds anyway (with ``test_only`` the split's, else all but
    :data:`UNBUILT_BY_TRAINING`) are constructed, then dropped, where ``construct`` (a value the constructor refuses
    is named too). The others (a training run's ``test_evaluator``), and all where ``construct`` is False, are bound
    to their class's ``__init__`` signature (:func:`check_metric_signature`) and, where the class's constructors are
    all mmdet's, mmengine's or automl_mm's, constructed aside (:func:`_construct_aside`): the folders they write to
    (:data:`WRITTEN_ARGUMENTS`) moved into a throw-away temporary folder, so that a bad value (``CocoMetric(metric=
    'bboxx')``, a missing ``ann_file``) is refused at start, not when ``tools/test.py`` runs after the training, and
    no file of the config is touched (mmdet's format-only ``CityScapesMetric`` clears its ``outfile_prefix``
    results, ``DumpProposals`` makes its ``output_dir``), on every rank alike (before the process group each counts
    as the main one: ``tools/train.py`` passes ``construct=False`` there). A user's class with its own constructor
    may act on files it names otherwise: it is bound to its signature alone. So is a metric whose construction may
    reach the network, wherever it stands (:func:`_remote_arguments`: an argument, given or default, naming a remote
    file, as ``CocoOccludedSeparatedMetric``'s and its subclasses'; ``backend_args=dict(backend='petrel')``): a
    start does not download, nor hang on a node without network. Each metric is constructed in a throw-away
    temporary folder (``tempfile.tempdir``), which the folders its constructor makes go away with.
    Only the metrics the run never builds are constructed aside: with ``construct=False`` (a distributed start) the
    others are bound to their signature alone (the run's loops construct them at ``train()``, on every rank), and a
    metric config constructed once in a call, or one the run builds anyway (``test_evaluator = val_evaluator``, as
    mmdet's configs write it), is not constructed again (a ``CocoMetric`` loads its whole ``ann_file``: about 2 s
    and 160 MB for COCO val2017's, 15-20 s and over 1 GB for LVIS v1 val's, on every rank at once).

    Raises:
        TypeError: an argument the metric's class does not take, or one it needs that is not given, named at its
            key (by the signature or the constructor).
        ValueError, FileNotFoundError, KeyError: a constructed metric's constructor refused its arguments (aside
            too), prefixed with its config key (mmdet's ``KeyError`` for a ``metric`` it does not compute).
        KeyError: a metric ``type`` no registry holds (or none given), named at its key.
    """
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(runner_scope(cfg)):
        _build_metrics(cfg, test_only, split, construct)


def _build_metrics(cfg: Any, test_only: bool, split: str, construct: bool = True) -> None:
    """Construct (and drop) or bind and construct aside each metric of :func:`check_metric_arguments`, in the scope
    the caller set."""

    constructed: set[str] = set()  # the metric configs constructed in this call, by their repr
    metrics = [(metric, key) for metric, key in _evaluator_cfgs(cfg) if not outside_split(key, test_only, split)]
    # what the run's own loops construct anyway (a distributed start's val_evaluator: at train(), on every rank): no
    # second construction aside (a CocoMetric / LVISMetric loads its whole ann_file, on every rank at once)
    built_by_run = {repr(metric) for metric, key in metrics
                    if test_only or key.split('[')[0] not in UNBUILT_BY_TRAINING}
    for metric, key in metrics:
        unbuilt = not test_only and key.split('[')[0] in UNBUILT_BY_TRAINING
        if not construct or unbuilt:
            cls = check_metric_signature(metric, key)
            if unbuilt and cls is not None and _known_constructor(cls) and not _remote_arguments(cls, metric) and \
                    repr(metric) not in constructed and repr(metric) not in built_by_run:
                _construct_aside(metric, key)
                constructed.add(repr(metric))
            continue
        if repr(metric) in constructed:
            continue
        cls = _resolved_class(metric)
        if cls is not None and _remote_arguments(cls, metric):  # the run's loop fetches them when it builds it
            check_metric_signature(metric, key)
            continue
        _build_metric(key, copy.deepcopy(metric))
        constructed.add(repr(metric))


def _resolved_class(metric: dict) -> type | None:
    """The class the metric config ``metric`` builds in the current default scope (its ``_scope_`` first), ``None``
    where it cannot be resolved here (the build then names why)."""
    from automl_mm.registry import METRICS, registered_class

    kind = metric.get('type')
    try:
        cls = kind if isinstance(kind, type) else registered_class(METRICS, kind, metric.get('_scope_'))
    except Exception:  # noqa: BLE001 (a type no registry holds: refused by the build, naming its key)
        return None
    return cls if isinstance(cls, type) else None


def _build_metric(key: str, metric: dict, folder: str | None = None) -> None:
    """Build (and drop) the metric config ``metric`` (not copied) at config key ``key``, its errors named by
    :func:`_named`, ``tempfile.tempdir`` pointed meanwhile at ``folder`` (default: a new temporary folder, removed
    after; none where none can be made), so that the temporary folders its constructor makes go away with it
    (mmdet's ``MOTChallengeMetric`` makes one with ``mkdtemp`` that nothing removes: one more under ``TMPDIR`` at
    every start that built it); a ``RuntimeError`` / ``ImportError`` raised by mmdet's own code (a metric's package not
    installed: ``CocoPanopticMetric`` without panopticapi, ``COCOCaptionMetric`` without pycocoevalcap) is raised
    again as ``<key> (<type>): <its message>``, the half-built metric's ``__del__`` (mmdet's reads an attribute not
    set yet) not reported as an ignored exception."""
    import sys

    hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:  # a half-built mmdet metric's __del__ reading what was not set yet
        if not (isinstance(unraisable.exc_value, AttributeError)
                and getattr(unraisable.object, '__qualname__', '').endswith('__del__')
                and getattr(unraisable.object, '__module__', '').startswith('mmdet.')):
            hook(unraisable)

    aside: Any = contextlib.nullcontext(folder)
    if folder is None:
        try:
            aside = tempfile.TemporaryDirectory(prefix='automl_mm_metric_', ignore_cleanup_errors=True)
        except OSError:  # (none can be made: built as the run builds it; check_metric_temp_folders names it)
            pass
    named = None
    with aside as throwaway:
        kept = tempfile.tempdir
        if throwaway is not None:
            tempfile.tempdir = throwaway
        sys.unraisablehook = quiet
        try:
            named = _built(key, metric)
        finally:
            sys.unraisablehook = hook
            tempfile.tempdir = kept
    if named is not None:
        raise named


def _built(key: str, metric: dict) -> Exception | None:
    """``METRICS.build(metric)`` for :func:`_build_metric`, dropped; the error to raise named (mmdet's own
    ``RuntimeError`` / ``ImportError``), else ``None``."""
    import gc

    from automl_mm.registry import METRICS
    from automl_mm.utils.scope import config_type_name

    named = None
    try:
        with _named(key, node=metric):
            METRICS.build(metric)
    except (RuntimeError, ImportError) as err:
        tb = err.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        if type(err) not in (RuntimeError, ImportError) or \
                f'{osp.sep}mmdet{osp.sep}' not in osp.normpath(tb.tb_frame.f_code.co_filename):
            raise
        named = type(err)(f'{key} ({config_type_name(metric)}): {err}')
        tb = None
    if named is not None:
        gc.collect()  # (the half-built metric, where mmdet's traceback held it in a reference cycle)
    return named


#: The arguments of mmdet's metrics that name where their constructors write: ``CityScapesMetric`` clears
#: ``<outfile_prefix>/results`` and ``MOTChallengeMetric`` its ``outfile_prefix`` (on the main process),
#: ``DumpProposals`` and ``SemSegMetric`` make their ``output_dir``. :func:`_construct_aside` moves them.
WRITTEN_ARGUMENTS = ('outfile_prefix', 'output_dir')

#: The libraries whose metric constructors write nowhere but :data:`WRITTEN_ARGUMENTS` and temporary folders of
#: their own (mmdet 3.3, mmengine 0.10).
_KNOWN_LIBRARIES = ('mmdet', 'mmengine', 'automl_mm')


def _known_constructor(cls: type) -> bool:
    """Whether every ``__init__`` of metric class ``cls`` (its own and its bases') is one of
    :data:`_KNOWN_LIBRARIES`'s (a user's subclass that defines none too)."""
    return all(c.__module__.split('.')[0] in _KNOWN_LIBRARIES for c in cls.__mro__
               if '__init__' in vars(c) and c.__module__ != 'builtins')


#: A value that names a remote file (``https://...``, ``s3://...``): mmengine's file backends fetch it.
_REMOTE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')

#: The arguments that choose the file backend a metric reads its files through (mmengine's ``backend_args``; the
#: deprecated ``file_client_args``, which mmdet 3.x's metrics refuse: :func:`_backend_arguments`).
_BACKEND_ARGUMENTS = ('backend_args', 'file_client_args')


def _backend_arguments(cls: type) -> tuple[str, ...]:
    """The arguments of :data:`_BACKEND_ARGUMENTS` through which metric class ``cls``'s constructor may read files:
    not ``file_client_args`` where every constructor of ``cls`` is :data:`_KNOWN_LIBRARIES`'s
    (:func:`_known_constructor`): mmdet 3.3's metrics that take it (``CocoMetric``, ``LVISMetric``,
    ``CocoPanopticMetric``, ``CityScapesMetric``, ``CrowdHumanMetric``, ``DumpProposals``) raise ``RuntimeError('The
    `file_client_args` is deprecated, ...')`` before they read any file, and mmengine's and automl_mm's take none:
    constructed, such a metric is refused at start (an mmdet 2.x ``file_client_args=dict(backend='petrel')`` line)
    rather than at ``train()``, or at the test after the training."""
    return ('backend_args', ) if _known_constructor(cls) else _BACKEND_ARGUMENTS


def _downloading_constructors() -> dict[type, tuple[str, ...]]:
    """mmdet's metric classes whose constructors load files that by default are remote, with those arguments:
    ``CocoOccludedSeparatedMetric``: ``occluded_ann`` / ``separated_ann`` (robots.ox.ac.uk); ``{}`` without mmdet."""
    try:
        from mmdet.evaluation.metrics import CocoOccludedSeparatedMetric
    except ImportError:
        return {}
    return {CocoOccludedSeparatedMetric: ('occluded_ann', 'separated_ann')}


def _remote_arguments(cls: type, metric: dict) -> list[str]:
    """The arguments of the metric config ``metric`` (of class ``cls``: ``{argument: value}``, its ``type`` and
    ``_scope_`` ignored) whose construction may reach the network, by one rule for every place a start constructs a
    metric (in place, aside: :func:`_build_metrics`; a probe of a user's class:
    :func:`~automl_mm.engine.preflight_metric_order.probe_metric`):

    * a value, as given or else the default of an ``__init__`` of ``cls``'s, that names a remote file
      (:data:`_REMOTE`: ``https://...``, ``s3://...``);
    * ``backend_args`` / ``file_client_args`` (given or default; ``file_client_args`` only where a constructor of
      the user's may read through it: :func:`_backend_arguments`) that choose a backend other than mmengine's local
      one (:func:`~automl_mm.engine.preflight_walk.remote_backend`: ``dict(backend='petrel')`` reads every file,
      ``ann_file`` too, through petrel);
    * for a subclass (``issubclass``) of a class of :func:`_downloading_constructors` (mmdet's
      ``CocoOccludedSeparatedMetric``, which loads ``occluded_ann`` / ``separated_ann``, by default from
      robots.ox.ac.uk, when built), those arguments where a constructor of the user's (outside mmdet) comes before
      mmdet's: it may pass its own.

    Such a metric is bound to its signature alone, not constructed (a start downloaded them, on every rank, or hung
    on a node without network; a training run's loops fetch them when they build it). Returns the argument names in
    the order found, ``[]`` for none."""
    values = _argument_values(cls, metric)
    found = [name for name, value in values.items() if isinstance(value, str) and _REMOTE.match(value)]
    found += [name for name in _backend_arguments(cls) if remote_backend(values.get(name)) and name not in found]
    for base, names in _downloading_constructors().items():
        if issubclass(cls, base) and any('__init__' in vars(c) and c.__module__.split('.')[0] not in _KNOWN_LIBRARIES
                                         for c in cls.__mro__[:cls.__mro__.index(base)]):
            found += [name for name in names if name not in found]
    return found


def _argument_values(cls: type, metric: dict) -> dict[str, Any]:
    """``{argument: value}`` of the metric config ``metric`` (its ``type`` and ``_scope_`` left out) over the
    defaults of every ``__init__`` of ``cls``'s (a subclass's over its bases')."""
    values: dict[str, Any] = {}
    for c in reversed(cls.__mro__):
        init = vars(c).get('__init__')
        if init is None or c is object:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        values.update({p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty})
    values.update({k: v for k, v in metric.items() if k not in ('type', '_scope_')})
    return values


def remote_construction_refused(cls: type, arguments: dict) -> None:
    """Refuse to construct metric class ``cls`` with ``arguments`` (``{argument: value}``) where
    :func:`_remote_arguments` names any: a probe of a user's metric class
    (:func:`~automl_mm.engine.preflight_metric_order.probe_metric`) says so in its warning instead of fetching.

    Raises:
        RemoteMetricFiles: naming the class and those arguments (with their values, given or default).
    """
    names = _remote_arguments(cls, arguments)
    if names:
        values = _argument_values(cls, arguments)
        shown = ', '.join(f'{n}={values[n]!r}' if n in values else n for n in names)
        raise RemoteMetricFiles(f'{cls.__name__} not constructed here: its constructor may fetch remote files '
                                f'({shown}), and a start does not reach the network')


class RemoteMetricFiles(RuntimeError):
    """A metric class a start does not construct: its constructor may fetch remote files
    (:func:`remote_construction_refused`)."""


def _construct_aside(metric: dict, key: str) -> None:
    """Construct (and drop) the metric config ``metric`` (at config key ``key``) with its
    :data:`WRITTEN_ARGUMENTS` moved into a new temporary folder (each a path of the same name in it), and the
    temporary folders its constructor makes there too (``tempfile.tempdir`` pointed at it meanwhile), removed
    after; nothing is done where no temporary folder can be made (the signature was checked;
    :func:`~automl_mm.engine.preflight_metric_folders.check_metric_temp_folders` refuses a metric that needs one).

    Raises:
        ValueError, FileNotFoundError, KeyError, TypeError: the constructor's refusal, prefixed with ``key``
            (:func:`_named`).
    """

    try:
        aside = tempfile.TemporaryDirectory(prefix='automl_mm_metric_', ignore_cleanup_errors=True)
    except OSError:
        return
    with aside as folder:
        moved = copy.deepcopy(metric)
        for name in WRITTEN_ARGUMENTS:
            if isinstance(moved.get(name), str):
                moved[name] = osp.join(folder, name, osp.basename(moved[name].rstrip('/\\')) or name)
        # the temporary folders a constructor makes go into the throw-away one too, and away with it
        _build_metric(key, moved, folder)


def check_metric_signature(metric: dict, key: str) -> type | None:
    """Check the metric config ``metric`` (at config key ``key``) against its class's ``__init__`` signature without
    constructing it, in the current default scope (its ``_scope_`` first, as mmengine's ``build_from_cfg``): its
    ``type`` resolves, each argument is one the class takes (``**kwargs`` forwarded to a base class followed), and
    each argument it needs is given. Values are not checked (the constructor's refusals are not run). Returns the
    class (``None`` where the registry lookup did not raise yet found none).

    Raises:
        KeyError: a ``type`` no registry holds, or none, named at its key (mmengine's lookup, which refuses it before
            anything is constructed).
        TypeError: ``<key>.<arg>: <Class> takes no argument '<arg>' (it takes ...) (did you mean <key>.<close>?)``,
            or ``<key>: <Class> needs '<arg>'``.
    """
    from automl_mm.registry import METRICS, registered_class

    from .preflight_training import check_arguments

    kind = metric.get('type')
    cls = kind if isinstance(kind, type) else registered_class(METRICS, kind, metric.get('_scope_'))
    if cls is None:  # mmengine's registry lookup refuses it before it constructs anything: its error, named
        with _named(key, node=metric):
            METRICS.build(copy.deepcopy(metric))
        return None
    try:  # the names alone: values are the constructor's to refuse
        check_arguments(cls, dict.fromkeys(k for k in metric if k not in ('type', '_scope_')), key,
                        passed_by_builder=frozenset())
    except ConfigCheckError as refused:  # as Python's refusal of the call would be
        raise TypeError(str(refused)) from None
    return cls if isinstance(cls, type) else None
