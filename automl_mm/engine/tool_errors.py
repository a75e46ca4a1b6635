"""How automl_mm's tools end on one of automl_mm's own refusals: its message alone, ``<tool>: error: <message>``,
exit status 1, where Python printed the whole traceback above it (:func:`exit_on_refusal`); any other error (a bug,
mmengine's, torch's or a plugin's) keeps its traceback. Re-exported by :mod:`automl_mm.engine.tool_args`.
"""
from __future__ import annotations

import os
import os.path as osp
import re
import sys
from collections.abc import Callable
from typing import Any

#: An environment variable: set (to anything but ``''`` or ``0``), a tool prints a refusal's Python traceback too
#: (:func:`exit_on_refusal`).
TRACEBACK_VARIABLE = 'AUTOML_MM_TRACEBACK'


def _own_folders() -> tuple[str, ...]:
    """The folders of automl_mm's own code: the package, ``tools/`` and ``benchmarks/`` beside it (in a checkout,
    or an editable install; a ``pip install .`` puts the package alone in ``site-packages``:
    :func:`_tool_folder`)."""
    import automl_mm

    package = osp.dirname(osp.abspath(automl_mm.__file__))
    root = osp.dirname(package)
    return package, osp.join(root, 'tools'), osp.join(root, 'benchmarks')


def _tool_folder(main: Callable[..., Any]) -> str | None:
    """The folder of the tool whose ``main`` runs (``<checkout>/tools`` for ``tools/train.py``, ``tools/data`` for
    ``tools/data/split_coco.py``), wherever the package is installed; ``None`` where ``main``'s file is not known."""
    import inspect

    try:
        path = inspect.getsourcefile(inspect.unwrap(getattr(main, 'func', main)))
    except TypeError:  # (a builtin, a callable object)
        return None
    return osp.dirname(osp.abspath(path)) if path else None


def raised_as_refusal(err: BaseException, tool_folder: str | None = None) -> bool:
    """Whether ``err`` is one of automl_mm's own refusals: raised by a ``raise <error>`` statement of automl_mm's
    code (the package, ``tools/``, ``benchmarks/``), as every start-of-run check raises its message
    (``ConfigCheckError`` of the preflight modules, and the ``ValueError`` / ``TypeError`` / ``KeyError`` /
    ``FileNotFoundError`` / ``RuntimeError`` that name a config key, file or option, e.g. a misspelt type re-raised
    as ``KeyError("train_dataloader.dataset.type='DigitsDatset' is not in the automl_mm::dataset registry ...")``).

    An error raised elsewhere (mmengine, torch, a plugin) or by an operation of automl_mm's code that failed (an
    ``AttributeError`` of a bug, ``{}['key']``, ``int('x')``: the innermost traceback entry is no ``raise``
    statement) is not; nor one a bare ``raise`` passed on (its innermost entry is where it was raised first), nor an
    ``AssertionError`` (an ``assert`` states an invariant of the code), nor an error without a message (an abstract
    method's bare ``raise NotImplementedError`` reached: a refusal says what to change, and this one would print
    ``<tool>: error: `` and nothing else). ``tool_folder``: the folder of the tool that runs, its code automl_mm's
    own too (:func:`exit_on_refusal` gives it: under a non-editable install the tools are not beside the package).

    An error that keeps a rank's own error as its cause (``rank_failures.KeptFailure``) is one where that cause is:
    its ``shown_as_refusal`` attribute, which its message agrees with.
    """
    kept = getattr(err, 'shown_as_refusal', None)
    if isinstance(kept, bool):
        return kept
    if err.__traceback__ is None or isinstance(err, AssertionError):  # an assert states an invariant: a bug's
        return False
    if not _message(err).strip():  # raise NotImplementedError of an abstract method: says nothing, a bug's
        return False
    filename = osp.abspath(_innermost(err).tb_frame.f_code.co_filename)
    folders = _own_folders() + ((tool_folder, ) if tool_folder else ())
    if not any(filename.startswith(folder + os.sep) for folder in folders):
        return False
    return _raised_by_statement(err)


def _innermost(err: BaseException) -> Any:
    """The innermost entry of ``err``'s traceback (where it was raised; ``err.__traceback__`` is not ``None``)."""
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _raised_by_statement(err: BaseException) -> bool:
    """Whether the innermost entry of ``err``'s traceback is a ``raise <error>`` statement (of any code), not an
    operation that failed (``x.attr``, ``{}['key']``, a call into C) nor a bare ``raise``."""
    import dis

    tb = _innermost(err)
    return any(ins.offset == tb.tb_lasti and ins.opname == 'RAISE_VARARGS' and ins.arg
               for ins in dis.get_instructions(tb.tb_frame.f_code))


