"""The contracts of the NAS engine: what the search loops (``PCNASLoop``, ``CRNASLoop``), ``PathSamplingHook`` and
the scoring functions call.

* :class:`BasePathSpace` (registry ``SEARCH_SPACES``): decisions with finite options, the constraint between
  them, and how a path is applied to the supernet inside a model (``LayerwiseSpace``, ``StageAllocationSpace``,
  ``DilationSpace``). Implement ``apply`` and ``current_path``; constrained spaces override ``is_valid``,
  ``can_complete`` and ``independent``.
* :class:`BasePathSampler` (registry ``SAMPLERS``): draws full paths, or completions of a prefix, from a
  ``numpy.random.Generator`` only, so every rank given the same generator draws the same path
  (``UniformPathSampler``, ``PoolPathSampler``).

Check an implementation of your own with :mod:`automl_mm.testing` (``check_path_space``, ``check_path_sampler``).
"""
from __future__ import annotations

import itertools
import operator
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from torch import nn

from automl_mm.registry import SAMPLERS, SEARCH_SPACES
from automl_mm.utils.scope import build_named


def find_supernet(model: nn.Module, methods: Sequence[str], owner: str) -> nn.Module:
    """The first submodule of ``model`` (unwrapped from model wrappers and a test-time augmentation wrapper,
    :func:`~automl_mm.engine.checkpoint.inner_model`) having every method in ``methods``."""
    from automl_mm.engine.checkpoint import inner_model

    root = inner_model(model)
    for module in root.modules():
        if all(callable(getattr(module, name, None)) for name in methods):
            return module
    raise ValueError(f'{owner} needs a supernet module with {", ".join(methods)}() inside the model '
                     f'({type(root).__name__}); is the backbone a supernet (e.g. max_stage_blocks / MBConvSupernet)?')


def check_distinct(options: Sequence[Any], where: str) -> None:
    """Raise if a decision lists one option twice: a repeated value is drawn twice as often by uniform and fair
    sampling, and scored twice by an exhaustive search (``StageAllocationSpace([[1, 2, 2, 3]] * 2, 4)`` drew
    (2, 2) two times in three)."""
    repeated = [v for k, v in enumerate(options) if v in list(options)[:k]]
    if repeated:
        raise ValueError(f'{where} lists {repeated[0]!r} more than once in {list(options)}: give each option once')


def index_path(path: Sequence[Any], owner: str) -> tuple[int, ...]:
    """``path`` as a tuple of option indices; a float, even 1.0, is refused (``int(1.7)`` read it as option 1)."""
    try:
        return tuple(operator.index(j) for j in path)
    except TypeError:
        raise ValueError(f'{owner}: a path holds option indices (ints), got {list(path)!r}') from None


def _is_list(value: Any) -> bool:
    """A sequence that is not a string (nor a dict), or a numpy array of at least one dimension: what a list of
    options or decisions is written as."""
    if isinstance(value, np.ndarray):
        return value.ndim >= 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


