"""What a resumed one-shot search refuses, and why: the resume checks of ``SearchLoopBase``, ``PCNASLoop`` and
``CRNASLoop``.

A search checkpoint holds, under ``checkpoint['nas_search']``, the partial-architecture pools (the finished steps
and the scores of the current step's finished candidates), the scoring settings they were scored under and, for
CR-NAS, the FLOPs counted so far and the band of allocations its stage supernet trained on. ``--resume`` goes on
from there, so the rest of the search is trained, scored, ranked and reported together with the checkpoint's part
as one search. Where this run's config would make the two parts differ, the resume is refused before any training
(a ``ValueError`` naming the config key with the checkpoint's value and this run's, and what to do instead: resume
with the checkpoint's settings, or start a new search from its weights with ``load_from``). Refused are:

* another scoring setting in the middle of a scoring step (:meth:`SearchResumeChecks.check_resumed_scoring`): the
  step's finished candidates would be ranked against ones scored otherwise (between steps the settings may change);
* phase lengths that do not fit the checkpoint's position (:meth:`SearchResumeChecks.check_resumed_phase`): the
  supernet would train again after a step had begun, or a step would score a supernet trained past its phase;
* phase lengths that place a finished step, or the step the checkpoint stopped in, at another iteration than it was
  scored at (:meth:`SearchResumeChecks.check_step_iterations`): the search would go on from a step scored on a
  supernet trained other than configured;
* PC-NAS: another cost constraint once a stage has finished (:meth:`PCNASResumeChecks.check_resumed_cost_limit`):
  the later stages would be searched, and the final pool reported, under another constraint than the pool they
  start from;
* CR-NAS: once its stage supernet has trained but before its stage search, a FLOPs band that holds other
  allocations than the checkpoint's (:meth:`CRNASResumeChecks.check_resumed_band`): the supernet would train on,
  and the stage search score, other allocations than it trained on so far; once the stage search has begun, FLOPs
  counted under another input shape or backbone (:meth:`CRNASResumeChecks._flops_context_changes`) or a band of
  another centre or width (:meth:`CRNASResumeChecks._band_setting_changes`), refused as the checkpoint is loaded
  (:meth:`CRNASResumeChecks.refuse_flops_changes`): its allocations, choice and reported FLOPs would stand against
  other counts or another band; and a stage-search choice outside the band, from a checkpoint written when the band
  was an upper bound (:meth:`CRNASResumeChecks.check_chosen_allocation`).

What the checkpoint itself must be (the same search loop, search state present, no pending accumulated gradients,
the same seed) is checked as it is loaded (:mod:`automl_mm.nas.search_state`'s checkpoint hook,
:mod:`automl_mm.nas.accumulation`). The checks here are mixins of the loops and read the loop's pools, iteration
(``_iter``) and settings; each is still reached under its former path (``SearchLoopBase.check_resumed_phase``,
``CRNASLoop.check_resumed_band``, ``PCNASLoop.COST_KEYS``; ``automl_mm.nas.cr_nas.FLOPS_NEUTRAL_BACKBONE_KEYS``).

In a search of several ranks each rank runs these checks on the checkpoint and data it read itself (a node-local
work_dir, a relative path from another working directory), so their outcome can differ across ranks: they run inside
the ranks' agreement (:meth:`~automl_mm.nas.loop.SearchLoopBase.agreed_start_checks`, and the checkpoint hook's), and a
refusal on one rank stops every rank there, the others with a
:class:`~automl_mm.engine.rank_failures.RankFailure` naming it (one rank refusing alone left the others waiting in
their next collective until the process group's timeout). Once every rank has passed them, the ranks compare what
they loaded (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`: hashes of the loop's search state as
loaded, its seed and the checkpoint's iteration): ranks that restored different states (a node's own work_dir, a
stale copy of the checkpoint on one node) are refused on every rank with a ``RuntimeError`` naming each group of
ranks, the checkpoint file it loaded and the parts of the state that differ; they used to go on from different
points of the search (one rank scoring a step another had finished), with wrong results or a hang.
"""
from __future__ import annotations

