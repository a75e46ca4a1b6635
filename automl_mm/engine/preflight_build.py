"""The building check (:func:`build_check`): the model, custom hooks, default hooks, datasets and evaluators of a
config are built in the launching process (then dropped), so that a typo in a ``type`` or an argument is reported
once, before any worker starts; the OHL hooks' spaces are resolved against the built model and training pipeline
(:func:`_resolve_spaces`) and the optimiser wrapper and parameter schedulers built for that model
(:func:`automl_mm.engine.preflight_training.check_optimisation`); then, on what it built, the OHL checks of the
model and of a resume (:mod:`~automl_mm.engine.preflight_ohl_build`), the holders of losses that need norms
(:func:`~automl_mm.engine.preflight_losses.check_loss_holders`) and ``'segm'`` metrics against the model
(:func:`~automl_mm.engine.preflight_masks.check_mask_metrics`). Hooks that draw are built with a throwaway
visualizer (:func:`_visualizer_for_hooks`). ``tools/train.py`` runs it before starting local copies and before a
one-process run builds its runner (where a fault was met only in ``before_train``, after the datasets and model were
built); importable
from :mod:`automl_mm.engine.preflight` as before.
"""
from __future__ import annotations

import contextlib
import copy
import os
import os.path as osp
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from mmengine.logging import print_log

from .preflight_loading import StartReads, check_remote_metric_files, start_backend_reads
from .preflight_runner_args import check_default_hook_typed
from .preflight_walk import (
    ConfigCheckError,
    _loader_cfgs,
    outside_split,
    runner_scope,
    scoped_datasets,
)


def build_check(cfg: Any, options: dict | None = None) -> None:
    """Build the model, custom hooks, datasets and evaluators of ``cfg`` in this process (then drop them), so
    that errors a worker would hit while building its runner are raised here first, once. ``test_evaluator``, which
    no training runner builds, is checked against its metrics' signatures without constructing them
    (:func:`~automl_mm.engine.preflight_metric_build.check_metric_arguments`). ``options``: the tool's
    ``--cfg-options``, whose run length a ``param_scheduler`` does not follow is warned of with the config's own
    settings the run never reaches, in one warning
    (:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`)."""
    from mmengine.registry import DefaultScope

    from automl_mm.engine.preflight_losses import check_loss_holders
    from automl_mm.engine.preflight_masks import check_mask_metrics
    from automl_mm.engine.preflight_model_args import (
        located_argument_error,
        located_assertion_error,
        located_value_error,
    )
    from automl_mm.engine.preflight_ohl_build import (
        check_config_relations,
        check_ohl_model,
        check_ohl_resume,
        check_replay_paths,
        deferred_hook_order,
    )
    from automl_mm.engine.preflight_training import check_optimisation
    from automl_mm.engine.preflight_types import located_type_error
    from automl_mm.registry import HOOKS, MODELS
    from automl_mm.utils.scope import building_at

    scope = runner_scope(cfg)
    with DefaultScope.overwrite_default_scope(scope), _visualizer_for_hooks():
        try:
            model = MODELS.build(copy.deepcopy(cfg.model)) if cfg.get('model') is not None else None
        except TypeError as err:  # Python names the class's __init__, not the config key
            located = located_argument_error(err, cfg.get('model'), scope)
            if located is None:
                raise
            raise located from err
        except KeyError as err:  # a misspelled type: mmengine names the registry, not the config key
            located = located_type_error(err, cfg.get('model'), 'model')
            if located is None:
                raise
            raise located from err
        except (ValueError, FileNotFoundError) as err:  # a refused value: the class names itself, not the node
            located = located_value_error(err, cfg.get('model'), scope)
            if located is None:
                raise
            raise located from err
        except AssertionError as err:  # a value a node's class refused with an assert: mmengine names no key
            located = located_assertion_error(err, cfg.get('model'))
            if located is None:
                raise
            raise located from err
        hooks = []
        for i, hook in enumerate(cfg.get('custom_hooks') or []):
            # mmengine names the class; an OHLHook names its spaces and controller under the key (building_at)
            with _named(f'custom_hooks[{i}]', also_checked=True, node=hook), building_at(f'custom_hooks[{i}]'):
                hooks.append(HOOKS.build(_without_priority(hook)))
        default_hooks = cfg.get('default_hooks') or {}
        for name, hook in default_hooks.items():
            check_default_hook_typed(default_hooks, name)
            if isinstance(hook, dict):
                HOOKS.build(_without_priority(hook))
        train_dataset, eval_datasets = None, {}
        loaders = [pair for loader, key in _loader_cfgs(cfg) for pair in _start_datasets(loader.get('dataset'),
                                                                                        f'{key}.dataset', scope)]
        reads = start_backend_reads(cfg)  # (a COCO file read through a backend is read once for this start)
        built_at = dict((key, built) for built, key in _checked_datasets(cfg, loaders, scope, reads=reads))
        for split in ('train', 'val', 'test'):
            key = f'{split}_dataloader.dataset'
            # a split's MultiImageMixDataset, around the dataset built in it, without loading that one's data list
            loader = cfg.get(f'{split}_dataloader')
            built = built_at[key] if key in built_at else _mix_wrapper(
                loader.get('dataset') if isinstance(loader, dict) else None, key, built_at.get(f'{key}.dataset'), scope)
            if built is None:
                continue
            if split == 'train':
                train_dataset = built
            else:  # what val_loop / test_loop hold
                eval_datasets[split] = built
        check_remote_metric_files(cfg, reads=reads)  # (a file a dataset's check read is not read again)
        # the runner's order of the hooks, where a hooks.<i> path needs it: computed once for the checks below
        ordered = deferred_hook_order(cfg, hooks)
        check_replay_paths(cfg, hooks, train_dataset, eval_datasets, model, ordered)  # their pipeline and model paths
        from .preflight_metric_build import _build_metrics  # (which imports this module)

        _build_metrics(cfg, False, 'test')  # those of the training run; test_evaluator bound to its signature
        optimisation = check_optimisation(cfg, model, scope)
        if model is not None:
            _resolve_spaces(hooks, model, train_dataset)
            check_ohl_model(cfg, hooks, model, optimisation, train_dataset, eval_datasets, reads, ordered)
            check_ohl_resume(cfg, hooks, model, train_dataset)
        # two settings a class relates (min_mag <= max_mag), as the replay hooks and OHLHook hold them in every worker
        check_config_relations(cfg, hooks, model, optimisation, train_dataset, eval_datasets, ordered,
                               options=options)
        if model is not None:
            check_loss_holders(model)
            check_mask_metrics(cfg, model)


