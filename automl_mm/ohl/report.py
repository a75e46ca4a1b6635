"""What an OHL run leaves in ``work_dir/<out_dir>``: history JSON, PNG plots, the exported policy."""
from __future__ import annotations

import json
import math
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

from mmengine.dist import is_main_process
from mmengine.logging import print_log

from automl_mm.utils.config_text import config_literal
from automl_mm.utils.io import remove_files, savefig_atomic, savez_atomic, write_text_atomic

from .progress import read_flags, stand_ins, valid_rewards
from .report_plots import (  # noqa: F401
    _curve_styles,
    _dimension_names,
    _plot_categorical,
    _plot_series,
    _series,
    _trunk_ticks,
    choice_label,
)

# packages a config reaches without custom_imports: automl_mm's (imported anyway, first in every fragment's list),
# mmengine's and mmcv's, and the OpenMMLab packages whose scope prefix or default scope imports their registries
_REACHED = frozenset({'automl_mm', 'mmengine', 'mmcv'})
_WARNED: set[str] = set()


def _importable(cls: type) -> bool:
    """Whether importing ``cls.__module__`` in a fresh process defines ``cls`` under its qualified name (not a class
    of ``__main__``, of a function's body, or of a config file, whose classes mmengine gives no module)."""
    import sys

    module = sys.modules.get(cls.__module__)
    if cls.__module__ == '__main__' or module is None or getattr(module, '__spec__', None) is None:
        return False
    obj: Any = module
    for part in cls.__qualname__.split('.'):
        obj = getattr(obj, part, None)
    return obj is cls


def custom_imports_line(classes: Sequence[type] = (), what: str = 'the fragment') -> str:
    """The ``custom_imports`` line of a fragment whose types are ``classes`` (and automl_mm's).

    It lists ``automl_mm`` and, in first-seen order, the module of every class outside automl_mm, mmengine, mmcv
    and the OpenMMLab packages mmengine imports by scope (a user's ``BaseAugmentOp`` registered in
    ``my_project.ops``: ``'my_project.ops'``, whose import registers it in a fresh process). A class that no import
    can define (one of ``__main__``, of a function body, of a config file) cannot be listed: its modules are left
    out, a comment line before the assignment names it and a warning is logged once per class.

    Args:
        classes: The classes the fragment's ``type`` s build (duplicates allowed).
        what: The fragment, in words, for the comment and the warning.

    Returns:
        Config text: optional comment lines and ``custom_imports = dict(imports=[...], allow_failed_imports=False)``.
    """
    from mmengine.config.utils import MODULE2PACKAGE

    modules, missing = ['automl_mm'], []
    for cls in classes:
        top = cls.__module__.split('.')[0]
        if top in _REACHED or top in MODULE2PACKAGE:
            continue
        if not _importable(cls):
            name = f'{cls.__module__}.{cls.__qualname__}'
            if name not in missing:
                missing.append(name)
        elif cls.__module__ not in modules:
            modules.append(cls.__module__)
    text = ''
    for name in missing:
        message = (f'{what} uses {name}, which no import defines (a class of __main__, of a function or of a '
                   'config file): the fragment cannot import it. Define it in a module (e.g. my_project/ops.py) '
                   'and list that module in custom_imports, or import it yourself before building')
        text += f'# WARNING: {message}\n'
        if name not in _WARNED:
            _WARNED.add(name)
            print_log(message, logger='current', level=30)
    return text + _imports_assignment(modules)


def _imports_assignment(modules: Sequence[str], allow_failed: bool = False) -> str:
    """The ``custom_imports = dict(...)`` line of a fragment (one format for single and merged fragments)."""
    return f'custom_imports = dict(imports={list(modules)!r}, allow_failed_imports={allow_failed})\n'


# Every exported fragment imports automl_mm and names its types with the scope prefix, so it loads in an
# automl_mm config and in a stock mmdet one (default_scope='mmdet') alike; one whose types include a user's
# classes imports their modules too (custom_imports_line). This is the line of a fragment with none.
CUSTOM_IMPORTS = custom_imports_line()