from collections.abc import Callable

from automl_mm.utils.checks import plain_config, same_config, without_data_paths

from .beam import PartialArchitecturePool
from .retrain_export import search_backbone

#: ``model.backbone`` keys that do not change what an allocation computes, hence its FLOPs: the weights' source and
#: freezing, and ``out_indices`` (:func:`~automl_mm.nas.flops.count_flops` counts every stage the backbone runs),
#: ``max_stage_blocks`` (blocks built, not run), ``stage_blocks`` (the initial allocation, which the search replaces;
#: as the default ``reference_allocation`` it is compared as that). Any other difference makes FLOPs counted before a
#: resume stale.
FLOPS_NEUTRAL_BACKBONE_KEYS = ('init_cfg', 'pretrained', 'frozen_stages', 'norm_eval', 'zero_init_residual',
                               'with_cp', 'out_indices', 'max_stage_blocks', 'stage_blocks')


class SearchResumeChecks:
    """The resume checks of both search loops (a mixin of :class:`~automl_mm.nas.loop.SearchLoopBase`): the
    scoring settings of a partly scored step, and the phase lengths against the checkpoint's position and its
    steps' recorded iterations."""

    def check_resumed_scoring(self, saved: dict, checkpoint: dict | None = None) -> None:
        """Refuse a resume in the middle of a scoring step whose scoring settings are not the checkpoint's.

        The step's finished candidates keep the scores they got under the checkpoint's settings; the rest would be
        scored under this run's and all ranked together (e.g. potentials averaged over 10 completions against ones
        over 2, read under another metric, or on batches of another size). Between steps every candidate of a step
        is scored alike, so the settings may change there. Paths compare as the files they name
        (:func:`~automl_mm.utils.checks.same_config`): ``data/x``, ``./data/x`` and its absolute path are one setting,
        and ``data/x`` resolved from another working directory is another. The data of a loader (the search split,
        ``train_dataloader`` for BN batches) whose fingerprint the checkpoint recorded is judged by content
        (``checkpoint`` given: :func:`~automl_mm.engine.data_fingerprint.compared_by_content`): its paths, and a
        metric's ``ann_file`` naming its annotation file, are not compared
        (:func:`~automl_mm.utils.checks.without_data_paths`), so the split copied or moved under another root resumes
        (compared by path, it was refused), and other data under the same paths is refused (by the data check; here,
        under ``resume_data_check=False``: it passed). The world size recorded with BN re-estimation under
        ``train_dataloader.num_batch_per_epoch`` (:data:`~automl_mm.nas.scoring_setup.BN_POOL_RANKS`) may differ
        where the slice holds the whole training set on both (:meth:`~automl_mm.nas.loop.SearchLoopBase.bn_pool_items`):
        BN re-estimation draws from the same images. The search split and its metrics are compared as resolved,
        whichever key names them (:func:`saved_under_this_runs_keys`): a split moved from a top-level
        ``reward_dataloader`` to ``train_cfg.search_dataloader`` with another batch size or dataset is refused,
        naming both keys (each key was in one of the two settings only, so neither was compared).

        Args:
            saved: :meth:`~automl_mm.nas.loop.SearchLoopBase.scoring_settings` as the checkpoint saved it.
            checkpoint: The resumed checkpoint (its ``meta['data_fingerprints']``); ``None``: paths compared.

        Raises:
            ValueError: a step is partly scored and a setting differs, naming its config key and both values.
        """
        from automl_mm.engine.data_fingerprint import SWITCH, compared_by_content

        if not any(pool.scores for pool in self.search_pools()):
            return
        now = self.scoring_settings()
        saved, renamed = saved_under_this_runs_keys(getattr(self, 'held_out', None), saved, now)
        unpathed, other_data = compared_by_content(self.runner, checkpoint, {
            key: f'{key}.dataset' for key, value in now.items()
            if key in saved and isinstance(value, dict) and isinstance(value.get('dataset'), dict)})
        compared_saved, compared_now = without_data_paths(saved, unpathed), without_data_paths(now, unpathed)
        from .scoring_setup import BN_POOL_RANKS

        for key, value in now.items():
            if key in other_data or (key in saved and not same_config(compared_saved[key], compared_now[key])):
                pools = None
                if key == BN_POOL_RANKS:
                    # the world size decides the BN batches' images only where the slice is a part of the set
                    pools = [self.bn_pool_items(ranks) for ranks in (saved[key], value)]
                    if pools[0] is not None and pools[0] == pools[1]:
                        continue  # the whole training set on both: the same images
                why = (f' (its dataset holds other data than the checkpoint\'s run read there, compared by content; '
                       f'{SWITCH}=False lets a run train on other data, not rank scores of two data sets together)'
                       if key in other_data else _setting_note(key, now, saved.get(key), pools))
                named = f'{renamed[key]} (as the checkpoint\'s run named it)' if key in renamed else key
                raise ValueError(f'the checkpoint stopped in the middle of a scoring step scored with '
                                 f'{named}={saved[key]!r}, this run sets {key}={value!r}{why}: the step\'s finished '
                                 'candidates would be ranked against ones scored otherwise. Resume with the '
                                 'checkpoint\'s setting (it may change once the step is done), or start a new '
                                 'search from its weights with load_from')

    def check_resumed_phase(self, end: int, started: bool, phase: str, settings: str,
                            cut_short: bool = True) -> None:
        """Refuse a resumed search whose configured phase lengths do not fit the checkpoint's position: the run
        would train the supernet again after or in the middle of a search step the checkpoint began (``started``
        and the checkpoint's iteration before ``end``: the step's finished candidates, or the finished step,
        scored on another supernet than the rest of the search), or, with ``cut_short``, would start a step whose
        phase the checkpoint had trained past (its iteration after ``end``: the phase trained other than
        configured, the next one shorter, possibly not at all). A run started from scratch, or resumed with the
        checkpoint's settings, never is.

        Args:
            end: The iteration at which this run's settings end the phase's training.
            started: Whether the checkpoint began (or finished) the search step after the phase.
            phase: What trains, named in the error (e.g. ``'stage 2'``).
            settings: The config keys and values ``end`` comes from (e.g. ``'warmup_iters=600, stage_iters=300'``).

        Raises:
            ValueError: naming the iterations and ``settings``.
        """
        remedy = ('resume with the checkpoint\'s settings, or start a new search from its weights with load_from')
        if started and self._iter < end:
            raise ValueError(f'the checkpoint stopped at iteration {self._iter} with the search step after the {phase} '
                             f'training begun, but this run\'s {settings} end that training at iteration {end}: the '
                             f'supernet would train again after the step had begun, and its candidates be scored on '
                             f'two supernets; {remedy}')
        if not started and cut_short and self._iter > end:
            raise ValueError(f'the checkpoint trained to iteration {self._iter}, past iteration {end}, where this '
                             f'run\'s {settings} end the {phase} training: its search step would score a supernet '
                             f'trained other than configured and the next phase would be cut short; {remedy}')

    def check_step_iterations(self, pool: PartialArchitecturePool, end: Callable[[int], int],
                              name: Callable[[int], str], settings: str) -> None:
        """Refuse a resumed search whose phase lengths place the pool's finished steps (or the step it stopped in)
        at other iterations than the checkpoint's run scored them at (recorded in ``pool.history`` as ``'iter'``;
        entries written before have none and are not compared). :meth:`check_resumed_phase` looks at the current
        step only: a PC-NAS search that scored stage 1 at iteration 6 (``warmup_iters=4``, ``stage_iters=2``),
        resumed with ``stage_iters=3``, trained stage 2 for 4 iterations (6 to 10) where its config says 3, and went
        on from a stage 1 scored 1 iteration early; one killed in stage 4's scoring at iteration 12 and resumed with
        ``stage_iters=1`` finished the step there (its config ends that training at iteration 8).

        Args:
            pool: The pool whose steps to check.
            end: Step index (0 for the first) -> the iteration at which this run's settings end the training
                before that step.
            name: Step index -> what the step is called in the error (e.g. ``'stage 2'``).
            settings: The config keys and values ``end`` comes from.

        Raises:
            ValueError: naming the step, both iterations and ``settings``.
        """
        remedy = 'resume with the checkpoint\'s settings, or start a new search from its weights with load_from'
        for index, entry in enumerate(pool.history):
            at = entry.get('iter')
            if at is not None and at != end(index):
                raise ValueError(f'the checkpoint\'s search scored its {name(index)} step at iteration {at}, but this '
                                 f'run\'s {settings} end the training before that step at iteration {end(index)}: the '
                                 f'search would go on from a step scored on a supernet trained other than configured, '
                                 f'and the training after it would be {abs(at - end(index))} iteration(s) '
                                 f'{"longer" if at < end(index) else "shorter"} than configured; {remedy}')
        begun = pool.candidate_list is not None or bool(pool.scores)
        index = len(pool.history)
        if begun and self._iter != end(index):
            raise ValueError(f'the checkpoint stopped at iteration {self._iter} in the {name(index)} step, but this '
                             f'run\'s {settings} end the training before that step at iteration {end(index)}: its '
                             f'candidates would be ranked as scored after {end(index)} iterations; {remedy}')


