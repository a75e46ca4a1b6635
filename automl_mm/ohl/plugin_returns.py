"""What the OHL engine takes from a space, distribution or controller (one's own included) and writes to the
history, the logged scalars and ``final_policy.py``, checked where it is taken and once before the first trunk.

A controller whose ``step`` returned ``None`` or numpy / tensor scalars, a ``summary()`` holding a tensor and an
``export_fragment()`` returning ``None`` all trained a whole trunk and then stopped the run inside the report's
writing (``TypeError: Object of type Tensor is not JSON serializable in <OHLHook object at 0x...>``), naming
neither the class nor the config key. :func:`check_plugin_returns` calls each once before the first trunk (the
controller's ``step`` on a deep copy, so θ and its optimiser state do not move) and :func:`controller_logs` checks
every step's scalars.
"""
from __future__ import annotations

import copy
import json
import numbers
from collections.abc import Sequence
from typing import Any

import torch


def controller_logs(logs: Any, where: str) -> dict[str, float]:
    """``logs`` (what ``BaseController.step`` returned) as ``{name: float}``, the form the history and the scalar
    log store; numpy and 0-d tensor scalars are converted.

    Args:
        logs: The return value of ``step``.
        where: The controller and its config key, named in the error.

    Raises:
        TypeError: ``logs`` is not a dict of str keys and numbers (or 1-element tensors / arrays).
    """
    if not isinstance(logs, dict):
        raise TypeError(f'{where}: step(stats, rewards) must return a dict of named scalars to log (e.g. '
                        f'{{"baseline": 0.5}}; {{}} for none), got {type(logs).__name__}')
    out = {}
    for key, value in logs.items():
        if not isinstance(key, str):
            raise TypeError(f'{where}: step() returned the key {key!r}: the names of logged scalars must be str')
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        elif hasattr(value, 'item') and getattr(value, 'size', None) == 1:  # numpy scalar or 1-element array
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f'{where}: step()[{key!r}] must be a number, got {value!r}')
        out[key] = float(value)
    return out


#: Controller scalars in the units of the rewards the controller was given (``sign x reward``), by name: a mean or a
#: baseline changes sign with them, a maximum becomes the measured minimum (and the other way round).
_REWARD_UNIT_LOGS = {'reward_mean': 'reward_mean', 'baseline': 'baseline', 'reward_max': 'reward_min',
                     'reward_min': 'reward_max'}


def logs_as_measured(logs: dict[str, float], sign: float) -> dict[str, float]:
    """A controller's scalars (:func:`controller_logs`) with those in reward units turned back into the units of the
    reward as measured, for the history and the logged scalars.

    Under ``reward_rule='less'`` the controller ascends ``-reward`` (``sign = -1``), so REINFORCE's ``reward_mean``
    and ``baseline`` were the negated mean loss and its ``reward_max`` minus the lowest loss: ``history.json`` and
    TensorBoard read ``ohl/<space>/reward_mean`` -0.55 next to ``ohl/reward_mean`` 0.55. Now ``reward_mean`` and
    ``baseline`` are negated back and ``reward_max`` is reported as ``reward_min`` (the lowest loss, the best); a
    sign-free scalar (``reward_std``, ``advantage_abs_mean``, ``grad_norm``, ``entropy``, a key of one's own) is
    kept. Under ``'greater'`` (``sign = 1``) ``logs`` is returned as it is.

    Args:
        logs: ``{name: float}`` as the controller returned it, in the units of ``sign x reward``.
        sign: ``RewardScorer.sign``: 1 (higher is better) or -1 (lower is better).

    Returns:
        ``{name: float}``, in the order of ``logs``.
    """
    if sign > 0:
        return logs
    return {_REWARD_UNIT_LOGS.get(key, key): -value if key in _REWARD_UNIT_LOGS else value
            for key, value in logs.items()}


def check_plugin_returns(spaces: Sequence[Any], controllers: Sequence[Any], num_copies: int,
                         hook_key: str = 'OHLHook') -> None:
    """Call what the trunk end will call, once, before the first trunk: each space's ``export_fragment()`` must be
    a str, its distribution's ``summary()`` JSON-serialisable, ``sufficient_stats`` a float64 vector of
    ``stats_size()`` and ``sample_count`` implemented (a number), and its controller's ``step`` (on a deep copy, fed
    one drawn sample per copy and equal rewards; a controller that cannot be deep-copied is left to
    :func:`controller_logs` at the trunk end) must return named numbers.

    Args:
        spaces: ``OHLHook.spaces`` (set up).
        controllers: Their controllers, in order.
        num_copies: Statistics (and rewards) per step.
        hook_key: The hook's config key (``'custom_hooks[0]'``; ``OHLHook.config_key``), naming its spaces and
            controller.

    Raises:
        TypeError: naming ``<hook_key>.spaces[i]`` or ``<hook_key>.controller``, the class and what it returned.
    """
    for i, (space, controller) in enumerate(zip(spaces, controllers)):
        where = f'{hook_key}.spaces[{i}] ({type(space).__name__} {space.name!r})'
        fragment = space.export_fragment()
        if not isinstance(fragment, str):
            raise TypeError(f'{where}: export_fragment() must return config text (a str) for final_policy.py, got '
                            f'{type(fragment).__name__}')
        dist = space.distribution
        try:
            json.dumps(dist.summary())
        except (TypeError, ValueError) as err:
            raise TypeError(f'{where}: {type(dist).__name__}.summary() must be JSON-serialisable (plain numbers, '
                            f'str, lists, dicts: it is written to history.json every trunk): {err}') from None
        generator = torch.Generator().manual_seed(0)
        stats = [dist.sufficient_stats(dist.sample(generator=generator, n=1)) for _ in range(num_copies)]
        size = dist.stats_size()
        if not (isinstance(stats[0], torch.Tensor) and stats[0].dtype == torch.float64
                and tuple(stats[0].shape) == (size, )):
            got = f'{stats[0].dtype} of shape {tuple(stats[0].shape)}' if isinstance(stats[0], torch.Tensor) else \
                type(stats[0]).__name__
            raise TypeError(f'{where}: {type(dist).__name__}.sufficient_stats(samples) must return a float64 tensor of '
                            f'shape (stats_size(),) = ({size},), got {got}')
        try:
            count = dist.sample_count(stats[0])
        except NotImplementedError:
            raise TypeError(f'{where}: {type(dist).__name__} must implement sample_count(stats): OHLHook counts '
                            'every copy\'s samples from its statistics at each trunk end') from None
        if not isinstance(count, numbers.Real) and not (isinstance(count, torch.Tensor) and count.numel() == 1):
            raise TypeError(f'{where}: {type(dist).__name__}.sample_count(stats) must return a number, got '
                            f'{type(count).__name__}')
        try:
            probe = copy.deepcopy(controller)  # its own distribution and optimiser: nothing of the run moves
        except Exception:  # noqa: BLE001  (a controller holding a lock or a process group: not probed, checked per step)
            continue
        controller_logs(probe.step([s.clone() for s in stats], [0.0] * num_copies),
                        f'{hook_key}.controller ({type(controller).__name__}, of {where})')
