"""The searched architecture carried by a search's final checkpoint, and applied when that checkpoint is tested.

A search loop (``PCNASLoop``, ``CRNASLoop``) ends by applying its best architecture to the supernet and, with
``bn_recalibration_batches``, re-estimating that path's BN statistics; then its final validation runs. The
architecture is not part of the weights (it is which supernet operators and blocks run), and the re-estimated
statistics came after the last checkpoint, so ``tools/test.py`` on the search's checkpoint tested the path the
config builds (option 0 of every layer) with the supernet's mixed statistics: a digits search that validated
50.98 top-5 tested 49.86, with no word. Now the loop saves its final checkpoint after that
(``search_final_iter_N.pth``, named in ``work_dir/last_checkpoint``), holding the re-estimated statistics and, under
``checkpoint['nas_search']['architecture']``, the supernet setter calls that select the architecture
(PC-NAS ``set_arch``, by operator name: option indices ran other operators under a config listing the same ``ops``
in another order, whose weights load all the same; CR-NAS ``set_allocation`` and ``set_dilations``, by value).
:class:`SearchedArchitectureHook` (registered by ``tools/test.py``) applies them after the checkpoint is loaded, so
the test scores the network the final validation scored; a search checkpoint saved before the search ended (the
checkpoint hook's ``iter_N.pth``, a step's ``search_stage*`` checkpoint) holds a supernet, not a searched network,
and is tested with a warning.
"""
from __future__ import annotations

from collections.abc import Sequence

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from torch import nn

from automl_mm.engine.data_fingerprint import _resumed_file
from automl_mm.engine.rank_agreement import check_ranks_loaded_alike
from automl_mm.engine.rank_failures import stopping_together
from automl_mm.registry import HOOKS

from .base import find_supernet
from .search_log import warn

ARCHITECTURE_KEY = 'architecture'


def architecture_calls(supernet: nn.Module, methods: Sequence[str], getters: Sequence[str]) -> list[list]:
    """``[[method, argument], ...]``: each supernet setter with the value its getter reads now (JSON-like)."""
    return [[m, list(getattr(supernet, g))] for m, g in zip(methods, getters)]


def apply_searched_architecture(model: nn.Module, checkpoint: dict) -> list[list] | None:
    """Apply the architecture a search's final checkpoint names (``checkpoint['nas_search']['architecture']``).

    Returns:
        The calls applied; ``[]`` when the model is not the checkpoint's supernet (other weight names: the exported
        stand-alone network, which is the architecture already); ``None`` when the checkpoint names no searched
        architecture.

    Raises:
        ValueError: The model has no supernet with the checkpoint's setter (e.g. a stand-alone network's config), or
            the setter refuses the checkpoint's value (an operator the config's ``ops`` do not list): the message
            names the checkpoint's call and the setter's reason.
    """
    calls = (checkpoint.get('nas_search') or {}).get(ARCHITECTURE_KEY)
    if not calls:
        return None
    from automl_mm.engine.checkpoint import inner_model

    # the model the checkpoint's weights are loaded into: inside a model wrapper and a test-time augmentation
    # wrapper both (a distributed ``tools/test.py --tta``: DDP(DetTTAModel(model)); one level unwrapped compared the
    # TTA wrapper's 'module.' keys and the searched architecture was silently not applied)
    root = inner_model(model)
    if set(root.state_dict()) != set(checkpoint.get('state_dict') or {}):
        return []  # another network (the exported stand-alone one, tested with --allow-partial): nothing to select
    for method, argument in calls:
        supernet = find_supernet(model, (method, ), 'the search checkpoint\'s architecture')
        try:
            getattr(supernet, method)(list(argument))
        except ValueError as err:  # the setter's reason alone did not say it was the checkpoint's architecture
            raise ValueError(f"the search checkpoint's architecture ({method} {list(argument)}) does not fit this "
                             f'model\'s supernet ({type(supernet).__name__}): {err}') from None
    return calls


@HOOKS.register_module()
class SearchedArchitectureHook(Hook):
    """Applies a search checkpoint's architecture when it is loaded (``load_from``; ``tools/test.py`` registers it).

    A checkpoint with search state (``'nas_search'``) but no architecture was saved before the search ended: its
    supernet runs the config's path with shared BN statistics, which is not what the search reported; a warning
    says so and names the checkpoint to test.

    Raises:
        ValueError: :func:`apply_searched_architecture`'s (the model has no supernet with the checkpoint's setter,
            or the setter refuses its value).
        RankFailure: in a run of several ranks, on the others where one rank refused its checkpoint's architecture
            (each rank reads the file itself): every rank stops there
            (:func:`~automl_mm.engine.rank_failures.stopping_together`), naming that rank and its error.
        RuntimeError: in a run of several ranks, on every rank where the ranks' checkpoints held different
            architectures (or one none: a node's stale copy of the file), naming each rank's file and architecture
            (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`): each would test its shard of the
            test set on another network.
    """

    priority = 'VERY_LOW'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # every rank reads the checkpoint itself (a node-local copy): one that refused its architecture alone left
        # the others waiting in the test's result collection until the process group's timeout. Entered on every
        # rank, whatever its checkpoint holds.
        with stopping_together('SearchedArchitectureHook: applying the search checkpoint\'s architecture'):
            applied = apply_searched_architecture(runner.model, checkpoint)  # None without one
        if get_world_size() > 1:
            # each rank read its own copy of the file: one whose copy held another architecture (a stale copy, a
            # checkpoint saved before the search ended) tested its shard of the test set on another network, and
            # the gathered metrics mixed the two without a word. Every rank passed the block above: all gather
            check_ranks_loaded_alike('SearchedArchitectureHook', applied, _resumed_file(runner),
                                     'no searched architecture' if applied is None else
                                     'another network than the supernet' if not applied else
                                     'the architecture ' + ', '.join(f'{m} {list(a)}' for m, a in applied))
        if 'nas_search' in checkpoint and applied is None:
            from automl_mm.engine.runner_checks import checked_config

            loaded = checked_config(runner).get('load_from')  # the runner's load_from argument, else its cfg's
            warn(f'{loaded or "the checkpoint"} was saved before its search ended: it holds '
                 'the supernet, tested on the path the config builds, with the supernet\'s BN statistics, not the '
                 'searched architecture the search validated last. Test the search\'s final checkpoint '
                 '(search_final_iter_N.pth, named in its work_dir/last_checkpoint)')
