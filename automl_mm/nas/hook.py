"""``PathSamplingHook``: single-path supernet training under any mmengine train loop.

Before every training iteration the hook draws a path with its sampler, from a generator seeded by
``(seed, iteration)`` so that every rank runs the same path without communication, and applies it to the supernet
inside the model (``sampler.sample_at(seed, iteration)``). A sampler that trains m paths per optimiser update
(``FairPathSampler``, FairNAS's strict fairness) needs ``optim_wrapper.accumulative_counts=m``, checked before
training. Validation and test run a fixed path (``val_path``, default: the path in place before training,
recorded then and re-applied before every validation and test epoch).
"""
from __future__ import annotations

from collections.abc import Sequence

from mmengine.dist import get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.optim import OptimWrapperDict

from automl_mm.engine.data_fingerprint import _resumed_file
from automl_mm.engine.hooks import periodic_saves
from automl_mm.engine.rank_agreement import check_ranks_loaded_alike
from automl_mm.engine.rank_failures import stopping_together
from automl_mm.engine.run_info import is_resume, naming_hook_in_config, run_seed
from automl_mm.registry import HOOKS
from automl_mm.utils.seeding import as_seed, resumed_seed

from .base import build_path_sampler, build_path_space, drawn_path, with_default_type


@HOOKS.register_module()
class PathSamplingHook(Hook):
    """Sample a supernet path per training iteration (uniform by default; any registered sampler).

    Args:
        space: Path space config, e.g. ``dict(type='StageAllocationSpace', stage_choices=..., total_blocks=16)``
            or ``dict(type='DilationSpace', choices=(1, 2, 3))``.
        sampler: Sampler config; its ``space`` is set to the space (one written in this config is refused), e.g.
            ``dict(type='FairPathSampler')`` with ``optim_wrapper.accumulative_counts`` = its ``paths_per_update``.
        val_path: The path validated (and tested) with; ``None``: the path the supernet runs when training starts
            (recorded in ``before_train``, i.e. the model's as-built or as-configured path), not the last sampled.
            Either must be a valid path of the space (checked in ``before_train``; ``ValueError`` naming it).
        seed: Sampling seed; defaults to the runner's seed. Saved in checkpoints (``checkpoint['path_sampling']``):
            a resume continues with the checkpoint's seed, and refuses a configured seed that differs from it. A
            resume of several ranks whose checkpoints held other seeds or iterations (a node's stale copy) is
            refused on every rank (``RuntimeError`` naming each rank's checkpoint file): their paths would differ.

    Raises:
        ValueError: a ``space`` or ``sampler`` config whose values are refused (named by its key), a ``sampler``
            config with its own ``space``, a ``val_path`` that is not a list of option indices, a bad ``seed``; before
            training, a second ``PathSamplingHook`` in the run (their draws would be tied: :meth:`_check_alone`).
        TypeError: a ``space`` that is not a path space or a ``sampler`` that is not a path sampler.
        KeyError: an unregistered ``type`` (mmengine's registry error).

    Examples:
        >>> hook = PathSamplingHook(space=dict(type='DilationSpace', choices=(1, 2, 3)))
        >>> type(hook.sampler).__name__
        'UniformPathSampler'
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, space: dict, sampler: dict | None = None, val_path: Sequence[int] | None = None,
                 seed: int | None = None) -> None:
        self.space = build_path_space(space, 'PathSamplingHook.space')
        self.sampler = build_path_sampler(with_default_type(sampler, 'UniformPathSampler'), 'PathSamplingHook.sampler',
                                          'PathSamplingHook.space')
        self.sampler.space = self.space
        if val_path is not None and (isinstance(val_path, (str, bytes)) or not isinstance(val_path, Sequence)):
            # val_path=2 failed in tuple() naming no key
            raise ValueError(f'PathSamplingHook.val_path must be None or a path (a list of option indices), got '
                             f'{val_path!r}')
        self.val_path = None if val_path is None else tuple(val_path)
        self.seed = as_seed(seed, 'PathSamplingHook.seed', allow_none=True)
        self._configured_seed = self.seed
        self.last_path: tuple | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['path_sampling'] = dict(seed=self.seed)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # every later path derives from (seed, iteration): a resume must draw them from the saved run's seed
        state = checkpoint.get('path_sampling')
        if not is_resume(runner):
            return
        # each rank reads its own checkpoint file (node-local work_dirs): a refusal on one rank alone left the others
        # waiting in the next collective until the process group's timeout; now every rank stops here
        with stopping_together('PathSamplingHook: the resumed checkpoint\'s seed'):
            # a checkpoint of a run with two hooks (written before they were refused): the seed check below read
            # the other hook's seed first and refused in its words; the clearer refusal comes first (config only)
            self._check_alone(runner)
            if state is not None and state.get('seed') is not None:
                with naming_hook_in_config(runner, self):
                    self.seed = resumed_seed(state['seed'], self._configured_seed, 'PathSamplingHook.seed')
        # each rank loaded its own copy of the checkpoint: one whose copy held another seed or iteration (a node's
        # stale copy) drew other paths than the others from then on, so DDP averaged gradients of different networks
        if get_world_size() > 1:
            iteration = (checkpoint.get('meta') or {}).get('iter')
            check_ranks_loaded_alike('PathSamplingHook', dict(seed=self.seed, iteration=iteration),
                                     _resumed_file(runner), f'iteration {iteration}, seed {self.seed}')

    def before_train(self, runner) -> None:
        self._check_alone(runner)
        self.space.bind(runner.model)
        if self.seed is None:
            self.seed = run_seed(runner)  # rank 0's: every rank must train the same path
        self._check_accumulation(runner)
        key = 'PathSamplingHook.val_path'
        try:
            if self.val_path is not None:
                self.val_path = self.space.check_path(self.val_path)
            else:
                key += ' (unset: the path the supernet runs when training starts)'
                self.val_path = self.space.current_path(runner.model)
        except ValueError as err:
            raise ValueError(f'{key}: {err}') from None
        if not self.space.is_valid(self.val_path):
            # a constrained space (StageAllocationSpace's total_blocks): validation and test ran a network the
            # space does not hold, e.g. a supernet built at max_stage_blocks with every block active
            raise ValueError(f'{key} = {self.val_path} (values {self.space.values(self.val_path)}) is not a path of '
                             f'{type(self.space).__name__} (e.g. another total_blocks): validation and test would run '
                             'a network outside the searched space; give a val_path of the space (or build the '
                             'supernet at one, e.g. model.backbone.stage_blocks)')

    def _check_alone(self, runner) -> None:
        """Refuse a second ``PathSamplingHook`` in the run (e.g. one per space of a CR supernet: its allocation and
        its dilations). Each hook draws iteration i's path from ``path_rng(seed, i)`` and both default to the run's
        seed, so their draws were tied: the first block's dilation was a function of the allocation drawn (the same
        uniform number scaled to 19 allocations and to 3 dilations: allocations with 1 block in stage 1 always
        trained it at dilation 1), silently; and both write their seed to one checkpoint record
        (``checkpoint['path_sampling']``), so a resume read the last writer's for both.

        Raises:
            ValueError: naming the hooks' ``custom_hooks`` entries (else, where not every hook is one, how many the
                runner holds) and spaces.
        """
        hooks = [h for h in getattr(runner, 'hooks', None) or [] if isinstance(h, PathSamplingHook)]
        if len(hooks) < 2:
            return
        from automl_mm.engine.run_info import run_config
        from automl_mm.utils.scope import config_type_name

        entries = (run_config(runner) or {}).get('custom_hooks') or []
        found = [f'custom_hooks[{i}]' for i, entry in enumerate(entries)  # configs, or the hooks given built
                 if config_type_name(entry) == 'PathSamplingHook' or any(entry is h for h in hooks)]
        where = ' and '.join(found) if len(found) == len(hooks) else f'{len(hooks)} registered hooks'
        spaces = ', '.join(type(h.space).__name__ for h in hooks)
        both = 'both' if len(hooks) == 2 else 'all'
        raise ValueError(f'{where} are {both} PathSamplingHooks ({spaces}): one run takes one. Each draws the path of '
                         'iteration i from path_rng(seed, i), by default with the run\'s seed, so their draws are '
                         'tied (one space\'s choice decides the other\'s first decision), and their seeds share one '
                         "checkpoint record (checkpoint['path_sampling']). Sample one space per run, or one space of "
                         'your own whose decisions hold both (a BasePathSpace subclass, README "One-shot NAS")')

    def _check_accumulation(self, runner) -> None:
        """A sampler of m > 1 paths per update needs the optimiser to accumulate exactly m iterations, in whole
        blocks (mmengine's ``accumulative_counts``; see ``FairPathSampler``)."""
        m = int(self.sampler.paths_per_update)
        if m == 1:
            return
        name = type(self.sampler).__name__
        wrapper = getattr(runner, 'optim_wrapper', None)
        wrappers = list(wrapper.values()) if isinstance(wrapper, OptimWrapperDict) else [wrapper]
        counts = {getattr(w, '_accumulative_counts', 1) for w in wrappers}  # OptimWrapper keeps it private
        if counts != {m}:
            raise ValueError(f'PathSamplingHook: {name} trains {m} paths per optimiser update; set '
                             f'optim_wrapper.accumulative_counts={m} (got {sorted(counts)})')
        max_iters = getattr(runner, 'max_iters', None)
        if max_iters is not None and max_iters % m:
            raise ValueError(f'PathSamplingHook: {name} updates once per {m} iterations; train_cfg.max_iters='
                             f'{max_iters} is not a multiple of {m}')
        for hook in getattr(runner, 'hooks', []):
            if not isinstance(hook, CheckpointHook) or hook.interval <= 0:
                continue
            unit = len(runner.train_dataloader) if hook.by_epoch else 1  # iterations per schedule step
            # the periodic saves before the end (unknown length: enough of them), of which the first m cover every
            # residue of their iteration modulo m
            last = (max_iters - 1) // unit + 1 if max_iters is not None else hook.save_begin + hook.interval * (m + 1)
            step = next((s for s in periodic_saves(hook, last)[:m] if s * unit % m), None)
            if step is None:
                continue
            given = f'interval={hook.interval}' + (f', save_begin={hook.save_begin}' if hook.save_begin else '')
            if hook.by_epoch:
                raise ValueError(f'PathSamplingHook: {name} updates once per {m} iterations; '
                                 f'default_hooks.checkpoint.{given} (by epoch, {unit} iterations per epoch) saves '
                                 f'after {step * unit} iterations, inside an update, and a resume would lose its '
                                 'accumulated gradients: make interval x the iterations per epoch (and save_begin x '
                                 f'them) a multiple of {m} (e.g. batch_size or the dataset size)')
            raise ValueError(f'PathSamplingHook: {name} updates once per {m} iterations; '
                             f'default_hooks.checkpoint.{given} (by iteration) would save '
                             + (f'after iteration {step}, ' if hook.save_begin else '')
                             + 'inside an update, and a resume would lose its accumulated gradients: make it'
                             + (' (and save_begin)' if hook.save_begin else '') + f' a multiple of {m}')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.last_path = drawn_path(self.sampler, self.sampler.sample_at(self.seed, runner.iter),
                                    'PathSamplingHook.sampler')
        self.space.apply(self.last_path, runner.model)

    def before_val_epoch(self, runner) -> None:
        if self.val_path is not None:
            self.space.apply(self.val_path, runner.model)

    def before_test_epoch(self, runner) -> None:
        self.before_val_epoch(runner)
