"""The arguments of :class:`~automl_mm.ohl.hook.OHLHook` that are checked before anything is built from them
(:func:`check_hook_arguments`): the trunk length, the broadcast interval, the spaces' list, the reward key, the
worst reward, the output folder and the two switches. What needs the built spaces, the copy counts
(:func:`~automl_mm.ohl.copy_counts.check_copy_counts`), the seed and the reward's loaders is checked where each is
built. And the config key under which the hook names its arguments (``custom_hooks[i]``) where it was built without
one (:func:`take_config_key`).
Split from :mod:`automl_mm.ohl.hook`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from automl_mm.engine.run_info import hook_config_key
from automl_mm.utils.wording import a_type

if TYPE_CHECKING:
    from .hook import OHLHook


def check_hook_arguments(where: str, spaces: Any, reward_key: Any, *, trunk_epochs: Any, trunk_iters: Any,
                         broadcast_interval: Any, worst_reward: Any, out_dir: Any, verify_sync: Any,
                         plot: Any) -> None:
    """Refuse an ``OHLHook`` argument of the wrong kind, naming it under the hook's config key ``where``
    (``custom_hooks[0]``, or ``'OHLHook'`` where it is unknown).

    Raises:
        ValueError: not exactly one of ``trunk_epochs`` / ``trunk_iters``, or one that is not a positive int;
            ``broadcast_interval`` not a positive int; ``spaces`` not a non-empty list (a single space config given
            bare included); an empty or non-string ``reward_key`` or ``out_dir``; a ``worst_reward`` that is not
            ``None`` or a finite number; ``verify_sync`` or ``plot`` not a bool (``'False'`` in a config file is
            truthy).
    """
    if (trunk_epochs is None) == (trunk_iters is None):
        raise ValueError('OHLHook needs exactly one of trunk_epochs / trunk_iters, got '
                         f'trunk_epochs={trunk_epochs}, trunk_iters={trunk_iters}')
    for name, value in (('trunk_epochs', trunk_epochs), ('trunk_iters', trunk_iters),
                        ('broadcast_interval', broadcast_interval)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f'{name} must be a positive integer, got {value!r}')
    if isinstance(spaces, (dict, str, bytes)) or not isinstance(spaces, Sequence):
        # one space config given bare was iterated by its keys: "spaces[0]: str is not an OHL space"
        raise ValueError(f'{where}.spaces must be a list of space configs (wrap a single one in a list), got '
                         f'{a_type(spaces)}')
    if not spaces:
        raise ValueError('OHLHook needs at least one space in spaces')
    if not isinstance(reward_key, str) or not reward_key:
        raise ValueError(f'{where}.reward_key must be a metric name, e.g. \'accuracy/top1\', got {reward_key!r}')
    if worst_reward is not None and (isinstance(worst_reward, bool) or not isinstance(worst_reward, (int, float))
                                     or not math.isfinite(worst_reward)):
        raise ValueError(f'{where}.worst_reward must be None or a finite number, got {worst_reward!r}')
    if not isinstance(out_dir, str) or not out_dir:
        raise ValueError(f'{where}.out_dir must be a folder name under work_dir, e.g. \'ohl\', got {out_dir!r}')
    for name, value in (('verify_sync', verify_sync), ('plot', plot)):
        if not isinstance(value, bool):  # 'False' in a config file is truthy
            raise ValueError(f'{where}.{name} must be True or False, got {value!r}')


def take_config_key(hook: OHLHook, runner: Any) -> None:
    """Name the hook at its entry of ``runner.cfg.custom_hooks`` (``custom_hooks[i]``) where it was built without
    one (a plain mmengine ``Runner`` builds its custom hooks without their index, unlike ``CopyRunner``; a hook
    built in Python): what it names from now on (resolve and start checks, trunk warnings) is
    ``custom_hooks[i].spaces[j]``, ``custom_hooks[i].reward_dataloader``, ``custom_hooks[i].controller`` (the
    resume's refusal of another controller optimiser), not ``OHLHook.spaces[j]``."""
    if hook.config_key != 'OHLHook':
        return
    key = hook_config_key(runner, hook, option=False)
    if key is None:
        return
    hook.config_key = hook.scorer.hook_key = key
    held = hook.scorer.held_out
    for attr in ('dataloader_key', 'evaluator_key'):
        name = getattr(held, attr, None)
        if isinstance(name, str) and name.startswith('OHLHook.'):
            setattr(held, attr, key + name[len('OHLHook'):])
    # the controllers built with the hook (of a space with a distribution) were named OHLHook.controller
    for controller in hook.controllers:
        name = getattr(controller, 'config_key', None)
        if isinstance(name, str) and name.startswith('OHLHook.'):
            controller.config_key = key + name[len('OHLHook'):]