class PCNASResumeChecks:
    """PC-NAS's resume check (a mixin of :class:`~automl_mm.nas.pc_nas.PCNASLoop`): the cost constraint its pool
    was kept under."""

    #: the ``scoring_settings`` keys that decide which completions a potential admits (the cost constraint)
    COST_KEYS = ('train_cfg.latency_limit', 'train_cfg.flops_limit', 'train_cfg.latency_table',
                 'train_cfg.input_shape')

    def check_resumed_cost_limit(self, state: dict) -> None:
        """Refuse a resume between stages under another cost constraint than the checkpoint's pool was kept under.

        A finished stage kept the K partial models of highest potential over completions within the checkpoint's
        cost limit; a resume between stages under another ``latency_limit`` / ``flops_limit`` (or another latency
        table's costs, or FLOPs counted at another ``input_shape``) chose the later stages, and reported the final
        pool, under the other constraint, with only mmengine's generic "config differs" warning (a resume in the
        middle of a step was refused by :meth:`SearchResumeChecks.check_resumed_scoring`; other
        scoring settings, e.g. ``num_samples``, may change between stages). Checkpoints written before the scoring
        settings were saved are not compared.

        Args:
            state: The checkpoint's search state, whose pool and results the loop has loaded.

        Raises:
            ValueError: a stage has finished (or the search has a result) and a cost setting differs, naming its
                config key and both values.
        """
        saved = state.get('scoring')
        if saved is None or self.pool.scores or not (self.pool.history or self.results is not None):
            return  # an older checkpoint, a step partly scored (check_resumed_scoring names it), or nothing kept
        now = self.scoring_settings()
        for key in self.COST_KEYS:
            old, new = plain_config(saved.get(key)), plain_config(now.get(key))
            if old != new:
                raise ValueError(f'the checkpoint\'s search kept its partial models by potentials over completions '
                                 f'within the cost constraint {key}={old!r}, this run sets {key}={new!r}: the '
                                 'stages after the resume would be searched, and the final pool reported, under '
                                 'another constraint than the pool they start from. Resume with the checkpoint\'s '
                                 'setting, or start a new search from its weights with load_from')


