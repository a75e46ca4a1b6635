"""Fixed signs for the geometric elements' tests: stand-ins for the ``Generator`` an element draws its sign from."""
from __future__ import annotations


class _FixedRng:
    """Stands in for a Generator whose next ``random()`` is ``u``: geometric ops take sign +1 iff u < 0.5."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self) -> float:
        return self.u


PLUS, MINUS = _FixedRng(0.25), _FixedRng(0.75)
