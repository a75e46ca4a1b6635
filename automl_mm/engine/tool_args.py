"""What ``tools/train.py`` and ``tools/test.py`` share, and the options they take from mmdetection's tools.

mmdet's ``tools/train.py --amp / --auto-scale-lr`` and ``tools/test.py --out / --show / --show-dir`` behave here as
there, except that a config which cannot honour the option is refused before anything is built, naming the option and
the config key it needs (mmdet's asserts and ``RuntimeError`` name neither). ``--tta`` is
:mod:`automl_mm.engine.tta_views`'s, reading the config :mod:`automl_mm.engine.config_read`'s.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any

from mmengine.logging import print_log

from .preflight_read_keys import base_batch_size_problem
from .preflight_walk import ConfigCheckError, runner_scope
from .tool_cli import (  # noqa: F401  (their home before; old imports)
    CfgOptionsAction,
    _quoted_non_string,
    add_launcher_arguments,
    parse_tool_args,
)
from .tool_devices import checked_device  # noqa: F401  (its home before; old imports)
from .tool_errors import TRACEBACK_VARIABLE, exit_on_refusal, raised_as_refusal  # noqa: F401  (likewise)


def enable_amp(cfg: Any) -> None:
    """``--amp``: train with mmengine's ``AmpOptimWrapper`` (mmdet: ``optim_wrapper.type = 'AmpOptimWrapper'``,
    ``loss_scale = 'dynamic'``); a ``loss_scale`` the config or ``--cfg-options`` sets is kept, with a warning (mmdet
    replaced it silently).

    Args:
        cfg: The training config, changed in place.

    Raises:
        ValueError: ``optim_wrapper.type`` is neither mmengine's ``OptimWrapper`` nor ``AmpOptimWrapper`` (given
            as a name, scoped or not, e.g. ``'mmengine.OptimWrapper'``, or as the class), naming the key and type.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.registry import OPTIM_WRAPPERS

    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict):
        raise ValueError(f'--amp needs optim_wrapper, a dict of mmengine\'s OptimWrapper, got {wrapper!r}')
    kind = wrapper.get('type', 'OptimWrapper')
    if _resolve(OPTIM_WRAPPERS, dict(wrapper, type=kind), runner_scope(cfg)) not in (OptimWrapper, AmpOptimWrapper):
        raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper (mmengine\'s, which it replaces by '
                         f'AmpOptimWrapper), got {kind!r}')
    wrapper.type = 'AmpOptimWrapper'
    if wrapper.get('loss_scale', 'dynamic') != 'dynamic':
        # mmdet's tool set 'dynamic' over it without a word; kept here, and said
        print_log(f"--amp: keeping optim_wrapper.loss_scale={wrapper.loss_scale!r} (mmdet's tools/train.py --amp sets "
                  "'dynamic' in its place)", logger='current', level=logging.WARNING)
    wrapper.setdefault('loss_scale', 'dynamic')


def enable_auto_scale_lr(cfg: Any) -> None:
    """``--auto-scale-lr``: turn on mmengine's linear lr scaling, ``lr x real batch / base_batch_size``.

    The real batch is what one optimiser step learns from, ``world_size x train_dataloader.batch_size x
    optim_wrapper.accumulative_counts`` (mmengine's ``Runner.scale_lr``, which leaves the accumulation out, as
    patched by :func:`~automl_mm.engine.lr_scaling.scaling_by_accumulation`; an OHL run's ``CopyRunner`` counts one
    copy's ranks, ``ranks_per_copy``, since its copies train independently).

    Raises:
        ConfigCheckError: the config has no ``auto_scale_lr`` dict with a positive number ``base_batch_size``
            (mmdet: a ``RuntimeError`` not naming the value; mmengine: an ``assert`` in every worker).
    """
    scale = cfg.get('auto_scale_lr')
    problem = base_batch_size_problem(scale)
    if problem is not None:
        raise ConfigCheckError(
            f'--auto-scale-lr needs auto_scale_lr.base_batch_size, the total batch the configured lr is for (a '
            f'positive number); {problem}. Set it in the config, or with --cfg-options auto_scale_lr.base_batch_size=N')
    scale['enable'] = True