class CRNASResumeChecks:
    """CR-NAS's resume checks (a mixin of :class:`~automl_mm.nas.cr_nas.CRNASLoop`): the FLOPs context and band its
    counts, stage supernet and stage search had, and a stage-search choice outside the band."""

    def _flops_backbone(self) -> dict:
        """``model.backbone`` as configured, without :data:`FLOPS_NEUTRAL_BACKBONE_KEYS`: what the FLOPs counted by
        :meth:`~automl_mm.nas.cr_nas.CRNASLoop.allocation_flops` depend on, besides the allocation and
        ``flops_input_shape``. Its ``type`` is the class the model built (``'CRResNet'``, ``'automl_mm.CRResNet'`` and
        the class itself are one backbone: the spelling was refused as another backbone)."""
        backbone = plain_config(search_backbone(self.runner, type(self).__name__))  # the runner's own model config
        built = type(self.backbone)
        return {**{k: v for k, v in backbone.items() if k not in FLOPS_NEUTRAL_BACKBONE_KEYS},
                'type': f'{built.__module__}.{built.__qualname__}'}

    def _flops_context_changes(self, state: dict) -> list[tuple[str, object, object]]:
        """``(config key, checkpoint's value, this run's value)`` for every setting the checkpoint's FLOPs were
        counted under that this run sets otherwise: ``train_cfg.flops_input_shape`` and each ``model.backbone`` key
        but :data:`FLOPS_NEUTRAL_BACKBONE_KEYS` (checkpoints written before the backbone was saved: the shape only)."""
        changes = []
        shape = list(self.flops_input_shape[1:])
        if state.get('flops_input_shape') is not None and list(state['flops_input_shape']) != shape:
            changes.append(('train_cfg.flops_input_shape', list(state['flops_input_shape']), shape))
        saved = state.get('flops_backbone')
        if saved is not None:
            now = self._flops_backbone()
            for key in sorted(set(saved) | set(now)):
                if plain_config(saved.get(key, '(unset)')) != plain_config(now.get(key, '(unset)')):
                    changes.append((f'model.backbone.{key}', saved.get(key, '(unset)'), now.get(key, '(unset)')))
        return changes

    def refuse_flops_changes(self, changes: list[tuple[str, object, object]]) -> None:
        """Refuse a resume whose stage search has begun (or whose search has a result) under FLOPs counted, or a
        band centred and bounded, otherwise than this run's:
        :meth:`~automl_mm.nas.cr_nas.CRNASLoop.load_search_state_dict` calls it with the changes of
        :meth:`_flops_context_changes` and :meth:`_band_setting_changes` (the stage space left to the stage pool's
        own check).

        Args:
            changes: ``(config key, checkpoint's value, this run's value)``, at least one.

        Raises:
            ValueError: always, naming the first changed key with both values and the other changed keys.
        """
        key, saved, now = changes[0]
        raise ValueError(f'the checkpoint\'s stage search admitted its allocations to the FLOPs band under '
                         f'{key}={saved!r}, this run sets {key}={now!r}'
                         + (f' (and {", ".join(c[0] for c in changes[1:])})' if changes[1:] else '') +
                         ': its allocations, choice and reported FLOPs would stand against counts or a band '
                         'centre other than this run\'s. Resume '
                         'with the checkpoint\'s setting, or start a new search from its weights with load_from')

    def _band_setting_changes(self, state: dict) -> list[tuple[str, object, object]]:
        """``(config key, checkpoint's value, this run's value)`` for the FLOPs band's centre and half-width
        (``train_cfg.reference_allocation``, ``train_cfg.flops_tolerance``) and the ``train_cfg.stage_space`` the
        checkpoint's run set otherwise (each compared where the checkpoint saved it)."""
        changes = []
        scoring = state.get('scoring') or {}
        reference = scoring.get('train_cfg.reference_allocation')
        if reference is not None and list(reference) != list(self.reference_allocation):
            # the band was centred on another allocation's FLOPs (the counts, keyed by allocation, stay valid)
            changes.append(('train_cfg.reference_allocation', list(reference), list(self.reference_allocation)))
        tolerance = scoring.get('train_cfg.flops_tolerance')
        if tolerance is not None and float(tolerance) != self.flops_tolerance:
            # the band had another width: it held other allocations than this run's band holds
            changes.append(('train_cfg.flops_tolerance', float(tolerance), self.flops_tolerance))
        space = state.get('stage_space')
        if space is not None and plain_config(space) != self._stage_space_cfg:
            changes.append(('train_cfg.stage_space', space, self._stage_space_cfg))
        return changes

    def _band_of_counts(self, state: dict) -> list[list[int]] | None:
        """The allocations (stage blocks, sorted) of the FLOPs band a checkpoint written before ``band_allocations``
        was saved trained its stage supernet on, told from its own counts (``flops``, keyed by stage-space path:
        the stage supernet's start counted every allocation of the space) with its ``reference_allocation`` and
        ``flops_tolerance`` (this run's where it saved none); ``None`` where a count is missing (it cannot tell).
        The stage space is this run's: its paths are the checkpoint's (the stage pool refuses another space)."""
        counts = {tuple(k): float(v) for k, v in state.get('flops') or []}
        scoring = state.get('scoring') or {}
        try:
            reference = self.stage_space.path_of(tuple(scoring.get('train_cfg.reference_allocation')
                                                        or self.reference_allocation))
        except ValueError:
            return None
        tolerance = float(scoring.get('train_cfg.flops_tolerance', self.flops_tolerance))
        paths = list(self.stage_space.completions(()))
        if reference not in counts or any(path not in counts for path in paths):
            return None
        low, high = counts[reference] * (1 - tolerance), counts[reference] * (1 + tolerance)
        return sorted(list(self.stage_space.values(path)) for path in paths if low <= counts[path] <= high)

    def check_resumed_band(self, band: list[list[int]]) -> None:
        """Refuse a resume in or after phase 1 (the stage supernet trained, its stage search not begun) whose FLOPs
        band holds other allocations than the checkpoint's: the supernet trained its first iterations on the
        checkpoint's band and would train the rest (and the stage search score) on this run's, e.g. all 6 digits
        CR-ResNet allocations up to iteration 1 and 2 of them after it, under another ``flops_tolerance``. A setting
        that leaves the band's allocations as they were (another ``flops_input_shape`` that keeps every ResNet
        allocation within 5 %) resumes, its FLOPs counted again. A checkpoint written before the band's allocations
        were saved (the forty-seventh session) has its band told from its own FLOPs counts and band settings
        (:meth:`_band_of_counts`); where it cannot be told (a count missing) it is refused for any change of a band
        setting.

        Args:
            band: This run's band: the allocations (stage blocks) within it, sorted.

        Raises:
            ValueError: naming each band setting the checkpoint's run set otherwise (config key, checkpoint's value,
                this run's value) and the allocations gained and lost.
        """
        self.band_allocations = band
        if self._iter == 0 or (self._saved_band is None and not self._band_changes):
            return  # nothing trained yet, or a checkpoint without the band and nothing changed
        saved = sorted(list(a) for a in self._saved_band) if self._saved_band is not None else None
        if saved == band:
            return
        settings = '; '.join(f'{key}={old!r} in the checkpoint, this run sets {key}={new!r}'
                             for key, old, new in self._band_changes) or \
            'no band setting differs (the FLOPs counted otherwise, e.g. by another counter)'
        if saved is None:
            held = 'its FLOPs band (the checkpoint, written before the band\'s allocations were saved, cannot tell ' \
                'which)'
        else:
            gained = [a for a in band if a not in saved]
            lost = [a for a in saved if a not in band]
            held = (f'the {len(saved)} allocations of its FLOPs band, this run\'s band holds {len(band)} ('
                    + ', '.join(f'{len(v)} {what}, e.g. {v[0]}' for v, what in (
                        (gained, 'never trained so far'), (lost, 'trained and no longer searched')) if v) + ')')
        raise ValueError(f'the checkpoint\'s stage supernet trained iterations 0 to {self._iter} on {held}: '
                         f'{settings}. The supernet would train on, and the stage search score, another set of '
                         'allocations than it trained on so far. Resume with the checkpoint\'s settings, or start a '
                         'new search from its weights with load_from')

    def check_chosen_allocation(self, path: tuple) -> None:
        """Refuse a stage search's choice outside the FLOPs band: a resumed stage search that ended before the band
        (an upper bound until the forty-fifth session) may have chosen an allocation cheaper than the reference
        by more than ``flops_tolerance``, which the spatial search and the export would carry on as a reallocation
        of the reference's computation.

        Raises:
            ValueError: naming the allocation, its FLOPs, the band and ``train_cfg.flops_tolerance``.
        """
        if self.within_band(path):
            return
        low, high = self.flops_band()
        flops, reference = self.allocation_flops(path), self.allocation_flops(self.reference_path)
        raise ValueError(f'the stage search chose stage_blocks={self.stage_space.values(path)} at {flops / 1e9:.4f} '
                         f'GFLOPs ({flops / reference - 1:+.2%} of reference_allocation {self.reference_allocation}), '
                         f'outside the FLOPs band {low / 1e9:.4f} to {high / 1e9:.4f} GFLOPs of '
                         f'train_cfg.flops_tolerance={self.flops_tolerance}: the checkpoint\'s stage search ran '
                         'before the band (an upper bound then); start a new search, or from its weights with '
                         'load_from')


