"""``--cfg-options`` on a config's own names (part of :func:`~automl_mm.engine.preflight_options.merge_options`):
a top-level name that neither the runner nor automl_mm reads (``lr_choices``, ``num_train_images``, ``img_scale``,
``iters_per_epoch``, ``dataset_type``) matters only where the config's files used it, and mmengine evaluated those
uses when it read the files, so an option changed the name alone.

``merge_options`` already refused such a name where the old value sits under the name's own key (``num_copies=2``:
``custom_hooks.0.num_copies`` keeps 4) or a template dict's entries were copied whole (``fashion_split.seed=1``).
Every other use passed, silently: ``ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py --cfg-options
"lr_choices=[0.01,0.1]"`` searched the file's five learning rates (the hook's ``choices``, ``labels`` and
``num_choices`` were made from the old list), ``num_train_images=100`` on the OHL-Auto-Aug detection leaves trained
on 200 images (``train_dataloader.dataset.indices``), ``img_scale=(128, 128)`` on the Fashion-MNIST detection set
kept the 160-px ``Resize`` of every pipeline, and ``iters_per_epoch=1000`` on the PC-NAS ImageNet searches kept
``train_cfg.warmup_iters`` / ``stage_iters`` (products of it). Here the config's files (the file and its
``_base_`` files, mmengine's ``mmdet::`` ones included) are parsed, each use of the name (``name``,
``_base_.name``, ``{{_base_.name}}``) is followed to the runner-read keys its statement assigns (through other
names of the file, e.g. ``ohl_autoaug_hook`` into ``custom_hooks``), and the option is refused unless the same
``--cfg-options`` also sets something under each of those keys.
"""
from __future__ import annotations

import ast
import os
import os.path as osp
from collections.abc import Iterable
from typing import Any

from .preflight_walk import ConfigCheckError

BASE = '_base_'


def config_files(path: str) -> list[str]:
    """``path`` and its ``_base_`` files, recursively, each once, as mmengine resolves them (a relative base from
    its file's folder, ``mmdet::`` from the installed package); a base that cannot be resolved is left out."""
    from mmengine.config import Config

    found: list[str] = []

    def visit(file: str) -> None:
        file = osp.abspath(file)
        if file in found or not osp.isfile(file) or not file.endswith('.py'):
            return
        found.append(file)
        try:
            bases = Config._get_base_files(file)
        except Exception:  # mmengine refuses it when the config is read; nothing more to follow here
            return
        for base in bases:
            try:
                visit(Config._get_cfg_path(base, file)[0])
            except Exception:
                continue

    visit(path)
    return found


