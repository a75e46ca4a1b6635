"""Reading the config file a tool is given, with errors that name the file and the fix.

The tools (``tools/train.py``, ``tools/test.py``, ``tools/measure_latency.py``) and :mod:`automl_mm.nas` read a
config with :func:`read_config`: mmengine's ``Config.fromfile``, with a failing ``custom_imports`` module and a
``_base_`` entry that names no file (:func:`base_not_found`) and two ``_base_`` files that set one key
(:func:`duplicate_base_keys`) named with their cause, and a ``{{_base_.x}}`` variable used inside an expression
(:func:`base_variable_uses`; :func:`base_variable_in_expression` where that raised, :func:`check_base_placeholders`
and :func:`check_base_variable_uses` where it ran) with the fix. A CONFIG argument that is no
file is refused with :func:`config_not_found`'s message, which names the closest configs; a config that sets no
``model`` (a fragment run on its own) with :func:`check_sets_model`'s.
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import os
import os.path as osp
import re
import sys
import threading
import traceback
from typing import Any, NamedTuple

from .custom_imports import custom_import_error, custom_import_failure, failed_custom_module
from .preflight_data_hint import closest_first


def config_not_found(path: str) -> str:
    """The message for a CONFIG argument that is no file: ``'config file not found: <path>'``, followed by the
    closest config names of its folder, closest first (fewest edits; ``configs/ohl/ohl_convnet_12e_digits.py``: did
    you mean ``configs/ohl/ohl_convnet_1x4_12e_digits.py``?) or, where the folder does not exist either, that
    relative paths are read from the current directory; for a directory (``configs/ohl``), that it is one, naming
    the configs in it."""
    if not os.path.isdir(path):
        folder = osp.dirname(path) or '.'
        if not os.path.isdir(folder):
            parent = osp.dirname(folder.rstrip('/'))
            folders = sorted(n for n in os.listdir(parent or '.') if os.path.isdir(osp.join(parent, n))) \
                if os.path.isdir(parent or '.') else []
            close = difflib.get_close_matches(osp.basename(folder.rstrip('/')), folders, n=1, cutoff=0.6)
            hint = f'did you mean {osp.join(parent, close[0])}/?' if close else \
                'relative paths are read from the current directory: run from the repository root'
            return f'config file not found: {path} (no folder {folder} in {os.getcwd()}; {hint})'
        names = sorted(n for n in os.listdir(folder) if n.endswith('.py'))
        close = closest_first(osp.basename(path), difflib.get_close_matches(osp.basename(path), names, n=3,
                                                                            cutoff=0.6))
        meant = ', '.join(osp.join(osp.dirname(path), n) for n in close)
        return f'config file not found: {path}' + (f' (did you mean {meant}?)' if close else '')
    found = sorted(n for n in os.listdir(path) if n.endswith('.py'))
    there = f'it holds {", ".join(found[:5])}{", ..." if len(found) > 5 else ""}' if found else 'it holds no *.py'
    return f'config is a directory, not a config file: {path} ({there})'


def read_config(path: str) -> Any:
    """``Config.fromfile(path)``, whose ``custom_imports`` failure names the module and its cause
    (:func:`~automl_mm.engine.custom_imports.custom_import_failure`).

    Raises:
        ImportError: a ``custom_imports`` module not found, or found and failing while imported, chained to
            mmengine's error (:func:`~automl_mm.engine.custom_imports.custom_import_error`: naming the module).
        FileNotFoundError: a ``_base_`` (of ``path`` or of one of its bases) that names no file
            (:func:`base_not_found`; not chained: mmengine's failed ``open`` would be named as where it failed).
        KeyError: two ``_base_`` files that set one top-level key (:func:`duplicate_base_keys`: naming the config
            and both files; not chained).
        TypeError, AttributeError, IndexError, ValueError, KeyError: a config statement that uses a
            ``{{_base_.x}}`` variable inside an expression that raised it (:func:`base_variable_in_expression`:
            naming the file, line, top-level key and the fix; not chained), or a statement (or mmengine, merging a
            file into its bases) that raised it after such a use ran without an error (:func:`use_before_error`: the
            use, then the line that raised); any other is mmengine's (the config's own) error.
        ValueError: a ``{{_base_.x}}`` variable used inside an expression that raised nothing: a value holding its
            placeholder (:func:`check_base_placeholders`), else the use (:func:`check_base_variable_uses`:
            ``{{_base_.x}}[0]``).
    """
    from mmengine.config import Config

    placeholders: dict[str, tuple[str, str]] = {}
    uses: list[BaseVariableUse] = []
    files: dict[str, bool] = {}
    try:
        with _recording_base_placeholders(placeholders, uses, files):
            cfg = Config.fromfile(path)
    except ImportError as err:
        explained = custom_import_failure(err, f'{path}: custom_imports')
        if explained is None:
            raise
        raise custom_import_error(explained, failed_custom_module(err)) from err
    except FileNotFoundError as err:
        explained = base_not_found(path, err.filename) if err.filename else None
        if explained is None:
            raise
        raise FileNotFoundError(explained) from None
    except _RAISED_BY_A_USE as err:
        explained = duplicate_base_keys(path) if isinstance(err, KeyError) and _DUPLICATE_BASES in str(err) else \
            base_variable_in_expression(err, uses, path) or use_before_error(err, uses, files, path)
        if explained is None:
            raise
        raise next(kind for kind in _RAISED_BY_A_USE if isinstance(err, kind))(explained) from None
    check_base_placeholders(cfg, path, placeholders)
    check_base_variable_uses(uses, path)
    return cfg


#: What running a ``{{_base_.x}}`` placeholder inside an expression raises (``'_x_1a2b3c' + []``, ``.get``,
#: ``[20]``, ``int(...)``, ``{}[...]``); a refusal keeps the kind.
_RAISED_BY_A_USE = (TypeError, AttributeError, IndexError, ValueError, KeyError)


#: Guards installing and removing :func:`_wrap_config`'s wrappers (``Config``'s static methods, shared by threads).
_WRAPPING = threading.Lock()
_ACTIVE = [0]  # recordings in progress, over all threads: the wrappers are installed while any is
_LOCAL = threading.local()  # .recorders: this thread's recordings in progress, innermost last


class _Recorder(NamedTuple):
    """One :func:`_recording_base_placeholders` in progress: where it records, and the files whose reading it
    records (``reading``: the ``_file2dict`` calls in progress, ``None`` for one not recorded)."""

    found: dict
    uses: list | None
    files: dict | None
    reading: list
    started: list  # [True] once its config's own read began: a later read at the top is not of its chain


@contextlib.contextmanager
def _recording_base_placeholders(found: dict[str, tuple[str, str]], uses: list | None = None,
                                 files: dict[str, bool] | None = None):
    """Record in ``found``, while ``Config.fromfile`` runs inside, each placeholder string mmengine puts in place of
    a ``{{_base_.x}}`` variable (``Config._pre_substitute_base_vars``: ``'_x_'`` and 6 random hex digits) as
    ``{placeholder: (x, the config file that uses it)}``, over every file of the ``_base_`` chain (a base that
    computes ``lr = {{_base_.lr}} * 2`` leaves its placeholder in the config that inherits it), in ``uses`` the
    file's uses of them inside an expression (:func:`base_variable_uses`, python configs), and in ``files`` each
    file read, absolute, in the order mmengine finished running them (``True``; a base runs before the file that
    names it) and ``False`` for one whose reading did not finish (it raised, or a base of it did).

    Only the first ``Config.fromfile`` inside, in this thread, and the bases it reads are recorded: not a config
    that a ``custom_imports`` module (or the config's own text) reads (one read with :func:`read_config` is
    recorded in that read's own recording, the innermost of this thread), nor one read in another thread, which
    records its own recording at the same time (a ``custom_imports`` module waiting on such a thread waits on
    nothing of this one)."""
    from mmengine.config import Config

    recorders = _LOCAL.__dict__.setdefault('recorders', [])
    with _WRAPPING:
        if not _ACTIVE[0]:
            _wrap_config(Config)
        _ACTIVE[0] += 1
    recorders.append(_Recorder(found, uses, files, [], []))
    try:
        yield found
    finally:
        recorders.pop()
        with _WRAPPING:
            _ACTIVE[0] -= 1
            if not _ACTIVE[0]:
                Config._file2dict, Config._pre_substitute_base_vars = _WRAPPED.pop()


_WRAPPED: list[tuple] = []  # ``Config``'s own two static methods while :func:`_wrap_config`'s replace them


def _recorder() -> _Recorder | None:
    """This thread's innermost recording in progress."""
    recorders = getattr(_LOCAL, 'recorders', None)
    return recorders[-1] if recorders else None


def _wrap_config(Config: Any) -> None:
    """Replace ``Config._file2dict`` and ``Config._pre_substitute_base_vars`` with recording wrappers (their own
    kept in :data:`_WRAPPED`), which record into :func:`_recorder`'s recording the first read at its top and the
    bases that read reads (``_file2dict`` calling itself), and otherwise only call through."""
    file2dict, substitute = Config.__dict__['_file2dict'], Config.__dict__['_pre_substitute_base_vars']
    _WRAPPED.append((file2dict, substitute))

    def file2dict_recorded(filename, *args, **kwargs):
        recorder = _recorder()
        if recorder is None:
            return file2dict.__func__(filename, *args, **kwargs)
        if recorder.reading:  # a base of the file read (mmengine's _file2dict reads it), else another config
            recorded = recorder.reading[-1] is not None and sys._getframe(1).f_code.co_name == '_file2dict'
        else:  # the recording's own config, the first only: later ones are its custom_imports modules' reads
            recorded = not recorder.started
        recorder.started[:] = [True]
        recorder.reading.append(filename if recorded else None)
        absolute = osp.abspath(osp.expanduser(filename))
        files = recorder.files if recorded else None
        if files is not None:
            files[absolute] = False
        try:
            read = file2dict.__func__(filename, *args, **kwargs)
        finally:
            recorder.reading.pop()
        if files is not None:
            files.pop(absolute)
            files[absolute] = True  # after the bases it read: the order files finished in
        return read

    def substitute_recorded(filename, temp_config_name):
        variables = substitute.__func__(filename, temp_config_name)
        recorder = _recorder()
        if recorder is None or not recorder.reading or recorder.reading[-1] is None:
            return variables
        config = recorder.reading[-1]
        recorder.found.update({p: (x, config) for p, x in variables.items()})
        if recorder.uses is not None and variables and temp_config_name.endswith('.py'):
            with open(temp_config_name, encoding='utf-8') as f:
                recorder.uses.extend(base_variable_uses(f.read(), variables, osp.abspath(osp.expanduser(config))))
        return variables

    Config._file2dict = staticmethod(file2dict_recorded)
    Config._pre_substitute_base_vars = staticmethod(substitute_recorded)


def check_base_placeholders(cfg: Any, path: str, placeholders: dict[str, tuple[str, str]]) -> None:
    """Refuse a value (or key) of ``cfg``, read from the config file ``path``, that holds one of ``placeholders``:
    the strings mmengine put in place of the ``{{_base_.x}}`` variables of ``path`` and its bases
    (``{placeholder: (x, the file that uses it)}``, :func:`_recording_base_placeholders`). One used inside an
    expression that ran without an error (``lr = {{_base_.lr}} * 2``, ``'run_' + {{_base_.name}}``) left a string
    such as ``'_lr_1a2b3c_lr_1a2b3c'`` where the base's value belonged, and the run went on with it
    (:func:`base_variable_in_expression` names those that raised). Only this read's own placeholders (random hex)
    are looked for, so no string of a legal config is taken for one. A variable indexed (``{{_base_.x}}[0]``: the
    placeholder's first character) leaves none: :func:`check_base_variable_uses` refuses it.

    Raises:
        ValueError: naming the file that uses the variable, the dotted key (``a.b[1]``), its value, the variable and
            the fix.
    """
    if not placeholders:
        return
    placeholder = re.compile('|'.join(re.escape(p) for p in placeholders))

    def refuse(key: str, value: str, found: str) -> None:
        name, used_in = placeholders[found]
        where = path if osp.abspath(used_in) == osp.abspath(path) else f'{osp.normpath(used_in)} (a base of {path})'
        raise ValueError(
            f'{where}: {key} holds the placeholder string mmengine put in place of {{{{_base_.{name}}}}} '
            f'({value!r}): a {{{{_base_.*}}}} variable is substituted only where it is a whole value, and '
            f'this one was used inside an expression; write _base_.{name} without the braces (the '
            "base's value), or, in a python-style config, import the base in `with read_base():`")

    def walk(value: Any, key: str) -> None:
        if isinstance(value, str):
            found = placeholder.search(value)
            if found is not None:
                refuse(key, value, found.group(0))
        elif isinstance(value, dict):
            for k, v in value.items():
                found = placeholder.search(k) if isinstance(k, str) else None
                if found is not None:
                    refuse(f'{key}.{k}' if key else str(k), k, found.group(0))
                walk(v, f'{key}.{k}' if key else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f'{key}[{i}]')

    walk(cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg), '')


