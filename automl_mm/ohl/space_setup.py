"""An OHL hook's spaces made ready for the run: each space resolves what it reads from the run and gets its
controller (:func:`resolve_spaces`), then sets itself up on this rank, its writes checked against the paths it
reports (:func:`setup_spaces`). :meth:`OHLHook.before_train <automl_mm.ohl.hook.OHLHook.before_train>` calls both
(a resume and the preflight resolve earlier); a space's refusal is named at its config key
(``custom_hooks[0].spaces[1]``). Split from :mod:`automl_mm.ohl.hook`, which holds the hook's state and sequences
its stages.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl_mm.utils.scope import named_error

from . import resume
from .attributes import recording_writes
from .base import build_controller, check_repeated_choices
from .write_order import check_declared_writes

if TYPE_CHECKING:
    from .hook import OHLHook


def resolve_spaces(hook: OHLHook, runner: Any) -> None:
    """Let every space derive what it reads from the run (``OHLSpace.resolve``), then build the controllers of
    the spaces that were built without a distribution. Once, before the first checkpoint load or trunk.

    Raises:
        KeyError, TypeError, ValueError: a space's refusal named at its config key (``custom_hooks[0].spaces[1]``).
        ValueError: a space with no distribution after its resolve; choices repeated in a space
            (:func:`~automl_mm.ohl.base.check_repeated_choices`); a controller config its class refuses (also KeyError,
            TypeError: :func:`~automl_mm.ohl.base.build_controller`, named at ``custom_hooks[0].controller``).
    """
    if hook._resolved:
        return
    hook.take_config_key(runner)
    for i, space in enumerate(hook.spaces):
        where = f'{hook.config_key}.spaces[{i}]'
        try:
            space.resolve(runner)
        except (KeyError, TypeError, ValueError) as err:
            # the space's own message names the space (PipelineChoiceSpace(key='aug'): ...), not where the config
            # sets it: named at its key, once (the preflight added 'custom_hooks[0] (OHLHook): ' before it)
            named = named_error(err, where)
            if named is err:
                raise
            raise named from err
        if hook.controllers[i] is None:
            if space.distribution is None:
                raise ValueError(f'{where} ({type(space).__name__} {space.name!r}) has no distribution after '
                                 'resolve(); give it one in its config')
            hook.controllers[i] = build_controller(hook._controller_cfg, space.distribution,
                                                   f'{hook.config_key}.controller')
    check_repeated_choices(hook.spaces, hook.controllers)  # choices=[0.1, 0.1, 0.2]: 0.1's mass split
    hook.initial_states = resume.distribution_states(hook)  # the configured start, before any update or load
    hook._resolved = True


def setup_spaces(hook: OHLHook, runner: Any) -> None:
    """Each space's ``setup`` (``OHLSpace.setup(runner, layout, seed)``), then the paths it wrote against those it
    reports (:func:`~automl_mm.ohl.write_order.check_declared_writes`). Called in ``before_train`` on every rank.

    Raises:
        KeyError, TypeError, ValueError: a space's refusal named at its config key, ``custom_hooks[0].spaces[1]:
            attribute path 'train_dataloader.batch_sizee': DataLoader has no attribute ...`` (``OHLHook.spaces[1]``
            for a hook built in Python), as ``resolve_spaces`` names it; it named neither the hook nor the space.
    """
    for i, space in enumerate(hook.spaces):
        # the paths it writes (through set_attribute or not), against those the checks below compare
        with recording_writes(runner, getattr(space, 'wiring_attributes', ())) as wrote:
            try:
                space.setup(runner, hook.layout, hook.seed)
            except (KeyError, TypeError, ValueError) as err:
                named = named_error(err, f'{hook.config_key}.spaces[{i}]')
                if named is err:
                    raise
                raise named from err
        check_declared_writes(runner, space, wrote, 'setup')
