"""The OHL start check of an ``OHLHook``'s ``AttributeSpace`` s over optimiser hyper-parameters, made on the config
in the launching process (:func:`~automl_mm.engine.preflight_ohl.check_ohl_config`): a Gaussian whose transform's
image, or a choice, leaves the hyper-parameter's valid range (:func:`check_gaussian_optimizer_spaces`).
"""
from __future__ import annotations

from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.utils.scope import config_type_name


def _optimizer_type(cfg: Any, parts: list[str]) -> Any:
    """The ``type`` of the optimiser config an ``optim_wrapper...`` path runs through (``optim_wrapper.optimizer``,
    ``optim_wrapper.<name>.optimizer`` of an ``OptimWrapperDict``), else ``None``."""
    node, found = cfg.get('optim_wrapper') if cfg is not None else None, None
    for part in parts[1:]:
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
        if part == 'optimizer' and isinstance(node, dict):
            found = node.get('type')
    return found


def check_gaussian_optimizer_spaces(hook: dict, hook_key: str, cfg: Any = None) -> None:
    """Refuse an ``AttributeSpace`` that can draw an optimiser hyper-parameter outside its valid range: a Gaussian
    (``DiagGaussian``) whose ``transform``'s image leaves it, or a choice outside it.

    A Gaussian has no bounds: without a ``transform`` an ``lr``, ``weight_decay`` or ``eps`` is negative with
    positive probability, and under ``'exp'`` / ``'pow10'`` (any positive number) SGD's or RMSprop's ``momentum``
    (and an Adam ``betas`` entry) reaches 1 and more, which torch's constructor does not even refuse for
    ``momentum``: SGD trained with momentum 1.5 and diverged. The ranges, by the config's optimiser type
    (``optim_wrapper.optimizer.type``; an unknown type gets the keys every optimiser reads alike), are
    :data:`~automl_mm.ohl.setting_ranges.OPTIMIZER_RANGES`. In the run, the copy that drew such a value was refused at
    its trunk (:func:`~automl_mm.ohl.optimizer_base.check_group_values`), which stopped the whole run there,
    possibly after hours, or trained with it; this check names the space at start. Spaces given as objects, other
    types and targets outside ``optim_wrapper`` are left to the build check (``AttributeSpace.check_choices``). A
    space's type is resolved as ``OHLHook`` builds it (its ``_scope_``, else automl_mm's scope:
    :func:`~automl_mm.registry.config_class`), so a user's ``AttributeSpace`` subclass of the user's scope is checked.

    Raises:
        ConfigCheckError: naming ``<hook_key>.spaces[i]``, its target, transform (or choice), the range and its
            source, and the fix (``transform='exp'``, or a ``Categorical`` with ``choices``).
    """
    from automl_mm.ohl.attribute_space import AttributeSpace
    from automl_mm.ohl.value_ranges import TRANSFORM_IMAGES, optimizer_key_range
    from automl_mm.registry import SEARCH_SPACES, config_class

    for index, space in enumerate(hook.get('spaces') or []):
        if not isinstance(space, dict):
            continue
        cls = config_class(SEARCH_SPACES, space, 'automl_mm')  # OHLHook builds its spaces in automl_mm's scope
        if cls is None or not issubclass(cls, AttributeSpace):
            continue
        choices = space.get('choices')
        gaussian = isinstance(space.get('distribution'), dict) and \
            config_type_name(space['distribution']) == 'DiagGaussian'
        if choices is None and not gaussian:
            continue
        target = space.get('target')
        transform = space.get('transform')
        for path in [target] if isinstance(target, str) else list(target or []):
            parts = str(path).split('.')
            keys = [p for p in parts if not p.isdigit() and p != '*']
            if not keys or keys[0] != 'optim_wrapper':
                continue
            found = optimizer_key_range(_optimizer_type(cfg, parts) or 'unknown', keys[-1])
            if found is None:
                continue
            interval, source = found
            name = space.get('name') or config_type_name(space)
            if choices is not None:
                for value in choices if isinstance(choices, (list, tuple)) else []:
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                            not interval.contains(value):
                        raise ConfigCheckError(
                            f'{hook_key}.spaces[{index}] ({name}, target {path!r}): choice {value!r} lies outside '
                            f'{interval} ({source}); a copy that drew it would train with it')
                continue
            image = TRANSFORM_IMAGES.get(transform)
            if image is None or interval.covers(image):
                continue
            fix = (f"transform='exp' (or 'pow10'), the mean then being ln({keys[-1]}) (log10)"
                   if interval.covers(TRANSFORM_IMAGES['exp']) else
                   'a Categorical distribution with choices inside it (e.g. choices=[0.8, 0.9, 0.95])')
            raise ConfigCheckError(
                f'{hook_key}.spaces[{index}] ({name}, target {path!r}, DiagGaussian, transform={transform!r}): a '
                f'Gaussian sample under this transform takes any value in {image}, which leaves {interval} '
                f'({source}) with positive probability; the copy that drew such a value would train with it or stop '
                f'the run at its trunk. Search it with {fix}')