#: A base variable as mmengine substitutes it (``Config._pre_substitute_base_vars``): ``{{_base_.a.b}}``.
_BASE_VARIABLE = re.compile(r'\{\{\s*_base_\.([\w.]+)\s*\}\}')


class BaseVariableUse(NamedTuple):
    """A ``{{_base_.x}}`` variable of a config file used where mmengine does not substitute it (inside an
    expression), as :func:`base_variable_uses` finds it in the file's text as mmengine runs it."""

    file: str  #: the config file, absolute
    line: int  #: the line (1-based) of the use
    span: tuple[int, int, int, int]  #: ``(line, column, end line, end column)`` of the use, columns in UTF-8 bytes
    statement: tuple[int, int]  #: first and last line of the top-level statement holding the use
    key: str  #: the top-level key that statement assigns (``'a key'`` where it assigns none)
    variable: str  #: ``x`` of ``{{_base_.x}}``
    name: str | None  #: the config's name bound to the variable (``hooks = {{_base_.hooks}}``) where it is used
    bound_on: int | None  #: the line of that binding
    deferred: bool = False  #: inside a function or lambda: it runs only where that is called


#: Calls that put an argument into a dict or list as it is, so mmengine substitutes it there
#: (``pipeline.append({{_base_.step}})``, ``model.update(lr={{_base_.lr}})``, ``copy.deepcopy({{_base_.hooks}})``):
#: the called name (a function's, or a method's after the dot) -> the index of that positional argument (``None``:
#: none), and whether its keywords are values.
_STORING_CALLS = {'dict': (None, True), 'ConfigDict': (None, True), 'OrderedDict': (None, True),
                  'update': (None, True), 'append': (0, False), 'insert': (1, False), 'setdefault': (1, False),
                  'deepcopy': (0, False), 'copy': (0, False)}

