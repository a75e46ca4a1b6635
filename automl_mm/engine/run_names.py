"""One name per runner in a process.

mmengine names a run by the second it started: ``Runner.setup_env`` sets ``timestamp`` to ``'%Y%m%d_%H%M%S'``
(rank 0's, broadcast), and the runner's log folder (``work_dir/<timestamp>/``), its experiment name
(``<config file name>_<timestamp>``) and the ``ManagerMixin`` instances named after it (``MMLogger``,
``MessageHub``, ``Visualizer``, ``DefaultScope``) follow. ``get_instance`` hands back an existing instance of that
name, so a second runner started in the same second in one process (a benchmark's arms, a notebook, a test after
another) took the first one's message hub with its runtime info: mmengine's ``CheckpointHook`` read the first run's
``keep_ckpt_ids`` from it and, under ``max_keep_ckpts``, deleted the *second* run's ``iter_3.pth`` (the first run's
ids, this run's folder); it also logged into the first run's log file and visualiser folder.

:func:`naming_each_run` wraps ``Runner.setup_env`` so that every runner of a process gets its own timestamp: the
second one of the same second gets ``<timestamp>_1``, then ``_2`` (names still sort by start). Every rank builds
the same runners in the same order and starts from rank 0's broadcast timestamp, so the ranks of one run agree.
``FlexibleRunner`` never calls ``Runner.setup_env``: its strategy makes the timestamp (``BaseStrategy._setup_env``,
rank 0's ``time.time()`` broadcast, in ``BaseStrategy.__init__`` before the log folder, experiment name and logger
are named from it, then the runner's ``DefaultScope``, ``MessageHub`` and ``Visualizer``), so that method is
wrapped the same way; both kinds of runner draw from one count per process (a ``Runner`` then a
``FlexibleRunner`` of the same second: ``<timestamp>``, ``<timestamp>_1``).

A visualizer the config names (mmdet's and automl_mm's ``default_runtime``: ``name='visualizer'``) is not named by
the timestamp: every later runner of the process got the first one's instance, with its ``save_dir``, and wrote
its ``config.py`` and scalars into the first run's ``vis_data`` (where pytest had removed the first test's
``tmp_path``: ``FileNotFoundError``). :func:`own_visualizer` wraps ``build_visualizer`` (of ``Runner`` and
``FlexibleRunner``) so that such a runner replaces the instance of that name with its own; the earlier runner
keeps the object it holds.
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

_started: Counter = Counter()


def unique_timestamp(timestamp: str) -> str:
    """``timestamp`` the first time this process sees it, then ``timestamp_1``, ``timestamp_2``, ..."""
    seen = _started[timestamp]
    _started[timestamp] += 1
    return timestamp if seen == 0 else f'{timestamp}_{seen}'


def naming_each_run(setup_env: Callable) -> Callable:
    """Wrap ``Runner.setup_env`` or ``BaseStrategy._setup_env`` (what sets ``self._timestamp``,
    ``'%Y%m%d_%H%M%S'`` of rank 0's start): that ``_timestamp`` made unique in the process
    (:func:`unique_timestamp`) before the runner or strategy names its log folder, logger, message hub and
    visualiser from it."""
    @functools.wraps(setup_env)
    def wrapper(self, *args, **kwargs):
        result = setup_env(self, *args, **kwargs)
        self._timestamp = unique_timestamp(self._timestamp)
        return result

    wrapper.names_each_run = True
    return wrapper


def own_visualizer(build_visualizer: Callable) -> Callable:
    """Wrap a runner's ``build_visualizer``: a config dict that names an existing instance of the class it builds
    (``Visualizer.get_instance`` would hand that one back, ``save_dir`` and backends of another run) drops it from
    the class's instances first, so the runner builds its own (``get_instance`` by that name and
    ``get_current_instance`` then give this runner's, as for a runner whose visualizer mmengine names)."""
    @functools.wraps(build_visualizer)
    def wrapper(self, visualizer=None):
        if isinstance(visualizer, dict) and visualizer.get('name') is not None:
            from mmengine.registry import VISUALIZERS

            kind = visualizer.get('type', 'Visualizer')  # build_from_cfg's lookup, in the config's scope
            with VISUALIZERS.switch_scope_and_registry(visualizer.get('_scope_')) as registry:
                cls = registry.get(kind) if isinstance(kind, str) else kind
            instances = getattr(cls, '_instance_dict', None)
            if isinstance(instances, dict):
                instances.pop(visualizer['name'], None)
        return build_visualizer(self, visualizer)

    wrapper.own_visualizer = True
    return wrapper


def install() -> None:
    """Wrap ``mmengine.runner.Runner.setup_env`` and ``mmengine._strategy.BaseStrategy._setup_env`` (the
    ``FlexibleRunner`` 's timestamp) with :func:`naming_each_run` and ``build_visualizer`` of ``Runner`` and
    ``FlexibleRunner`` with :func:`own_visualizer` (once)."""
    from mmengine._strategy import BaseStrategy
    from mmengine.runner import FlexibleRunner, Runner

    if not getattr(Runner.setup_env, 'names_each_run', False):
        Runner.setup_env = naming_each_run(Runner.setup_env)
    if not getattr(BaseStrategy._setup_env, 'names_each_run', False):
        BaseStrategy._setup_env = naming_each_run(BaseStrategy._setup_env)
    for runner_class in (Runner, FlexibleRunner):
        if not getattr(runner_class.build_visualizer, 'own_visualizer', False):
            runner_class.build_visualizer = own_visualizer(runner_class.build_visualizer)
