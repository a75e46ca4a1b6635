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
    return text


def main() -> None:
    from torch.distributed import run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    # automl_mm.engine.tool_errors.TORCHRUN_SUMMARY_VARIABLE (not imported: automl_mm patches mmengine on import):
    # a worker's refusal recorded for the summary below is not printed by the worker too
    os.environ['AUTOML_MM_TORCHRUN_SUMMARY'] = '1'
    try:
        run.main.__wrapped__()  # torchrun's main without its @record, which printed the traceback it re-raised
    except ChildFailedError as err:
        print(summary(err), file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == '__main__':
    main()