def lineage(history: list[dict], last_copy: int | None = None) -> list[dict[str, dict]]:
    """The values the final model trained with, trunk by trunk: ``[{space: {path: value}} for each trunk]``.

    After a broadcasting trunk every copy holds that trunk's best copy, so the model at the end of the run descends
    from the best copy of the last trunk, and before it, from the best copy of each earlier broadcasting trunk
    (between broadcasts, ``broadcast_interval > 1``, from its own copy). Walking back from the last entry (whose
    best copy every rank ends with, broadcast in that trunk or by ``after_train``), trunk ``k``'s values are those
    of the copy the final model descends from (``copy_values``). This is what Ray Tune's PBT replay re-trains (the
    schedule of the best trial's lineage). An entry without ``copy_values`` (a history written before they were
    recorded) contributes its ``schedule`` (the mode of θ in that trunk) instead.

    Args:
        history: ``OHLHook`` history entries, in trunk order.
        last_copy: The copy whose model is followed back from the last entry (a checkpoint saved while the copies
            were apart holds copy 0's); ``None``: the last entry's best copy.

    Returns:
        One dict per entry, ``{space name: {attribute path: value}}`` (empty for entries with no per-copy space).
    """
    out: list[dict[str, dict]] = []
    copy = None
    for i, entry in enumerate(reversed(history)):
        if i == 0 and last_copy is not None:
            copy = last_copy
        elif i == 0 or entry.get('broadcast', True):
            copy = entry.get('best', copy)
        per_copy = entry.get('copy_values')
        if per_copy is None:
            out.append(dict(entry.get('schedule', {})))
        else:
            out.append({name: values[copy] for name, values in per_copy.items()})
    return out[::-1]


def transform_types_note(types: dict) -> str:
    """The fragment's comment on its hook's ``transform_types`` (:mod:`automl_mm.ohl.transform_types`); ``''``
    where it has none."""
    if not types:
        return ''
    return ('# transform_types: the class of the pipeline transform each path indexes (transforms.<i>) in the search,\n'
            '# and which of the count transforms of that class in its list it is (nth, from 0); the hook refuses a\n'
            '# train pipeline with another transform there, or another number of transforms of that class (one\n'
            '# inserted or removed): make the pipeline the search\'s, or change the index in values and\n'
            '# transform_types.\n')


def schedule_fragment(history: list[dict], trunk: dict, runner: Any = None) -> str:
    """Config text replaying the :func:`lineage` of ``history`` with a ``TrunkScheduleHook``.

    Args:
        history: ``OHLHook`` history entries (``best``, ``broadcast`` and ``copy_values``, or ``schedule`` for
            entries written before ``copy_values`` were recorded).
        trunk: ``dict(trunk_epochs=...)`` or ``dict(trunk_iters=...)`` (the hook's trunk length; ``None`` values
            are dropped).
        runner: The search's runner: the class of each pipeline transform a path indexes is read from it and
            recorded as the hook's ``transform_types`` (:mod:`automl_mm.ohl.transform_types`); ``None``: not.

    Returns:
        Python config text, or ``''`` when no space recorded a value.
    """
    values: dict[str, list] = {}
    for per_trunk in lineage(history):
        # what the trunk ended up with, in the order OHLHook wrote it: space by space, a later space's write over
        # an earlier one's (one entry per path and trunk, the last write last: two spaces writing one path
        # interleaved their values into one list, read back as the trunks' values)
        written: dict[str, Any] = {}
        for per_space in per_trunk.values():
            for path, value in per_space.items():
                written.pop(path, None)
                written[path] = value
        for path, value in written.items():
            values.setdefault(path, []).append(value)
    if not values:
        return ''
    length = {k: v for k, v in trunk.items() if v is not None}
    from .transform_types import transform_types
    types = transform_types(runner, values) if runner is not None else {}
    if types:
        length['transform_types'] = types
    # in the order written, not sorted, as the search wrote them; where two paths reach one value (a '*' over the
    # groups and one group's index) TrunkScheduleHook writes the covering one first whatever this order
    # (automl_mm.ohl.write_order: a dumped config sorts it), which is the order OHLHook let the search write
    text = config_literal(dict(type='automl_mm.TrunkScheduleHook', values=values, **length), width=110,
                          compact=True, sort_dicts=False)
    return (f'# Exported by automl_mm OHLHook after trunk {history[-1]["trunk"]}: per trunk, the value the final\n'
            '# model trained with (the sample of the best copy it descends from), set at the start of that trunk.\n'
            '# Add to a config without the OHLHook and its copies to retrain from scratch on the learned schedule\n'
            '# (the last value stays after the last trunk); mmdet\'s configs too (merge custom_imports with any it\n'
            '# already has, and list the hooks of its base\'s custom_hooks in custom_hooks too: the list replaces the\n'
            '# base\'s).\n'
            f'{transform_types_note(types)}{CUSTOM_IMPORTS}custom_hooks = [{text}]\n')


