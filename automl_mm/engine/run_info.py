"""What the hooks and loops of automl_mm read from an mmengine runner in the same way: the run's seed as every
rank sees it, and whether a checkpoint load is a resume."""
from __future__ import annotations

from typing import Any

from mmengine.dist import broadcast_object_list, is_distributed


def run_seed(runner: Any) -> int:
    """The run's seed (``randomness.seed``, or the one mmengine drew), the same on every rank.

    With ``randomness.diff_rank_seed=True`` mmengine gives rank r the seed ``seed + r``; state that must agree
    across ranks (an OHL copy's draws, a NAS loop's paths and completions) takes rank 0's instead.
    """
    seed = [int(runner.seed or 0)]
    if is_distributed():
        broadcast_object_list(seed, src=0)
    return int(seed[0])


def is_resume(runner: Any) -> bool:
    """Whether the runner loads its checkpoint to resume (``resume=True``) rather than for its weights only.

    mmengine calls ``after_load_checkpoint`` for both: hooks and loops that keep a search's state in checkpoints
    restore it on a resume only, so that ``load_from`` starts a new search from the loaded weights.
    """
    return bool(getattr(runner, '_resume', False))