def saved_under_this_runs_keys(held, saved: dict, now: dict) -> tuple[dict, dict[str, str]]:
    """``saved`` (a checkpoint's :meth:`~automl_mm.nas.loop.SearchLoopBase.scoring_settings`) with its search loader
    and search metrics under the keys this run reads them from (``now``), and ``{this run's key: the checkpoint's
    key}`` for those renamed. The search split is read from ``train_cfg.search_dataloader``, else a top-level
    ``search_dataloader`` / ``reward_dataloader`` (its metrics alike: :func:`~automl_mm.engine.evaluate.held_out_keys`),
    and saved under the key it was read from: a resume that moved it from one of these keys to another compared
    neither (each key in one of the two settings only), so another split passed. ``held``: the loop's
    :class:`~automl_mm.engine.evaluate.HeldOutEvaluator` (``None``: ``saved`` as it is)."""
    saved, renamed = dict(saved), {}
    if held is None:
        return saved, renamed
    for keys in ((held.dataloader_key, *held.loader_keys), (held.evaluator_key, *held.evaluator_keys)):
        ours = [key for key in keys if key in now]
        theirs = [key for key in keys if key in saved]
        if len(ours) == 1 and len(theirs) == 1 and ours != theirs:
            saved[ours[0]] = saved.pop(theirs[0])
            renamed[ours[0]] = theirs[0]
    return saved, renamed