class BasePathSpace(metaclass=ABCMeta):
    """Decisions with finite options. Subclasses set ``self.options`` (here or in :meth:`bind`, from the supernet)
    and implement :meth:`apply` and :meth:`current_path`.

    Args:
        options: One sequence of option values per decision.

    Raises:
        ValueError: ``options`` not a list of option lists (``[3, 4]`` or ``'abc'``), a decision without options
            or with a repeated one.
    """

    #: Methods the supernet must provide for :meth:`apply`; used to find it inside the model.
    supernet_methods: tuple[str, ...] = ()
    #: The config key of ``options`` named in errors (e.g. ``'stage_choices'``).
    options_key: str = 'options'

    def __init__(self, options: Sequence[Sequence[Any]] | None = None) -> None:
        if options is not None and (not _is_list(options) or not all(_is_list(o) for o in options)):
            # [3, 4] failed in list(3) naming no key; 'abc' became the decisions ['a'], ['b'], ['c']
            raise ValueError(f'{type(self).__name__}: {self.options_key} must be one list of options per decision, '
                             f'got {options!r}')
        self.options: list[list[Any]] = [list(o) for o in options] if options is not None else []
        self._found: tuple[nn.Module, nn.Module] | None = None  # (model, its supernet): apply runs every iteration
        for i, opts in enumerate(self.options):
            if not opts:
                raise ValueError(f'{type(self).__name__}: decision {i} has no options')
            check_distinct(opts, f'{type(self).__name__}: decision {i}')

    # --- structure -----------------------------------------------------------------------------------------
    @property
    def num_decisions(self) -> int:
        return len(self.options)

    def num_options(self, decision: int) -> int:
        return len(self.options[decision])

    def values(self, path: Sequence[int]) -> list[Any]:
        """The option values a (partial) path selects."""
        return [self.options[i][j] for i, j in enumerate(path)]

    def check_path(self, path: Sequence[int], partial: bool = False) -> tuple[int, ...]:
        """``path`` as a tuple of ints, or a ``ValueError`` naming the offending decision."""
        path = index_path(path, type(self).__name__)
        if len(path) > self.num_decisions or (not partial and len(path) != self.num_decisions):
            raise ValueError(f'{type(self).__name__}: a path has {self.num_decisions} decisions, got {len(path)}')
        for i, j in enumerate(path):
            if not 0 <= j < self.num_options(i):
                raise ValueError(f'{type(self).__name__}: decision {i} has {self.num_options(i)} options, got {j}')
        return path

    # --- constraints (none by default) ------------------------------------------------------------------------
    def is_valid(self, path: Sequence[int]) -> bool:
        """Whether a full path satisfies the space's constraint. A subclass that overrides it (or
        :meth:`can_complete`) is constrained: :attr:`independent` is then ``False`` and :meth:`size` enumerates."""
        return True

    def can_complete(self, prefix: Sequence[int]) -> bool:
        """Whether some valid full path starts with ``prefix``: always for a space without constraints; for one
        whose class overrides :meth:`is_valid` alone, by trying every completion of ``prefix`` with it (exact, and
        as slow as the space is large: override it with a faster test; it used to say ``True`` for every prefix,
        a full path that ``is_valid`` refuses included)."""
        if type(self).is_valid is BasePathSpace.is_valid:
            return True
        prefix = tuple(prefix)
        rest = (range(self.num_options(i)) for i in range(len(prefix), self.num_decisions))
        return any(self.is_valid(prefix + tail) for tail in itertools.product(*rest))

    @property
    def constrained(self) -> bool:
        """Whether this class overrides :meth:`is_valid` or :meth:`can_complete` (a constraint on the paths)."""
        cls = type(self)
        return cls.is_valid is not BasePathSpace.is_valid or cls.can_complete is not BasePathSpace.can_complete

    @property
    def independent(self) -> bool:
        """True when every combination of options is valid (decisions can be sampled independently): by default,
        when the class overrides neither :meth:`is_valid` nor :meth:`can_complete` (a subclass of
        ``LayerwiseSpace`` that only added ``is_valid`` was sampled independently, so the samplers drew the paths it
        refuses and the search stopped mid-run blaming the sampler)."""
        return not self.constrained

    def completions(self, prefix: Sequence[int], limit: int | None = None) -> Iterator[tuple[int, ...]]:
        """Valid full paths extending ``prefix`` in lexicographic order (pruned by :meth:`can_complete`)."""
        prefix = tuple(prefix)
        count = 0

        def _walk(partial: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
            nonlocal count
            if limit is not None and count >= limit:
                return
            if len(partial) == self.num_decisions:
                if self.is_valid(partial):
                    count += 1
                    yield partial
                return
            for j in range(self.num_options(len(partial))):
                extended = partial + (j, )
                if self.can_complete(extended):
                    yield from _walk(extended)

        if self.can_complete(prefix):
            yield from _walk(prefix)

    def extensions(self, prefix: Sequence[int], depth: int = 1) -> list[tuple[int, ...]]:
        """Every completable extension of ``prefix`` by its next ``depth`` decisions, in lexicographic order."""
        start = len(prefix)
        depth = min(depth, self.num_decisions - start)
        out = []
        for tail in itertools.product(*(range(self.num_options(start + d)) for d in range(depth))):
            candidate = tuple(prefix) + tail
            if self.can_complete(candidate) and (len(candidate) < self.num_decisions or self.is_valid(candidate)):
                out.append(candidate)
        return out

    def size(self) -> int:
        """Number of valid full paths: the product of the option counts for an unconstrained space, else the
        valid paths counted by enumerating :meth:`completions` (a constrained space may override it with a count;
        the product used to be returned for every space that did not). The enumeration is as slow as the space is
        large (8 operators in each of 20 layers: never done): to tell whether a space holds more than one path,
        take two of :meth:`completions` instead."""
        if self.constrained:
            return sum(1 for _ in self.completions(()))
        n = 1
        for opts in self.options:
            n *= len(opts)
        return n

    # --- binding ----------------------------------------------------------------------------------------------
    def supernet(self, model: nn.Module) -> nn.Module:
        """The supernet inside ``model`` (looked up once per model)."""
        if self._found is None or self._found[0] is not model:
            self._found = (model, find_supernet(model, self.supernet_methods, type(self).__name__))
        return self._found[1]

    def bind(self, model: nn.Module) -> nn.Module:
        """Locate the supernet inside ``model``; subclasses may read their options from it."""
        return self.supernet(model)

    @abstractmethod
    def apply(self, path: Sequence[int], model: nn.Module) -> None:
        """Configure the supernet inside ``model`` to run ``path``."""

    @abstractmethod
    def current_path(self, model: nn.Module) -> tuple[int, ...]:
        """The path the supernet inside ``model`` runs now (what :meth:`apply` would have to set to restore it).

        Raises:
            ValueError: The supernet runs something this space cannot express (the message names it).
        """

    def _index_of(self, decision: int, value: Any, what: str) -> int:
        opts = self.options[decision]
        if value not in opts:
            raise ValueError(f'{type(self).__name__}: the supernet runs {what}, which is not among the options '
                             f'{opts} of decision {decision}')
        return opts.index(value)


class BasePathSampler(metaclass=ABCMeta):
    """Draws paths of :attr:`space` from a ``numpy.random.Generator`` only (no global state, no communication).

    The owner (a loop or ``PathSamplingHook``) sets :attr:`space` after building the sampler from its config.
    Deterministic given the generator's state: ranks seeded alike (``path_rng(seed, iteration)``) run the same
    path, and a resumed run draws what an uninterrupted one drew.

    Args:
        space: The path space, or ``None`` until the owner sets it.
    """

    #: Paths trained per optimiser update: 1 for single-path samplers; FairNAS's strict fairness trains m
    #: (``FairPathSampler``), and ``PathSamplingHook`` then requires ``optim_wrapper.accumulative_counts=m``.
    paths_per_update: int = 1

    def __init__(self, space: BasePathSpace | None = None) -> None:
        self.space = space

    def sample_at(self, seed: int, iteration: int) -> tuple[int, ...]:
        """The path of training iteration ``iteration`` (what ``PathSamplingHook`` runs): by default
        ``sample(path_rng(seed, iteration))``. Samplers whose draws are tied across iterations (FairNAS's blocks of
        m iterations, ``FairPathSampler``) override it; it must depend on ``(seed, iteration)`` only."""
        from .samplers import path_rng  # samplers imports this module

        return self.sample(path_rng(seed, iteration))

    @abstractmethod
    def complete(self, prefix: Sequence[int], generator: np.random.Generator,
                 accept: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[int, ...] | None:
        """A valid full path starting with ``prefix`` that ``accept`` admits, or ``None`` when none was found."""

    @abstractmethod
    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        """One valid full path.

        Raises:
            RuntimeError: No valid path could be drawn.
        """

    def admitted_completions(self, prefix: Sequence[int],
                             accept: Callable[[tuple[int, ...]], bool] | None = None) -> list[tuple[int, ...]] | None:
        """Every valid completion of ``prefix`` admitted by ``accept``, or ``None`` when they are not enumerated."""
        return None

    def state_dict(self) -> dict:
        """Everything needed to restore the sampler exactly (e.g. PC-NAS's pool); ``{}`` when stateless."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027  (stateless samplers need nothing)
        """Inverse of :meth:`state_dict`."""


def drawn_path(sampler: BasePathSampler, path: Any, what: str, prefix: Sequence[int] = (),
               accept: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[int, ...]:
    """``path`` (what ``sampler`` drew: ``sample_at`` / ``sample`` / ``complete(prefix, ..., accept)``) as a tuple,
    once it is a valid full path of ``sampler.space`` that starts with ``prefix`` and ``accept`` admits.

    The loops and ``PathSamplingHook`` trained and scored whatever a sampler returned: a sampler of one's own that
    ignored the space's constraint (``is_valid``) trained and scored paths outside the space, without a word.

    Args:
        sampler: The sampler that drew ``path`` (bound to its space).
        path: What it returned.
        what: Its config key, named in the error (``'PathSamplingHook.sampler'``).
        prefix: The prefix it was asked to complete.
        accept: The admission test it was given (a cost limit).

    Raises:
        ValueError: naming ``what``, the sampler's class and the path.
    """
    space = sampler.space
    name = f'{what} ({type(sampler).__name__})'
    try:
        checked = space.check_path(path)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{name} drew {path!r}, not a path of {type(space).__name__}: {err}') from None
    if not space.is_valid(checked):
        raise ValueError(f'{name} drew {checked}, which {type(space).__name__}.is_valid refuses (values '
                         f'{space.values(checked)}): a sampler must draw valid paths of its space only')
    if checked[:len(prefix)] != tuple(prefix):
        raise ValueError(f'{name} was asked to complete {tuple(prefix)} and drew {checked}')
    if accept is not None and not accept(checked):
        raise ValueError(f'{name} drew {checked}, which its accept (the cost limit) does not admit')
    return checked


def _build_named(registry: Any, cfg: dict, what: str) -> Any:
    """``build_in_scope(registry, cfg)`` with an unregistered type's ``KeyError`` and a constructor's ``TypeError``
    / ``ValueError`` prefixed by the config key ``what`` (``StageAllocationSpace.__init__() missing 1 required
    positional argument: 'total_blocks'`` named neither ``train_cfg.stage_space`` nor the file's key;
    ``'MySpaceX is not in the automl_mm::search space registry'`` named no key)."""
    return build_named(registry, cfg, what)


def with_default_type(cfg: Any, type_name: str) -> Any:
    """``cfg`` with ``type=type_name`` where it is ``None`` or a dict that names no ``type``; anything else as given.

    A search loop's or hook's sampler / space key has a default type, so its budgets alone
    (``train_cfg.completion_sampler=dict(max_tries=1)``, ``--cfg-options train_cfg.completion_sampler.max_tries=1``)
    configure that type: they stopped the run with mmengine's ``cfg or default_args must contain the key "type"``.
    """
    if cfg is None:
        return dict(type=type_name)
    if isinstance(cfg, dict) and 'type' not in cfg:
        return {'type': type_name, **cfg}
    return cfg


def build_path_space(cfg: dict | BasePathSpace, what: str) -> BasePathSpace:
    """A path space from its ``SEARCH_SPACES`` config or as given, refusing the other family (OHL spaces).

    Args:
        what: The config key, named in the error (e.g. ``'train_cfg.space'``).

    Raises:
        KeyError: ``type`` is not registered (a module missing from ``custom_imports``), naming ``what``.
        TypeError: not a path space, or its constructor's arguments are not the config's (a missing
            ``total_blocks``), naming ``what``.
        ValueError: a value the space refuses, naming ``what``.
    """
    space = _build_named(SEARCH_SPACES, cfg, what) if isinstance(cfg, dict) else cfg
    if not isinstance(space, BasePathSpace):
        raise TypeError(f'{what} must be an architecture path space (automl_mm.nas.base.BasePathSpace), got '
                        f'{type(space).__name__}')
    return space


def check_sampler_cfg(cfg: Any, what: str, space_key: str, owned: dict[str, str] | None = None) -> None:
    """Refuse what a sampler config sets that its owner (a search loop, ``PathSamplingHook``) sets itself after
    building it, and so replaced without a word: the sampler's ``space`` (the owner's ``space_key``) and the
    ``owned`` keys.

    Args:
        cfg: The sampler config (anything else is not checked).
        what: Its config key, named in errors (e.g. ``'train_cfg.sampler'``).
        space_key: The config key of the space the owner sets as the sampler's :attr:`~BasePathSampler.space`
            (e.g. ``'train_cfg.space'``).
        owned: Further keys the owner sets, each with what sets it (PC-NAS's ``pool``: each stage's pool).

    Raises:
        ValueError: naming the key, its value and where the value comes from instead.
    """
    if not isinstance(cfg, dict):
        return
    if cfg.get('space') is not None:
        raise ValueError(f'{what}.space={cfg["space"]!r}: the sampler draws from the space its owner sets, '
                         f'{space_key}, and this one would be replaced; set {space_key} instead and leave '
                         f'{what}.space out')
    for key, source in (owned or {}).items():
        if key in cfg:
            raise ValueError(f'{what}.{key}={cfg[key]!r} is set by the search itself ({source}) and would be '
                             f'replaced; leave {what}.{key} out')


def build_path_sampler(cfg: dict | BasePathSampler, what: str, space_key: str | None = None) -> BasePathSampler:
    """A path sampler from its ``SAMPLERS`` config or as given, refusing the other family (OHL distributions)
    and, with ``space_key``, a ``space`` in the config (:func:`check_sampler_cfg`)."""
    if space_key is not None:
        check_sampler_cfg(cfg, what, space_key)
    sampler = _build_named(SAMPLERS, cfg, what) if isinstance(cfg, dict) else cfg
    if not isinstance(sampler, BasePathSampler):
        raise TypeError(f'{what} must be a path sampler (automl_mm.nas.base.BasePathSampler), got '
                        f'{type(sampler).__name__}')
    return sampler