def final_policy_text(fragments: Sequence[tuple[str, str]], header: str = '') -> str:
    """Join the spaces' ``export_fragment`` texts into one config that keeps what every fragment sets.

    Each fragment is a stand-alone config, so several may assign ``custom_hooks`` (every ``AttributeSpace`` does:
    a run searching the learning rate and the weight decay exports two ``SetAttributesHook`` s); loaded as one
    file, only the last assignment would survive and the other learned values would silently not be replayed.
    Where more than one fragment sets ``custom_hooks``, a last line sets it to all their hooks, in space order, each
    hook's keys and values in their own order, as written (a ``SetAttributesHook`` no longer depends on it: it
    writes overlapping paths a covering one first, :mod:`automl_mm.ohl.write_order`).
    Each fragment's ``custom_imports`` lists the modules its own types need (a user's op's module in one, automl_mm
    only in another): the file sets it once, first, to the union of their ``imports`` in first-seen order
    (``allow_failed_imports`` only where every fragment allows it); refusing differing lists left no file.

    Args:
        fragments: ``(space name, fragment text)`` per space, in the hook's space order.
        header: Text (comments) put first.

    Returns:
        Python config text.

    Raises:
        ValueError: two fragments assign one name other than ``custom_hooks`` and ``custom_imports``,
            e.g. two AM-LFS spaces each setting ``model``: no single config replays both; the message names the
            spaces. ``OHLHook`` checks this before the first trunk.
    """
    if len(fragments) == 1:  # nothing to merge: no parsing (a per-item space's fragment holds every probability)
        return header + fragments[0][1]
    from mmengine.config import Config

    text, hooks, hook_owners, owners = '', [], [], {}
    imports: list[str] = []
    allow_failed: list[bool] = []
    for space, fragment in fragments:
        values = Config.fromstring(fragment, file_format='.py').to_dict()
        for key, value in values.items():
            if key == 'custom_hooks':
                hooks.extend(value)
                hook_owners.append(space)
            elif key == 'custom_imports':
                listed = value.get('imports', []) if isinstance(value, dict) else None
                listed = [listed] if isinstance(listed, str) else listed
                if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
                    raise ValueError(f'OHL space {space!r} exports custom_imports={value!r}: expected '
                                     "dict(imports=['module', ...], allow_failed_imports=False)")
                imports.extend(m for m in listed if m not in imports)
                allow_failed.append(bool(value.get('allow_failed_imports', False)))
            elif key in owners:
                raise ValueError(f'OHL spaces {owners[key][0]!r} and {space!r} both export {key!r}: one '
                                 'final_policy.py cannot replay both. Search them in separate runs, or give them '
                                 'different targets')
            else:
                owners[key] = (space, value)
        text += _without_assignment(fragment, 'custom_imports')  # one union line for the whole file, below
    if imports:
        text = _imports_assignment(imports, all(allow_failed)) + text
    text = header + text
    if len(hook_owners) > 1:
        text += (f'# the hooks of every space above ({", ".join(map(repr, hook_owners))}): each fragment sets '
                 'custom_hooks, this keeps them all\n'
                 f'custom_hooks = {config_literal(hooks, width=110, compact=True, sort_dicts=False)}\n')
    return text


def _without_assignment(text: str, name: str) -> str:
    """``text`` (Python) without its top-level assignments to ``name`` (all their lines)."""
    import ast

    lines = text.splitlines(keepends=True)
    drop = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                drop.update(range(node.lineno - 1, node.end_lineno))
    return ''.join(line for i, line in enumerate(lines) if i not in drop)