class _Loads(ast.NodeVisitor):
    """The names a statement reads at file level (``name``, ``_base_.name``, ``_base_['name']``), with their
    lines; a name bound inside a comprehension, lambda or function is that scope's own and not counted."""

    def __init__(self) -> None:
        self.loads: list[tuple[str, int]] = []
        self._bound: list[set[str]] = []

    def _local(self, name: str) -> bool:
        return any(name in scope for scope in self._bound)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id != BASE and not self._local(node.id):
            self.loads.append((node.id, node.lineno))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == BASE and not self._local(BASE):
            self.loads.append((node.attr, node.lineno))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (isinstance(node.value, ast.Name) and node.value.id == BASE and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)):
            self.loads.append((node.slice.value, node.lineno))
        self.generic_visit(node)

    def _scoped(self, node: ast.AST, bound: Iterable[str]) -> None:
        self._bound.append(set(bound))
        self.generic_visit(node)
        self._bound.pop()

    def _comprehension(self, node: Any) -> None:
        self._scoped(node, (n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scoped(node, (a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        self._scoped(node, stored | {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)})


def _targets(statement: ast.stmt) -> set[str]:
    """The top-level names a statement assigns (every name it stores, for a statement other than an assignment)."""
    if isinstance(statement, ast.Assign):
        nodes = [n for t in statement.targets for n in ast.walk(t)]
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        nodes = list(ast.walk(statement.target))
    else:
        nodes = list(ast.walk(statement))
    return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def name_uses(files: Iterable[str]) -> dict[str, list[tuple[str, int, frozenset[str]]]]:
    """``{name: [(file, line, names its statement assigns), ...]}`` for every file-level read of a name in
    ``files`` (a file that does not parse is skipped: mmengine names it when it reads the config)."""
    uses: dict[str, list[tuple[str, int, frozenset[str]]]] = {}
    for file in files:
        try:
            with open(file, encoding='utf-8') as f:
                tree = ast.parse(f.read(), filename=file)
        except (OSError, SyntaxError, ValueError):
            continue
        for statement in tree.body:
            targets = frozenset(_targets(statement))
            if targets == {BASE}:
                continue
            visitor = _Loads()
            visitor.visit(statement)
            for name, line in visitor.loads:
                uses.setdefault(name, []).append((file, line, targets - {name}))
    return uses


def reached_keys(name: str, uses: dict, runner_keys: Iterable[str],
                 templates: Iterable[str] = ()) -> dict[str, list[tuple[str, int]]]:
    """The runner-read keys that the files made from ``name``, each with where (file, line) the first statement on
    the way read it; followed through the files' other names (``ohl_autoaug_hook`` -> ``custom_hooks``) and through
    ``templates``, runner keys that the files also copy into others (``train_pipeline`` -> ``train_dataloader``)."""
    runner_keys, templates = set(runner_keys), set(templates)
    reached: dict[str, list[tuple[str, int]]] = {}
    seen, todo = {name}, [(name, None)]
    while todo:
        current, origin = todo.pop()
        for file, line, targets in uses.get(current, ()):
            where = origin or (file, line)
            for target in sorted(targets):
                if target in runner_keys and where not in reached.setdefault(target, []):
                    reached[target].append(where)
                if (target not in runner_keys or target in templates) and target not in seen:
                    seen.add(target)
                    todo.append((target, where))
    return reached


def _where(places: list[tuple[str, int]]) -> str:
    """``file:line, line; file:line`` (each file once, in the order first seen)."""
    lines: dict[str, list[int]] = {}
    for file, line in places:
        if line not in lines.setdefault(file, []):
            lines[file].append(line)
    return '; '.join(f'{_shown(file)}:{", ".join(map(str, found))}' for file, found in lines.items())


def _shown(file: str) -> str:
    relative = osp.relpath(file)
    return file if relative.startswith(os.pardir) else relative


def _short(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else f'{text[:limit - 5]} ...{text[-1]}'


def _holding(value: Any, node: Any, path: str) -> list[str]:
    """Dotted paths under ``node`` (at ``path``) whose value equals ``value``."""
    found = [path] if node == value else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, item in items:
        found += _holding(value, item, f'{path}.{key}')
    return found


def check_name_options(cfg: Any, options: dict, before: dict[str, Any], runner_keys: Iterable[str],
                       templates: Iterable[str] = ()) -> None:
    """Refuse options that changed a top-level name the config's files used in runner-read keys, unless the
    options also set something under each of those keys.

    Args:
        cfg: The config after the merge (``cfg.filename``: the file whose files are parsed).
        options: The parsed ``--cfg-options``.
        before: ``{top-level name: its value before the merge}`` for the names the options set that the config
            defines and no runner reads.
        runner_keys: The top-level keys the runner or automl_mm reads (not followed further, but for templates).
        templates: Runner keys that the files also copy into others (``train_pipeline``, ``test_pipeline``).

    Raises:
        ConfigCheckError: naming the option, the keys made from the name (with file and line) and, where they hold
            the old value as it was, those keys' paths to set instead.
    """
    path = getattr(cfg, 'filename', None)
    changed = [name for name, value in before.items() if cfg.get(name) != value]
    if not changed or not path:
        return
    uses = name_uses(config_files(path))
    for name in changed:
        reached = reached_keys(name, uses, runner_keys, templates)
        unset = {key: where for key, where in reached.items()
                 if not any(k == key or k.startswith(f'{key}.') for k in options)}
        if not unset:
            continue
        given = ' '.join(f'{k}={v!r}' for k, v in options.items() if k == name or k.startswith(f'{name}.'))
        made = ', '.join(f'{key} ({_where(where)})' for key, where in sorted(unset.items()))
        holding = [p for key in sorted(unset) for p in _holding(before[name], cfg.get(key), key)]
        hint = (f' ({", ".join(holding[:6])}{", ..." if len(holding) > 6 else ""} still '
                f'{"hold" if len(holding) > 1 else "holds"} {_short(before[name])})' if holding else '')
        raise ConfigCheckError(
            f'--cfg-options {given} changes the top-level name {name!r} only: nothing reads it while the run '
            f'trains, and the config\'s files made {made} from it when mmengine read them, so those keep the old '
            f'value{hint}. Set the keys made from it instead, in the same --cfg-options, or write a config that '
            f'inherits this one and sets {name} and the keys made from it')
