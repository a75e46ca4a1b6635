"""Paired timing of the speed benchmarks: the order each round runs its sides in (ABBA) and the paired ratios.

Standard library only: ``copy_local_wrappers`` times a scan over ``sys.modules``, which a heavier import would
change."""
from __future__ import annotations

from collections.abc import Sequence


def abba_order(sides: Sequence, index: int) -> list:
    """The sides in the order round (pair, seed) ``index`` (0-based) runs them: as given in rounds 0, 2, ... and
    reversed in rounds 1, 3, ... (ABBA), so that no side always runs first (on cold caches) or last (after a change
    of the machine's load)."""
    return list(sides) if index % 2 == 0 else list(reversed(sides))


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float], what: str) -> list[float]:
    """``numerator[i] / denominator[i]``: the ratio of each round's two sides, timed back to back. A summary reads
    the mean (± sample std) of these, not the ratio of the two sides' means (which a slow round on a loaded machine
    weighs more) nor a ratio of times from different rounds.

    Raises:
        ValueError: ``what`` (the message's start, naming the sides), where the two differ in length (unpaired
            rounds) or are empty.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f'{what}, got {len(numerator)} and {len(denominator)}')
    return [a / b for a, b in zip(numerator, denominator)]