class OHLReport:
    """Writes, on the main process only, after every trunk:

    * ``history.json``: per trunk, every copy's reward, the best copy, the controller's scalars and each
      distribution in human-readable form (top choices and their probabilities, or mean and std);
    * ``distribution_<space>.png`` and ``rewards.png`` (and a space's own figures, e.g. AM-LFS's
      ``loss_trunk<t>.png``): the evolution of each distribution and of the rewards, drawn about ten times per run
      and after its last trunk (:func:`_draw_now`); ``probs_<space>.npz`` records every trunk's probabilities;
    * ``final_policy.py``: a config fragment that retrains from scratch with the current distributions fixed;
    * ``schedule_policy.py`` (runs with per-copy spaces, e.g. ``AttributeSpace``): a fragment that retrains from
      scratch following the learned schedule, the values the final model trained with in each trunk
      (:func:`lineage`), with a ``TrunkScheduleHook`` (no copies, no ``OHLHook``); a run without per-copy spaces
      removes one another search left in the same folder.

    At the first trunk end it removes the ``distribution_<space>.png`` and ``probs_<space>.npz`` of spaces not in
    this run (another search's, in the same folder, read as this run's): only plain files of exactly that naming
    (:func:`_remove_other_spaces_outputs`). A space's own figures (AM-LFS's ``loss_trunk<t>.png``) are not named by
    space: a space with ``remove_figures_from(out_dir, trunk)`` removes its own of that trunk and later then (another
    run's, or those of the trunks a resumed run trains again); other runs' are kept. A run with ``plot=False``
    removes then the ``rewards.png`` and ``distribution_<space>.png`` of its spaces (an earlier run's).

    The same scalars go to the runner's visualiser (TensorBoard and local backends).
    """

    def __init__(self, runner: Any, out_dir: str, spaces: Sequence[Any], plot: bool = True,
                 trunk: dict | None = None) -> None:
        self.runner = runner
        self.trunk = trunk or {}  # the OHLHook's trunk_epochs / trunk_iters, for schedule_policy.py
        self.dir = osp.join(runner.work_dir, out_dir)
        self.plot = plot
        self._history_text: list[tuple[dict, str]] = []  # (record, its JSON) of the written records but the last
        self._swept = False  # whether another search's per-space outputs were removed (at the first trunk end)
        if is_main_process():
            os.makedirs(self.dir, exist_ok=True)

    @staticmethod
    def check_spaces(spaces: Sequence[Any]) -> None:
        """Raise ``ValueError`` now, before any trunk, where the spaces' fragments cannot form one
        ``final_policy.py`` (:func:`final_policy_text`)."""
        final_policy_text([(space.name, space.export_fragment()) for space in spaces])

    def write(self, history: list[dict], spaces: Sequence[Any], step: int) -> None:
        last = history[-1]
        measured = valid_rewards(last)  # a diverged or metric-less copy's stand-in reward is no copy's reading
        scalars = {'ohl/reward_mean': sum(measured) / len(measured),
                   'ohl/reward_best': last['rewards'][last['best']], 'ohl/best_copy': last['best']}
        for space in spaces:
            for key, value in last['controller'][space.name].items():
                scalars[f'ohl/{space.name}/{key}'] = value
        for c, (reward, ok) in enumerate(zip(last['rewards'], read_flags(last))):
            if ok:  # a diverged or metric-less copy read no reward: no point on its curve (its stand-in is in
                # history.json)
                scalars[f'ohl/reward_copy{c}'] = reward
        self.runner.visualizer.add_scalars(scalars, step=step)
        if not is_main_process():
            return
        self.write_history(history)
        # every file here is replaced atomically: read during the run, and left whole by a kill or a failed export
        policy = final_policy_text([(space.name, space.export_fragment()) for space in spaces],
                                   header=f'# Exported by automl_mm OHLHook after trunk {last["trunk"]}.\n')
        write_text_atomic(policy, osp.join(self.dir, 'final_policy.py'))
        schedule = schedule_fragment(history, self.trunk, self.runner)
        schedule_path = osp.join(self.dir, 'schedule_policy.py')
        if schedule:
            write_text_atomic(schedule, schedule_path)
        elif osp.isfile(schedule_path):
            # another search's, in the same work_dir (a rerun with other spaces): it read as this run's schedule
            os.remove(schedule_path)
        if not self._swept:
            self._swept = True
            removed = _remove_other_spaces_outputs(self.dir, {space.name for space in spaces})
            if not self.plot:  # figures this run does not draw: an earlier search's, read as this run's
                for name in ('rewards.png', *(f'distribution_{space.name}.png' for space in spaces)):
                    path = osp.join(self.dir, name)
                    if osp.isfile(path) and not osp.islink(path):
                        os.remove(path)
                        removed.append(name)
            for space in spaces:  # a space's own per-trunk figures of trunks this run has not run yet
                if callable(getattr(space, 'remove_figures_from', None)):
                    removed += space.remove_figures_from(self.dir, last['trunk'])
            if removed:
                print_log(f'OHL report: removed {", ".join(removed)} from {self.dir}: outputs of spaces not in this '
                          f'run, or figures of trunks from {last["trunk"]} on, which it draws anew (an earlier search '
                          'in the same work_dir)', logger='current')
        # the per-trunk probabilities are a record, not a figure: written with or without plots
        probs = {space.name: _record_probs(self.dir, space, last['trunk']) for space in spaces}
        # Every copy waits at the next trunk's end while the main process draws, so the figures are drawn about ten
        # times per run and after its last trunk (drawing all of them after every trunk took 2 of the 6 training
        # minutes of `make demo`).
        if self.plot and _draw_now(self.runner, last['trunk']):
            self._plot(history, spaces, probs)
            for space in spaces:  # space-specific figures, e.g. AM-LFS's learned t(x) and tau(x)
                if hasattr(space, 'plot_trunk'):
                    space.plot_trunk(self.dir, last['trunk'])

    def write_history(self, history: list[dict]) -> None:
        """Write ``history.json`` (main process only): a JSON list, one record per line, replaced atomically so
        that a reader during the run never sees half a file.

        Every copy waits at the next trunk end while the main process writes, so a record is serialised once more
        after it stops being the last and never again: the last record is serialised at every call
        (``OHLHook.after_train`` may still mark it broadcast), the ones before it do not change (a resumed run
        brings new record objects, which are serialised again).
        Re-serialising the whole history after every trunk grew with the run: after trunk 1,000 of the paper's
        1,296-way pair space (θ and a summary per trunk, 8 copies) 1.4-1.6 s against 0.08-0.09 s for this write
        (``benchmarks/ohl_report_cost.py``, median of 7 writes, 2 idle cores).
        """
        if not is_main_process():
            return
        cached = self._history_text
        texts = [cached[i][1] if i < len(cached) and cached[i][0] is record else json.dumps(record)
                 for i, record in enumerate(history)]
        self._history_text = list(zip(history[:-1], texts[:-1]))
        write_text_atomic('[\n' + ',\n'.join(texts) + '\n]\n', osp.join(self.dir, 'history.json'))

    def _plot(self, history: list[dict], spaces: Sequence[Any], probs: dict[str, tuple | None]) -> None:
        trunks = [h['trunk'] for h in history]
        for space in spaces:
            path = osp.join(self.dir, f'distribution_{space.name}.png')
            if probs[space.name] is not None:
                _plot_categorical(path, space, history, *probs[space.name])
            else:
                _plot_series(path, space.name, trunks, _series(history, space.name), _dimension_names(space))
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), layout='constrained')
        num_copies = len(history[0]['rewards'])

        def valid(h: dict, c: int) -> bool:
            return bool((h.get('valid') or [True] * num_copies)[c])

        # a diverged copy (or one that read no metrics, where its stand-in is worse than every reading) read no
        # reward: its curve has a gap there, and the stand-in reward the controller learnt from is marked apart (it
        # was drawn on the copy's curve as if the copy read it); a style per copy (more than 10 copies repeated the
        # colour cycle: copy 10 was drawn as copy 0)
        reads = [read_flags(h) for h in history]
        for c, style in zip(range(num_copies), _curve_styles(num_copies)):
            ax.plot(trunks, [h['rewards'][c] if read[c] else float('nan') for h, read in zip(history, reads)],
                    lw=0.8, label=f'copy {c}', **style)
        ax.plot(trunks, [h['rewards'][h['best']] for h in history], 'k--', label='best')
        diverged = [(h['trunk'], h['rewards'][c]) for h in history for c in range(num_copies) if not valid(h, c)]
        if diverged:
            ax.plot(*zip(*diverged), 'rx', ls='none', label='diverged (stand-in reward)')
        metric_less = [(h['trunk'], h['rewards'][c]) for h in history for c in stand_ins(h)]
        if metric_less:
            ax.plot(*zip(*metric_less), 'm+', ls='none', label='no metrics (stand-in reward)')
        rule = history[-1].get('reward_rule', 'greater')
        ax.set(xlabel='trunk', ylabel=f'reward ({"higher" if rule == "greater" else "lower"} is better)',
               title='OHL rewards per copy')
        _trunk_ticks(ax)
        ax.legend(fontsize='small', ncol=2, loc='upper left', bbox_to_anchor=(1.01, 1.0))
        savefig_atomic(fig, osp.join(self.dir, 'rewards.png'), dpi=100)
        plt.close(fig)


