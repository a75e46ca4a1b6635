"""Path samplers: uniform over a space's valid paths, restricted to a pool of partial architectures, and FairNAS's
strict fairness (every operator once per update).

Every rank must run the same path at each iteration. Rather than broadcasting, samplers draw from a generator
seeded by ``(seed, iteration)`` (:func:`path_rng`): identical on every rank, reproducible after ``--resume``, and
free of communication.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from automl_mm.registry import SAMPLERS
from automl_mm.utils.checks import as_count
from automl_mm.utils.scope import type_name

from .base import BasePathSampler, BasePathSpace, index_path

#: Default ``enumerate_limit``: prefixes with up to this many completions are sampled exactly by enumeration.
_ENUMERATE_LIMIT = 100_000
#: Enumerated prefixes kept in a sampler's cache (bounds its memory: each list holds up to the limit's paths).
_CACHED_PREFIXES = 4


def path_rng(*keys: int) -> np.random.Generator:
    """A generator determined by integer ``keys`` only (e.g. seed, iteration): the same on every rank."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


@SAMPLERS.register_module()
class UniformPathSampler(BasePathSampler):
    """Uniform over the valid completions of a prefix (the single-path one-shot sampler).

    Independent spaces draw each decision uniformly; a completion that must also pass ``accept`` (a latency or
    FLOPs limit) is redrawn until admitted (see :meth:`complete`). Constrained spaces (e.g. a fixed total block
    count) draw uniformly among their valid (and admitted) completions: by enumeration when there are at most
    ``enumerate_limit``, else by rejection with a budget of ``max_tries`` draws.

    Args:
        space: The path space (set by the loop or hook that owns the sampler when built from a config).
        max_tries: Rejection attempts before giving up on a constrained or cost-limited draw that cannot be
            enumerated.
        enumerate_limit: Prefixes with at most this many valid completions are sampled exactly by enumeration.

    Raises:
        ValueError: ``max_tries`` not an int >= 1 or ``enumerate_limit`` not an int >= 0 (0: always rejection).

    Examples:
        >>> from automl_mm.nas.spaces import StageAllocationSpace
        >>> sampler = UniformPathSampler(StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8))
        >>> sum(sampler.space.values(sampler.sample(path_rng(0, 1))))
        8
    """

    def __init__(self, space: BasePathSpace | None = None, max_tries: int = 10_000,
                 enumerate_limit: int = _ENUMERATE_LIMIT) -> None:
        max_tries = as_count(max_tries, f'{type(self).__name__}.max_tries', 1)  # 2.5 was read as 2
        enumerate_limit = as_count(enumerate_limit, f'{type(self).__name__}.enumerate_limit')
        super().__init__(space)
        self.max_tries = max_tries
        self.enumerate_limit = enumerate_limit
        self._admitted: OrderedDict[tuple, list[tuple[int, ...]] | None] = OrderedDict()

    def _space(self) -> BasePathSpace:
        if self.space is None or not self.space.num_decisions:
            raise ValueError(f'{type(self).__name__} has no bound space; set sampler.space (loops and '
                             'PathSamplingHook do this from their `space` config)')
        return self.space

    def _num_free_combinations(self, prefix: tuple[int, ...]) -> int:
        """Product of the undecided decisions' option counts, capped just above ``enumerate_limit``."""
        space = self._space()
        n = 1
        for i in range(len(prefix), space.num_decisions):
            n *= space.num_options(i)
            if n > self.enumerate_limit:
                break
        return n

    def admitted_completions(self, prefix: Sequence[int],
                             accept: Callable[[tuple[int, ...]], bool] | None = None) -> list[tuple[int, ...]] | None:
        """Every valid completion of ``prefix`` that ``accept`` admits, in lexicographic order.

        The last few lists are cached (a candidate's samples share its prefix; a pool's prefixes recur).

        Returns:
            The list (empty when no completion is admitted), or ``None`` when the prefix has more than
            ``enumerate_limit`` valid completions (then only rejection sampling can draw from them).
        """
        space = self._space()
        prefix = space.check_path(prefix, partial=True)
        key = (prefix, accept)
        if key in self._admitted:
            self._admitted.move_to_end(key)
            return self._admitted[key]
        found: list[tuple[int, ...]] | None = []
        if space.independent and self._num_free_combinations(prefix) > self.enumerate_limit:
            found = None
        else:
            for count, path in enumerate(space.completions(prefix, limit=self.enumerate_limit + 1), 1):
                if count > self.enumerate_limit:
                    found = None
                    break
                if accept is None or accept(path):
                    found.append(path)
        self._admitted[key] = found
        while len(self._admitted) > _CACHED_PREFIXES:
            self._admitted.popitem(last=False)
        return found

    def complete(self, prefix: Sequence[int], generator: np.random.Generator,
                 accept: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[int, ...] | None:
        """A uniformly drawn valid completion of ``prefix`` that ``accept`` (e.g. a latency limit) admits.

        Independent spaces draw the undecided decisions uniformly and, with ``accept``, redraw until a completion
        is admitted (rejection: exactly uniform over the admitted completions; after ``max_tries`` rejected draws,
        one draw from the enumerated admitted completions where they can be listed). The draws do not depend on
        the prefix, so prefixes of the same length given generators in the same state draw the same tails and
        each keeps the first it admits: common random numbers across the candidates of a search step, with or
        without a cost limit (two candidates whose admitted completions share a tail get the same tail).
        Constrained spaces draw from the enumerated valid (and admitted) completions where they can be listed,
        otherwise by rejection.

        Returns:
            The full path, or ``None`` when no admitted completion exists (enumerated) or none was found in
            ``max_tries`` rejection draws (see :meth:`admitted_completions` to tell the two apart).
        """
        space = self._space()
        prefix = space.check_path(prefix, partial=True)
        if not space.can_complete(prefix):
            return None
        free = range(len(prefix), space.num_decisions)

        def draw() -> tuple[int, ...]:  # a uniform tail over the undecided decisions, whatever the prefix
            return prefix + tuple(int(generator.integers(space.num_options(i))) for i in free)

        def pick(choices: list) -> tuple[int, ...] | None:
            return choices[int(generator.integers(len(choices)))] if choices else None

        if space.independent and accept is None:
            return draw()
        choices = self.admitted_completions(prefix, accept)
        if not space.independent and choices is not None:
            return pick(choices)
        if choices == []:
            return None
        # independent spaces under a limit first (common random numbers), constrained ones past enumerate_limit
        for _ in range(self.max_tries):
            path = draw()
            if (space.independent or space.is_valid(path)) and (accept is None or accept(path)):
                return path
        return pick(choices) if choices else None

    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        path = self.complete((), generator if generator is not None else np.random.default_rng())
        if path is None:
            raise RuntimeError(f'{type(self).__name__}: no valid path found in {self.max_tries} draws '
                               '(raise max_tries or enumerate_limit)')
        return path


@SAMPLERS.register_module()
class PoolPathSampler(UniformPathSampler):
    """A prefix drawn uniformly from a pool of partial architectures, the rest uniformly (PC-NAS training).

    With an empty pool (or a pool of the empty prefix) it is the uniform sampler.

    Args:
        space: The path space.
        pool: Partial paths, all of the same length.
        max_tries: As for :class:`UniformPathSampler`.
        enumerate_limit: As for :class:`UniformPathSampler`.

    Raises:
        ValueError: ``pool`` not a list of paths of option indices of one length; ``max_tries`` or
            ``enumerate_limit`` as for :class:`UniformPathSampler`.

    Examples:
        >>> from automl_mm.nas.spaces import LayerwiseSpace
        >>> sampler = PoolPathSampler(LayerwiseSpace([[0, 1, 2]] * 3), pool=[(2,), (1,)])
        >>> sampler.sample(path_rng(0, 5))[0] in (1, 2)
        True
    """

    def __init__(self, space: BasePathSpace | None = None, pool: Sequence[Sequence[int]] = (),
                 max_tries: int = 10_000, enumerate_limit: int = _ENUMERATE_LIMIT) -> None:
        super().__init__(space, max_tries, enumerate_limit)
        self.set_pool(pool)

    def set_pool(self, pool: Sequence[Sequence[int]]) -> None:
        if isinstance(pool, (str, bytes)) or not isinstance(pool, Sequence) \
                or any(isinstance(p, (str, bytes)) or not isinstance(p, Sequence) for p in pool):
            # pool=5 failed in iteration naming no key
            raise ValueError(f'PoolPathSampler: pool must be a list of partial paths (lists of option indices), '
                             f'got {pool!r}')
        pool = [index_path(p, 'PoolPathSampler.set_pool') for p in pool] or [()]
        if len({len(p) for p in pool}) != 1:
            raise ValueError(f'PoolPathSampler: pool entries must fix the same number of decisions, got {pool}')
        self.pool = pool

    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        generator = generator if generator is not None else np.random.default_rng()
        prefix = self.pool[int(generator.integers(len(self.pool)))]
        path = self.complete(prefix, generator)
        if path is None:
            raise RuntimeError(f'PoolPathSampler: pool entry {prefix} has no valid completion')
        return path

    def state_dict(self) -> dict:
        return {'pool': [list(p) for p in self.pool]}

    def load_state_dict(self, state: dict) -> None:
        self.set_pool(state['pool'])


@SAMPLERS.register_module()
class FairPathSampler(UniformPathSampler):
    """FairNAS's strict fairness: every operator of every layer trained exactly once per optimiser update.

    Chu et al., *FairNAS: Rethinking Evaluation Fairness of Weight Sharing Neural Architecture Search*, ICCV 2021,
    Algorithm 1: per update, each layer draws a random permutation of its m candidate operators; the m paths the
    permutations form (path k takes the k-th operator of every layer) are trained, their gradients accumulated,
    and the parameters updated once.

    Here the m paths of an update are spread over m consecutive training iterations, one path per iteration,
    and the gradients are accumulated by mmengine: ``optim_wrapper=dict(type='OptimWrapper',
    accumulative_counts=m)`` steps the optimiser after iterations b·m + m - 1 only (mmengine counts from the
    absolute iteration, also on resume), so block b = iterations b·m ... b·m + m - 1 is one update.
    ``PathSamplingHook`` refuses a ``FairPathSampler`` without that setting, a run whose ``max_iters`` is not a
    multiple of m, and iteration checkpoints every n iterations with n not a multiple of m (a resume inside a
    block would lose the block's accumulated gradients). Relation to
    the paper's step:

    * each path of a block sees its own batch (the paper gives all m paths one batch): at equal iterations x batch
      size the supernet sees the same images as a single-path (SPOS) supernet; the accumulated gradient has the
      same expectation over batches, and every operator still gets exactly one path's gradient per update;
    * mmengine *averages* the m gradients (loss / m) where the paper *sums* them. With SGD, summing under
      (lr, weight decay) is exactly averaging under (m·lr, weight decay / m) (momentum buffers scale by 1 / m,
      updates are identical): :func:`fair_sum_accumulation` rewrites an SGD config so. Summing gives every mixed
      operator the step size it gets under SPOS (where it is drawn in 1 of m iterations) and the shared layers
      the same total step as SPOS over the same iterations.

    Block b's permutations are drawn from ``path_rng(seed, b·m)`` (the generator of the block's first
    iteration): every rank runs the same path, and a resumed run draws what an uninterrupted one drew. A layer
    with n < m candidates concatenates ceil(m / n) independent permutations of its own and keeps the first m
    entries (each of its operators is drawn floor(m / n) or ceil(m / n) times per block). Strict fairness is
    defined for layer-wise independent spaces (``LayerwiseSpace``, ``DilationSpace``); on a constrained space
    (``StageAllocationSpace``) :meth:`sample_at` and :attr:`paths_per_update` raise. ``sample`` and ``complete``
    (one path, e.g. a scored completion) are the uniform sampler's: a single path of a block is uniform per layer.

    Args:
        space: The path space.
        max_tries: As for :class:`UniformPathSampler` (``sample`` / ``complete`` on constrained spaces).
        enumerate_limit: As for :class:`UniformPathSampler`.

    Examples:
        >>> from automl_mm.nas.spaces import LayerwiseSpace
        >>> sampler = FairPathSampler(LayerwiseSpace([['k3', 'k5', 'skip'], ['k3', 'skip']]))
        >>> block = [sampler.sample_at(0, it) for it in range(3)]  # iterations 0, 1, 2: one update
        >>> sorted(p[0] for p in block), sampler.paths_per_update
        ([0, 1, 2], 3)
    """

    def _fair_space(self) -> BasePathSpace:
        space = self._space()
        if not space.independent:
            raise ValueError(f'FairPathSampler: strict fairness needs a space whose decisions are independent; '
                             f'{type(space).__name__} constrains them (use UniformPathSampler)')
        return space

    @property
    def paths_per_update(self) -> int:  # type: ignore[override]
        """m: the largest number of candidates of any layer (paths, and iterations, per optimiser update)."""
        space = self._fair_space()
        return max(space.num_options(i) for i in range(space.num_decisions))

    def block(self, seed: int, block: int) -> list[tuple[int, ...]]:
        """The m paths of update ``block`` (iterations ``block·m`` ... ``block·m + m - 1``), in iteration order.

        Returns:
            m full paths; over them every option of a layer with m options appears exactly once.
        """
        space = self._fair_space()
        m = self.paths_per_update
        generator = path_rng(seed, block * m)
        columns = []
        for i in range(space.num_decisions):
            n = space.num_options(i)
            order: list[int] = []
            while len(order) < m:
                order.extend(int(j) for j in generator.permutation(n))
            columns.append(order[:m])
        return [tuple(column[k] for column in columns) for k in range(m)]

    def sample_at(self, seed: int, iteration: int) -> tuple[int, ...]:
        """The path of training iteration ``iteration``: entry ``iteration % m`` of block ``iteration // m``."""
        m = self.paths_per_update
        return self.block(seed, int(iteration) // m)[int(iteration) % m]


#: LR schedulers whose values are relative to the optimiser's lr, with their absolute lr fields (scaled with lr).
_LR_SCHEDULER_ABSOLUTE_FIELDS = {
    'CosineAnnealingLR': ('eta_min', ), 'PolyLR': ('eta_min', ), 'CosineRestartLR': ('eta_min', ),
    'LinearLR': (), 'ConstantLR': (), 'MultiStepLR': (), 'StepLR': (), 'ExponentialLR': ()}


def fair_sum_accumulation(optim_wrapper: dict, param_scheduler: dict | Sequence[dict] | None,
                          paths_per_update: int) -> tuple[dict, list[dict]]:
    """SGD settings under which mmengine's averaged gradient accumulation performs FairNAS's summed update.

    FairNAS (Chu et al., ICCV 2021, Algorithm 1) sums the gradients of the m paths of an update and takes one SGD
    step. ``OptimWrapper(accumulative_counts=m)`` divides each loss by m, i.e. averages. With SGD (momentum μ,
    optional Nesterov) the update of the sum under lr η and weight decay λ, v ← μv + Σg + λθ, θ ← θ − ηv, equals
    the update of the mean under lr m·η and weight decay λ / m (its buffer is v / m at every step). So this
    returns copies with ``accumulative_counts=m``, ``lr`` and every absolute lr of the schedule (``eta_min``)
    multiplied by m, and ``weight_decay`` divided by m; momentum schedules are unaffected. Gradient clipping
    (``clip_grad``: ``max_norm`` or ``clip_value``) acts on the mean, so its threshold is divided by m (clipping the
    mean at c / m is clipping the sum at c, then dividing by m).

    Args:
        optim_wrapper: The config's ``optim_wrapper`` (``OptimWrapper`` with an ``SGD`` optimizer).
        param_scheduler: The config's ``param_scheduler`` (one config or a list; ``None``: none).
        paths_per_update: m (``FairPathSampler.paths_per_update``).

    Returns:
        ``(optim_wrapper, param_scheduler)``: new configs, the scheduler as a list.

    Raises:
        ValueError: Another wrapper or optimiser than ``OptimWrapper`` / ``SGD``, no ``lr``, an
            ``accumulative_counts`` already set, a ``clip_grad`` without ``max_norm`` / ``clip_value``, or an lr
            scheduler whose absolute values are not known here; the message names the key.
    """
    m = int(paths_per_update)
    if m < 1:
        raise ValueError(f'paths_per_update must be >= 1, got {paths_per_update}')
    wrapper = copy.deepcopy(dict(optim_wrapper))
    if type_name(wrapper.get('type', 'OptimWrapper')) != 'OptimWrapper':
        raise ValueError(f'optim_wrapper.type must be OptimWrapper for summed accumulation, got {wrapper["type"]!r}')
    optimizer = dict(wrapper.get('optimizer') or {})
    if type_name(optimizer.get('type')) != 'SGD':
        raise ValueError(f'optim_wrapper.optimizer.type must be SGD (the lr / weight-decay equivalence is SGD\'s), '
                         f'got {optimizer.get("type")!r}')
    if wrapper.get('accumulative_counts', 1) != 1:
        raise ValueError(f'optim_wrapper.accumulative_counts is already {wrapper["accumulative_counts"]}; give the '
                         'config of one path per update')
    if not isinstance(optimizer.get('lr'), (int, float)):
        raise ValueError(f'optim_wrapper.optimizer.lr must be a number for summed accumulation, got '
                         f'{optimizer.get("lr")!r}')
    optimizer['lr'] = optimizer['lr'] * m
    clip = wrapper.get('clip_grad')
    if clip:
        clip = dict(clip)
        keys = [k for k in ('max_norm', 'clip_value') if k in clip]
        if not keys:
            raise ValueError(f'optim_wrapper.clip_grad={clip!r} has neither max_norm nor clip_value; summed '
                             'accumulation cannot rescale it')
        for key in keys:
            clip[key] = clip[key] / m
        wrapper['clip_grad'] = clip
    if optimizer.get('weight_decay'):
        optimizer['weight_decay'] = optimizer['weight_decay'] / m
    wrapper.update(optimizer=optimizer, accumulative_counts=m)
    schedulers = [] if param_scheduler is None else \
        [param_scheduler] if isinstance(param_scheduler, dict) else list(param_scheduler)
    out = []
    for i, scheduler in enumerate(schedulers):
        scheduler = copy.deepcopy(dict(scheduler))
        kind = type_name(scheduler.get('type'))
        if kind.endswith('Momentum'):
            out.append(scheduler)
            continue
        if kind not in _LR_SCHEDULER_ABSOLUTE_FIELDS:
            raise ValueError(f'param_scheduler[{i}].type={kind!r}: its lr values for summed accumulation are not '
                             f'known here (known: {sorted(_LR_SCHEDULER_ABSOLUTE_FIELDS)} and momentum schedulers)')
        for key in _LR_SCHEDULER_ABSOLUTE_FIELDS[kind]:
            if scheduler.get(key):
                scheduler[key] = scheduler[key] * m
        out.append(scheduler)
    return wrapper, out


def check_completion_sampler(sampler: object) -> UniformPathSampler:
    """``sampler`` as the sampler of scored completions (PC-NAS's warm-up and potentials, CR-NAS's spatial search):
    a :class:`UniformPathSampler`, but not a :class:`PoolPathSampler`, which is one restricted to its pool (the
    completions would come from the pool only).

    Raises:
        TypeError: naming ``train_cfg.completion_sampler`` and the type that was built.
    """
    if not isinstance(sampler, UniformPathSampler) or isinstance(sampler, PoolPathSampler):
        raise TypeError('train_cfg.completion_sampler must build a UniformPathSampler (not a pool\'s '
                        f'PoolPathSampler: it draws from the whole space), got {type(sampler).__name__}')
    return sampler


def completion_sampler_setting(sampler: UniformPathSampler) -> dict:
    """What decides the completions a potential averages (``train_cfg.completion_sampler``, as built, so an unset
    key and its default compare equal): the sampler's type, and ``enumerate_limit`` / ``max_tries`` (exact draws by
    enumeration or by rejection: other completions for the same stream). A search loop's scoring setting
    (:meth:`~automl_mm.nas.resume_checks.SearchResumeChecks.check_resumed_scoring`): a resume inside a scoring step
    under another one averaged the rest of the step's candidates over other completions and ranked them together,
    silently."""
    return {'type': type(sampler).__name__, 'enumerate_limit': sampler.enumerate_limit,
            'max_tries': sampler.max_tries}