def _setting_note(key: str, settings: dict, saved: object = None, pools: list | None = None) -> str:
    """Why a scoring setting that is not a config key changes a score, for the refusal of
    :meth:`SearchResumeChecks.check_resumed_scoring` (``''`` for a config key). For :data:`~automl_mm.nas.scoring_setup.
    BN_POOL_RANKS`, ``pools`` are the checkpoint's and this run's ``(items kept, items of the set)``
    (:meth:`~automl_mm.nas.loop.SearchLoopBase.bn_pool_items`), named where known."""
    from .scoring_setup import BN_POOL_RANKS

    if key != BN_POOL_RANKS:
        return ''
    per_epoch = (settings.get('train_dataloader') or {}).get('num_batch_per_epoch')
    counts = ''
    if pools and all(pool is not None for pool in pools):
        counts = ': ' + ', '.join(f'on {ranks} rank{"s" if ranks != 1 else ""} '
                                  + (f'all {total}' if kept == total else f'{kept} of its {total} items')
                                  for ranks, (kept, total) in zip((saved, settings[key]), pools))
    return (f' (train_dataloader.num_batch_per_epoch={per_epoch} keeps {per_epoch} × batch_size × world size items '
            f'of the training set, as mmengine slices it{counts}; the images BN re-estimation draws its batches '
            'from for every candidate: on another number of ranks they are other images unless the slice holds '
            'the whole set on both)')