def check_data_sources(cfg: Any, test_only: bool = False, split: str = 'test') -> None:
    """Check that the data every loader of ``cfg`` reads is there, as :func:`build_check` checks it, without the
    rest of that build (the model, hooks, evaluators): each loader's dataset (``train_dataloader``, ...,
    ``train_cfg.search_dataloader``, a hook's ``reward_dataloader`` and ``bn_recalibration_dataloader``; with
    ``test_only``, the ``{split}_dataloader`` alone, as :func:`~automl_mm.engine.preflight.check_config` limits its
    checks) is built lazily, reading no data list, and asked what its loading will read
    (:func:`~automl_mm.engine.preflight_loading.check_before_loading`: CIFAR-10's batch files, an image folder's
    class folders, an ``ann_file``), then the ``CocoMetric`` files on remote storage, which ``check_config`` does not
    download (:func:`~automl_mm.engine.preflight_loading.check_remote_metric_files`). ``tools/train.py`` runs it
    on each rank of a launcher before its runner is built (a one-process run gets :func:`build_check`, of which this
    is the data part),
    ``tools/test.py`` (``test_only``) before its runner: either built the model and hooks and logged some 270 lines
    before the loop's loader found the data missing. Only the datasets that read data are built, not the wrappers
    around them (``ConcatDataset``, ``RepeatDataset``, mmdet's ``MultiImageMixDataset``, ...): ``MultiImageMixDataset``
    takes the length of what it wraps when built, whatever ``lazy_init``, and loaded a YOLOX config's whole COCO
    file here before the runner loaded it again. A dataset whose class hides whether it takes ``lazy_init`` (a
    constructor without readable source: :func:`unknown_lazy_init`) is not built, with a warning naming its key.
    Cost: each such dataset's constructor, without its data list; the files stat-ed (the COCO files
    :func:`~automl_mm.engine.preflight.check_config` read are not read again).

    Raises:
        ConfigCheckError: a file or folder a dataset reads is missing or unreadable, naming the dataset's config key
            and the path (the message of :func:`build_check`), or a dataset ``type`` no registry holds.
        FileNotFoundError, TypeError, ValueError: a dataset's constructor refused its arguments, prefixed with its
            config key.
    """
    from mmengine.registry import DefaultScope

    from .preflight_walk import bn_recalibration_loader_cfgs

    scope = runner_scope(cfg)
    # (a leaf inside a wrapper of a _scope_ is built in that scope, as mmengine builds it inside the wrapper)
    leaves = [(node if node.get('_scope_') or in_scope == scope else dict(node, _scope_=in_scope), where)
              for loader, key in [*_loader_cfgs(cfg), *bn_recalibration_loader_cfgs(cfg)]
              if not outside_split(key, test_only, split) and isinstance(loader, dict)
              for node, where, in_scope in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope)
              if not _wraps(node)]
    reads = start_backend_reads(cfg, test_only, split)  # (a COCO file read through a backend: once for this start)
    with DefaultScope.overwrite_default_scope(scope):
        for _ in _checked_datasets(cfg, leaves, scope, test_only, split, reads):
            pass
        check_remote_metric_files(cfg, test_only, split, reads)  # (a file a dataset's check read is not read again)