#: The per-space outputs of :class:`OHLReport`, ``<prefix><space name><suffix>``
PER_SPACE_OUTPUTS = (('distribution_', '.png'), ('probs_', '.npz'))


def _remove_other_spaces_outputs(out_dir: str, names: set[str]) -> list[str]:
    """Remove from ``out_dir`` the per-space outputs (:data:`PER_SPACE_OUTPUTS`) of spaces not in ``names``: plain
    files (not links or folders) named exactly ``distribution_<name>.png`` / ``probs_<name>.npz`` with a non-empty
    ``<name>``; nothing else (another file, a temporary ``.<file>.<random>.tmp``) is touched. Returns the removed
    file names, sorted."""
    def other_space(entry: str) -> bool:
        for prefix, suffix in PER_SPACE_OUTPUTS:
            name = entry[len(prefix):-len(suffix)] if entry.startswith(prefix) and entry.endswith(suffix) else ''
            if name and name not in names:
                return True
        return False

    return remove_files(out_dir, other_space)


def _draw_now(runner: Any, trunk: int, times: int = 10) -> bool:
    """Whether to draw the figures after ``trunk``: about ``times`` times over a run (every
    ceil(trunks / times)-th trunk), after the last trunk, and always when the run's length is unknown."""
    try:
        step, max_iters = int(runner.iter) + 1, int(runner.max_iters)
    except (AttributeError, TypeError, ValueError):
        return True
    if step >= max_iters or step <= 0:
        return True
    total_trunks = math.ceil((trunk + 1) * max_iters / step)  # trunks have equal lengths
    return trunk % max(1, math.ceil(total_trunks / times)) == 0


