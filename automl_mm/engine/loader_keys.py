"""A dataset's build error in a single-process run names its loader's config key.

mmengine 0.10.7 builds the train / val / test datasets lazily, in ``Runner.build_dataloader``, called by the loops
that ``Runner.build_train_loop`` / ``build_val_loop`` / ``build_test_loop`` build; a wrong ``data_root`` stopped
the run with the dataset's own message (``Fashion-MNIST data_root is not a folder: ...``), which does not say which
loader it was (the loaders of a config share one ``data_root``). ``tools/train.py``'s multi-copy start-up check
(:func:`~automl_mm.engine.preflight_build.build_check`) already named it. Here the loop builders say which loader
they build (:func:`building_loader`) and :func:`naming_build_dataloader` builds that loader's dataset under
:func:`~automl_mm.engine.preflight_build._named`: a ``TypeError``, ``ValueError`` or ``FileNotFoundError`` is
raised again, of its type, as ``'val_dataloader.dataset: <message>'`` and chained to the original, unless it is no
refusal but a failed operation of the dataset's code (a plugin's bug), which propagates as it was raised. The held-out
splits (OHL reward, NAS search) are built by :func:`~automl_mm.engine.evaluate.build_local_loader`, which names
its own key the same way. ``automl_mm.engine.patches`` installs both wrappers.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from .preflight_build import _named

_LOADER_KEY: ContextVar[str | None] = ContextVar('automl_mm_loader_key', default=None)
LOOP_LOADERS = {'build_train_loop': 'train_dataloader', 'build_val_loop': 'val_dataloader',
                'build_test_loop': 'test_dataloader'}


@contextlib.contextmanager
def building_loader(key: str) -> Iterator[None]:
    """Inside the block, a dataset that ``Runner.build_dataloader`` builds is named ``<key>.dataset`` in errors."""
    token = _LOADER_KEY.set(key)
    try:
        yield
    finally:
        _LOADER_KEY.reset(token)


def build_named_dataset(key: str, cfg: dict) -> Any:
    """Build the dataset config ``cfg`` (mmengine's root ``DATASETS``, as ``Runner.build_dataloader`` does, and
    ``full_init`` it), naming ``key`` in a ``TypeError``, ``ValueError`` or ``FileNotFoundError`` it raises, and the
    key of a ``type`` no registry holds in mmengine's ``KeyError``."""
    from mmengine.registry import DATASETS

    with _named(key, node=cfg):
        dataset = DATASETS.build(cfg)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
    return dataset


def naming_build_dataloader(build: Callable) -> Callable:
    """Wrap ``Runner.build_dataloader`` (a static method's function): inside :func:`building_loader`, a loader
    config whose ``dataset`` is a config dict has it built by :func:`build_named_dataset` (passed to mmengine as
    the dataset's ``type``, so mmengine's own copying, scope and sampler building are unchanged); a ready dataset or
    ``DataLoader``, or a call outside the loop builders, is passed as it is."""
    @functools.wraps(build)
    def build_dataloader(dataloader: Any, *args: Any, **kwargs: Any) -> Any:
        key = _LOADER_KEY.get()
        if key is not None and isinstance(dataloader, dict) and isinstance(dataloader.get('dataset'), dict):
            dataloader = dict(dataloader, dataset=dict(type=build_named_dataset, key=f'{key}.dataset',
                                                       cfg=dataloader['dataset']))
        return build(dataloader, *args, **kwargs)

    build_dataloader.names_datasets = True
    return build_dataloader


#: The evaluator a loop builder builds (``ValLoop`` / ``TestLoop`` call ``runner.build_evaluator``).
LOOP_EVALUATORS = {'build_val_loop': 'val_evaluator', 'build_test_loop': 'test_evaluator'}


def naming_loop_build(build_loop: Callable, key: str) -> Callable:
    """Wrap a runner class's ``build_train_loop`` / ``build_val_loop`` / ``build_test_loop``: its loop's dataset
    is named ``<key>.dataset`` in errors (:func:`building_loader`), and an unregistered metric ``type`` of its
    evaluator (``val_evaluator`` / ``test_evaluator`` of the runner's config) by its key: mmengine's ``KeyError:
    'MyMetric is not in the automl_mm::metric registry. Please check ...'`` named no key (the start-up checks of a
    single-process run do not build the evaluators), now ``KeyError("val_evaluator.type='MyMetric' is not in the
    automl_mm::metric registry (did you mean ...?)")`` (:func:`~automl_mm.engine.preflight_types.located_type_error`),
    chained to mmengine's; and a metric's refusal of its arguments by its entry's key and class (mmdet's ``KeyError:
    "metric should be one of 'bbox', ... but got bboxx."``, an ``assert``: ``val_evaluator (CocoMetric): metric
    should be one of ...``, :func:`~automl_mm.engine.preflight_model_args.located_build_error`)."""
    evaluator_key = next((e for m, e in LOOP_EVALUATORS.items() if LOOP_LOADERS[m] == key), None)

    @functools.wraps(build_loop)
    def wrapper(self, *args, **kwargs):
        with building_loader(key):
            try:
                return build_loop(self, *args, **kwargs)
            except (KeyError, ValueError, TypeError, AssertionError, FileNotFoundError) as err:
                cfg = getattr(self, 'cfg', None)
                node = cfg.get(evaluator_key) if evaluator_key is not None and cfg is not None else None
                if node is None:
                    raise
                from .preflight_model_args import located_build_error
                from .preflight_types import located_type_error

                located = located_type_error(err, node, evaluator_key) if isinstance(err, KeyError) else None
                located = located or located_build_error(err, node, evaluator_key)
                if located is None:
                    raise
                raise located from err

    wrapper.names_loader = key
    return wrapper


def install(runner_classes: tuple[type, ...]) -> None:
    """Wrap ``build_dataloader`` and the three loop builders of each of ``runner_classes`` (each once)."""
    for runner_class in runner_classes:
        build = runner_class.__dict__['build_dataloader']  # a staticmethod object
        if getattr(build.__func__, 'names_datasets', False):
            continue
        runner_class.build_dataloader = staticmethod(naming_build_dataloader(build.__func__))
        for method, key in LOOP_LOADERS.items():
            setattr(runner_class, method, naming_loop_build(runner_class.__dict__[method], key))


__all__ = ['LOOP_EVALUATORS', 'LOOP_LOADERS', 'build_named_dataset', 'building_loader', 'install',
           'naming_build_dataloader', 'naming_loop_build']