def _start_datasets(dataset: Any, key: str, scope: str) -> list[tuple[Any, str]]:
    """``(dataset config, config key)`` of what :func:`build_check` builds of a loader's ``dataset`` (at ``key``): the
    dataset itself, or, where building it would load the data lists it wraps (:func:`_loads_what_it_wraps`: mmdet's
    ``MultiImageMixDataset``), the datasets in it that read data, as :func:`check_data_sources` builds them (at their
    own keys, ``train_dataloader.dataset.dataset``); :func:`build_check` then builds a split's own
    ``MultiImageMixDataset`` around the one built in it (:func:`_mix_wrapper`), where one inside another wrapper is
    not built and its pipeline paths (an OHL space's, a replay hook's) are left to the workers."""
    if not isinstance(dataset, dict) or not _loads_what_it_wraps(dataset, scope):
        return [(dataset, key)]
    return [(node if node.get('_scope_') or in_scope == scope else dict(node, _scope_=in_scope), where)
            for node, where, in_scope in scoped_datasets(dataset, key, scope) if not _wraps(node)]


def _mix_wrapper(dataset: Any, key: str, inner: Any, scope: str) -> Any:
    """The loader's dataset config ``dataset`` (at ``key``), where it is mmdet's ``MultiImageMixDataset`` (or a
    subclass) directly around one dataset, built around ``inner``, the dataset :func:`build_check` built in it lazily,
    without loading ``inner``'s data list (the wrapper's constructor takes its length, kept as 0 here, and this copy is
    never iterated): its ``pipeline`` (``Mosaic``, ``RandomAffine``, ``MixUp``) built as the runner builds it, so that
    an OHL space's or a replay hook's path through it is checked at start, as when the whole wrapper was built;
    its errors named at ``key``. ``None`` for another dataset, or where ``inner`` was not built (left to the
    workers)."""
    from mmdet.datasets import MultiImageMixDataset

    from automl_mm.registry import DATASETS, registered_class

    if not isinstance(dataset, dict) or not isinstance(dataset.get('dataset'), dict) or inner is None:
        return None
    kind = dataset.get('type')
    cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, dataset.get('_scope_') or scope)
    if not (isinstance(cls, type) and issubclass(cls, MultiImageMixDataset)):
        return None
    node = {name: copy.deepcopy(value) for name, value in dataset.items() if name != 'dataset'}
    held = type(inner)
    # the wrapper reads len(dataset), which loads the whole data list: this instance answers 0 while it is built
    inner.__class__ = type(held.__name__, (held,), {'__len__': lambda self: 0, '__module__': held.__module__})
    try:
        with _named(key, node=dataset):
            return DATASETS.build(dict(node, dataset=inner, lazy_init=True))
    finally:
        inner.__class__ = held


def _loads_what_it_wraps(dataset: dict, scope: str) -> bool:
    """Whether the dataset config ``dataset`` is, or wraps, mmdet's ``MultiImageMixDataset`` (a subclass included),
    whose constructor takes the length of what it wraps, whatever ``lazy_init``: built, it loads their whole data
    lists (a YOLOX config's COCO train2017 file: some 20 s and GB of memory), which the runner loads again."""
    from mmdet.datasets import MultiImageMixDataset

    from automl_mm.registry import DATASETS, registered_class

    for node, _, in_scope in scoped_datasets(dataset, '', scope):
        kind = node.get('type')
        cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, node.get('_scope_') or in_scope)
        if isinstance(cls, type) and issubclass(cls, MultiImageMixDataset):
            return True
    return False