def _record_probs(out_dir: str, space: Any, trunk: int) -> tuple | None:
    """Append the space's current choice probabilities to ``probs_<space>.npz`` (kept across ``--resume``: rows
    of later trunks than ``trunk`` are dropped) and return (trunks (T,), probs (T, K)); None for a space without a
    categorical distribution. Row ``t`` is θ after trunk ``t``'s update, which trunk ``t + 1`` samples from (trunk
    0 samples from the initial θ, uniform unless configured), as the history's ``distributions`` / ``theta``."""
    import numpy as np

    probs_fn = getattr(getattr(space, 'distribution', None), 'probs', None)
    if probs_fn is None:
        return None
    current = np.asarray(probs_fn().detach().cpu().double().numpy(), np.float64).reshape(-1)
    path = osp.join(out_dir, f'probs_{space.name}.npz')
    trunks, rows = np.zeros(0, np.int64), np.zeros((0, current.size))
    if osp.isfile(path):
        with np.load(path) as old:
            if old['probs'].shape[1:] == current.shape:
                keep = old['trunks'] < trunk
                trunks, rows = old['trunks'][keep], old['probs'][keep]
    trunks, rows = np.append(trunks, trunk), np.vstack([rows, current[None]])
    savez_atomic(path, trunks=trunks, probs=rows)
    return trunks, rows
