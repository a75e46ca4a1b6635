"""No test patches a name where nothing reads it: a module that only imports a name (to serve it from its former
home after a split, or for its own imports' sake) and never reads it, or serves it through a module ``__getattr__``,
gains nothing from a patch there, so the test would pass or fail for the wrong reason: patch the module whose code
reads the name. Checked statically over the tests' ``monkeypatch.setattr`` / ``mock.patch`` calls whose
target is a module of automl_mm: the module given as an imported name (``from automl_mm.nas import loop``,
``import automl_mm.nas.loop as loop``) or a dotted string (``'automl_mm.nas.loop.warn'``)."""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

TESTS = Path(__file__).parent
ROOT = TESTS.parent  # automl_mm/ is read as source, not imported


@functools.cache
def _source(module: str) -> Path | None:
    """The source file of an automl_mm module (a package's ``__init__.py``), None for another name."""
    base = ROOT.joinpath(*module.split('.'))
    for path in (base.with_suffix('.py'), base / '__init__.py'):
        if module.startswith('automl_mm.') and path.is_file():
            return path
    return None


@functools.cache
def _unread(module: str) -> tuple[frozenset[str], frozenset[str] | None]:
    """``(names module binds at its top level only by an import and reads nowhere in its own code, every name it
    binds at its top level)``; the second is None for a module without a module ``__getattr__`` (PEP 562), which
    serves other names lazily (a patch of one sets a new attribute there that nothing reads)."""
    path = _source(module)
    if path is None:
        return frozenset(), None
    tree = ast.parse(path.read_text())
    imported, bound = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported.update((a.asname or a.name).split('.')[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    everything = frozenset(imported | bound) if '__getattr__' in bound else None
    return frozenset(imported - bound - read - {'annotations'}), everything


def _stale(module: str, name: str) -> str | None:
    """Why a patch of ``module.name`` reaches no code, or None."""
    unread, everything = _unread(module)
    if name in unread:
        return 'imported there, read nowhere in it'
    if everything is not None and name not in everything:
        return "served by the module's __getattr__ from where it lives"
    return None


_FROM_IMPORT = re.compile(r'from (automl_mm[\w.]*) import (\([^)]*\)|[^\n]+)')
_IMPORT_AS = re.compile(r'import (automl_mm[\w.]+) as (\w+)')
_ON_NAME = re.compile(r'\.(?:setattr|delattr|object)\(\s*(\w+),\s*[\'"](\w+)[\'"]')  # (module, 'name', ...)
_DOTTED = re.compile(r'\.(?:setattr|delattr|patch)\(\s*[\'"](automl_mm\.[\w.]+)[\'"]')  # ('automl_mm.x.name', ...)
_ASSIGNED = re.compile(r'^[ \t]*(\w+)\.(\w+)[ \t]*[-+*/|&]?=(?!=)', re.M)  # module.name = ... / += ...


def _module_aliases(text: str) -> dict[str, str]:
    """Local name -> automl_mm module, from every import in a test file (top level or inside a test)."""
    aliases = {alias: module for module, alias in _IMPORT_AS.findall(text) if _source(module)}
    for package, names in _FROM_IMPORT.findall(text):
        for item in re.sub(r'#[^\n]*', '', names).strip('()').split(','):
            name, _, alias = item.strip().partition(' as ')
            if name and _source(f'{package}.{name}'):
                aliases[alias.strip() or name] = f'{package}.{name}'
    return aliases


def _targets(text: str):
    """``(line, module, name)`` of each patch call on an automl_mm module, and each assignment to a module's name
    (``sync.ROW_LAYOUT_VERSION += rank``: a patch by hand), found by text search (no test runs)."""
    aliases = None
    for match in [*_ON_NAME.finditer(text), *_ASSIGNED.finditer(text)]:
        aliases = _module_aliases(text) if aliases is None else aliases
        if match[1] in aliases:
            yield text.count('\n', 0, match.start()) + 1, aliases[match[1]], match[2]
    for match in _DOTTED.finditer(text):
        module, _, name = match[1].rpartition('.')
        if _source(module):
            yield text.count('\n', 0, match.start()) + 1, module, name


def test_no_test_patches_a_name_its_module_does_not_read():
    stale = []
    for path in sorted(TESTS.rglob('*.py')):
        for line, module, name in _targets(path.read_text()):
            why = _stale(module, name)
            if why:
                stale.append(f'{path.relative_to(TESTS)}:{line}: {module}.{name} ({why})')
    assert not stale, 'patched where nothing reads it:\n' + '\n'.join(stale)