def _wraps(dataset: dict) -> bool:
    """Whether the dataset config ``dataset`` wraps dataset configs (its ``dataset``, or an entry of its
    ``datasets``, is one), as the config walkers look through wrappers."""
    return isinstance(dataset.get('dataset'), dict) or \
        any(isinstance(inner, dict) for inner in dataset.get('datasets') or [])


def _checked_datasets(cfg: Any, datasets: Iterable[tuple[Any, str]], scope: str, test_only: bool = False,
                      split: str = 'test', reads: StartReads | None = None) -> Iterator[tuple[Any, str]]:
    """``(dataset, config key)`` for each of ``datasets`` (``(dataset config, its config key)``, e.g.
    ``train_dataloader.dataset``) that is a config: the dataset built lazily (:func:`_build_lazily`) and what its
    loading will read checked (:func:`~automl_mm.engine.preflight_loading.check_before_loading`), in the scope the
    caller set; one that cannot be built without its data list as far as the check can tell
    (:func:`unknown_lazy_init`) is warned of and left out. ``test_only`` / ``split``: the split the start checks
    (:func:`~automl_mm.engine.preflight_loading.start_backend_reads`: a file only another split reads masks from is
    warned of). ``reads``: the start's state, shared with its metric files' check; ``None``: a start of these
    datasets alone."""
    from automl_mm.engine.preflight_loading import check_before_loading
    from automl_mm.registry import DATASETS, registered_class

    # (a remote COCO file is read once per start, by its first reader)
    reads = reads if reads is not None else start_backend_reads(cfg, test_only, split)
    for dataset, key in datasets:
        if not isinstance(dataset, dict):
            continue
        dataset = copy.deepcopy(dataset)
        kind, in_scope = dataset.get('type'), dataset.get('_scope_') or scope  # (mmengine builds it in its _scope_)
        dataset_cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, in_scope)
        if dataset_cls is None:
            from .preflight_types import type_hint
            raise ConfigCheckError(f'{key}.type={kind!r} is not a registered dataset in scope '
                                   f'{in_scope!r}{type_hint(DATASETS.name, kind, in_scope)}')
        if not_lazy := unknown_lazy_init(dataset, scope):  # building it might read its whole data list
            _warn_not_built(key, not_lazy)
            continue
        _build_lazily(dataset, scope)  # check the arguments, do not read the data twice
        with _named(key, node=dataset):
            built = DATASETS.build(dataset)
        check_before_loading(built, key, cfg, reads)  # what the lazy build defers to the runner
        yield built, key


def _build_lazily(dataset: dict, scope: str) -> None:
    """Set ``lazy_init=True`` (unless given) on the dataset config ``dataset`` and on every dataset config it wraps
    (``dataset`` / ``datasets`` of ``RepeatDataset``, ``ConcatDataset``, ``ClassBalancedDataset``,
    ``NoisyLabelDataset``, ...) whose class takes ``lazy_init``, in place.

    The check builds a loader's dataset to check its arguments and hands the built training set to the OHL checks,
    which read its pipeline and metainfo, not its data list; a ``lazy_init=True`` wrapper still built what it
    wraps with that dataset's own default, ``lazy_init=False``: a COCO annotation file inside a ``RepeatDataset``
    was read here and again by the runner. What needs the data list (``len``, ``get_data_info``, ``__getitem__``,
    mmdet's ``MultiImageMixDataset``, which takes the wrapped length when built) still loads it on demand
    (mmengine's ``force_full_init``). A type no registry holds is left to the build, which names it. What the
    deferred loading will read is checked after the build, without reading it
    (:func:`~automl_mm.engine.preflight_loading.check_before_loading`).
    """
    from automl_mm.registry import DATASETS, registered_class

    for node, _, in_scope in scoped_datasets(dataset, '', scope):
        kind = node.get('type')
        cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, in_scope)
        if cls is not None and _takes_lazy_init(cls):
            node.setdefault('lazy_init', True)


