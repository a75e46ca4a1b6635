"""What a search loop writes to the log: warnings and plain text tables (still importable from
:mod:`automl_mm.nas.loop`, their former home)."""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from mmengine.logging import print_log


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A plain text table (the search summary in the log)."""
    cells = [list(map(str, header))] + [[f'{v:.4f}' if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in cells)


def warn(msg: str) -> None:
    print_log(msg, logger='current', level=logging.WARNING)


#: Why a candidate of a search step has no score, as the step's history (``'no_score'``) and tables say it: its
#: potential is ``-inf`` (no completion drawn within the cost limit: none admitted, or none found in ``max_tries``
#: draws), or ``+inf`` under ``metric_rule='less'`` (an evaluation gave no metrics).
NO_COMPLETION = 'no completion within the cost limit (a complete path: over it)'
NO_METRICS = "an evaluation gave no metrics (+inf, the worst under metric_rule='less')"
#: A candidate under ``metric_rule='greater'`` whose every evaluation gave no metrics: it scores 0, the worst.
ALL_EMPTY = 'no metrics in any evaluation: the worst'


def no_score_reason(score: float | None) -> str | None:
    """Why ``score`` (a candidate's, as measured) is no score: :data:`NO_COMPLETION` for ``-inf``,
    :data:`NO_METRICS` for ``+inf``; ``None`` for a finite score."""
    if score is None or math.isfinite(score):
        return None
    return NO_COMPLETION if score < 0 else NO_METRICS


def unscored_reasons(entry: dict, rule: str) -> dict[tuple, str]:
    """Candidate -> why it has no score, of a step's history ``entry`` (its ``'no_score'``; a history written
    before it records a missing score as ``None`` only: under ``'greater'`` that is ``-inf``, under ``'less'``
    either). ``'empty'`` candidates (``'greater'``: every evaluation gave no metrics, scored 0) get
    :data:`ALL_EMPTY`."""
    reasons = {tuple(c): ALL_EMPTY for c in entry.get('empty', [])}
    reasons.update((tuple(c), why) for c, why in entry.get('no_score', []))
    for c, score in entry.get('candidates', []):
        if score is None:
            reasons.setdefault(tuple(c), NO_COMPLETION if rule == 'greater' else f'{NO_COMPLETION}, or {NO_METRICS}')
    return reasons


def score_text(score: float | None, reason: str | None = None) -> str:
    """A candidate's score as the search tables show it: ``'0.4321'``; ``'no score (<reason>)'`` where it has none
    (``None``, or not finite: :func:`no_score_reason`); a finite score with a ``reason`` (:data:`ALL_EMPTY`) as
    ``'0.0000 (<reason>)'``."""
    if score is not None and math.isfinite(score):
        return f'{score:.4f}' + (f' ({reason})' if reason else '')
    return f'no score ({reason or no_score_reason(score) or "none recorded"})'
