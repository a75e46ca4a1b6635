"""What a search loop writes to the log: warnings and plain text tables (still importable from
:mod:`automl_mm.nas.loop`, their former home)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

from mmengine.logging import print_log


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A plain text table (the search summary in the log)."""
    cells = [list(map(str, header))] + [[f'{v:.4f}' if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in cells)


def warn(msg: str) -> None:
    print_log(msg, logger='current', level=logging.WARNING)