def unknown_lazy_init(dataset: dict, scope: str) -> str | None:
    """Why the check cannot tell whether the dataset config ``dataset`` (or one it wraps) builds without its data
    list, or ``None``: a class of it whose constructor chain passes ``**kwargs`` through a constructor whose source
    cannot be read (a class made by ``exec`` / ``type()`` at run time, or compiled in an extension) before reaching
    one that names ``lazy_init`` (mmengine's ``BaseDataset``), with no ``lazy_init`` in that config.
    :func:`_takes_lazy_init` reads the forwarding calls from the source, so without it ``lazy_init=True`` was not
    set and the check built such a dataset in full, reading its whole data list before the runner read it again;
    setting it blind could instead stop a class that gives ``lazy_init`` to its base itself ("got multiple values").
    The reason reads ``'<Class>.__init__ takes **kwargs and its source cannot be read ...'``."""
    from automl_mm.registry import DATASETS, registered_class

    for node, _, in_scope in scoped_datasets(dataset, '', scope):
        kind = node.get('type')
        cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, in_scope)
        if cls is None or 'lazy_init' in node or _takes_lazy_init(cls):
            continue
        hidden = _unreadable_forwarder(cls)
        if hidden is not None:
            return (f'{hidden} takes **kwargs and its source cannot be read, so whether they pass lazy_init on to '
                    f'its base class is not known')
    return None


def _unreadable_forwarder(cls: type) -> str | None:
    """``'<Class>.__init__'``: the first constructor of ``cls``'s chain that takes ``**kwargs`` (or has no signature)
    and has no readable source, where a later constructor of the chain names ``lazy_init``; ``None`` otherwise (a
    chain that names it first, or ends in a constructor without ``**kwargs``, or is read to its end)."""
    import inspect

    owners = [c for c in cls.__mro__ if '__init__' in vars(c) and c is not object]

    def names(owner: type) -> set[str]:
        try:
            return set(inspect.signature(owner.__init__).parameters)
        except (TypeError, ValueError):
            return set()

    for at, owner in enumerate(owners):
        try:
            params = inspect.signature(owner.__init__).parameters
        except (TypeError, ValueError):
            params = None
        if params is not None and ('lazy_init' in params or not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())):
            return None
        try:
            inspect.getsource(owner.__init__)
        except (OSError, TypeError):
            later = any('lazy_init' in names(base) for base in owners[at + 1:])
            return f'{owner.__qualname__}.__init__' if later else None
    return None


def _warn_not_built(key: str, why: str) -> None:
    """Warn that the dataset at config key ``key`` was not built by the check (:func:`unknown_lazy_init`)."""
    import logging

    print_log(f'{key}: not built by the config check: {why}, and building it here could read its whole data list '
              'before the runner reads it again; its arguments and files are checked when the runner builds it (set '
              f'{key}.lazy_init=True where its class takes it, and the check builds it without its data)',
              logger='current', level=logging.WARNING)


def _takes_lazy_init(cls: type) -> bool:
    """Whether ``cls(...)`` takes ``lazy_init`` from its config: its own ``__init__`` names it, or passes ``**kwargs``
    on to a base class whose ``__init__`` does (:func:`~automl_mm.engine.preflight_training._parameters`), and no
    constructor of its chain gives it itself (:func:`~automl_mm.engine.preflight_training.set_by_subclass`: a
    ``lazy_init=True`` set here stopped such a dataset's build with Python's "got multiple values for keyword
    argument 'lazy_init'"). mmdet's ``BaseDetDataset`` (``CocoDataset``) takes ``(*args, ..., **kwargs)`` for
    mmengine's ``BaseDataset``: ``inspect.signature(CocoDataset)`` has no ``lazy_init``, and the check read every COCO
    annotation file in full before the runner read it again."""
    from .preflight_training import _parameters

    return 'lazy_init' in _parameters(cls)[0]


