"""How to make a generated data set that a config reads and that is not there yet.

automl_mm's COCO-format sets (the shapes set, the Fashion-MNIST detection set, CR-NAS's arch-train / arch-val
splits) are generated, not downloaded, and each config that reads one says in its comments which command makes
it (``# (python tools/data/generate_coco.py data/synthetic_coco)``). :func:`generator_hint` finds those commands
in the config file and its ``_base_`` files, so that the start-of-run check of a missing annotation file can name
them instead of only the path; :func:`missing_file_hint` first offers a file of the same folder whose name is one
or two edits away (a misspelled ``ann_file`` of a set that is there).
"""
from __future__ import annotations

import ast
import os
import os.path as osp
import re
from typing import Any

_COMMAND = re.compile(r'python[ \t]+(tools/data/\w+\.py(?:[ \t]+[^\s()#`]+)*)')  # (one line)


def config_files(filename: str | None) -> list[str]:
    """``filename`` and the local files of its ``_base_`` chain (depth first, each once; ``mmdet::`` bases and
    files that cannot be read or parsed are skipped)."""
    seen: list[str] = []

    def visit(path: str) -> None:
        path = osp.abspath(path)
        if path in seen or not osp.isfile(path):
            return
        seen.append(path)
        try:
            with open(path) as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError, UnicodeDecodeError):
            return
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_' for t in node.targets):
                try:
                    bases = ast.literal_eval(node.value)
                except ValueError:
                    continue
                for base in [bases] if isinstance(bases, str) else list(bases):
                    if isinstance(base, str) and '::' not in base:
                        visit(osp.join(osp.dirname(path), base))

    if filename:
        visit(filename)
    return seen


def data_commands(files: list[str]) -> list[str]:
    """The ``python tools/data/...`` commands written in the comments of ``files``, in order, each once (a
    comment continued with a trailing backslash on the next comment line is joined)."""
    commands: list[str] = []
    for path in files:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        comments = [line.split('#', 1)[1] for line in lines if '#' in line]
        text = re.sub(r'\\\s*\n', ' ', '\n'.join(comments))
        for match in _COMMAND.finditer(text):
            command = 'python ' + ' '.join(match.group(1).split())
            if command not in commands:
                commands.append(command)
    return commands


def _set_root(path: str) -> str:
    """``data/fmnist_det`` for ``data/fmnist_det/annotations/instances_train.json`` (the folder above
    ``annotations``), else the file's folder."""
    folder = osp.dirname(osp.normpath(path))
    return osp.dirname(folder) if osp.basename(folder) == 'annotations' else folder


def _edits(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b`` (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def closest_first(name: str, found: list[str]) -> list[str]:
    """``found`` (e.g. :func:`difflib.get_close_matches` of ``name``) closest first: fewest edits from ``name``
    (Levenshtein), then difflib's similarity ratio, then the name. difflib orders by its ratio, which counts matching
    blocks, not edits: a mistyped config ``resnet18_baseline_1x1_200e_cifar10.py`` was answered with
    ``baseline_wrn28-10_1x1_200e_cifar10.py`` (15 edits) before ``baseline_resnet18_1x1_200e_cifar10.py`` (14)."""
    import difflib

    return sorted(found, key=lambda n: (_edits(name, n), -difflib.SequenceMatcher(None, name, n).ratio(), n))


def missing_file_hint(cfg: Any, path: str) -> str:
    """What to say after "``path`` not found": a file of its folder whose name is at most two edits from its name
    (``instances_trian.json``: ``; did you mean data/fmnist_det/annotations/instances_train.json?``), else the
    commands that generate it (:func:`generator_hint`), else ``''``. A misspelled ``ann_file`` of a generated set
    was answered with the set's generating command, which leaves an existing set as it is."""
    folder, name = osp.split(osp.normpath(path))
    try:
        siblings = sorted(f for f in os.listdir(folder or '.') if osp.isfile(osp.join(folder or '.', f)))
    except OSError:
        siblings = []
    close = [f for f in siblings if f != name and _edits(f, name) <= 2]
    if close:
        meant = min(close, key=lambda f: _edits(f, name))
        return f'; did you mean {osp.join(folder, meant)}?'
    return generator_hint(cfg, path)


def generator_hint(cfg: Any, path: str) -> str:
    """A sentence naming the commands, from the config's comments, that make the missing file ``path``: those
    whose arguments name its set's folder (``data/fmnist_det``) or its annotation folder; ``''`` when none does.

    Args:
        cfg: The mmengine ``Config`` (its ``filename`` is read, with its ``_base_`` files).
        path: The missing annotation file, as the config names it (``data_root`` joined).
    """
    root, folder = _set_root(path), osp.dirname(osp.normpath(path))
    wanted = {osp.normpath(root), osp.normpath(folder)}
    found = []
    for command in data_commands(config_files(getattr(cfg, 'filename', None))):
        args = command.split()[2:]
        named = {osp.normpath(a) for a in args} | {osp.normpath(osp.dirname(a)) for a in args if a.endswith('.json')}
        if named & wanted:
            found.append(command)
    if not found:
        return ''
    return ('; the set is generated, not downloaded (the config says how; run from the repository root): '
            + ' && '.join(found))


__all__ = ['config_files', 'data_commands', 'generator_hint', 'missing_file_hint']
