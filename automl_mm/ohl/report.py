"""What an OHL run leaves in ``work_dir/<out_dir>``: history JSON, PNG plots, the exported policy."""
from __future__ import annotations

import json
import math
import numbers
import os
import os.path as osp
import pprint
from collections.abc import Sequence
from typing import Any

from mmengine.dist import is_main_process
from mmengine.logging import print_log

from automl_mm.utils.io import savefig_atomic, savez_atomic, write_text_atomic

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


def lineage(history: list[dict]) -> list[dict[str, dict]]:
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

    Returns:
        One dict per entry, ``{space name: {attribute path: value}}`` (empty for entries with no per-copy space).
    """
    out: list[dict[str, dict]] = []
    copy = None
    for i, entry in enumerate(reversed(history)):
        if i == 0 or entry.get('broadcast', True):
            copy = entry.get('best', copy)
        per_copy = entry.get('copy_values')
        if per_copy is None:
            out.append(dict(entry.get('schedule', {})))
        else:
            out.append({name: values[copy] for name, values in per_copy.items()})
    return out[::-1]


def schedule_fragment(history: list[dict], trunk: dict) -> str:
    """Config text replaying the :func:`lineage` of ``history`` with a ``TrunkScheduleHook``.

    Args:
        history: ``OHLHook`` history entries (``best``, ``broadcast`` and ``copy_values``, or ``schedule`` for
            entries written before ``copy_values`` were recorded).
        trunk: ``dict(trunk_epochs=...)`` or ``dict(trunk_iters=...)`` (the hook's trunk length; ``None`` values
            are dropped).

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
    # in the order written, not sorted: TrunkScheduleHook sets the paths in its dict's order, and where two paths
    # reach one value (a '*' over the groups and one group's index) the last one set is the one trained with
    text = pprint.pformat(dict(type='automl_mm.TrunkScheduleHook', values=values, **length), width=110,
                          compact=True, sort_dicts=False)
    return (f'# Exported by automl_mm OHLHook after trunk {history[-1]["trunk"]}: per trunk, the value the final\n'
            '# model trained with (the sample of the best copy it descends from), set at the start of that trunk.\n'
            '# Add to a config without the OHLHook and its copies to retrain from scratch on the learned schedule\n'
            '# (the last value stays after the last trunk); mmdet\'s configs too (merge custom_imports with any it\n'
            '# already has).\n'
            f'{CUSTOM_IMPORTS}custom_hooks = [{text}]\n')


