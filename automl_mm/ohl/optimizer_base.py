"""The base ``lr`` / ``weight_decay`` of an optimiser whose groups ``paramwise_cfg`` multiplied.

mmengine's ``DefaultOptimWrapperConstructor`` gives each parameter group ``base × multiplier`` of the config's
``optim_wrapper.optimizer.weight_decay`` (``norm_decay_mult``, ``bias_decay_mult``, ``dwconv_decay_mult``,
``flat_decay_mult``, a ``custom_keys`` entry's ``decay_mult``) and ``lr`` (``bias_lr_mult``, ``dcn_offset_lr_mult``,
``lr_mult``). One value written to ``optim_wrapper.optimizer.param_groups.*.weight_decay`` would overwrite every
multiplier (decaying the norm layers that ``norm_decay_mult=0`` kept undecayed), so that write is refused
(:func:`~automl_mm.ohl.attributes.check_owned_attribute`). The *base form* of the target names the config's key
instead: ``optim_wrapper.optimizer.weight_decay`` (``optim_wrapper.optimizer.lr``), a key of the built optimiser's
``defaults`` in :data:`BASE_KEYS`. Writing ``v`` there sets every group to ``v × r``, ``r`` the ratio the
constructor established (the group's value over the optimiser's ``defaults`` value when it is first written; rounded
to 12 significant digits, so a multiplier of 0.1 gives exactly the constructor's ``v * 0.1``); reading it gives the
base in effect. Every writer uses it (``AttributeSpace``, ``SetAttributesHook``, ``TrunkScheduleHook``), the
history and the exported fragments record ``v``, and the fragment pasted into a config with the same
``paramwise_cfg`` sets each group to what the constructor would have made of ``weight_decay=v``.

The base is in the config's units: mmengine's ``auto_scale_lr`` scales each group's ``lr`` after the optimiser was
built (not its ``defaults``), so an ``lr`` ratio holds that factor too and a written base ``lr`` of ``v`` trains at
``v × multiplier × batch ratio``, as ``lr=v`` in the config would.

The ratios are kept in each group under :data:`RATIO_KEY` (torch keeps a group's extra keys and saves them in the
optimiser's ``state_dict``), so a resumed run scales by the constructor's ratios, not by those of the values the
search wrote before the checkpoint. A base of 0 in the built optimiser makes the ratios undefined (0 / 0): refused,
naming the config key.
"""
from __future__ import annotations

from numbers import Real
from typing import Any

import torch

BASE_KEYS = ('lr', 'weight_decay')  # what mmengine's DefaultOptimWrapperConstructor multiplies (paramwise_cfg)
RATIO_KEY = 'automl_mm_base_ratio'  # {key: group value / base}, in each parameter group


def is_optimizer(node: Any) -> bool:
    return isinstance(node, torch.optim.Optimizer)


def check_base_key(optimizer: Any, key: str, path: str) -> None:
    """Refuse a base-form path whose key mmengine does not multiply (``optim_wrapper.optimizer.momentum``).

    Raises:
        ValueError: naming the path and the group path to target instead.
    """
    if key in BASE_KEYS:
        return
    prefix = path.rsplit('.', 1)[0]
    held = f'{type(optimizer).__name__} has no attribute {key!r}'
    if key in getattr(optimizer, 'defaults', {}):
        raise ValueError(f'attribute path {path!r}: {held}; an optimiser\'s base value can be targeted for '
                         f'{" and ".join(BASE_KEYS)} (what paramwise_cfg multiplies per group). Target '
                         f'{prefix}.param_groups.*.{key} instead')
    raise ValueError(f'attribute path {path!r}: {held}')


def group_ratios(optimizer: Any, key: str, path: str) -> list[float]:
    """Each group's ``key`` over the base (its ``paramwise_cfg`` multiplier): the stored ratio, else the group's
    value over ``optimizer.defaults[key]``.

    Raises:
        ValueError: a base of 0 (or none) in the built optimiser while a ratio is still to be read, naming the
            config key; a group without ``key``.
    """
    prefix = path.rsplit('.', 1)[0]
    ratios = []
    for i, group in enumerate(optimizer.param_groups):
        stored = (group.get(RATIO_KEY) or {}).get(key)
        if stored is not None:
            ratios.append(float(stored))
            continue
        base = optimizer.defaults.get(key)
        if not isinstance(base, Real) or isinstance(base, bool):
            raise ValueError(f'attribute path {path!r}: {type(optimizer).__name__} was built without a numeric '
                             f'{key!r} ({base!r}), so no group has a base × multiplier value to scale')
        if base == 0:
            raise ValueError(f'attribute path {path!r}: the optimiser was built with {key}=0 ({prefix}.{key} in the '
                             f'config), so each group\'s paramwise_cfg multiplier (its {key} / the base) is 0 / 0, '
                             f'undefined. Set a non-zero {prefix}.{key} in the config (the written base replaces '
                             f'it), or target {prefix}.param_groups.*.{key} when the groups hold one value')
        if key not in group:
            raise ValueError(f'attribute path {path!r}: parameter group {i} has no {key!r}')
        ratios.append(float(f'{group[key] / base:.12g}'))
    return ratios


def read_base(optimizer: Any, key: str, path: str) -> float:
    """The base in effect: a group's value over its ratio (the first group whose ratio is not 0), else the
    optimiser's ``defaults[key]``."""
    for group, ratio in zip(optimizer.param_groups, group_ratios(optimizer, key, path)):
        if ratio:
            return group[key] / ratio
    return optimizer.defaults[key]


def write_base(optimizer: Any, key: str, value: Any, path: str) -> None:
    """Set each group's ``key`` to ``value × ratio`` and keep the ratio in the group (module docstring).

    Raises:
        ValueError: ``value`` that is not a real number; as :func:`group_ratios`, before anything is written.
    """
    if not isinstance(value, Real) or isinstance(value, bool):
        raise ValueError(f'attribute path {path!r}: the base {key} must be a number, got {value!r}')
    ratios = group_ratios(optimizer, key, path)
    for group, ratio in zip(optimizer.param_groups, ratios):
        group[key] = float(value) * ratio
        group[RATIO_KEY] = {**(group.get(RATIO_KEY) or {}), key: ratio}