def _called_name(call: ast.AST) -> str | None:
    func = call.func if isinstance(call, ast.Call) else None
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _whole_value(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether mmengine substitutes the placeholder string that ``node`` evaluates to (``parents``: each node's
    parent): it replaces a value of the config's dicts, lists and tuples that is the placeholder
    (``Config._substitute_base_vars``), so ``node`` must be an assignment's value, a list / tuple element, a dict
    value (not a key, not ``**``), a keyword of ``dict(...)`` (``ConfigDict``, ``OrderedDict``, ``.update``), an
    argument a call stores as it is (:data:`_STORING_CALLS`: ``.append(x)``, ``.insert(i, x)``, ``.setdefault(k, x)``,
    ``copy.deepcopy(x)``) where the call is a whole value too (``.append(x)`` a statement of its own; not
    ``copy.deepcopy({{_base_.hooks}})[0]``, the placeholder's ``'_'``), a branch of ``a if c else b`` or the element
    of a list / dict comprehension."""
    parent = parents[node]
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        return node is parent.value
    if isinstance(parent, (ast.List, ast.Tuple)):
        return any(node is e for e in parent.elts)
    if isinstance(parent, ast.Dict):
        return any(node is v and k is not None for k, v in zip(parent.keys, parent.values))
    if isinstance(parent, ast.keyword):
        call = parents.get(parent)
        return parent.arg is not None and _STORING_CALLS.get(_called_name(call), (None, False))[1] and \
            _whole_value(call, parents)
    if isinstance(parent, ast.Call):
        at = _STORING_CALLS.get(_called_name(parent), (None, False))[0]
        return at is not None and len(parent.args) > at and node is parent.args[at] and _whole_value(parent, parents)
    if isinstance(parent, ast.IfExp):
        return node is parent.body or node is parent.orelse
    if isinstance(parent, ast.ListComp):
        return node is parent.elt
    if isinstance(parent, ast.DictComp):
        return node is parent.value
    return isinstance(parent, ast.Expr)  # a statement of its own: nothing is made of it


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
           ast.GeneratorExp)


def _binds(scope: ast.AST, name: str) -> bool:
    """Whether a function, lambda or comprehension binds ``name`` itself (a parameter, a target): a use of
    ``name`` inside it is not the config's."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = scope.args
        if name in {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}:
            return True
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
               for n in ast.walk(scope) if n is not scope)


def _assigned_key(statement: ast.stmt) -> str:
    targets = statement.targets if isinstance(statement, ast.Assign) else \
        [statement.target] if isinstance(statement, (ast.AnnAssign, ast.AugAssign)) else []
    return ast.unparse(targets[0]) if targets else 'a key'


def base_variable_uses(text: str, variables: dict[str, str], file: str) -> list[BaseVariableUse]:
    """The uses of ``{{_base_.x}}`` variables inside an expression in a python config's ``text`` as mmengine runs it
    (each variable replaced by its placeholder string, ``variables``: ``{placeholder: x}``, from
    ``Config._pre_substitute_base_vars``), in file order: the placeholder where it is no whole value
    (:func:`_whole_value`: ``{{_base_.x}}[0]``, ``.upper()``, ``+ [...]``, inside an f-string, a dict key, ``*``),
    and a top-level name bound to a whole-value variable (``hooks = {{_base_.hooks}}``) used so on a later line
    (``hooks[0]``, ``hooks += [...]``),
    outside a function or comprehension binding that name itself. ``[]`` for text that does not parse (mmengine's
    own ``SyntaxError`` follows).

    A use runs on the placeholder (a string of ``'_x_'`` and 6 hex digits), not on the base's value: it raises
    (:func:`base_variable_in_expression`) or gives a wrong value silently (``'_'`` for ``{{_base_.x}}[0]``).
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses, bound = [], {}  # bound: {top-level name: (x, line)}
    for statement in tree.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in variables:
                variable, name, bound_on = variables[node.value], None, None
            elif isinstance(node, ast.Name) and node.id in bound and (
                    isinstance(node.ctx, ast.Load) or isinstance(parents.get(node), ast.AugAssign)):  # hooks += [...]
                (variable, bound_on), name = bound[node.id], node.id
                scope = parents.get(node)
                while scope is not None and not (isinstance(scope, _SCOPES) and _binds(scope, name)):
                    scope = parents.get(scope)
                if scope is not None:
                    continue
            else:
                continue
            parent = parents[node]
            if _whole_value(node, parents):
                continue
            inner = parent
            while not isinstance(inner, ast.stmt):
                inner = parents[inner]
            deferred, scope = False, parent
            while scope is not statement and not deferred:
                deferred, scope = isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)), parents[scope]
            uses.append(BaseVariableUse(
                file, node.lineno, (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset),
                (statement.lineno, statement.end_lineno), _assigned_key(inner), variable, name, bound_on,
                deferred or isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))))
        held = _held_variable(statement.value, variables, bound) if isinstance(statement, ast.Assign) else None
        stored = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        for name in stored & bound.keys():
            del bound[name]
        if held is not None:
            bound.update((t.id, (held, statement.lineno)) for t in statement.targets if isinstance(t, ast.Name))
    return uses


def _held_variable(value: ast.AST, variables: dict[str, str], bound: dict[str, tuple[str, int]]) -> str | None:
    """``x`` where the assigned ``value`` is the placeholder of ``{{_base_.x}}`` itself: the placeholder, a name bound
    to it (``h2 = hooks``) or a copy of either (``copy.deepcopy(...)``, which copies the string), else ``None``."""
    if isinstance(value, ast.Call) and _called_name(value) in ('copy', 'deepcopy') and len(value.args) == 1:
        value = value.args[0]
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return variables.get(value.value)
    return bound[value.id][0] if isinstance(value, ast.Name) and value.id in bound else None


def _use_message(use: BaseVariableUse, config: str, err: BaseException | None) -> str:
    """The refusal of ``use`` (read while ``config`` was read), ``err`` being what running it raised (``None``: it
    ran)."""
    try:
        with open(use.file, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    line = lines[use.line - 1].strip() if use.line <= len(lines) else '?'
    where = use.file if osp.abspath(config) == use.file else f'{use.file} (a base of {config})'
    braces = f'{{{{_base_.{use.variable}}}}}'
    what = (f'{type(err).__name__}: {err}' if err is not None else
            "it ran on that string without an error: the value is made from the placeholder, not from the base's")
    example = f'{use.key} = {braces}' if use.name is None else \
        f'{use.name} = {braces}, after the file ran: {use.name} held the placeholder while it ran'
    if use.name is None:
        head = f'{where}, line {use.line}: {use.key} uses {braces} inside an expression ({line})'
        fixed = _BASE_VARIABLE.sub(lambda m: f'_base_.{m.group(1)}', line)
        fix = f'write {fixed}' if use.statement[0] == use.statement[1] else f'write line {use.line} as {fixed}'
    else:
        head = (f'{where}, line {use.line}: {use.key} uses {use.name}, bound to {braces} on line {use.bound_on}, '
                f'inside an expression ({line})')
        fix = f'write {use.name} = _base_.{use.variable} on line {use.bound_on}'
    return (f'{head}: mmengine substitutes a {{{{_base_.*}}}} variable only where it is a whole value '
            f'({example}) and runs the file with a placeholder string in its place ({what}); {fix} '
            f"(_base_.{use.variable} without the braces is the base's value), or, in a python-style config, import "
            'the base in `with read_base():` and use its name')


def base_variable_in_expression(err: BaseException, uses: list[BaseVariableUse], config: str) -> str | None:
    """The message for ``err``, raised while mmengine ran a config file (``config`` or one of its bases), where what
    raised it is a use of a ``{{_base_.x}}`` variable inside an expression (one of ``uses``, from
    :func:`base_variable_uses`: ``custom_hooks = [dict(...)] + {{_base_.custom_hooks}}``), else ``None``.

    mmengine substitutes such a variable only where it is a whole value (``key = {{_base_.x}}``, or one inside a
    list or dict): it runs the file with a placeholder string in its place and puts the base's value back where a
    value is that string, so ``[...] + '<placeholder>'`` raised its ``TypeError`` and ``.get`` of it an
    ``AttributeError``, naming neither the key nor the fix. ``_base_.x`` without the braces is the base's value
    there (mmengine runs a text config with ``_base_`` bound to its bases' merged dict), as is a python-style
    config's ``with read_base():`` import. The use is the one inside the expression that raised (the traceback's
    columns; its statement's lines where the traceback has no columns), over a statement of several lines too; an
    error of the same line beside it (``dict(lr={{_base_.lr}}, m=0.9 + '1')``) is the config's own.

    Returns:
        ``'<file>, line <n>: <key> uses {{_base_.<x>}} inside an expression (<line>): ...; write <the line with
        _base_.<x>>...'``, ``<key>`` being the top-level key the statement assigns (``a key`` where it assigns none)
        and ``<n>`` the line of the variable.
    """
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        mine = [use for use in uses if use.file == osp.abspath(frame.filename)]
        columns = getattr(frame, 'colno', None) is not None and getattr(frame, 'end_colno', None) is not None
        for use in mine:
            if columns:
                start, end = (frame.lineno, frame.colno), (frame.end_lineno, frame.end_colno)
                found = start <= use.span[:2] and use.span[2:] <= end
            else:
                found = use.statement[0] <= frame.lineno <= use.statement[1]
            if found:
                return _use_message(use, config, err)
    return None


def use_before_error(err: BaseException, uses: list[BaseVariableUse], files: dict[str, bool],
                     config: str) -> str | None:
    """The message for ``err``, raised while mmengine read a config file (``config`` or one of its bases) by a
    statement holding no use of a ``{{_base_.x}}`` variable (:func:`base_variable_in_expression` found none), where
    such a use ran before it without an error: ``sched = {{_base_.param_scheduler}}[0]`` gave ``'_'`` and
    ``dict(sched, T_max=1)`` on the next line raised ``ValueError: dictionary update sequence element #0 ...``; or
    by mmengine itself on such a value (a base's ``model = {{_base_.models}}[0]``, a string, under a config's
    ``model = dict(...)``: ``TypeError: model=... in child config cannot inherit from base``).
    The use is refused in any case (:func:`check_base_variable_uses`), and what raised likely ran on its value, so
    the message is the use's refusal followed by the statement that raised and its error. The use named is one
    whose key (or bound name) the line that raised names (mmengine's error, where no config line raised), else
    the first that ran. Else ``None``.

    Args:
        files: The config files read, ``{absolute path: whether its reading finished}`` in the order they finished
            (:func:`_recording_base_placeholders`): a use in a finished file ran; one in the file that raised ran
            where its statement ends before the top-level statement that raised (a function of the file called
            there raised inside it); one inside a function or lambda is not counted (it ran only if called).

    Returns:
        ``'<the use's refusal>; then <file>, line <n> (<line>) raised <error>'`` (``'...; then mmengine, reading
        <file>, raised <error>'``).
    """
    # the file's own statement (its module frame, the outermost of a config file), not a function it called
    frame = next((f for f in traceback.extract_tb(err.__traceback__) if osp.abspath(f.filename) in files), None)
    raising = osp.abspath(frame.filename) if frame is not None else None
    finished = [file for file, done in files.items() if done]
    ran = [use for use in uses if not use.deferred and (use.file in finished or
           frame is not None and use.file == raising and use.statement[1] < frame.lineno)]
    if not ran:
        return None
    named = set(re.findall(r'\w+', (frame.line or '') if frame is not None else str(err)))
    use = min(ran, key=lambda u: (not named & {re.match(r'\w*', u.key).group(0), u.name},
                                  finished.index(u.file) if u.file in finished else len(finished), u.line))
    if frame is None:
        reading = next((file for file, done in reversed(files.items()) if not done), None)
        if reading is None:
            return None
        where = reading if osp.abspath(config) == reading else f'{reading} (a base of {config})'
        return f'{_use_message(use, config, None)}; then mmengine, reading {where}, raised {type(err).__name__}: {err}'
    where = raising if osp.abspath(config) == raising else f'{raising} (a base of {config})'
    return (f'{_use_message(use, config, None)}; then {where}, line {frame.lineno} ({(frame.line or "?").strip()}) '
            f'raised {type(err).__name__}: {err}')


def check_base_variable_uses(uses: list[BaseVariableUse], config: str) -> None:
    """Refuse the config ``config`` where one of its files (it or a base) uses a ``{{_base_.x}}`` variable inside an
    expression that ran without an error (:func:`base_variable_uses`: ``{{_base_.x}}[0]`` is the first character of
    mmengine's placeholder string, ``'_'``, and nothing of the placeholder is left for
    :func:`check_base_placeholders` to find).

    Raises:
        ValueError: naming the file, the line, the top-level key, the variable and the fix (the first use).
    """
    if uses:
        raise ValueError(_use_message(uses[0], config, None))


#: The start of mmengine's ``KeyError`` for two ``_base_`` files that set one top-level key (``Config._file2dict``).
_DUPLICATE_BASES = 'Duplicate key is not allowed among bases'


def duplicate_base_keys(path: str) -> str | None:
    """The message for a config ``path`` whose ``_base_`` files set the same top-level key, which mmengine refuses
    with ``KeyError: "Duplicate key is not allowed among bases. Duplicate keys: {'model'}"`` and a traceback, naming
    neither the config nor the bases: the README's AM-LFS retrain with the search's ``final_policy.py`` named as a
    second ``_base_`` (both set ``model``). Each base is read as mmengine reads it (:func:`_base_files`: its variables
    substituted; ``Config._get_cfg_path``: relative to the folder of the config that names it, ``mmdet::`` from the
    package), its top-level keys compared with those of the bases before it.

    Returns:
        ``'<config>: _base_ files <first> and <second> both set <keys>: ...'`` with the fix (inherit one, set the
        other's keys in the config: an exported fragment pasted; each earlier base that set one of the keys named
        once, three or more as ``<a>, <b> and <c> set <keys>``; one file named twice in ``_base_`` as
        ``'<config>: _base_ names <file> twice: ...: name it once'``), where ``<config>`` is ``path`` or, where two
        bases of one of its bases share a key, that base (the first such in ``_base_`` order); ``None`` where no two
        bases share a key or a base cannot be read (mmengine's own error then stands).
    """
    from mmengine.config import Config

    try:
        bases = [osp.normpath(Config._get_cfg_path(base, path)[0]) for base in _base_files(path)]
    except Exception:  # noqa: BLE001 - a _base_ mmengine cannot resolve: its own error stands
        return None
    first_set: dict[str, str] = {}  # top-level key: the base that set it first
    for index, base in enumerate(bases):
        try:
            keys = set(Config.fromfile(base, import_custom_modules=False).keys())
        except KeyError as err:  # two bases of this base share a key
            return duplicate_base_keys(base) if _DUPLICATE_BASES in str(err) else None
        except Exception:  # noqa: BLE001 - mmengine's own error of that base stands
            return None
        shared = sorted(keys & first_set.keys())
        if shared:
            why = 'mmengine merges no top-level key that two bases set ("Duplicate key is not allowed among bases")'
            if base in bases[:index]:  # one file named twice
                return f'{path}: _base_ names {base} twice: {why}: name it once'
            earlier = list(dict.fromkeys(b for b in bases[:index] if b in {first_set[key] for key in shared}))
            return (f'{path}: _base_ files {", ".join(earlier)} and {base} {"both " if len(earlier) == 1 else ""}'
                    f'set {", ".join(shared)}: {why}: inherit one of them and set the keys of the other in this '
                    'config (an exported final_policy.py or pc_nas_backbone.py: paste its text below the _base_ '
                    'line)')
        first_set.update((key, base) for key in keys if key not in first_set)
    return None


def check_sets_model(cfg: Any, path: str) -> None:
    """Refuse ``cfg``, read from the config file ``path`` (``--cfg-options`` merged), where it sets no ``model``: a
    fragment run on its own, such as the README's plugin ``my_config.py`` (an ``OHLHook`` with a space of your own)
    without the ``_base_`` it inherits. mmengine's ``Runner.from_cfg`` stopped with a bare ``KeyError: 'model'``
    and a traceback after the start checks had passed (or, with an ``OHLHook``, a check asked for its scope's prefix
    and then for ``CopyRunner``, one at a time).

    Raises:
        ConfigCheckError: naming the file and the fix (a ``_base_`` to inherit a whole run from, written as
            mmengine reads it from the folder of ``path``: relative for a config in the repository, absolute for
            one outside it; the path from the repository root where this package is installed without its
            configs).
    """
    from .preflight_walk import ConfigCheckError

    if cfg.get('model') is None:
        raise ConfigCheckError(
            f'{path}: the config sets no model, so it is no whole run (model, data, schedule) that the tools can '
            f"run: a config fragment inherits one first, e.g. _base_ = ['{_base_example(path)}'] (mmengine reads a "
            "_base_ path relative to the config's folder)")


_BASE_EXAMPLE = osp.join('configs', 'baselines', 'baseline_convnet_1x1_30e_digits.py')


def _base_example(path: str) -> str:
    """:data:`_BASE_EXAMPLE` as a ``_base_`` entry of the config ``path`` finds it: from its folder (mmengine joins
    the two); the example suggested was the path from the repository root, which only a config in the root found."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    example = osp.join(repo, _BASE_EXAMPLE)
    if not osp.isfile(example):  # installed without the repository's configs
        return _BASE_EXAMPLE
    folder = osp.dirname(osp.abspath(path))
    if osp.commonpath([folder, repo]) != repo:
        return example
    return osp.relpath(example, folder)


def _base_files(path: str) -> list:
    """The ``_base_`` entries of the config file ``path`` as mmengine reads them (``Config._file2dict``): its predefined
    variables (``{{ fileDirname }}``, ...) and environment variables (``{{ $NAME:default }}``) substituted first,
    then ``Config._get_base_files``.

    Raises:
        Exception: whatever mmengine's substitution or ``_get_base_files`` raises (an environment variable unset
            without a default: ``KeyError``; a syntax error).
    """
    import tempfile

    from mmengine.config import Config

    path = osp.abspath(osp.expanduser(path))
    with tempfile.TemporaryDirectory() as folder:
        text = osp.join(folder, 'config' + osp.splitext(path)[1])
        Config._substitute_predefined_vars(path, text)
        Config._substitute_env_variables(text, text)
        return Config._get_base_files(text)


def base_not_found(path: str, missing: str) -> str | None:
    """The message for a ``_base_`` entry that names no file, found by walking the local ``_base_`` entries from the
    config ``path`` to the one that resolves to ``missing`` (the file mmengine failed to open), or ``None`` where
    none does (another file was missing).

    mmengine reads a ``_base_`` path relative to the folder of the config that names it, and stopped with a bare
    ``FileNotFoundError: [Errno 2] No such file or directory: '<that folder>/configs/ohl/...'`` naming neither that
    config nor the rule: the README's ``_base_ = ['configs/...']`` for a ``my_config.py`` in the repository root,
    written in a config elsewhere, was read from the config's own folder. The message names the config, its
    ``_base_`` entry and where it was looked for, then the file it names from the current directory where there is
    one (with the path to write), else the closest file name in the folder it was looked for in:
    ``configs/model.py: _base_ './runtim.py' is no file: mmengine reads a _base_ path relative to the folder of the
    config that names it (/work/configs), so it looked for /work/configs/runtim.py (did you mean './runtime.py'?)``.
    """

    target = osp.abspath(missing)
    queue, seen = [path], set()
    while queue:
        config = queue.pop(0)
        if osp.abspath(config) in seen or not osp.isfile(config) or not config.endswith('.py'):
            continue
        seen.add(osp.abspath(config))
        try:
            bases = _base_files(config)
        except Exception:  # noqa: BLE001 - a config mmengine cannot parse is reported by mmengine itself
            continue
        folder = osp.dirname(config)
        for base in bases:
            if not isinstance(base, str) or '::' in base:
                continue
            looked = osp.join(folder, base)
            if osp.abspath(looked) != target:
                queue.append(looked)
                continue
            message = (f'{config}: _base_ {base!r} is no file: mmengine reads a _base_ path relative to the folder of '
                       f'the config that names it ({osp.abspath(folder)}), so it looked for {target}')
            here = osp.abspath(base)
            if not osp.isabs(base) and osp.isfile(here):
                meant = osp.relpath(here, osp.abspath(folder))
                return f'{message}; from the current directory it is {here}: write {meant!r} or that absolute path'
            where = osp.dirname(target)
            names = sorted(n for n in os.listdir(where) if n.endswith('.py')) if osp.isdir(where) else []
            close = difflib.get_close_matches(osp.basename(base), names, n=1, cutoff=0.6)
            return message + (f' (did you mean {osp.join(osp.dirname(base), close[0])!r}?)' if close else '')
    return None