def final_policy_text(fragments: Sequence[tuple[str, str]], header: str = '') -> str:
    """Join the spaces' ``export_fragment`` texts into one config that keeps what every fragment sets.

    Each fragment is a stand-alone config, so several may assign ``custom_hooks`` (every ``AttributeSpace`` does:
    a run searching the learning rate and the weight decay exports two ``SetAttributesHook`` s); loaded as one
    file, only the last assignment would survive and the other learned values would silently not be replayed.
    Where more than one fragment sets ``custom_hooks``, a last line sets it to all their hooks, in space order.
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
                 f'custom_hooks = {pprint.pformat(hooks, width=110, compact=True)}\n')
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
    space and are kept.

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
        scalars = {'ohl/reward_mean': sum(last['rewards']) / len(last['rewards']),
                   'ohl/reward_best': last['rewards'][last['best']], 'ohl/best_copy': last['best']}
        for space in spaces:
            for key, value in last['controller'][space.name].items():
                scalars[f'ohl/{space.name}/{key}'] = value
        for c, reward in enumerate(last['rewards']):
            scalars[f'ohl/reward_copy{c}'] = reward
        self.runner.visualizer.add_scalars(scalars, step=step)
        if not is_main_process():
            return
        self.write_history(history)
        # every file here is replaced atomically: read during the run, and left whole by a kill or a failed export
        policy = final_policy_text([(space.name, space.export_fragment()) for space in spaces],
                                   header=f'# Exported by automl_mm OHLHook after trunk {last["trunk"]}.\n')
        write_text_atomic(policy, osp.join(self.dir, 'final_policy.py'))
        schedule = schedule_fragment(history, self.trunk)
        schedule_path = osp.join(self.dir, 'schedule_policy.py')
        if schedule:
            write_text_atomic(schedule, schedule_path)
        elif osp.isfile(schedule_path):
            # another search's, in the same work_dir (a rerun with other spaces): it read as this run's schedule
            os.remove(schedule_path)
        if not self._swept:
            self._swept = True
            removed = _remove_other_spaces_outputs(self.dir, {space.name for space in spaces})
            if removed:
                print_log(f'OHL report: removed {", ".join(removed)} from {self.dir}: outputs of spaces not in this '
                          'run (an earlier search in the same work_dir)', logger='current')
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
                _plot_series(path, space.name, trunks, _series(history, space.name))
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), layout='constrained')
        num_copies = len(history[0]['rewards'])
        for c in range(num_copies):
            ax.plot(trunks, [h['rewards'][c] for h in history], marker='.', lw=0.8, label=f'copy {c}')
        ax.plot(trunks, [h['rewards'][h['best']] for h in history], 'k--', label='best')
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
    removed = []
    try:
        entries = sorted(os.listdir(out_dir))
    except FileNotFoundError:
        return removed
    for entry in entries:
        for prefix, suffix in PER_SPACE_OUTPUTS:
            name = entry[len(prefix):-len(suffix)] if entry.startswith(prefix) and entry.endswith(suffix) else ''
            path = osp.join(out_dir, entry)
            if name and name not in names and osp.isfile(path) and not osp.islink(path):
                os.remove(path)
                removed.append(entry)
    return removed


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


def _element_names(space: Any, num_choices: int) -> list[str] | None:
    """Names of the E elements when the K = E * E choices are ordered pairs (OHL-Auto-Aug), else None."""
    transforms = getattr(space, 'transforms', None) or []
    elements = getattr(transforms[0], 'elements', None) if transforms else None
    if elements is not None and len(elements) ** 2 == num_choices:
        return [getattr(e, 'name', str(e)) for e in elements]
    return None


def _plot_categorical(path: str, space: Any, history: list[dict], trunks, probs) -> None:
    """One PNG per space: marginal probabilities of the first and second element over trunks (heatmaps trunk x
    element), the final pair heatmap (E x E) and the entropy over trunks; a plain choice space gets one heatmap
    trunk x choice instead of the two marginals and the pair map."""
    import matplotlib.pyplot as plt
    import numpy as np

    num_choices = probs.shape[1]
    names = _element_names(space, num_choices)
    entropies = [h['distributions'][space.name].get('entropy') for h in history]
    hist_trunks = [h['trunk'] for h in history]
    if names is not None:
        num = len(names)
        pairs = probs.reshape(len(probs), num, num)
        fig = plt.figure(figsize=(20, 12), layout='constrained')
        grid = fig.add_gridspec(2, 3, height_ratios=(3, 1), width_ratios=(1, 1, 2.1))
        label_size = 7 if num > 20 else 9
        marginals = ((pairs.sum(2), 'first operation'), (pairs.sum(1), 'second operation'))
        for col, (marginal, title) in enumerate(marginals):
            ax = fig.add_subplot(grid[0, col])
            image = ax.imshow(marginal.T * num, aspect='auto', cmap='RdBu_r', norm=_ratio_norm(marginal * num),
                              interpolation='nearest', extent=_extent(trunks, num))
            ax.set_yticks(range(num), names, fontsize=label_size)
            ax.set(xlabel='trunk', title=f'p({title}) / uniform')
            _trunk_ticks(ax)
            _colorbar(fig, image, ax, 'probability x number of elements (1 = uniform)')
        ax = fig.add_subplot(grid[:, 2])
        image = ax.imshow(pairs[-1] * num_choices, cmap='RdBu_r', norm=_ratio_norm(pairs[-1] * num_choices),
                          interpolation='nearest')
        ax.set_xticks(range(num), names, fontsize=label_size - 1, rotation=90)
        ax.set_yticks(range(num), names, fontsize=label_size - 1)
        # the axis names go into the title: a y label left of the long element names sat beside the middle
        # panel's colour bar and read as its label
        ax.set_title(f'pair probabilities / uniform after trunk {int(trunks[-1])}\n'
                     '(row: first operation, column: second operation)')
        _colorbar(fig, image, ax, f'probability x {num_choices} (1 = uniform)', shrink=0.7)
        ax = fig.add_subplot(grid[1, :2])
    else:
        fig = plt.figure(figsize=(10, 8), layout='constrained')
        grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
        ax = fig.add_subplot(grid[0])
        dist = space.distribution
        named = getattr(dist, 'labels', None) is not None or getattr(dist, 'choice_names', None) is not None
        # one label per flat choice (a FactorisedCategorical's labels are one list per factor)
        labels = [choice_label(dist._label(i)) for i in range(num_choices)] if named and hasattr(dist, '_label') \
            else [str(i) for i in range(num_choices)]  # a tick per choice, not a continuous axis
        image = ax.imshow(probs.T * num_choices, aspect='auto', cmap='RdBu_r', norm=_ratio_norm(probs * num_choices),
                          interpolation='nearest', extent=_extent(trunks, num_choices))
        if num_choices <= 60:
            ax.set_yticks(range(num_choices), labels, fontsize=7)
        ax.set(xlabel='trunk', ylabel='choice', title=f'{space.name}: p(choice) / uniform')
        _trunk_ticks(ax)
        _colorbar(fig, image, ax, f'probability x {num_choices} (1 = uniform)')
        ax = fig.add_subplot(grid[1])
    ax.plot(hist_trunks, entropies, marker='.', label='entropy')
    ax.axhline(float(np.log(num_choices)), color='grey', ls='--', label=f'uniform: ln {num_choices}')
    ax.margins(y=0.2)  # the uniform line is the top of the data: keep it off the frame
    ax.set(xlabel='trunk', ylabel='entropy (nats)', title='entropy of the distribution')
    _trunk_ticks(ax)
    ax.legend(fontsize='small', loc='lower left')
    fig.suptitle(f'OHL distribution: {space.name}')
    savefig_atomic(fig, path, dpi=90)
    plt.close(fig)


def _ratio_norm(ratios):
    """A colour scale centred on 1 (uniform), symmetric in log: blue below uniform, red above."""
    import matplotlib.colors as mcolors
    import numpy as np

    ratios = np.asarray(ratios, np.float64)
    spread = float(np.nanmax(np.abs(np.log(np.clip(ratios, 1e-12, None))))) if ratios.size else 0.0
    spread = max(spread, 0.05)
    return mcolors.LogNorm(vmin=np.exp(-spread), vmax=np.exp(spread))


def _colorbar(fig: Any, image: Any, ax: Any, label: str, shrink: float = 0.6) -> None:
    """A colour bar for a :func:`_ratio_norm` image, ticked at powers of two in plain numbers."""
    import matplotlib.ticker as mticker
    import numpy as np

    bar = fig.colorbar(image, ax=ax, shrink=shrink, label=label)
    low, high = image.norm.vmin, image.norm.vmax
    ticks = [2.0 ** k for k in range(int(np.floor(np.log2(low))), int(np.ceil(np.log2(high))) + 1)
             if low <= 2.0 ** k <= high]
    if len(ticks) < 3:
        ticks = sorted({round(low, 2), 1.0, round(high, 2)})
    bar.set_ticks(ticks)
    bar.ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f'{v:g}'))
    bar.ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def _extent(trunks, rows: int) -> tuple[float, float, float, float]:
    """imshow extent so that column k sits on trunk k and row r on the tick r (elements top to bottom)."""
    first, last = float(trunks[0]), float(trunks[-1])
    return (first - 0.5, last + 0.5, rows - 0.5, -0.5)


def _plot_series(path: str, name: str, trunks: list[int], series: dict[str, list[float]]) -> None:
    """Line plot of a distribution's summary curves (means and stds of a Gaussian, ...), legend outside."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), layout='constrained')
    for label, values in series.items():
        ax.plot(trunks, values, marker='.', label=label)
    ax.set(xlabel='trunk', title=f'OHL distribution: {name}')
    _trunk_ticks(ax)
    if series:
        ax.legend(fontsize='small', ncol=1 + len(series) // 16, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    savefig_atomic(fig, path, dpi=100)
    plt.close(fig)


def _trunk_ticks(ax: Any) -> None:
    """Whole trunks on the x axis (a 3-trunk run was ticked at 0.25, 0.5, ...)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def choice_label(choice: Any) -> str:
    """A choice as plot text: a factorised choice (a list of per-factor labels) reads ``'a + b'``."""
    return ' + '.join(map(str, choice)) if isinstance(choice, (list, tuple)) else str(choice)


def _series(history: list[dict], name: str) -> dict[str, list[float]]:
    """Curves to plot: probabilities of every choice that was ever in the top list, or means and stds (the
    summaries of automl_mm's distributions); for any other summary (a distribution of one's own), every number in
    it (``mu``, ``sigma``, ``alpha[0]``, ... at most :data:`_MAX_CURVES`), else θ from the history. Before, such a
    summary drew an empty figure, and one whose ``mean`` was a number stopped the run at the trunk end."""
    summaries = [h['distributions'][name] for h in history]
    try:
        curves = _known_series(summaries)
    except (KeyError, TypeError, IndexError):  # a summary of one's own that reuses a key in another form
        curves = {}
    if not curves:
        rows = [_numbers(s) for s in summaries]
        curves = _curves(rows)
    if not curves:
        rows = [_numbers(h.get('theta', {}).get(name), 'θ') for h in history]
        curves = _curves(rows)
    return curves


#: The most curves drawn from a summary (or θ) of a distribution of one's own.
_MAX_CURVES = 32


def _known_series(summaries: list[dict]) -> dict[str, list[float]]:
    curves: dict[str, list[float]] = {}
    if 'top' in summaries[0]:
        labels = {choice_label(t['choice']) for s in summaries for t in s['top']}
        for label in sorted(labels):
            curves[f'p({label})'] = [next((t['prob'] for t in s['top'] if choice_label(t['choice']) == label),
                                          float('nan')) for s in summaries]
    elif 'mean' in summaries[0]:
        for d in range(len(summaries[0]['mean'])):
            curves[f'mean[{d}]'] = [s['mean'][d] for s in summaries]
            curves[f'std[{d}]'] = [s['std'][d] for s in summaries]
    elif 'components' in summaries[0]:
        for comp in summaries[0]['components']:
            sub = [{'distributions': {comp: s['components'][comp]}} for s in summaries]
            curves.update({f'{comp}:{k}': v for k, v in _series(sub, comp).items()})
    return curves


def _numbers(value: Any, prefix: str = '') -> dict[str, float]:
    """Every real number in ``value`` (nested dicts and lists), keyed by its path (``'sigma'``, ``'θ[0][1]'``)."""
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, numbers.Real):
        return {prefix: float(value)}
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_numbers(item, f'{prefix}.{key}' if prefix else str(key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            out.update(_numbers(item, f'{prefix}[{i}]'))
    return out


def _curves(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """One curve per key of ``rows`` (one dict per trunk; NaN where a trunk lacks it), the first
    :data:`_MAX_CURVES`."""
    keys = list(dict.fromkeys(k for row in rows for k in row))[:_MAX_CURVES]
    return {k: [row.get(k, float('nan')) for row in rows] for k in keys}
