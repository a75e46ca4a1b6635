"""The end of an OHL trunk on every rank: the rewards read and settled, the controllers stepped, the best copy
broadcast, and the trunk's record in the history, the report and the log (METHODS.md §1, step 3).

:func:`end_trunk` runs these in order for :meth:`OHLHook._end_trunk <automl_mm.ohl.hook.OHLHook._end_trunk>`:
the ranks of each copy read its reward (:func:`~automl_mm.ohl.copy_collectives.read_copy_reward`), meet
(:func:`~automl_mm.ohl.trunk.meet_at_trunk_end`) and all-gather their rows; the rewards are settled
(:func:`~automl_mm.ohl.reward.settle_rewards`: stand-ins of diverged copies, the best copy) and every rank steps the
same controllers from them (:func:`step_controllers`), then takes rank 0's controller state
(:func:`take_rank0_controllers`); the best copy is broadcast where the trunk broadcasts
(:func:`broadcast_best`, also what ``OHLHook.after_train`` sends after a run stopped past a trunk that kept the
copies apart) and the copies are verified; the trunk's record (:func:`trunk_record`) is appended to the history,
the main process writes the report and every rank logs one line (:func:`log_trunk`). Split from
:mod:`automl_mm.ohl.hook`, which holds the hook's state and sequences its stages.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mmengine.dist import get_rank, is_distributed
from mmengine.model import is_model_wrapper

from automl_mm.engine.rank_failures import stopping_together

from .copy_collectives import read_copy_reward
from .copy_verification import gather_rows, verify_copies
from .fingerprint import fingerprint
from .plugin_returns import controller_logs, logs_as_measured
from .progress import read_flags
from .reward import combine_copy_rows, controller_step, copy_is_valid, counts_items, settle_rewards, trunk_row
from .sync import adopt_model_values, broadcast_copy_state, broadcast_state, gather_copy_values
from .trunk import broadcasts_after, meet_at_trunk_end

if TYPE_CHECKING:
    from .hook import OHLHook


def end_trunk(hook: OHLHook, runner: Any, epoch: int, iters: int, partial: bool) -> None:
    """End ``hook``'s running trunk on this rank (collective: every rank calls it at the same trunk end).

    Args:
        hook: The OHL hook whose trunk ends; its controllers, history and trunk counter are updated.
        runner: The runner (its model, logger and train loop).
        epoch: Epochs completed at this trunk end (as the history records it).
        iters: Iterations completed at this trunk end.
        partial: The trunk ends before its length (a run ending, or stopped, inside it).

    Raises:
        Exception: on every rank, what one rank's reward reading raised (:func:`meet_at_trunk_end`); on every
            rank, the report's error on the main process (``stopping_together``).
    """
    layout = hook.layout
    start = time.perf_counter()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    what = f'OHL trunk {hook.trunk}: the reward reading'
    row, failure = None, None
    try:
        # every rank of a valid copy reads its block of the reward split; the lead gets the reward
        reward, empty, valid = read_copy_reward(
            hook.scorer, runner.model, layout,
            lambda: copy_is_valid(model, hook._trunk_iters, hook._nonfinite_losses, hook._uses_loss_scaler), what)
        # this rank's row (the spaces' statistics: plugin code) before the agreement, not before the rows' gather
        row = trunk_row(reward, valid, empty, hook.spaces)
    except Exception as err:  # noqa: BLE001 (agreed on below, then raised on every rank)
        # a corrupt image or a metric's error on one rank's shard: the other copies would wait for this rank at
        # the next collective until the process group's timeout (30 minutes by default)
        failure = err
    t_reward = time.perf_counter()
    meet_at_trunk_end(failure, hook.trunk, layout.rank, what)  # the reading's error on any rank stops every rank
    t_wait = time.perf_counter()

    trunk = combine_copy_rows(gather_rows(row), layout, hook.spaces, hook.trunk)
    valids = trunk['valid']
    rewards, counts, best = settle_rewards(trunk, hook.spaces, hook.scorer, hook.worst_reward, hook.trunk,
                                           hook._trunk_iters, partial)
    # θ changes only here: its mode now is the mode every copy sampled around during this trunk
    schedule = {s.name: v for s in hook.spaces if (v := s.scheduled_values()) is not None}
    copy_values = gather_copy_values(hook.spaces, layout)
    updates = step_controllers(hook, trunk, rewards, counts, partial)
    take_rank0_controllers(hook.spaces, hook.controllers)  # θ as rank 0 computed it: another CPU rounds otherwise
    t_update = time.perf_counter()

    # every broadcast_interval-th trunk, the run's last, one a validation follows and one with a diverged copy
    broadcast = broadcasts_after(runner, hook.trunk, hook.broadcast_interval, partial, iters, valids)
    before = fingerprint(model) if hook.verify_sync else None
    if broadcast:
        broadcast_best(runner, layout, copy_values, best)
    t_broadcast = time.perf_counter()
    sync = (verify_copies(hook.spaces, model, before, best, broadcast, layout, hook.trunk) if hook.verify_sync
            else {})
    t_verify = time.perf_counter()

    # Seconds of this trunk on this rank: training (with data loading) and each engine step.
    seconds = dict(train=start - hook._trunk_start, reward=t_reward - start, wait=t_wait - t_reward,
                   gather_update=t_update - t_wait, broadcast=t_broadcast - t_update, verify=t_verify - t_broadcast)
    record = trunk_record(hook, trunk, seconds, epoch=epoch, iters=iters, partial=partial, rewards=rewards,
                          best=best, broadcast=broadcast, updates=updates, counts=counts, schedule=schedule,
                          copy_values=copy_values, sync=sync)
    hook.history.append(record)
    t_report = time.perf_counter()
    # the main process writes history, policy and figures; its error stops every rank here (they went on and
    # waited for it at the next trunk end until the process group's timeout)
    with stopping_together(f'OHL trunk {hook.trunk}: writing the report (work_dir/{hook.out_dir})'):
        hook._report.write(hook.history, hook.spaces, step=iters)
    # The main process's writing (history, policy, figures) holds every copy here (the agreement above; on the
    # other ranks 'report' is mostly that wait); the record's report seconds reach history.json with the next
    # write (after_train writes the last one).
    record['seconds']['report'] = round(time.perf_counter() - t_report, 6)
    log_trunk(hook, runner, rewards, valids, best, broadcast, partial)
    hook._in_trunk = False
    hook.trunk += 1


def step_controllers(hook: OHLHook, trunk: dict, rewards: list[float], counts: dict, partial: bool) -> dict:
    """Step each space's controller from the trunk's settled ``rewards`` (the same step on every rank), then reset
    the space's statistics.

    Args:
        hook: The OHL hook (its spaces, controllers, scorer and config key).
        trunk: The gathered trunk (:func:`~automl_mm.ohl.reward.combine_copy_rows`): ``stats`` per space, ``valid``
            and ``empty`` per copy.
        rewards: One settled reward per copy, as measured (:func:`~automl_mm.ohl.reward.settle_rewards`).
        counts: Per space, the items each copy counted from this trunk's θ.
        partial: The trunk ends before its length.

    Returns:
        Per space name, the controller's logged scalars as measured (``{}`` where it did not step).
    """
    # the copies that read a reward (a kept 0 of no detection is one): a diverged copy's or a metric-less copy's
    # stand-in is none, and stays out of the controller's baseline
    measured = read_flags(dict(rewards=rewards, valid=trunk['valid'], empty_metrics=trunk['empty']))
    updates = {}
    for space, controller in zip(hook.spaces, hook.controllers):
        if partial and counts_items(space, trunk) and not any(counts[space.name]):
            # nothing drawn from this θ was counted (a partial trunk of prefetched batches, settle_rewards):
            # no step, not even the optimiser's momentum of earlier trunks
            updates[space.name] = {}
        else:
            # the controller ascends sign × reward (-loss under reward_rule 'less'); the history keeps the reward
            # and the controller's scalars as measured (its mean reward as the mean loss, not minus it)
            logs = controller_step(controller, trunk['stats'][space.name],
                                   [hook.scorer.sign * r for r in rewards], measured)
            where = f'{hook.config_key}.controller ({type(controller).__name__}, of space {space.name!r})'
            updates[space.name] = logs_as_measured(controller_logs(logs, where), hook.scorer.sign)
        space.reset_stats()
    return updates


def take_rank0_controllers(spaces: list, controllers: list) -> None:
    """Give every rank rank 0's state of each controller (``state_dict``: the optimiser's moments, the baseline,
    the update count; :class:`~automl_mm.ohl.controllers.REINFORCE`'s holds θ too) and of its space's distribution
    (θ, also where a controller of one's own keeps none of it), loaded in place (one broadcast of every state);
    nothing in a single process. Collective: every rank must call it; a load that raises on one rank raises on every
    rank (the others a ``RankFailure`` naming it).

    Every rank steps the controllers from the same gathered rewards and statistics (the settled rewards and the best
    copy are plain Python arithmetic on them, the same on every rank), but the update itself runs torch kernels (the
    rewards' mean and standard deviation that normalise the advantages, the log-probabilities' gradients, Adam's
    square roots) that a node with another CPU or torch build rounds differently in the last digits: θ then differed
    between ranks, so the copies sampled from different distributions and ``verify_sync`` stopped the run ('theta
    identical: False'), or without it the copies drifted apart unnoticed.
    """
    if not is_distributed():
        return
    states = broadcast_state([[c.state_dict(), s.distribution.state_dict()] for s, c in zip(spaces, controllers)],
                             src=0, what='controller and distribution states (theta)')
    # a rank whose load refuses rank 0's state (a plugin controller's load_state_dict) stops every rank here: the
    # others went on to the sync check's gather and waited there until the process group's timeout
    with stopping_together("loading rank 0's controller and distribution states (theta)"):
        if get_rank() != 0:
            for space, controller, (controller_state, theta) in zip(spaces, controllers, states):
                controller.load_state_dict(controller_state)
                space.distribution.load_state_dict(theta)


def broadcast_best(runner: Any, layout: Any, copy_values: dict, best: int) -> None:
    """Give every rank copy ``best``'s state: its model, optimiser, schedulers, EMA and loss scaler from its lead
    rank (:func:`~automl_mm.ohl.sync.broadcast_copy_state`), then its searched model attributes from ``copy_values``
    (:func:`~automl_mm.ohl.sync.adopt_model_values`). Collective."""
    broadcast_copy_state(runner, src=layout.lead_rank(best))
    adopt_model_values(runner, copy_values, best)  # the best copy's searched model attributes too


def trunk_record(hook: OHLHook, trunk: dict, seconds: dict[str, float], *, epoch: int, iters: int, partial: bool,
                 rewards: list[float], best: int, broadcast: bool, updates: dict, counts: dict, schedule: dict,
                 copy_values: dict, sync: dict) -> dict:
    """The trunk's record in the history (``history.json``): where it ended, its seconds per step on this rank
    (rounded to µs), the rewards as measured with their rule, validity and empty metrics, the best copy and whether
    it was broadcast, the controllers' updates, the counted samples, the schedule, the copies' values, each space's
    distribution summary and θ (as lists), and the sync checks' results."""
    return dict(trunk=hook.trunk, seconds={k: round(v, 6) for k, v in seconds.items()},
                epoch=epoch, iter=iters, iters_in_trunk=hook._trunk_iters, partial=partial,
                rewards=rewards, reward_rule=hook.scorer.rule, valid=trunk['valid'], empty_metrics=trunk['empty'],
                best=best, broadcast=broadcast,
                controller=updates,
                samples=counts, stale_samples=trunk['stale'], schedule=schedule, copy_values=copy_values,
                distributions={s.name: s.distribution.summary() for s in hook.spaces},
                theta={s.name: [p.detach().tolist() for p in s.distribution.parameters()]
                       for s in hook.spaces}, **sync)


def log_trunk(hook: OHLHook, runner: Any, rewards: list[float], valids: list[bool], best: int, broadcast: bool,
              partial: bool) -> None:
    """Log the trunk's line: the rewards (with the metric and its rule), the diverged copies' stand-ins, the best
    copy (and whether it was broadcast) and each space's distribution (its three likeliest choices)."""
    # a diverged copy's reward is a stand-in (worst_reward), not a reading: the line says so
    diverged = ''.join(f'copy {c} diverged (stand-in reward {round(r, 4)}, not measured), '
                       for c, (r, ok) in enumerate(zip(rewards, valids)) if not ok)
    runner.logger.info(
        f'OHL trunk {hook.trunk}{" (partial)" if partial else ""}: rewards ({hook.reward_key}, '
        f'{"higher" if hook.scorer.rule == "greater" else "lower"} is better) {[round(r, 4) for r in rewards]}, '
        f'{diverged}best copy {best}{"" if broadcast else " (not broadcast)"}, '
        + ', '.join(f'{s.name}: {s.distribution.summary(top_k=3)}' for s in hook.spaces))
