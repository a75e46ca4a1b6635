"""The contract checks of the NAS engine's architecture paths: :func:`check_path_space` (``SEARCH_SPACES``,
:class:`~automl_mm.nas.base.BasePathSpace`) and :func:`check_path_sampler` (``SAMPLERS``,
:class:`~automl_mm.nas.base.BasePathSampler`) (overview in :mod:`automl_mm.testing.contracts`)."""
from __future__ import annotations

import copy
import itertools
import math

from torch import nn

from automl_mm.nas.base import BasePathSampler, BasePathSpace, build_path_sampler, build_path_space

from ._assertions import _check, _fail


def _bound_space(space: dict | BasePathSpace, model: nn.Module | None) -> BasePathSpace:
    """The path space built from its config (or the instance), bound to ``model`` when one is given."""
    space = build_path_space(space, 'space')
    if model is not None:
        space.bind(model)
    return space


def check_path_space(space: dict | BasePathSpace, model: nn.Module | None = None,
                     max_paths: int = 2000) -> BasePathSpace:
    """Check an architecture path space (``SEARCH_SPACES``) against :class:`~automl_mm.nas.base.BasePathSpace`.

    Args:
        space: Its config or an instance.
        model: A model holding the supernet the space binds to; ``None`` checks the structure only (the space
            must then know its options without binding).
        max_paths: Paths enumerated; ``size`` and ``extensions`` are compared only when the space has no more.

    Returns:
        The (bound) space.
    """
    space = _bound_space(space, model)
    _check(space.num_decisions >= 1, space, 'a space needs at least one decision (bind it to a model?)')
    _check(all(space.num_options(i) >= 1 for i in range(space.num_decisions)), space, 'every decision needs options')
    paths = list(space.completions((), limit=max_paths + 1))
    _check(bool(paths), space, 'completions(()) must yield at least one valid path')
    _check(paths == sorted(set(paths)), space, 'completions must be unique and in lexicographic order')
    for path in paths:
        _check(isinstance(path, tuple) and space.check_path(path) == path, space, f'{path!r} is not a checked path')
        _check(space.is_valid(path), space, f'completions yielded {path} but is_valid says no')
        _check(all(space.can_complete(path[:k]) for k in range(len(path) + 1)), space,
               f'every prefix of the valid path {path} must be completable')
    for bad in ((0,) * (space.num_decisions + 1), (space.num_options(0),) + (0,) * (space.num_decisions - 1)):
        try:
            space.check_path(bad)
        except ValueError:
            continue
        raise _fail(space, f'check_path({bad}) must raise ValueError')
    if len(paths) <= max_paths:
        _check(space.size() == len(paths), space, f'size()={space.size()} but {len(paths)} valid paths')
        _check(space.extensions((), 1) == sorted({p[:1] for p in paths}), space,
               'extensions((), 1) must be the first decisions of the valid paths')
        prefixes = {p[:k] for p in paths for k in range(len(p) + 1)}
        for prefix in [q for q in prefixes if len(q) < space.num_decisions]:
            for j in range(space.num_options(len(prefix))):
                extended = prefix + (j, )
                _check(space.can_complete(extended) == (extended in prefixes), space,
                       f'can_complete({extended}) must say whether a valid path starts with it '
                       f'({extended in prefixes})')
        if space.independent:
            _check(len(paths) == math.prod(space.num_options(i) for i in range(space.num_decisions)), space,
                   'an independent space must admit every combination of options')
        elif math.prod(space.num_options(i) for i in range(space.num_decisions)) <= 20 * max_paths:
            # samplers past enumerate_limit rejection-sample with is_valid: it must say no to the other paths
            valid = set(paths)
            for path in itertools.product(*(range(space.num_options(i)) for i in range(space.num_decisions))):
                _check(space.is_valid(path) == (path in valid), space,
                       f'is_valid({path}) must be {path in valid} (completions {"yield" if path in valid else "skip"} '
                       'it)')
    if model is not None:
        for path in {paths[0], paths[len(paths) // 2], paths[-1]}:
            space.apply(path, model)
            _check(tuple(space.current_path(model)) == path, space,
                   f'current_path after apply({path}) must be {path}, got {space.current_path(model)}')
    return space


def check_path_sampler(sampler: dict | BasePathSampler, space: dict | BasePathSpace,
                       model: nn.Module | None = None, draws: int = 20, seed: int = 0) -> BasePathSampler:
    """Check an architecture path sampler (``SAMPLERS``) against :class:`~automl_mm.nas.base.BasePathSampler`.

    Args:
        sampler: Its config (``space`` is set afterwards, as the loops do) or an instance.
        space: The path space it draws from (config or instance).
        model: Bound to the space when given.
        draws: Paths drawn.
        seed: First key of the generators (``path_rng(seed, i)``).

    Returns:
        The sampler, bound to the space.
    """
    from automl_mm.nas.samplers import path_rng

    space = _bound_space(space, model)
    built = build_path_sampler(copy.deepcopy(sampler) if isinstance(sampler, dict) else sampler, 'sampler')
    built.space = space
    paths = []
    for i in range(draws):
        path = built.sample(path_rng(seed, i))
        _check(isinstance(path, tuple) and space.check_path(path) == path and space.is_valid(path), built,
               f'sample() drew {path!r}, not a valid full path')
        _check(built.sample(path_rng(seed, i)) == path, built,
               'sample(generator) must depend on the generator only (every rank must draw the same path)')
        paths.append(path)
    if space.size() > 1:
        _check(len(set(paths)) > 1, built, f'{draws} draws gave one path {paths[0]} of a space of {space.size()}: '
               'sample() must spread over the valid paths')
    try:
        at = [built.sample_at(seed, i) for i in range(draws)]
    except ValueError:  # a sampler may refuse a space for training (FairPathSampler: constrained spaces)
        at = None
    if at is not None:
        _check(all(isinstance(p, tuple) and space.is_valid(p) for p in at), built,
               'sample_at must return valid paths')
        _check(at == [built.sample_at(seed, i) for i in range(draws)], built,
               'sample_at(seed, iteration) must depend on (seed, iteration) only (every rank runs the same path)')
        if space.size() > 1:
            _check(at != [built.sample_at(seed + 1, i) for i in range(draws)], built,
                   'sample_at must depend on the seed (two seeds drew the same paths at every iteration)')
    prefix = paths[0][:1]
    completed = built.complete(prefix, path_rng(seed, draws))
    _check(completed is not None and completed[:1] == prefix and space.is_valid(completed), built,
           f'complete({prefix}) must return a valid path starting with it (a valid path does), got {completed!r}')
    last = paths[0][-1]  # an accept that admits part of the space: PC-NAS's cost limit is one
    for i in range(5):
        admitted = built.complete(prefix, path_rng(seed, draws + 1 + i), accept=lambda p: p[-1] == last)
        _check(admitted is None or (admitted[:1] == prefix and space.is_valid(admitted) and admitted[-1] == last),
               built, f'complete({prefix}, accept=...) returned {admitted!r}, which accept does not admit')
    admitted = built.admitted_completions(())
    _check(admitted is None or all(space.is_valid(p) for p in admitted), built,
           'admitted_completions must be None or valid paths')
    if isinstance(sampler, dict):
        resumed = build_path_sampler(copy.deepcopy(sampler), 'sampler')
        resumed.space = space
        if hasattr(resumed, 'set_pool'):  # a state that differs from the fresh one: the round trip must restore it
            built.set_pool([paths[0][:1]])
            paths = [built.sample(path_rng(seed, i)) for i in range(draws)]
        resumed.load_state_dict(copy.deepcopy(built.state_dict()))
        _check(all(resumed.sample(path_rng(seed, i)) == p for i, p in enumerate(paths)), built,
               'a sampler restored from state_dict() must draw what the original draws')
    return built
