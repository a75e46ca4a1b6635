"""torchrun (``python -m torch.distributed.run``) for tools/dist_train.sh and tools/dist_test.sh, whose failure report
ends the console: torchrun's summary of the failed ranks (its ``ChildFailedError``), without torchrun's own Python
traceback above it (some 20 lines of ``torch/distributed/run.py`` and ``launcher/api.py`` frames, which say nothing
of the run) and with each failure whose error is the root cause's (every rank refused one config alike) named in one
line instead of repeated. Any other failure keeps its whole entry (its traceback, or its signal); torchrun's exit
status 1 and everything else it prints are unchanged.

Usage: ``python tools/_torchrun.py [torchrun options] SCRIPT [ARGS...]`` (torchrun's own command line).
"""
from __future__ import annotations

import os
import sys
from typing import Any


def _shown(failure: Any) -> str:
    """What torchrun's summary prints of ``failure`` (a ``ProcessFailure``): its error file's ``py_callstack`` (the
    traceback, or an automl_mm refusal's message), else its message (a signal's, an exit status')."""
    message = failure.message
    if isinstance(message, dict):
        return str(message.get('extraInfo', {}).get('py_callstack', message.get('message', '<N/A>')))
    return str(message)


def summary(err: Any) -> str:
    """torchrun's summary of ``err`` (a ``ChildFailedError``), the failures whose error is the root cause's (as
    :func:`_shown` reads them) left out and named after it in one line: ``ranks 0, 2 (of this node) failed with the
    root cause's error (rank 1's), not repeated``."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    root_rank, root = err.get_first_failure()
    same = sorted(rank for rank, failure in err.failures.items()
                  if rank != root_rank and _shown(failure) == _shown(root))
    kept = {rank: failure for rank, failure in err.failures.items() if rank not in same}
    text = ChildFailedError(err.name, kept).format_msg()
    if same:
        ranks = ', '.join(str(rank) for rank in same)
        text += (f"\n{'rank' if len(same) == 1 else 'ranks'} {ranks} (of this node) failed with the root cause's "
                 f"error (rank {root_rank}'s), not repeated")
    shown = {_shown(failure) for failure in err.failures.values()}
    for local_rank, said in _uncollected(err):
        if said not in shown:  # an error no entry above shows: the worker did not print it (it left it to this)
            shown.add(said)
            text += (f'\nlocal rank {local_rank} had failed too (torchrun stopped it before it exited, so it is not '
                     f'in the summary above); its error:\n{said}')
    return text


def _uncollected(err: Any) -> list[tuple[int, str]]:
    """``(local_rank, shown)`` for each worker of this node that recorded an error (its ``error.json`` beside the
    failed ranks' own, ``<attempt folder>/<local_rank>/error.json``) but is not among ``err``'s failures. torch 2.14
    lists the workers it stopped after the first failure too (``SubprocessContext._capture_process_failures``: exit
    status -15 and the error file each wrote); a torch that lists only those that had exited by its poll left a
    worker still exiting (its error file written, its refusal left unprinted for this summary,
    ``tool_errors._summarized_by_torchrun``) in no report, and its error, where it differed from the root cause's,
    shown nowhere."""
    import glob
    import json

    collected = {failure.local_rank for failure in err.failures.values()}
    folders = {os.path.dirname(os.path.dirname(failure.error_file)) for failure in err.failures.values()
               if os.path.basename(failure.error_file or '') == 'error.json'}
    found = []
    for folder in sorted(folders):
        for path in glob.glob(os.path.join(glob.escape(folder), '*', 'error.json')):
            name = os.path.basename(os.path.dirname(path))
            if not name.isdigit() or int(name) in collected:
                continue
            try:
                with open(path) as f:
                    message = json.load(f)['message']
                said = message['extraInfo']['py_callstack'] if isinstance(message, dict) else message
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found.append((int(name), str(said)))
    return sorted(found)


def main() -> None:
    from torch.distributed import run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    # automl_mm.engine.tool_errors.TORCHRUN_SUMMARY_VARIABLE (not imported: automl_mm patches mmengine on import):
    # a worker's refusal recorded for the summary below is not printed by the worker too
    os.environ['AUTOML_MM_TORCHRUN_SUMMARY'] = '1'
    try:
        # torchrun's main without its @record (its functools.wraps keeps the function: torch 2.14's
        # torch/distributed/elastic/multiprocessing/errors/__init__.py), whose only output on a failure is a log line
        # that no parent error file is defined; a torch whose main has none runs its main as it is (nothing lost)
        getattr(run.main, '__wrapped__', run.main)()
    except ChildFailedError as err:
        try:
            text = summary(err)
        except Exception:  # noqa: BLE001 (a torch whose failure records differ: its own summary, whole)
            text = err.format_msg()
        print(text, file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == '__main__':
    main()
