"""The command-line parts ``tools/train.py`` and ``tools/test.py`` parse with: :class:`CfgOptionsAction`
(``--cfg-options``), :func:`add_launcher_arguments` and :func:`parse_tool_args`; re-exported by
:mod:`automl_mm.engine.tool_args`, their home before.

This module imports nothing of automl_mm (no relative import) and of mmengine only ``mmengine.config``'s
``DictAction``, so that the tools can execute this file by itself (the ``automl_mm`` package found, not imported) and
parse their command line before they import automl_mm (whose ``__init__`` patches mmengine, importing torch) and the
rest: ``tools/train.py --help`` and a mistyped option waited for some 3 s of imports first. Keep it so.
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any

from mmengine.config import DictAction


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` (``--cfg-options KEY=VALUE ...``) that refuses a malformed item by name.

    mmengine's action stopped the tool with a bare traceback that named neither the option nor the item:
    ``ValueError: not enough values to unpack`` for an item without ``=`` (``train_cfg.max_epochs``, or
    ``train_cfg.max_epochs= 2``, where the shell splits off ``2``), and ``AssertionError: Imbalanced brackets`` for a
    value whose brackets do not close (``train_cfg.max_epochs=[1,2``). Here each is an argparse usage error (exit
    status 2) naming the option, the item and the form expected; an item with an empty key (``=2``) too, and a value
    with a space inside a word (``"work_dir=work_dirs/my run"``), which mmengine's parser silently set without its
    spaces (``'work_dirs/myrun'``; spaces next to ``,``, brackets or at the ends, as in ``"[1, 2]"``, are fine), and a
    dict value (``"model.init_cfg={type:Pretrained}"``, ``"custom_hooks=[dict(type=EMAHook)]"``), which it set as a
    string (a brace inside a string, ``filename_tmpl=epoch_{}.pth``, is kept), and a quoted element that mmengine's
    parser reads as no string (``"model.foo='1'"``: its quotes are dropped and the int ``1`` set; likewise ``'1.5'``,
    ``'true'``, ``'None'``, inside lists too), for which mmengine's syntax has no string form, or that holds a comma
    (``"['a,b']"``: mmengine splits it, ``['a', 'b']``).
    Well-formed items are parsed exactly as mmengine parses them.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        option = option_string or '--cfg-options'
        for item in values or ():
            key, sep, value = item.partition('=')
            if not sep:
                space = (' (a space around "=" splits one KEY=VALUE in two: write it without spaces, or quote it)'
                         if any(v.endswith('=') or v.startswith('=') for v in values) else '')
                parser.error(f'{option} takes KEY=VALUE items (e.g. train_cfg.max_epochs=2); {item!r} has no '
                             f'"="{space}')
            if not key.strip():
                parser.error(f'{option} {item!r}: no key before "=" (expected KEY=VALUE, e.g. '
                             f'train_cfg.max_epochs=2)')
            if value.count('(') != value.count(')') or value.count('[') != value.count(']'):
                parser.error(f'{option} {item!r}: the brackets of the value of {key} do not close (a list is '
                             f'{key}=[1,2], a tuple {key}="(1,2)", quoted for the shell)')
            if re.search(r'(^|[\[(,])\s*(\{|dict\()', value.strip(' \'"')):
                # mmengine's DictAction parses lists and tuples only: "model.init_cfg={type:Pretrained}" set the
                # string "{type:Pretrained}", "custom_hooks=[dict(type=EMAHook)]" the list ['dict(type=EMAHook)'],
                # which failed (mmengine's "hook should be an instance of Hook or dict") or was read as a string far
                # from the option; a brace inside a string (filename_tmpl=epoch_{}.pth) is no dict
                whole = re.match(r'\s*(\{|dict\()', value.strip(' \'"')) is not None
                keys = (f'set its keys one by one where the config has the dict, e.g. {key}.type=..., or '
                        if whole else '')
                parser.error(f"{option} {item!r}: a dict is not parsed there (mmengine's --cfg-options parser would "
                             f'set {key} to {"the string" if whole else "strings in"} {value.replace(" ", "")!r}); '
                             f"{keys}write it in a config of your own that inherits this one (_base_ = ['<this "
                             "config>'])")
            quoted = _quoted_non_string(value)
            if quoted is not None:
                # mmengine's DictAction strips the quotes of every element, then reads int / float / bool / None:
                # "model.foo='1'" set the int 1, "['a','true']" the list ['a', True], without a word
                read_as = self._parse_iterable(quoted.replace(' ', ''))
                set_to = self._parse_iterable(value.replace(' ', ''))
                meant = quoted.strip('\'"')
                parser.error(f"{option} {item!r}: mmengine's --cfg-options parser drops the quotes of {quoted!r} "
                             f'and reads it as {read_as!r}, so {key} would be set to {set_to!r}, not to the string '
                             f'{meant!r}; a string that reads as a number, true / false, None or a list (a comma) '
                             'cannot be given there: set it in a config file that inherits this one (_base_ = '
                             "['<this config>']); other strings need no quotes (work_dir=work_dirs/run1)")
            if ' ' in re.sub(r' *([,()\[\]]) *', r'\1', value.strip(' ')):
                # mmengine's DictAction removes every space of a value: "work_dir=work_dirs/my run" set
                # work_dir='work_dirs/myrun' without a word (spaces around , ( ) [ ] separate items: dropped alike)
                parser.error(f"{option} {item!r}: mmengine's --cfg-options parser removes every space of a value, so "
                             f"{key} would be set to {value.replace(' ', '')!r}; a value cannot hold a space there "
                             '(set it in a config file that inherits this one' +
                             (', or give --work-dir' if key == 'work_dir' else '') + ')')
        super().__call__(parser, namespace, values, option_string)


def _quoted_non_string(value: str) -> str | None:
    """The value of a ``--cfg-options`` item, or else its first element (split at ``,``, brackets), written in
    quotes whose text mmengine's ``DictAction`` reads as no string (``'1'``, ``"1.5"``, ``'true'``, ``'None'``,
    ``'1,2'``; a quoted list or tuple, ``'[1,2]'``, is mmengine's; ``'a','b'`` is two quoted strings), or a quoted
    element holding a comma, which mmengine splits in two (``['a,b']`` is ``['a', 'b']``), else ``None``."""
    whole = value.strip(' ')
    if len(whole) > 1 and whole[0] == whole[-1] and whole[0] in ('"', "'") and whole[1:2] not in ('[', '(') and \
            not any(quote in whole[1:-1] for quote in ('"', "'")) and \
            not isinstance(DictAction._parse_iterable(whole.replace(' ', '')), str):
        return whole
    # an element in quotes (from "[", "(", "," or the start to "]", ")", "," or the end): mmengine splits at a comma
    # inside the quotes as anywhere else ("['a,b']" set ['a', 'b']); a quoted list or tuple ('[1,2]') is mmengine's
    for span in re.finditer(r"""(?:^|(?<=[,(\[]))\s*(['"])([^'"]*)\1\s*(?=$|[,)\]])""", value):
        if ',' in span[2] and span[2].strip(' ')[:1] not in ('[', '('):
            return span[0].strip(' ')
    for element in re.split(r'[,()\[\]]', value):
        element = element.strip(' ')
        if element[:1] in ('"', "'") or element[-1:] in ('"', "'"):
            if not isinstance(DictAction._parse_int_float_bool(element.strip('\'"')), str):
                return element
    return None


def add_launcher_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--launcher`` and ``--local_rank`` / ``--local-rank`` as mmdet's tools take them.

    Args:
        parser: The tool's parser.
        what: What the tool does, for the help text (``'training'``, ``'testing'``).
    """
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help=f'job launcher for distributed {what} (default: %(default)s)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by the pytorch launcher (torch.distributed.launch), not by hand '
                             '(default: %(default)s)')


#: The integer variables each ``--launcher`` reads with ``int()`` where they are set, ``{name: least value}``:
#: torchrun's (mmengine's ``_init_dist_pytorch``, torch's env:// rendezvous, automl_mm's rank agreement), Open MPI's
#: (automl_mm's mpi start-up), slurm's (mmengine's ``_init_dist_slurm``); ``MASTER_PORT`` (the rendezvous) under
#: each. None under ``none``: the world sizes are read there only to refuse ``--launcher none`` in a process that a
#: launcher started (:func:`automl_mm.engine.launch.check_launcher_matches_environment`, which skips a value that is
#: no integer, as no launcher sets one), so a stale or empty one is left alone. mmengine's logger reads
#: ``LOCAL_RANK`` with ``int()`` whatever the launcher (:func:`_launcher_integers`).
#: The one table of them: the tools' early parse (:func:`parse_tool_args`) and :mod:`automl_mm.engine.dist`'s
#: start-ups (``check_launcher_env``, ``env_int``) read it and bound each value with one function,
#: :func:`launcher_integer_problem` (the largest values: :data:`LAUNCHER_INTEGER_MOST`; a rank below its world size:
#: :data:`RANK_WORLD_SIZES`).
LAUNCHER_INTEGERS: dict[str, dict[str, int]] = {
    'none': {},
    'pytorch': {'RANK': 0, 'WORLD_SIZE': 1, 'MASTER_PORT': 1},
    'mpi': {'OMPI_COMM_WORLD_RANK': 0, 'OMPI_COMM_WORLD_LOCAL_RANK': 0, 'OMPI_COMM_WORLD_SIZE': 1, 'MASTER_PORT': 1},
    'slurm': {'SLURM_PROCID': 0, 'SLURM_NTASKS': 1, 'SLURM_LOCALID': 0, 'SLURM_STEP_NUM_TASKS': 1,
              'MASTER_PORT': 1},
}

#: The largest value of a launcher variable that has one: ``MASTER_PORT`` is a TCP port, 1 to 65535.
#: ``MASTER_PORT=0`` passed as an integer: rank 0's rendezvous store then bound a random free port that no other rank
#: knew (they waited until the timeout), and under slurm the config-reading agreement met at the job's port
#: (``dist.launcher_rendezvous``) while the process group's store took port 0; ``MASTER_PORT=70000`` stopped inside
#: torch, naming no variable.
LAUNCHER_INTEGER_MOST: dict[str, int] = {'MASTER_PORT': 65535}

#: Each launcher's rank variable and the world size it is below (ranks are 0 to the world size - 1): ``RANK=2`` with
#: ``WORLD_SIZE=2`` (a job script's export) passed both integer checks and torch's rendezvous waited for a rank nobody
#: held until its timeout. Checked where both are read (:func:`launcher_variable_problem`).
RANK_WORLD_SIZES: dict[str, str] = {'RANK': 'WORLD_SIZE', 'OMPI_COMM_WORLD_RANK': 'OMPI_COMM_WORLD_SIZE',
                                    'SLURM_PROCID': 'SLURM_NTASKS'}

#: Who sets each launcher variable, for :func:`launcher_integer_message`.
LAUNCHER_SETTERS = {'RANK': 'torchrun', 'WORLD_SIZE': 'torchrun', 'LOCAL_RANK': 'torchrun',
                    'LOCAL_WORLD_SIZE': 'torchrun', 'MASTER_PORT': 'the launcher or the job script (tools/*.sh: PORT)',
                    'SLURM_PROCID': 'srun', 'SLURM_NTASKS': 'srun', 'SLURM_LOCALID': 'srun',
                    'SLURM_STEP_NUM_TASKS': 'srun', 'OMPI_COMM_WORLD_RANK': 'mpirun',
                    'OMPI_COMM_WORLD_SIZE': 'mpirun', 'OMPI_COMM_WORLD_LOCAL_RANK': 'mpirun'}


def _launcher_integers(launcher: str) -> dict[str, int | None]:
    """``{variable: least value}`` of the integer variables read under ``launcher`` (:data:`LAUNCHER_INTEGERS`),
    ``LOCAL_RANK`` included (0; under ``none`` any integer, ``None``: mmengine's logger only reads it, and a
    ``LOCAL_RANK=-1`` for "not distributed" ran the job)."""
    return {**LAUNCHER_INTEGERS.get(launcher, {}), 'LOCAL_RANK': None if launcher == 'none' else 0}


def least_launcher_integer(name: str) -> int:
    """The least value of the launcher variable ``name`` (:data:`LAUNCHER_INTEGERS`: 1 for a world size and a port,
    else 0)."""
    return max((table.get(name, 0) for table in LAUNCHER_INTEGERS.values()), default=0)


def launcher_integer_message(name: str, value: str, least: int, launcher: str | None = None) -> str:
    """The refusal of the launcher variable ``name`` set to ``value``, which is not an integer of at least
    ``least`` (and at most its :data:`LAUNCHER_INTEGER_MOST`, where it has one), naming who sets it and, where given,
    the ``--launcher`` that reads it (``"the environment variable WORLD_SIZE='two' is not an integer (torchrun sets
    it; read by --launcher pytorch; ...): unset it or set an integer"``; ``"... MASTER_PORT='0' is not an integer
    from 1 to 65535 (a TCP port; ...)"``)."""
    try:
        number: int | None = int(value)
    except ValueError:
        number = None
    most = LAUNCHER_INTEGER_MOST.get(name)
    kind = 'an integer' if number is None else f'an integer from {least} to {most}' if most is not None else \
        f'an integer >= {least}'
    said = [f"{LAUNCHER_SETTERS.get(name, 'the launcher')} sets it"]
    if name == 'MASTER_PORT':
        said.insert(0, 'a TCP port')
    if launcher is not None:
        said.append(f'read by --launcher {launcher}' + (": mmengine's logger reads it whatever the launcher"
                                                       if name == 'LOCAL_RANK' else ''))
    said.append("a job script that exports it overrides the launcher's")
    return f"the environment variable {name}={value!r} is not {kind} ({'; '.join(said)}): unset it or set {kind}"


def launcher_integer_problem(name: str, value: str, least: int | None, launcher: str | None = None) -> str | None:
    """Why the launcher variable ``name`` set to ``value`` cannot be read: :func:`launcher_integer_message` where
    ``value`` is not an integer of at least ``least`` (``None``: any integer) and at most its
    :data:`LAUNCHER_INTEGER_MOST` (``MASTER_PORT``: 65535); ``None`` where it is such an integer. The one parser of
    the tools' early parse (:func:`launcher_variable_problem`) and ``automl_mm.engine.dist.env_int``."""
    try:
        number = int(value)
    except ValueError:
        return launcher_integer_message(name, value, 0 if least is None else least, launcher)
    most = LAUNCHER_INTEGER_MOST.get(name)
    if least is not None and number < least or most is not None and number > most:
        return launcher_integer_message(name, value, 0 if least is None else least, launcher)
    return None


def launcher_variable_problem(launcher: str) -> str | None:
    """Why a variable ``launcher`` reads as an integer (:func:`_launcher_integers`) cannot be read
    (:func:`launcher_integer_problem`, naming the variable, its value, who sets it and the launcher), or why its
    rank is not below its world size (:data:`RANK_WORLD_SIZES`: ``RANK=2`` with ``WORLD_SIZE=2``); ``None`` where
    each that is set is an integer in its range."""
    integers = _launcher_integers(launcher)
    for name, least in integers.items():
        value = os.environ.get(name)
        if value is None or name == 'MASTER_PORT' and not value.strip():
            continue  # an empty MASTER_PORT is unset to automl_mm's slurm / mpi start-ups (they derive the port)
        problem = launcher_integer_problem(name, value, least, launcher)
        if problem is not None:
            return problem
    for rank, size in RANK_WORLD_SIZES.items():
        if rank in integers and size in integers and os.environ.get(rank) and os.environ.get(size) and \
                int(os.environ[rank]) >= int(os.environ[size]):
            return (f'the environment variable {rank}={os.environ[rank]!r} is not below {size}={os.environ[size]!r} '
                    f'(the ranks of {size} processes are 0 to {int(os.environ[size]) - 1}; '
                    f"{LAUNCHER_SETTERS.get(rank, 'the launcher')} sets both; read by --launcher {launcher}; a job "
                    "script that exports one overrides the launcher's): unset it, or start the run with its launcher")
    return None


def parse_tool_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args(argv)`` (``sys.argv[1:]`` without ``argv``); ``LOCAL_RANK`` is set from ``--local_rank``
    unless the launcher exported it.

    A launcher variable that is no integer (:func:`launcher_variable_problem`: ``WORLD_SIZE=two`` stopped the tool
    with a bare ``ValueError: invalid literal for int()`` in the ranks' agreement, torch's rendezvous or mmengine's
    logger) is a usage error (``parser.error``, exit status 2) naming it."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    problem = launcher_variable_problem(getattr(args, 'launcher', 'none'))
    if problem is not None:
        parser.error(problem)
    return args

