"""The search state in runner checkpoints: what a search loop saves in every checkpoint and restores on resume.

:class:`_SearchStateHook` (registered by :class:`~automl_mm.nas.loop.SearchLoopBase`) saves the loop's
:meth:`~automl_mm.nas.loop.SearchLoopBase.search_state_dict` (pools, finished scores, results), its seed, scoring
settings, what its evaluations read (:attr:`~automl_mm.nas.loop.SearchLoopBase.readings`) and class name, and the final
architecture once the search has one, under ``checkpoint['nas_search']``. A resume (``--resume``) restores them after
checking that the checkpoint holds this loop's state, its gradient accumulation and scoring settings; ``load_from``
takes the weights only. Each rank loads its own copy of the checkpoint; ranks that restored different states are refused
together, naming each one's file
(:meth:`_SearchStateHook._check_ranks_loaded_alike`).

Still importable from :mod:`automl_mm.nas.loop`, its former home (tests and code that name
``automl_mm.nas.loop._SearchStateHook`` keep working).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from automl_mm.engine.rank_failures import stopping_together
from automl_mm.engine.run_info import is_resume, refuse_resume_without_search_state
from automl_mm.engine.runner_checks import checked_config
from automl_mm.utils.checks import same_config
from automl_mm.utils.seeding import resumed_seed
from automl_mm.utils.wording import a_name

from .accumulation import check_resumed_accumulation
from .final_architecture import ARCHITECTURE_KEY
from .search_log import warn

if TYPE_CHECKING:
    from .loop import SearchLoopBase


class _SearchStateHook(Hook):
    """Carries a search loop's state in and out of runner checkpoints."""

    priority = 'VERY_LOW'

    def __init__(self, loop: SearchLoopBase) -> None:
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['nas_search'] = dict(self.loop.search_state_dict(), seed=self.loop.seed,
                                        scoring=self.loop.scoring_settings(), loop=type(self.loop).__name__,
                                        readings=copy.deepcopy(getattr(self.loop, 'readings', {})))
        final = getattr(self.loop, '_final_architecture', None)  # set by finish(): what tools/test.py applies
        if final is not None:
            checkpoint['nas_search'][ARCHITECTURE_KEY] = final

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not is_resume(runner):
            # load_from (mmengine calls this hook for it too) takes the weights only: a new search used to skip
            # the stages the checkpoint's run had finished and re-export its result, limits and all
            if 'nas_search' in checkpoint:
                warn('load_from takes the checkpoint\'s weights only; the search (pools, scores, results) starts '
                     'from scratch. Use resume to continue it')
            return
        name = type(self.loop).__name__
        # every rank reads its own checkpoint file and data (node-local work_dirs, another working directory): a
        # refusal on one rank alone left the others in the data check's gather until the process group's timeout
        with stopping_together(f'{name}: the resume checks of the checkpoint\'s search state'):
            self._load_search_state(runner, checkpoint, name)
        # each rank loaded its own copy of the checkpoint: a node's stale or other copy made that rank score a step
        # the others had finished, with wrong results or a hang; every rank passed the checks above, so all gather
        self._check_ranks_loaded_alike(runner, checkpoint, name)
        self.loop._epoch = 0  # search checkpoints store the iteration; the loop has one big epoch

    def _check_ranks_loaded_alike(self, runner, checkpoint: dict, name: str) -> None:
        """Refuse, on every rank, a resume whose ranks restored different search states
        (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`): the loop's :meth:`search_state_dict`
        as loaded (pools with their decisions, scores and history; results), its seed and the checkpoint's
        iteration, which with the seed fixes every later path and completion drawn. Collective; nothing in a
        single process."""
        from automl_mm.engine.data_fingerprint import _resumed_file
        from automl_mm.engine.rank_agreement import check_ranks_loaded_alike

        if get_world_size() < 2:
            return
        iteration = (checkpoint.get('meta') or {}).get('iter')
        pools = self.loop.search_pools()
        steps, scored = sum(len(p.history) for p in pools), sum(len(p.scores) for p in pools)
        summary = (f'iteration {iteration}, {steps} search step{"s" * (steps != 1)} finished, {scored} '
                   f'candidate{"s" * (scored != 1)} of the current one scored')
        check_ranks_loaded_alike(name, dict(self.loop.search_state_dict(), seed=self.loop.seed, iteration=iteration),
                                 _resumed_file(runner), summary)

    def _load_search_state(self, runner, checkpoint: dict, name: str) -> None:
        # pending gradients are not saved: mmengine only warns that they are lost. The optimiser wrapper and the
        # checkpoint the runner runs: Runner(optim_wrapper=..., load_from=..., cfg=dict(...)) holds them as arguments
        cfg = checked_config(runner)
        check_resumed_accumulation(cfg.get('optim_wrapper'), (checkpoint.get('meta') or {}).get('iter', 0),
                                   f'the resumed checkpoint {cfg.get("load_from") or ""}'.rstrip())
        if 'nas_search' not in checkpoint:
            refuse_resume_without_search_state(checkpoint, 'NAS', f'{a_name(name)} (train_cfg.type)')
        else:
            state = checkpoint['nas_search']
            saved = state.get('loop')  # saved since the 35th session; older checkpoints: by their keys below
            # keys added to a loop's state later (optional_search_state_keys): a checkpoint written before lacks them
            missing = sorted(set(self.loop.search_state_dict()) - set(state)
                             - set(getattr(self.loop, 'optional_search_state_keys', ())))
            if (saved is not None and saved != name) or missing:
                # a PC-NAS search resumed by a CRNASLoop failed with KeyError: 'stage_pool'
                raise ValueError(f'NAS: the checkpoint holds the search state of '
                                 f'{saved or "another search loop"} (keys {sorted(state)}), this run\'s '
                                 f'train_cfg.type is {name}' + (f', which needs {missing}' if missing else '') +
                                 ': a resume continues the same search. Resume with the checkpoint\'s loop, or '
                                 'start a new search from its weights with load_from')
            self.loop.load_search_state_dict(state)
            if 'seed' in state:  # the seed the run began with (without randomness.seed, mmengine drew it)
                self.loop.seed = int(resumed_seed(state['seed'], self.loop._configured_seed, 'train_cfg.seed'))
            read_key = (state.get('scoring') or {}).get('train_cfg.metric_key')
            if state.get('readings') is not None and hasattr(self.loop, 'readings') and \
                    read_key == getattr(self.loop, 'metric_key', None):
                # what the evaluations read before the checkpoint (an empty one beside a later negative reading is
                # refused); checkpoints written before the readings were saved: remembered from the resume on. Of
                # another train_cfg.metric_key (a resume between steps may change it): not this metric's readings
                self.loop.readings.clear()
                # the search batches read NaN / a value (PathEvaluator): by index, so of these batches only where
                # every scoring setting is the checkpoint's (a resume between steps may change the search split or
                # its batch size: other images at the same index); checkpoints written before them hold neither. In
                # the middle of a step check_resumed_scoring (below) refuses every setting that reads other images,
                # and passes ones that read the same (the split under another root, compared by content; another
                # world size where the BN slice is the whole set): the step's finished candidates rank against its
                # remaining ones, so what they read is kept (forgotten, a NaN beside a value there passed)
                batches = state.get('scoring') is not None and (
                    any(pool.scores for pool in self.loop.search_pools())
                    or same_config(state['scoring'], self.loop.scoring_settings()))
                self.loop.readings.update({k: dict(
                    lowest=float(v['lowest']), empty=bool(v['empty']),
                    nan=sorted([int(a), int(b)] for a, b in v.get('nan', [])) if batches else [],
                    read=sorted([int(a), int(b)] for a, b in v.get('read', [])) if batches else [])
                    for k, v in state['readings'].items()})
            if state.get('scoring') is not None:  # checkpoints written before the settings were saved: unchecked
                self.loop.check_resumed_scoring(state['scoring'], checkpoint)