def check_out_file(out: str) -> None:
    """``--out``: mmengine's ``DumpResults`` writes a pickle and refuses any other name only once it is built.

    Raises:
        ValueError: ``out`` does not end in ``.pkl`` / ``.pickle``, is an existing directory, or its folder cannot be
            made (it or a parent is a file).
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: the predictions are dumped as a pickle; give a file name ending in .pkl or '
                         '.pickle')
    if os.path.isdir(out):
        raise ValueError(f'--out {out} is a directory; give a file name ending in .pkl or .pickle')
    problem = out_file_folder_problem(out, '--out')
    if problem is not None:
        raise ValueError(problem)


def out_file_folder_problem(out: str, option: str) -> str | None:
    """Why the file ``out`` cannot be written because its folder cannot be made (it, or a parent of it, is a file:
    ``os.makedirs`` / the dump failed after the work was done), naming ``option``; ``None`` where it can be."""
    from automl_mm.datasets.generated import blocking_file

    folder = os.path.dirname(os.path.abspath(out))
    blocker = blocking_file(folder)
    if blocker is None:
        return None
    return (f'{option} {out} cannot be written: its folder {folder} is a file, not a folder' if blocker == folder else
            f'{option} {out} cannot be written: its folder {folder} cannot be made: {blocker} is a file, not a folder')


def add_dump_results(runner: Any, out: str) -> None:
    """``--out``: dump every test prediction to ``out`` (a pickle of one dict a sample, ranks gathered) through
    mmdet's ``DumpDetResults`` (mmengine's ``DumpResults``, ground-truth instances dropped and masks RLE-encoded;
    a classifier's samples are dumped as they are), added after the config's metrics."""
    from mmdet.evaluation import DumpDetResults

    check_out_file(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))


def _draws(visualizer_cls: Any) -> bool:
    """Whether a visualizer class draws data samples (mmengine's base ``Visualizer.add_datasample`` does nothing);
    ``True`` for ``None`` (a type not resolved here: the runner names it when it builds it)."""
    from mmengine.visualization import Visualizer

    drawing = getattr(visualizer_cls, 'add_datasample', Visualizer.add_datasample)
    return visualizer_cls is None or drawing is not Visualizer.add_datasample


def check_show_display() -> None:
    """``--show``: refuse where no window can be shown.

    mmengine's ``Visualizer.show`` draws into a matplotlib figure and waits ``wait_time`` seconds on it
    (``mmengine.visualization.utils.wait_continue``). Under a non-interactive backend (``agg``, what matplotlib picks
    on a machine without a display) nothing is shown: mmdet's ``tools/test.py --show`` warned "FigureCanvasAgg is
    non-interactive" and slept ``--wait-time`` seconds per image, and with ``--wait-time 0`` ("until a key is
    pressed") waited forever on the first image.

    Raises:
        RuntimeError: ``matplotlib.get_backend()`` is one of matplotlib's non-interactive backends, naming it.
    """
    import matplotlib
    from matplotlib.backends import BackendFilter, backend_registry

    backend = matplotlib.get_backend()
    if backend.lower() in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        raise RuntimeError(
            f"--show shows each test image in a window, but matplotlib's backend here is {backend!r}, which shows "
            'nothing (no display: DISPLAY / WAYLAND_DISPLAY unset, or MPLBACKEND / matplotlibrc chose it); mmdet\'s '
            '--show waited --wait-time seconds on every image in vain. Draw the images into files with --show-dir '
            'DIR instead, or run where a display is (e.g. MPLBACKEND=TkAgg)')


def enable_drawing(cfg: Any, show_dir: str | None = None, show: bool = False, wait_time: float = 2.0) -> None:
    """``--show-dir`` / ``--show`` (mmdet's ``trigger_visualization_hook``): the config's
    ``default_hooks.visualization`` draws every test image with its predictions (``draw=True``), into ``show_dir``
    (as mmdet: a relative ``show_dir`` is under ``work_dir/<timestamp>/``) and / or in a window for ``wait_time``
    seconds each (``show=True``; 0: until a key is pressed).

    A detector config without that hook (automl_mm's OHL detection configs) gets mmdet's ``DetVisualizationHook``,
    and mmdet's ``DetLocalVisualizer`` (same ``vis_backends`` and ``name``) in place of a visualizer that cannot
    draw, with a log line saying so: mmdet's own ``tools/test.py`` refuses it.

    Args:
        cfg: The test config, changed in place.
        show_dir: ``--show-dir`` (``None``: no files).
        show: ``--show``.
        wait_time: ``--wait-time`` in seconds (read with ``show`` only).

    Raises:
        ConfigCheckError: the config has no ``default_hooks.visualization`` and its model is not an mmdet detector
            (automl_mm's classifiers have no drawing hook), or its ``visualizer.type`` draws nothing (mmengine's
            base ``Visualizer``: every image would be skipped silently), naming the option; where that depends on
            the model, first a ``model`` that names no class (:func:`_model_class`: not a dict, no ``type``, a
            ``type`` not registered, with the closest name), which the runner would refuse anyway: a misspelled
            ``model.type`` was refused as "no mmdet detector" with the advice to leave the option out.
    """
    from mmdet.models.detectors import BaseDetector
    from mmengine.registry import VISUALIZERS

    option = ' '.join(flag for flag, given in (('--show', show), ('--show-dir', show_dir is not None)) if given)
    scope = runner_scope(cfg)  # the scope the runner builds the model and the visualizer in

    def detector() -> bool:  # read only where the config cannot draw without an mmdet detector
        return issubclass(_model_class(cfg.get('model'), scope), BaseDetector)

    hooks = cfg.get('default_hooks') or {}
    if hooks.get('visualization') is None:
        if not detector():
            raise ConfigCheckError(
                f'{option} draws the predictions through default_hooks.visualization, which this config does not '
                f"have, and its model ({cfg.model.type}) is no mmdet detector, for which tools/test.py would add "
                "mmdet's DetVisualizationHook (automl_mm's classifiers have no drawing hook). Leave "
                f'{option} out, or set default_hooks.visualization to a hook that draws this model\'s predictions')
        cfg.default_hooks = dict(hooks, visualization=dict(type='mmdet.DetVisualizationHook'))
        print_log(f"{option}: the config has no default_hooks.visualization; drawing with mmdet's "
                  'DetVisualizationHook', logger='current')
    visualizer = cfg.get('visualizer')
    kind = visualizer.get('type', 'Visualizer') if isinstance(visualizer, dict) else 'Visualizer'  # mmengine's
    if not _draws(_resolve(VISUALIZERS, dict(visualizer or {}, type=kind), scope)):
        if not detector():
            raise ConfigCheckError(
                f"{option}: visualizer.type {kind!r} draws nothing (it has no add_datasample of its own, as "
                "mmengine's base Visualizer), so no image would be drawn. Set visualizer.type to a visualizer of "
                "this model's predictions")
        cfg.visualizer = dict(visualizer or {}, type='mmdet.DetLocalVisualizer')
        print_log(f"{option}: visualizer.type {kind!r} draws nothing; drawing with mmdet's DetLocalVisualizer",
                  logger='current')
    cfg.default_hooks.visualization.draw = True
    if show_dir is not None:
        cfg.default_hooks.visualization.test_out_dir = show_dir
    if show:
        cfg.default_hooks.visualization.show = True
        cfg.default_hooks.visualization.wait_time = wait_time


def enable_show_dir(cfg: Any, show_dir: str) -> None:
    """``--show-dir`` alone: :func:`enable_drawing` into ``show_dir``."""
    enable_drawing(cfg, show_dir)


def draw_on_every_rank(runner: Any) -> None:
    """``--show-dir`` under several processes (``tools/dist_test.sh``): let every rank draw its share of the test
    images into the folder.

    mmdet's ``DetLocalVisualizer.add_datasample`` and the image and ``dataset_meta`` accessors it calls are
    ``master_only``: on every other rank they returned ``None``, so with 2 processes only rank 0's half of the
    images was drawn, without a word. The instance's ``add_datasample`` is wrapped to run as on the main process
    (``mmengine.dist.utils.is_main_process``, which ``master_only`` reads at each call, answers ``True`` during the
    call; the ``dataset_meta`` the test loop set on the main process only is set from the test set's
    ``metainfo`` first); with an ``out_file`` (as ``--show-dir`` gives) it writes that file only. One process:
    unchanged.

    Args:
        runner: The built runner (``runner.visualizer`` is wrapped; the test set is read at the first drawing).
    """
    from mmengine.dist import get_world_size
    from mmengine.dist import utils as dist_utils

    visualizer = runner.visualizer
    if get_world_size() <= 1 or getattr(visualizer, '_automl_mm_every_rank', False):
        return
    add = visualizer.add_datasample

    def add_datasample(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get('out_file') is None:  # a vis backend's add_image: the main process's, as before
            return add(*args, **kwargs)
        main = dist_utils.is_main_process
        dist_utils.is_main_process = lambda *a, **k: True
        try:
            if visualizer.dataset_meta is None:
                visualizer.dataset_meta = runner.test_loop.dataloader.dataset.metainfo
            return add(*args, **kwargs)
        finally:
            dist_utils.is_main_process = main

    visualizer.add_datasample = add_datasample
    visualizer._automl_mm_every_rank = True


def _model_class(model: Any, scope: str | None) -> type:
    """The class config ``model`` builds (its ``type`` resolved as mmengine builds it: its ``_scope_``, else
    ``scope``).

    Raises:
        ConfigCheckError: ``model`` is not a dict, has no ``type``, or its ``type`` is no registered model in that
            scope (naming the closest registered name, :func:`~automl_mm.engine.preflight_types.type_hint`).
    """
    from mmengine.registry import MODELS

    from .preflight_types import type_hint
    from .preflight_walk import _built_in

    if not isinstance(model, dict):
        raise ConfigCheckError(f'model={model!r} is no config dict: the runner builds its model from '
                               "dict(type=..., ...)")
    if model.get('type') is None:
        raise ConfigCheckError(f"model has no 'type' (it sets: {', '.join(map(str, model))}); mmengine builds a "
                               'config node from its registered type')
    found = _resolve(MODELS, model, scope)
    if found is None:
        kind, built_in = model['type'], _built_in(model, scope)
        raise ConfigCheckError(f'model.type={kind!r} is not a registered model in scope {built_in!r}'
                               f'{type_hint(MODELS.name, kind, built_in)}')
    return found


def _resolve(registry: Any, node: Any, scope: str | None) -> type | None:
    """The class config ``node`` builds (its ``type`` resolved as mmengine builds it: its ``_scope_``, else
    ``scope``, :func:`~automl_mm.registry.config_class`), ``None`` when it cannot be resolved here."""
    from automl_mm.registry import config_class

    return config_class(registry, node, scope)


def option_named_error(err: Exception, options: list[str], names: dict[str, str] | None = None) -> Exception | None:
    """``err``, a library call's refusal of an argument (``ValueError('num_train must be an int >= 1, got 0')``: the
    function's parameter name), with each parameter named as the command-line option that sets it
    (``--num-train must be an int >= 1, got 0``); ``None`` where the message names none of them. Python's values
    of an option read as the command line gives them: ``data_root=None`` as ``no --data-root`` (``or data_root=None
    to read data/fashion-mnist``: leaving the option out), ``overwrite=True`` as ``--overwrite`` (``pass --overwrite
    (overwrite=True)`` as ``pass --overwrite``).

    Args:
        err: the error the tool's library call raised (its type is kept: ``FileNotFoundError`` too).
        options: the tool's options, ``['--num-train', '--img-size', ...]``; the parameter of ``--num-train`` is
            ``num_train``, named wherever it stands as a word (``(pass val_images instead)``: an ``_`` name is no
            word of prose; not inside a file name or path), a one-word name (``seed``) only where it is followed
            by `` must``, ``=`` or `` in `` and a range.
        names: further parameters and where the tool's user gave them, e.g. a config key
            (``{'input_shape': 'train_cfg.input_shape'}``), named by the same rules.
    """
    message = str(err)
    pairs = [(option.lstrip('-').replace('-', '_'), option) for option in options] + list((names or {}).items())
    for name, option in pairs:
        word = rf'(?<![\w./\-]){re.escape(name)}'
        if option.startswith('--'):  # an option's Python values, as the command line says them
            message = re.sub(rf'{re.escape(option)} \({re.escape(name)}=True\)', option, message)
            message = re.sub(rf'{word}=True(?!\w)', option, message)
            message = re.sub(rf'{word}=None(?!\w)', f'no {option}', message)
        after = r'(?![\w/.\-])' if '_' in name else r'(?= must|=| in [\[(\d])'
        message = re.sub(rf'{word}{after}', option, message)
    if message == str(err):
        return None
    try:
        return type(err)(message)
    except Exception:  # noqa: BLE001 - an error class that takes other arguments: left as it was
        return None
