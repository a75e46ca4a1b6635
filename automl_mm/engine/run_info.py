"""What the hooks and loops of automl_mm read from an mmengine runner in the same way: the run's seed as every
rank sees it, whether a checkpoint load is a resume, and where a hook sits in the run's config."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mmengine.dist import broadcast_object_list, is_distributed

from automl_mm.utils.scope import config_type_name


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


def refuse_resume_without_search_state(checkpoint: dict, search: str, writer: str) -> None:
    """Refuse to resume a search from a checkpoint that holds no state of it, past its first iteration.

    A search's trunk / step counters, pools and history start from zero without its state, while mmengine resumes
    the iteration counter: an OHL run resumed at iteration 8 recorded its trunk 0 there (the exported schedule
    replays trunk ``k`` at ``k`` x the trunk length, so at iteration 0) and re-drew trunk 0's streams; a NAS loop
    restarted its pool at step 0 mid-schedule. At iteration 0 nothing was trained, and the search starts as fresh.

    Args:
        checkpoint: The loaded checkpoint (its ``meta.iter``, as mmengine saves it).
        search: What the search is called in the message (``'OHL'``, ``'NAS'``).
        writer: What writes that state (``'an OHLHook'``), named in the message.

    Raises:
        ValueError: ``meta.iter`` > 0: names the iteration and ``load_from`` (weights only, a new search from
            iteration 0) as the way to start a search from those weights.
    """
    iteration = int((checkpoint.get('meta') or {}).get('iter') or 0)
    if iteration > 0:
        raise ValueError(f'{search}: the checkpoint (iteration {iteration}) has no {search} search state: it was '
                         f'written by a run without {writer}, or its state was removed. A resume would continue '
                         f'from iteration {iteration} with the search at its start (counters, history and random '
                         f'streams of iteration 0), misaligned with the iterations. Start the search from its '
                         f'weights with load_from (resume=False: training restarts at iteration 0)')


def run_config(runner: Any) -> Any:
    """The run's config as the runner runs it: :func:`~automl_mm.engine.runner_checks.checked_config` (each
    ``Runner(...)`` argument in place of its ``cfg`` entry: mmengine keeps ``cfg`` only to dump it); ``None`` for
    ``None`` or a stand-in without a ``cfg``."""
    if getattr(runner, 'cfg', None) is None:
        return None
    from .runner_checks import checked_config

    return checked_config(runner)


def hook_config_key(runner: Any, hook: Any, option: bool = True) -> str | None:
    """Where ``hook`` is in the run's config: as ``--cfg-options`` spells it (``'custom_hooks.1'``), or with
    ``option=False`` as messages name config keys (``'custom_hooks[1]'``, e.g. ``custom_hooks[1].spaces[0]``).

    The entry of the run's ``custom_hooks`` (:func:`run_config`: the runner's argument, else its ``cfg``'s) whose
    ``type`` names the hook's class (``'OHLHook'``, ``'automl_mm.OHLHook'`` or the class), or that is the hook
    object itself; ``None`` when the runner has no config, or none or several entries match (two hooks of one type:
    the name would be a guess).
    """
    hooks = (run_config(runner) or {}).get('custom_hooks') or []
    name = type(hook).__name__
    found = [i for i, entry in enumerate(hooks) if entry is hook or config_type_name(entry) == name]
    if len(found) != 1:
        return None
    return f'custom_hooks.{found[0]}' if option else f'custom_hooks[{found[0]}]'


@contextmanager
def naming_hook_in_config(runner: Any, hook: Any) -> Iterator[None]:
    """Add to a ``ValueError`` raised inside where ``hook`` is in the config (:func:`hook_config_key`).

    A hook's resume refusals name its keys as the hook reads them (``OHLHook.seed``,
    ``controller.optimizer.lr``); the config path tells a user which ``--cfg-options custom_hooks.N.<key>`` sets
    them. Errors of other types, and every error when the path is unknown, pass unchanged.
    """
    try:
        yield
    except ValueError as err:
        key = hook_config_key(runner, hook)
        if key is None:
            raise
        message = (f'{err} (this {type(hook).__name__} is {hook_config_key(runner, hook, option=False)} of the '
                   f'config: --cfg-options {key}.<key>=<value> sets its keys)')
        try:
            named = type(err)(message)
        except TypeError:  # a subclass with another constructor
            named = ValueError(message)
        raise named from err
