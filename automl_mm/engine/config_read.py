"""Reading the config file a tool is given, with errors that name the file and the fix.

The tools (``tools/train.py``, ``tools/test.py``, ``tools/measure_latency.py``) and :mod:`automl_mm.nas` read a
config with :func:`read_config`: mmengine's ``Config.fromfile``, with a failing ``custom_imports`` module and a
``_base_`` entry that names no file (:func:`base_not_found`) and two ``_base_`` files that set one key
(:func:`duplicate_base_keys`) named with their cause, and a ``{{_base_.x}}`` variable used inside an expression
(:func:`base_variable_in_expression`, :func:`check_base_placeholders`) with the fix. A CONFIG argument that is no
file is refused with :func:`config_not_found`'s message, which names the closest configs; a config that sets no
``model`` (a fragment run on its own) with :func:`check_sets_model`'s.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import os.path as osp
import re
import threading
import traceback
from typing import Any

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
        TypeError, AttributeError: a config line that uses a ``{{_base_.x}}`` variable inside an expression
            (:func:`base_variable_in_expression`: naming the file, line, key and the fix; not chained); any other
            is mmengine's (the config's own) error.
        ValueError: a value holding the placeholder of a ``{{_base_.x}}`` variable used inside an expression that
            raised nothing (:func:`check_base_placeholders`).
    """
    from mmengine.config import Config

    placeholders: dict[str, tuple[str, str]] = {}
    try:
        with _recording_base_placeholders(placeholders):
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
    except KeyError as err:
        explained = duplicate_base_keys(path) if _DUPLICATE_BASES in str(err) else None
        if explained is None:
            raise
        raise KeyError(explained) from None
    except (TypeError, AttributeError) as err:
        explained = base_variable_in_expression(err)
        if explained is None:
            raise
        raise (TypeError if isinstance(err, TypeError) else AttributeError)(explained) from None
    check_base_placeholders(cfg, path, placeholders)
    return cfg


#: Serialises :func:`_recording_base_placeholders` (it wraps two of ``Config``'s static methods while it runs).
_RECORDING = threading.RLock()  # re-entered where a custom_imports module reads a config as it is imported


@contextlib.contextmanager
def _recording_base_placeholders(found: dict[str, tuple[str, str]]):
    """Record in ``found``, while ``Config.fromfile`` runs inside, each placeholder string mmengine puts in place of
    a ``{{_base_.x}}`` variable (``Config._pre_substitute_base_vars``: ``'_x_'`` and 6 random hex digits) as
    ``{placeholder: (x, the config file that uses it)}``, over every file of the ``_base_`` chain (a base that
    computes ``lr = {{_base_.lr}} * 2`` leaves its placeholder in the config that inherits it)."""
    from mmengine.config import Config

    with _RECORDING:
        file2dict, substitute = Config.__dict__['_file2dict'], Config.__dict__['_pre_substitute_base_vars']
        reading: list[str] = []

        def file2dict_recorded(filename, *args, **kwargs):
            reading.append(filename)
            try:
                return file2dict.__func__(filename, *args, **kwargs)
            finally:
                reading.pop()

        def substitute_recorded(filename, temp_config_name):
            variables = substitute.__func__(filename, temp_config_name)
            found.update({p: (x, reading[-1] if reading else filename) for p, x in variables.items()})
            return variables

        Config._file2dict = staticmethod(file2dict_recorded)
        Config._pre_substitute_base_vars = staticmethod(substitute_recorded)
        try:
            yield found
        finally:
            Config._file2dict = file2dict
            Config._pre_substitute_base_vars = substitute


def check_base_placeholders(cfg: Any, path: str, placeholders: dict[str, tuple[str, str]]) -> None:
    """Refuse a value (or key) of ``cfg``, read from the config file ``path``, that holds one of ``placeholders``:
    the strings mmengine put in place of the ``{{_base_.x}}`` variables of ``path`` and its bases
    (``{placeholder: (x, the file that uses it)}``, :func:`_recording_base_placeholders`). One used inside an
    expression that ran without an error (``lr = {{_base_.lr}} * 2``, ``'run_' + {{_base_.name}}``) left a string
    such as ``'_lr_1a2b3c_lr_1a2b3c'`` where the base's value belonged, and the run went on with it
    (:func:`base_variable_in_expression` names those that raised). Only this read's own placeholders (random hex)
    are looked for, so no string of a legal config is taken for one. A variable indexed (``{{_base_.x}}[0]``: the
    placeholder's first character) is not found.

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

#: What stands before and after a ``{{_base_.x}}`` that is a whole value, which mmengine substitutes: an assignment
#: or keyword (not ``==``), a list / dict / tuple element or a dict value, ``dict(`` (not another call), then the end
#: of that value.
_WHOLE_VALUE_BEFORE = re.compile(r'(?:(?<![=!<>])=|[\[{,:]|\bdict\(|(?:^|[=\[{,(:])\s*\()\s*$')
_WHOLE_VALUE_AFTER = re.compile(r'\s*(?:[,\]})]|#|$)')


def base_variable_in_expression(err: BaseException) -> str | None:
    """The message for ``err``, raised while mmengine ran a config file, where the line that raised it uses a
    ``{{_base_.x}}`` variable inside an expression (``custom_hooks = [dict(...)] + {{_base_.custom_hooks}}``), else
    ``None``.

    mmengine substitutes such a variable only where it is a whole value (``key = {{_base_.x}}``, or one inside a
    list or dict): it runs the file with a placeholder string in its place and puts the base's value back where a
    value is that string, so ``[...] + '<placeholder>'`` raised its ``TypeError`` and ``.get`` of it an
    ``AttributeError``, naming neither the key nor the fix. ``_base_.x`` without the braces is the base's value
    there (mmengine runs a text config with ``_base_`` bound to its bases' merged dict), as is a python-style
    config's ``with read_base():`` import. Found from the traceback's lines as written in the file (one line: a
    variable on another line of a statement over several lines is not found).

    Returns:
        ``'<file>, line <n>: <key> uses {{_base_.<x>}} inside an expression (<line>): ...; write <the line with
        _base_.<x>>...'``, the key being the line's assignment target (``a key`` where it assigns none).
    """
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        line = (frame.line or '').strip()
        # a variable that is a whole value on the line (dict(lr={{_base_.lr}}, m=0.9 + '1')) is no cause: the line's
        # error is the config's own, and mmengine's stays
        found = next((m for m in _BASE_VARIABLE.finditer(line)
                      if not (_WHOLE_VALUE_BEFORE.search(line[:m.start()])
                              and _WHOLE_VALUE_AFTER.match(line[m.end():]))), None)
        if found is None:
            continue
        target = re.match(r'([A-Za-z_][\w.]*)\s*=(?!=)', line)
        key = target.group(1) if target else 'a key'
        fixed = _BASE_VARIABLE.sub(lambda m: f'_base_.{m.group(1)}', line)
        return (f'{frame.filename}, line {frame.lineno}: {key} uses {{{{_base_.{found.group(1)}}}}} inside an '
                f'expression ({line}): mmengine substitutes a {{{{_base_.*}}}} variable only where it is a whole '
                f'value ({key} = {{{{_base_.{found.group(1)}}}}}) and runs the file with a placeholder string in '
                f'its place ({type(err).__name__}: {err}); write {fixed} (_base_.{found.group(1)} without the '
                "braces is the base's value), or, in a python-style config, import the base in "
                '`with read_base():` and use its name')
    return None


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
