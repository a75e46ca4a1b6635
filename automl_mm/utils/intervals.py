"""Real intervals: the valid range of a hyper-parameter (a loss's ``CheckedFloat``, an optimiser key; the ranges
OHL spaces are checked against, :mod:`automl_mm.ohl.setting_ranges`). Plain Python, so the models and the losses
declare their ranges without depending on the OHL package."""
from __future__ import annotations

import math
from typing import NamedTuple


class Interval(NamedTuple):
    """A real interval; ``low_open`` / ``high_open`` exclude the end (infinite ends are always open)."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        """Whether the number ``value`` lies inside (NaN never does)."""
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            return False
        above = value > self.low if self.low_open or math.isinf(self.low) else value >= self.low
        below = value < self.high if self.high_open or math.isinf(self.high) else value <= self.high
        return above and below

    def covers(self, other: Interval) -> bool:
        """Whether every number of ``other`` lies inside this interval."""
        low_ok = other.low > self.low or (other.low == self.low and (other.low_open or not self.low_open))
        high_ok = other.high < self.high or (other.high == self.high and (other.high_open or not self.high_open))
        return low_ok and high_ok

    def __str__(self) -> str:
        def end(x: float) -> str:
            return ('-inf' if x < 0 else 'inf') if math.isinf(x) else f'{x:g}'
        left = '(' if self.low_open or math.isinf(self.low) else '['
        right = ')' if self.high_open or math.isinf(self.high) else ']'
        return f'{left}{end(self.low)}, {end(self.high)}{right}'


INF = math.inf
NON_NEGATIVE = Interval(0.0, INF)
UNIT_OPEN = Interval(0.0, 1.0, high_open=True)  # [0, 1)
UNIT = Interval(0.0, 1.0)  # [0, 1]