@contextlib.contextmanager
def _named(key: str, also_checked: bool = False, node: Any = None) -> Iterator[None]:
    """Prefix ``key: `` to a ``TypeError``, ``ValueError``, ``FileNotFoundError`` or ``IndexError`` (an ``indices``
    position out of range, :func:`_indices_error`) raised inside, keeping its type:
    a dataset's, metric's or hook's constructor names its class or argument, not which config entry it is (the four
    loaders of a Fashion-MNIST config share one ``data_root``). A :class:`ConfigCheckError` already names its key
    and passes unchanged unless ``also_checked`` (a hook's checks name its argument, not its ``custom_hooks``
    entry); so does an error whose class takes other constructor arguments (``json.JSONDecodeError``). Given the
    config ``node`` built inside (at ``key``), mmengine's ``KeyError`` for a ``type`` no registry holds is raised
    again naming that type's key and the closest registered name
    (:func:`~automl_mm.engine.preflight_types.located_type_error`: ``train_dataloader.dataset.pipeline.0.type``),
    and an error (an ``assert`` too) raised while a node below it was built by that node's key and class
    (:func:`~automl_mm.engine.preflight_model_args.located_build_error`: ``train_dataloader.dataset.pipeline.3
    (RandomFlip): probs must be float or list of float ...``, which named the dataset only; an assert of a node's
    own build names the node too). An error that is no refusal but a failed operation of the code being built (a
    plugin's bug: ``None + 1``, ``int('x')``, ``[][1]`` in a dataset's ``__init__`` or ``load_data_list``;
    :func:`~automl_mm.engine.preflight_model_args.failed_operation`) propagates as it was raised, traceback and all,
    as a model's and a metric's do: named ``key: ...`` by automl_mm's ``raise``, the tools printed it as a refusal,
    without the file and line that failed. A ``FileNotFoundError`` (a missing file: ``open`` fails in mmengine's
    loading), mmengine's ``IndexError`` for ``indices`` given and an operation of mmengine's, mmcv's or mmdet's own
    code failing on a value the config gave (:func:`_plugin_bug`) are named still."""
    from .preflight_model_args import located_build_error
    from .preflight_types import located_type_error

    def inner(err: BaseException) -> Exception | None:  # the error of a node below key's (a pipeline transform)
        if node is None or also_checked:  # a hook's: its spaces are named custom_hooks[i].spaces[j] by the hook
            return None
        located = located_build_error(err, node, key)
        return located if located is not None and not str(located).startswith(f'{key} (') else None

    try:
        yield
    except KeyError as err:
        named = _names_key(str(err.args[0]) if len(err.args) == 1 else '', key)
        located = located_type_error(err, node, key) if node is not None and not named else None
        located = located or (inner(err) if not named else None)
        if located is None:
            raise
        raise located from err
    except AssertionError as err:  # a class's check of its arguments (mmcv's RandomFlip prob): named where located
        located = located_build_error(err, node, key) if node is not None else None
        if located is None or also_checked and not str(located).startswith(f'{key} ('):
            raise
        raise located from err
    except IndexError as err:
        if _plugin_bug(err) and not _given_indices(node, key):  # a plugin's bug, not mmengine's indices
            raise
        raise _indices_error(err, key, node) from err
    except (TypeError, ValueError, FileNotFoundError) as err:
        if isinstance(err, ConfigCheckError) and not also_checked or _names_key(str(err), key):
            raise
        located = inner(err)
        if located is not None:
            raise located from err
        if not isinstance(err, FileNotFoundError) and _plugin_bug(err):  # a plugin's bug: as it was raised
            raise
        from .preflight_loading import argument_key

        try:
            named = type(err)(f'{argument_key(err, key)}: {err}')
        except Exception:  # noqa: BLE001 - any constructor failure: keep the original error as it was
            raise err from None
        raise named from err


def _plugin_bug(err: BaseException) -> bool:
    """Whether ``err`` is a failed operation (:func:`~automl_mm.engine.preflight_model_args.failed_operation`: no
    ``raise`` of a refusal) of code outside mmengine, mmcv and mmdet (a plugin's ``None + 1``), which propagates as it
    was raised. Their own code failing on a value the config gave is the config's: ``indices=[0.5]`` fails in
    mmengine's ``BaseDataset._get_unserialized_subset`` with ``list indices must be integers or slices, not float``,
    which names no key."""
    import importlib.util

    from .preflight_model_args import failed_operation
    from .tool_errors import _innermost

    if not failed_operation(err):
        return False
    filename = osp.abspath(_innermost(err).tb_frame.f_code.co_filename)
    for package in ('mmengine', 'mmcv', 'mmdet'):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            if filename.startswith(osp.abspath(folder) + os.sep):
                return False
    return True


def _names_key(message: str, key: str) -> bool:
    """Whether ``message`` already begins with ``key`` or a key inside it (``custom_hooks[0].spaces[1]: ...``, as an
    ``OHLHook`` built under :func:`~automl_mm.utils.scope.building_at` names its arguments): not prefixed again."""
    return message.startswith(key) and message[len(key):len(key) + 1] in ('.', ':', ' ', '[')