def _failed_cause(err: BaseException) -> str:
    """Where the error a refusal was raised from (``raise ... from cause``) failed, where that was an operation
    (no ``raise`` statement: a plugin's bug, a failed call), e.g. ``'; from IndexError at /x/my_ops.py:12 in
    transform_img'``; ``''`` where there is no such cause. A refusal that wraps any error of, say, a user's
    augmentation op (``elements[0] Shear: apply(results, rng) failed ...: IndexError: ...``) named neither its file
    nor its line."""
    cause = err.__cause__
    if cause is None or cause.__traceback__ is None or _raised_by_statement(cause):
        return ''
    tb = _innermost(cause)
    return f'; from {type(cause).__name__} at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno} in ' \
           f'{tb.tb_frame.f_code.co_name}'


def _message(err: BaseException) -> str:
    """``str(err)``, a ``KeyError``'s one argument without the quotes ``KeyError.__str__`` adds."""
    return str(err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else err)


def refusal_summary(err: BaseException, main: Callable[..., Any] | None,
                    refused: bool = False) -> tuple[str, str] | None:
    """How :func:`exit_on_refusal` would end a tool whose ``main`` raised ``err``, for a process that cannot end it
    itself (a local worker of ``tools/train.py``, whose launcher prints its error: ``launch.WorkerRefusal``):
    ``(type, message)``, e.g. ``('ValueError', 'resuming ...: ...')`` (the type with where a wrapped operation failed,
    :func:`_failed_cause`), where ``err`` is one of automl_mm's refusals (:func:`raised_as_refusal`, ``main``'s folder
    automl_mm's own) and :data:`TRACEBACK_VARIABLE` is not set; else ``None`` (its traceback is what to show). The
    launcher rewrites where the message says another rank's error is (:func:`as_local_worker_said`). ``refused``:
    ``err`` is one of automl_mm's refusals though not raised yet (a ``RankFailure`` recorded for torchrun before it
    is raised, its cause set)."""
    if os.environ.get(TRACEBACK_VARIABLE, '') not in ('', '0') or not (refused or raised_as_refusal(
            err, _tool_folder(main))):
        return None
    return f'{type(err).__name__}{_failed_cause(err)}', _message(err)


#: Where the message of a rank that stopped after another rank's own error says that error is
#: (:func:`origin_output`; :class:`~automl_mm.engine.rank_failures.RankFailure`'s, the NAS scoring's). True where
#: each rank prints its own error: under torchrun (mmengine's ``pytorch`` launcher: the console, each line after
#: ``[rank<r>]: ``, and torchrun's failure summary on that rank's node; under ``tools/dist_train.sh`` /
#: ``dist_test.sh`` a refusal the summary shows is printed there only, :func:`_summarized_by_torchrun`) and srun
#: (``--launcher slurm``: the task's output), a refusal alone (:func:`exit_on_refusal`), any other error with its
#: traceback. Not in a local worker (``tools/train.py`` starting its copies): its error is
#: printed by its launcher only (:func:`as_local_worker_said`).
ORIGIN_OUTPUT = ("rank {rank}'s own output (or torchrun's failure summary) shows its error, with its traceback "
                 f"unless the error is one of automl_mm's refusals ({TRACEBACK_VARIABLE}=1 prints theirs)")


def origin_output(rank: int) -> str:
    """:data:`ORIGIN_OUTPUT` for the global rank ``rank``: where its own error and its traceback are printed, for the
    message of a rank that stopped after it (``'rank 3's own output (or torchrun's failure summary) shows its
    error, with its traceback unless ...'``)."""
    return ORIGIN_OUTPUT.format(rank=rank)


#: :data:`ORIGIN_OUTPUT` as a message holds it, the rank captured.
_ORIGIN_OUTPUT = re.compile(re.escape(ORIGIN_OUTPUT).replace(re.escape('{rank}'), r'(\d+)'))
#: What a local launch says instead (:func:`as_local_worker_said`).
_NOT_SHOWN = (r"rank \1's error is not shown: the local launcher prints one worker's error, this one's, as rank \1 "
              'recorded none in time (it died, or hung while stopping)')


def as_local_worker_said(text: str) -> str:
    """``text`` (a local worker's error message or traceback, as ``launch.launch_local`` reports it) with every
    :func:`origin_output` replaced by what is true of a local launch: the worker's own output holds no error (torch
    passes it to the launcher, which prints one worker's), and the launcher printed this worker's because the rank
    named recorded none within ``ORIGIN_RECORD_TIMEOUT`` (``launch._reported_failure``): ``rank 3's error is not
    shown: the local launcher prints one worker's error, this one's, as rank 3 recorded none in time ...``."""
    return _ORIGIN_OUTPUT.sub(_NOT_SHOWN, text)