def _indices_error(err: IndexError, key: str, node: Any) -> IndexError:
    """mmengine's bare ``IndexError: list index out of range`` for an ``indices`` position past a dataset's items
    (``BaseDataset._get_unserialized_subset``: ``indices=[0, 12]`` of a 10-item split), named: ``key``, and the
    ``indices`` keys of the dataset config ``node`` (wrappers looked through) that may hold the position."""
    given = _given_indices(node, key)
    if not given:
        return IndexError(f'{key}: {err}')
    return IndexError(f'{key}: {err}: {" / ".join(given)} names a position past the items the dataset loads (mmengine '
                      'keeps the item at each position of the loaded list, -n counting from its end); give positions '
                      'in range, or an int n for the first n items')


def _given_indices(node: Any, key: str) -> list[str]:
    """``<key>.indices=[...]`` of each dataset config at or below ``node`` (wrappers looked through) that gives a list
    of ``indices``."""
    from .preflight_walk import _datasets

    return [f'{where}.indices={d["indices"]!r}' for d, where in _datasets(node, key)
            if isinstance(d.get('indices'), (list, tuple))]


class _Unavailable(Exception):
    """What a space asked the preflight runner for that the check does not build (the optimiser, ...)."""


class _PreflightRunner:
    """The parts of a runner a space's ``resolve`` reads that :func:`build_check` builds: ``model`` and
    ``train_dataloader.dataset``; anything else raises :class:`_Unavailable` (not ``AttributeError``, which
    ``hasattr`` would turn into a false "no such attribute")."""

    def __init__(self, model: Any, train_dataset: Any) -> None:
        self.model = model
        if train_dataset is not None:
            self.train_dataloader = SimpleNamespace(dataset=train_dataset)

    def __getattr__(self, name: str) -> Any:
        raise _Unavailable(name)


def _without_priority(hook: Any) -> Any:
    """A copy of a hook entry as ``Runner.register_hook`` builds it: without ``priority``, which it pops."""
    hook = copy.deepcopy(hook)
    if isinstance(hook, dict):
        hook.pop('priority', None)
    return hook


@contextlib.contextmanager
def _visualizer_for_hooks() -> Iterator[None]:
    """A visualizer instance while :func:`build_check` builds the hooks, removed after it, unless one exists.

    Hooks that draw (mmdet's ``DetVisualizationHook``, mmengine's default ``visualization`` hook of mmdet's
    ``default_runtime``) take ``Visualizer.get_current_instance()`` when built, which a runner creates first: the
    check stopped an OHL detection config with one of them with mmengine's "Before calling
    Visualizer.get_current_instance(), you should call get_instance(name=xxx) at least once", naming nothing."""
    from mmengine.visualization import Visualizer

    if Visualizer._instance_dict:  # noqa: SLF001 - mmengine keeps its instances there
        yield
        return
    name = 'automl_mm.build_check'
    Visualizer.get_instance(name)
    try:
        yield
    finally:
        Visualizer._instance_dict.pop(name, None)  # noqa: SLF001 - the runner's own becomes the only one


def _resolve_spaces(hooks: list, model: Any, train_dataset: Any) -> None:
    """Resolve the OHL spaces of ``hooks`` against the built model and training pipeline and build their
    controllers (``OHLHook.resolve_spaces``), so that what a space reads from them (AM-LFS's ``num_intervals``, a
    ``PipelineChoiceSpace``'s key and size) and the controller built on the resolved distribution are checked here
    rather than in every worker; a hook whose spaces read something else of the runner is left to the run.

    Raises:
        ConfigCheckError: a space's refusal, prefixed with the hook's ``custom_hooks[i] (<type>)``.
    """
    runner = _PreflightRunner(model, train_dataset)
    for i, hook in enumerate(hooks):
        resolve = getattr(hook, 'resolve_spaces', None)
        if callable(resolve):
            try:
                resolve(runner)
            except _Unavailable:
                continue
            except ConfigCheckError:
                raise
            except ValueError as err:  # the space's message names the space and what it read, not the hook entry
                if _names_key(str(err), f'custom_hooks[{i}]'):  # the hook's controller, named at its key
                    raise ConfigCheckError(str(err)) from err
                raise ConfigCheckError(f'custom_hooks[{i}] ({type(hook).__name__}): {err}') from err