def _rank_of_several() -> int | None:
    """This process's rank where it is one of several (torch's process group is up, else torchrun's / srun's
    ``RANK`` under a ``WORLD_SIZE`` over 1), else ``None``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() if dist.get_world_size() > 1 else None
    try:
        several = int(os.environ.get('WORLD_SIZE', '1')) > 1
        return int(os.environ['RANK']) if several and 'RANK' in os.environ else None
    except ValueError:
        return None


def refusal_text(refused_as: str, message: str) -> str:
    """A refusal as the tools print it after ``<tool>: `` (:func:`exit_on_refusal`), and as torchrun's summary shows
    it (``TorchrunErrorHandler``): ``'error: <message>\\n(<refused_as>; AUTOML_MM_TRACEBACK=1 prints the Python
    traceback)'``; ``refused_as`` is the error's type (and where a wrapped operation failed, :func:`_failed_cause`)."""
    return f'error: {message}\n({refused_as}; {TRACEBACK_VARIABLE}=1 prints the Python traceback)'


#: Set to ``1`` by ``tools/_torchrun.py`` (the torchrun of ``tools/dist_train.sh`` / ``dist_test.sh``) in the
#: environment of the workers it starts: its summary of the failed ranks ends the console, each error shown once.
TORCHRUN_SUMMARY_VARIABLE = 'AUTOML_MM_TORCHRUN_SUMMARY'


def _recorded_for_the_summary() -> dict | None:
    """What this process's error file (``TORCHELASTIC_ERROR_FILE``) holds (torchelastic's ``message``: ``message``
    and ``extraInfo.py_callstack``) where torchrun's summary of this attempt's failures will print it: under
    ``tools/_torchrun.py`` (:data:`TORCHRUN_SUMMARY_VARIABLE`), on the last attempt torchrun allows
    (``TORCHELASTIC_RESTART_COUNT`` >= ``TORCHELASTIC_MAX_RESTARTS``: with restarts left the agent restarts the
    worker group and prints no summary, so an error left to it was shown nowhere), and not on several nodes under
    ``--max-restarts`` (``GROUP_WORLD_SIZE`` > 1: a node's agent restarts its workers without a summary where another
    node's agent, with restarts left, rejoins the rendezvous while this rank exits, whatever this node's count says:
    each agent counts only its own group's failures); else ``None`` (also where the file cannot be read)."""
    import json

    if os.environ.get(TORCHRUN_SUMMARY_VARIABLE) != '1' or not os.environ.get('TORCHELASTIC_ERROR_FILE'):
        return None
    try:
        restarts = int(os.environ.get('TORCHELASTIC_MAX_RESTARTS', '0'))
        if int(os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')) < restarts or \
                restarts > 0 and int(os.environ.get('GROUP_WORLD_SIZE', '1')) > 1:
            return None
        with open(os.environ['TORCHELASTIC_ERROR_FILE']) as f:
            message = json.load(f)['message']
        return message if isinstance(message, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _summarized_by_torchrun(shown: str) -> bool:
    """Whether torchrun's summary will show ``shown`` (:func:`refusal_text`) for this process, so that the process
    need not print it: its error file holds ``shown`` as what the summary prints (``py_callstack``) and the summary
    will print it (:func:`_recorded_for_the_summary`). Every rank printed its refusal above the summary (the same
    message from each rank that ran the same check), and the summary repeated it. Where the file holds anything else
    (a traceback, nothing: it could not be written), or torchrun will restart the workers, the process prints its
    refusal."""
    recorded = _recorded_for_the_summary()
    try:
        return recorded is not None and recorded['extraInfo']['py_callstack'] == shown
    except (KeyError, TypeError):
        return False


def _crash_summarized_by_torchrun(err: BaseException) -> bool:
    """Whether torchrun's summary will show ``err`` (an error that is no refusal) with its traceback, so that the
    process need not print it: it runs under ``tools/_torchrun.py`` (:data:`TORCHRUN_SUMMARY_VARIABLE`), and its error
    file holds ``err`` (torchelastic's ``'<type>: <message>'``) with a Python traceback as ``py_callstack``. Python
    printed the traceback on the rank's console (each line after ``[rank<r>]: ``) and the summary, the end of the
    console, printed it again as the Root Cause. Where the file holds another error or none, or torchrun will restart
    the workers (:func:`_recorded_for_the_summary`), it is printed."""
    recorded = _recorded_for_the_summary()
    try:
        return recorded is not None and (recorded['message'] == f'{type(err).__name__}: {err}'
                                         and recorded['extraInfo']['py_callstack'].startswith('Traceback (most '
                                                                                               'recent call last)'))
    except (KeyError, TypeError, AttributeError):
        return False


#: Seconds a process that left its error to torchrun's summary (:func:`_summarized_by_torchrun`,
#: :func:`_crash_summarized_by_torchrun`) may take to exit before it prints the error itself: the summary comes only
#: once torchrun sees the process end, and an exit held up (a non-daemon thread, an ``atexit`` handler waiting on a
#: peer, a process group's teardown) showed the error nowhere until then, or until a collective's timeout (30 min).
SUMMARY_EXIT_GRACE_S = 30.0

#: The timers :func:`_left_to_the_summary` armed (daemon threads: a process that exits in time ends them unfired).
_ARMED: list = []


def _left_to_the_summary(text: str) -> None:
    """End this process with exit status 1 without printing ``text`` (torchrun's summary will), unless it is still
    running :data:`SUMMARY_EXIT_GRACE_S` seconds later: ``text`` is then printed (each line after ``[rank<r>]: ``
    where it is one of several ranks), so that an exit held up does not hide the error."""
    import threading

    rank = _rank_of_several()
    note = (f'(this process left the error below to torchrun\'s summary but has not exited '
            f'{SUMMARY_EXIT_GRACE_S:g} s later)\n{text}')
    lines = [f'[rank{rank}]: {line}' if line and rank is not None else line for line in note.split('\n')]
    timer = threading.Timer(SUMMARY_EXIT_GRACE_S, lambda: print('\n'.join(lines), file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    _ARMED.append(timer)
    raise SystemExit(1) from None


def exit_on_refusal(main: Callable[[], Any], tool: str) -> Any:
    """Run a tool's ``main()``; one of automl_mm's refusals (:func:`raised_as_refusal`) ends the process with its
    message alone, ``<tool>: error: <message>`` and a line naming the error's type (and, for one raised from an
    operation that failed, where that failed: :func:`_failed_cause`) and :data:`TRACEBACK_VARIABLE`
    (not after a message that holds a traceback already: a local worker's failure, ``launch.WorkerError``), on
    stderr (each line after ``[rank<r>]: `` in one of several processes, as torch's own excepthook prefixes them;
    not at all where torchrun's summary shows it at the end, :func:`_summarized_by_torchrun`), exit status 1, where
    Python printed the whole traceback first (tens of lines of mmengine and automl_mm frames above the one line a
    new user needs). Any other error (a bug, mmengine's or a plugin's own error) propagates
    with its traceback (under ``tools/_torchrun.py`` it ends the process with exit status 1 unprinted where torchrun's
    summary shows it with its traceback, :func:`_crash_summarized_by_torchrun`; either is printed after all where the
    process has not exited :data:`SUMMARY_EXIT_GRACE_S` seconds later), as does a refusal when
    ``AUTOML_MM_TRACEBACK`` is set (not ``''`` / ``0``).

    Args:
        main: The tool's ``main`` (called without arguments: it reads ``sys.argv``); the folder of its file holds
            automl_mm's own code (:func:`_tool_folder`), wherever the package is installed.
        tool: How the tool is named in the message, e.g. ``'tools/train.py'``.

    Returns:
        What ``main()`` returned.

    Raises:
        SystemExit: 1 after a refusal, and after a crash that torchrun's summary shows
            (:func:`_crash_summarized_by_torchrun`).
    """
    if os.environ.get(TRACEBACK_VARIABLE, '') not in ('', '0'):
        return main()
    try:
        return main()
    except Exception as err:  # noqa: BLE001 - anything else is raised again below, traceback and all
        if not raised_as_refusal(err, _tool_folder(main)):
            if _crash_summarized_by_torchrun(err):  # the end of the console shows its traceback once
                sys.stdout.flush()
                import traceback

                _left_to_the_summary(''.join(traceback.format_exception(err)).rstrip('\n'))
            raise
        text = _message(err)
        # a local worker's failure (launch.WorkerError) carries the worker's traceback: the variable adds this one's;
        # a worker's refusal (launch.WorkerRefusal) names the type the worker raised (``refused_as``)
        refused_as = getattr(err, 'refused_as', None) or f'{type(err).__name__}{_failed_cause(err)}'
        shown = f'error: {text}' if 'Traceback (most recent call last)' in text else refusal_text(refused_as, text)
        sys.stdout.flush()
        if _summarized_by_torchrun(shown):  # the end of the console shows it once (tools/_torchrun.py)
            _left_to_the_summary(f'{tool}: {shown}')
        rank = _rank_of_several()
        lines = f'{tool}: {shown}'.split('\n')
        if rank is not None:  # as torch's excepthook once the process group is up: which rank says it
            lines = [f'[rank{rank}]: {line}' if line else line for line in lines]
        print('\n'.join(lines), file=sys.stderr, flush=True)
        raise SystemExit(1) from None
