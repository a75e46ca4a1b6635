"""The training components of a config — loops, samplers, optimiser wrapper, parameter schedulers — checked before
launch.

mmengine builds them inside every worker (``Runner.train``), so a misspelled type or a string where a number goes
failed in each process with an error that names no key (``optim_wrapper.optimizer.type='Adamm'``: ``TypeError:
None is not a callable object``; ``lr='abc'``: ``'<' not supported between instances of 'str' and 'float'``;
``train_cfg.val_interval=0``: ``ZeroDivisionError`` after the first epoch's training). The static part
(:func:`check_training_config`) runs in :func:`automl_mm.engine.preflight.check_config`, so in every run; the
builds (:func:`check_optimisation`) in :func:`~automl_mm.engine.preflight_build.build_check` with the model it
built. Each dataloader's ``collate_fn`` names a registered function (:func:`_check_collate_fns`, run by
``check_config`` too). All raise :class:`~automl_mm.engine.preflight_walk.ConfigCheckError` naming the key and value.
"""
from __future__ import annotations

import copy
import difflib
import functools
import inspect
import numbers
import re
import types
import typing
from collections.abc import Collection
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError, _loader_cfgs, outside_split

# arguments the runner passes itself (not from the config)
_GIVEN = {'runner', 'dataloader', 'evaluator', 'optimizer', 'params', 'model', 'epoch_length', 'dataset', 'seed'}
# loop arguments mmengine uses as counts / divisors: below 1 a loop trains nothing or divides by zero
_COUNTS = ('max_epochs', 'max_iters', 'val_interval')


def _is_number_type(annotation: Any, default: Any) -> bool:
    """Whether a parameter takes a number and nothing else a config can hold: annotated ``int`` / ``float``
    (optionally with ``None`` or torch's ``Tensor``: ``Optional[int]``, ``'int | None'``, ``Union[float, Tensor]``),
    or not annotated with a number as its default. (``Union[float, Sequence[float]]`` is not: a list is allowed.)"""
    if annotation is inspect.Parameter.empty:
        return isinstance(default, numbers.Number) and not isinstance(default, bool)
    if isinstance(annotation, str):
        names = set(re.findall(r'[A-Za-z_]\w*', annotation)) - {'Optional', 'Union', 'None', 'typing', 'torch'}
        return bool(names & {'int', 'float'}) and names <= {'int', 'float', 'Tensor'}
    import torch

    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation, )  # List[int] is no number
    return (any(m in (int, float) for m in members)
            and all(m in (int, float, type(None), torch.Tensor) for m in members))


def _parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool, bool]:
    """The constructor arguments of ``cls``, following ``**kwargs`` forwarded to base classes (mmengine's
    ``LRSchedulerMixin(optimizer, *args, **kwargs)``): ``(parameters, takes any keyword, followed a base)``. A base's
    argument that a forwarding call gives itself is none of them (:func:`set_by_subclass`)."""
    params, takes_any, forwarded, _ = _signature_chain(cls)
    return params, takes_any, forwarded


def set_by_subclass(cls: type) -> dict[str, str]:
    """``{argument: 'Class.__init__'}`` for each keyword that a constructor of ``cls``'s chain passes to its base
    itself while it forwards its ``**kwargs`` there (PC-NAS's loop before it took ``max_iters``:
    ``super().__init__(runner, dataloader, max_iters=total_iters, **kwargs)``; mmdet's ``Shared2FCBBoxHead``:
    ``num_shared_fcs=1``; ``ResNetV1d``: ``deep_stem=True``), and that no constructor before it takes: given by a
    config, it lands in those ``**kwargs`` and the call fails with Python's "got multiple values for keyword
    argument", naming neither the config key nor the class (a merged ``**{**kwargs, 'x': ...}`` drops it
    silently instead). ``Class.__init__`` is the constructor that sets it. Empty where nothing is set so, or a
    source cannot be read."""
    return dict(_signature_chain(cls)[3])


def _signature_chain(cls: type) -> tuple[dict[str, inspect.Parameter], bool, bool, tuple[tuple[str, str], ...]]:
    """:func:`_parameters` and :func:`set_by_subclass` in one walk of the constructors of ``cls``'s MRO."""
    params: dict[str, inspect.Parameter] = {}
    set_by: dict[str, str] = {}
    owners = [c for c in cls.__mro__ if '__init__' in vars(c) and c is not object] if isinstance(cls, type) else []
    # the previous constructor's forwarding call: its leading positional arguments, the keys it took out of **kwargs
    positional, caller, removed = 0, '', frozenset()
    walk = list(owners) or [cls]
    for depth, owner in enumerate(walk):  # (walk is cut where a constructor skips some: super(X, self))
        try:
            own = inspect.signature(owner if owner is cls else owner.__init__).parameters
        except (TypeError, ValueError):  # a builtin without a signature: leave it to the build
            return params, True, depth > 0, tuple(set_by.items())
        ordered = [n for n, p in own.items() if n != 'self' and p.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for name in ordered[:positional]:  # given by position by the subclass's call
            if name not in params and name not in removed:
                set_by.setdefault(name, caller)
        for name, param in own.items():
            if name == 'self' or param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                continue
            if name not in set_by:  # (one the subclass gives is no argument of cls)
                params.setdefault(name, param)
        var_keyword = [n for n, p in own.items() if p.kind is inspect.Parameter.VAR_KEYWORD]
        if not var_keyword:
            return params, False, depth > 0, tuple(set_by.items())
        call = _forwarding_call(owner, var_keyword[0])
        if call is None:
            # the constructor keeps its **kwargs (torch's ZeroRedundancyOptimizer: **defaults, the wrapped
            # optimiser's lr / momentum): followed into the base, a valid lr was refused as no argument of it
            return params, True, depth > 0, tuple(set_by.items())
        keywords, positional, removed, past = call
        if past:  # the constructors after X in the MRO are next, not X's class and those before it
            mro = cls.__mro__
            at = next((i for i in range(mro.index(owner) + 1, len(mro)) if mro[i].__name__ == past), None)
            if at is None:  # X is no later class of the MRO: the constructor it calls is not told
                return params, True, depth > 0, tuple(set_by.items())
            walk[depth + 1:] = [c for c in mro[at + 1:] if '__init__' in vars(c) and c is not object]
        caller = f'{owner.__qualname__}.__init__'
        for name in keywords:
            if name not in params:  # (an argument of its own it passes on is the config's to give)
                set_by.setdefault(name, caller)
    return params, True, len(walk) > 1, tuple(set_by.items())


@functools.cache  # a class's source is read and parsed once per process, not at every check of it
def _forwarding_call(owner: type, name: str) -> tuple[frozenset[str], int, frozenset[str], str] | None:
    """How ``owner.__init__`` passes its ``**name`` on to a base class's constructor (``super().__init__(...,
    **kwargs)``, ``Base.__init__(self, **kwargs)``, also merged: ``**{**kwargs, ...}``): ``(the keywords every such
    call gives itself, the leading positional arguments every such call gives, ``self`` not counted, the keys it
    takes out of ``**name`` before (``kwargs.pop('x', 1)``, ``del kwargs['x']``), the name of the class ``X`` of a
    ``super(X, self).__init__`` that skips constructors (mmdet's ``VFNetHead``: ``super(FCOSHead, self)``; ``''``
    for the next one))``; only then do the base classes' constructors say which keywords it takes, less those it
    gives. A keyword given before the merged ``**kwargs``
    (``**{'x': 1, **kwargs}``) is a default the config overrides, not given; nor is one taken out of ``**name``
    first (``x = kwargs.pop('x', 1)``, then ``super().__init__(x=x, **kwargs)``: the config's). A ``**kwargs``
    handed to another call (mmcv's ``MultiheadAttention`` builds torch's ``nn.MultiheadAttention`` with it) is kept:
    ``None``. Unknown (no source): ``None``, so that nothing is refused on a guess."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(owner.__init__)))
    except (OSError, TypeError, SyntaxError):
        return None

    def forwards(value: ast.expr) -> bool:
        if isinstance(value, ast.Name):
            return value.id == name
        return isinstance(value, ast.Dict) and any(k is None and forwards(v) for k, v in zip(value.keys, value.values))

    def given_after(value: ast.expr) -> set[str]:  # the constant keys after the forwarded entry of a merged dict
        if not isinstance(value, ast.Dict):
            return set()
        at = next(i for i, (k, v) in enumerate(zip(value.keys, value.values)) if k is None and forwards(v))
        return {k.value for k in value.keys[at + 1:] if isinstance(k, ast.Constant) and isinstance(k.value, str)}

    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr == '__init__' and any(kw.arg is None and forwards(kw.value) for kw in node.keywords)]
    past = {_skips_past(call, owner) for call in calls}  # super(X, self): the constructor after X's in the MRO
    if not calls or len(past) > 1 or None in past:  # (calls that disagree, or an X not read: unknown)
        return None
    keywords: set[str] | None = None
    positional = None
    for call in calls:
        given = {kw.arg for kw in call.keywords if kw.arg is not None}
        for kw in call.keywords:
            if kw.arg is None and forwards(kw.value):
                given |= given_after(kw.value)
        keywords = given if keywords is None else keywords & given  # given by every call: a branch may not
        leading = next((i for i, arg in enumerate(call.args) if isinstance(arg, ast.Starred)), len(call.args))
        bound = isinstance(call.func.value, ast.Call)  # super().__init__ / super(C, self).__init__, not Base.__init__
        leading = leading if bound else max(leading - 1, 0)
        positional = leading if positional is None else min(positional, leading)
    # a key taken out of the forwarded dict first (``size = kwargs.pop('size', 4)``, ``del kwargs['size']``) never
    # reaches the base twice: the config's value is read or dropped by the constructor itself, Python raises nothing
    removed = {node.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr == 'pop' and forwards(node.func.value)
               and node.args and isinstance(node.args[0], ast.Constant)}
    removed |= {target.slice.value for node in ast.walk(tree) if isinstance(node, ast.Delete)
                for target in node.targets if isinstance(target, ast.Subscript) and forwards(target.value)
                and isinstance(target.slice, ast.Constant)}
    return frozenset((keywords or set()) - removed), positional or 0, frozenset(removed), past.pop()


def _skips_past(call: Any, owner: type) -> str | None:
    """``X`` where ``call`` (a ``....__init__(...)`` call in ``owner.__init__``) is ``super(X, self).__init__`` with
    ``X`` another class than ``owner``: it calls the constructor after ``X``'s in the MRO, not the next one (mmdet's
    ``VFNetHead``: ``super(FCOSHead, self).__init__(..., **kwargs)``); ``''`` for ``super().__init__``,
    ``super(owner, self).__init__`` and ``Base.__init__(self, ...)``; ``None`` where ``X`` is no plain name."""
    import ast

    bound = call.func.value
    if not (isinstance(bound, ast.Call) and isinstance(bound.func, ast.Name) and bound.func.id == 'super'
            and bound.args):
        return ''
    if not isinstance(bound.args[0], ast.Name):
        return None
    return '' if bound.args[0].id == owner.__name__ else bound.args[0].id


def callable_name(obj: Any) -> str:
    """How a message names what a config node builds: a class's or function's ``__name__``; a ``functools.partial``
    (a registry entry or a pure-Python config's ``type``, which mmengine builds as any callable) as
    ``partial(<name of what it wraps>)``, since it has no ``__name__``; anything else by its type's name."""
    if isinstance(obj, functools.partial):
        return f'partial({callable_name(obj.func)})'
    return getattr(obj, '__name__', None) or type(obj).__name__


def check_arguments(cls: type, args: dict, key: str, given: tuple[str, ...] = (),
                    passed_by_builder: Collection[str] = _GIVEN) -> None:
    """``args`` (a config node without ``type``) against ``cls``'s constructor: unknown or missing arguments, an
    argument its constructor chain gives its base class itself (:func:`set_by_subclass`), and a value that is not a
    number where the constructor takes one. ``given``: arguments the builder passes besides
    those every builder passes (``passed_by_builder``: by default the runner, dataset, optimiser, ...; left out of
    the arguments an unknown one's message lists and suggests, as are the base class's arguments a class refuses
    itself, its ``UNREAD_BASE_KEYS``: automl_mm's generated and folder datasets).

    Raises:
        ConfigCheckError: naming ``key``, the argument and its value; an unknown argument with the closest one
            the constructor takes (``difflib``), when one is close; one the chain sets itself with the class and
            the constructor that sets it.
    """
    params, takes_any, forwarded, set_by = _signature_chain(cls)
    set_by = dict(set_by)
    name_of = callable_name(cls)  # (a registered functools.partial has no __name__)
    for name, value in args.items():
        if name == '_scope_':  # mmengine's registry reads it (a config inherited from mmdet::...)
            continue
        param = params.get(name)
        if param is None and (name in set_by or not takes_any):
            # a dataset's refused BaseDataset keys (automl_mm's DigitsDataset: ann_file, ...) are no choice
            refused = set(getattr(cls, 'UNREAD_BASE_KEYS', ()))
            known = [n for n in params if n not in passed_by_builder and n != 'self' and n not in refused]
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f' (did you mean {key}.{close[0]}?)' if close else ''
            takes = f' (it takes {", ".join(known)})' if not takes_any else ''
            if name in set_by:  # its own call gives it: Python's "got multiple values", naming no key
                raise ConfigCheckError(
                    f'{key}.{name}: {name_of} sets {name!r} itself ({set_by[name]} passes it to its base '
                    f"class's constructor beside the keywords it forwards), so the config cannot give it{takes}{hint}")
            raise ConfigCheckError(f'{key}.{name}: {name_of} takes no argument {name!r}{takes}{hint}')
        if param is None:
            continue
        if _is_number_type(param.annotation, param.default) and value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Number)):
            raise ConfigCheckError(f'{key}.{name}={value!r} is not a number ({name_of} takes a number there)')
    if forwarded:  # a base class fills some of its own arguments (mmengine's LRSchedulerMixin: param_name)
        return
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n not in passed_by_builder and n not in given
               and n not in args
               and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if missing:
        raise ConfigCheckError(f'{key}: {name_of} needs {", ".join(map(repr, missing))}')


def _resolve(registry: Any, node: dict, key: str, what: str, scope: str) -> type:
    from automl_mm.registry import registered_class

    kind = node.get('type')
    scope = node.get('_scope_') or scope  # as mmengine's build_from_cfg
    # a class, or any other callable (a functools.partial in a pure-Python config), is built as it is: mmengine's
    # build_from_cfg takes a callable type; refused here as "not registered" before
    found = kind if isinstance(kind, type) or (callable(kind) and not isinstance(kind, str)) else \
        registered_class(registry, kind, scope)
    if found is None:
        from .preflight_types import type_hint
        raise ConfigCheckError(f'{key}.type={kind!r} is not a registered {what} in scope {scope!r}'
                               f'{type_hint(registry.name, kind, scope)}')
    return found


def _check_loop(node: Any, key: str, default: type | None, scope: str) -> None:
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

    from automl_mm.registry import LOOPS

    if not isinstance(node, dict):
        return  # a built loop, or None (no such loop)
    args = {k: v for k, v in node.items() if k not in ('type', 'by_epoch')}
    if 'type' in node:
        if 'by_epoch' in node:
            raise ConfigCheckError(f'{key} gives both type and by_epoch (mmengine takes one of them)')
        cls = _resolve(LOOPS, node, key, 'loop', scope)
    elif 'by_epoch' in node:
        cls = EpochBasedTrainLoop if node['by_epoch'] else IterBasedTrainLoop
    elif default is None:  # mmengine pops by_epoch: a KeyError naming nothing else
        raise ConfigCheckError(f'{key} gives neither type nor by_epoch: which loop to build?')
    else:
        cls = default
    check_arguments(cls, args, key)
    for name in _COUNTS:
        value = args.get(name)
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            if value != int(value):
                raise ConfigCheckError(f'{key}.{name}={value!r} is not a whole number')
            if value < 1:
                raise ConfigCheckError(f'{key}.{name}={value!r} must be at least 1')


def _check_optimizer_node(cfg: Any, scope: str) -> None:
    from automl_mm.registry import OPTIM_WRAPPERS, OPTIMIZERS

    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict) or 'constructor' in wrapper:
        return  # a custom constructor reads its own keys
    if 'type' in wrapper:
        cls = _resolve(OPTIM_WRAPPERS, wrapper, 'optim_wrapper', 'optim_wrapper', scope)
        check_arguments(cls, {k: v for k, v in wrapper.items() if k not in ('type', 'optimizer', 'paramwise_cfg')},
                        'optim_wrapper')
    optimizer = wrapper.get('optimizer')
    if isinstance(optimizer, dict) and 'type' in optimizer:
        cls = _resolve(OPTIMIZERS, optimizer, 'optim_wrapper.optimizer', 'optimizer', scope)
        check_arguments(cls, {k: v for k, v in optimizer.items() if k != 'type'}, 'optim_wrapper.optimizer')


def _scheduler_nodes(value: Any, key: str) -> list[tuple[dict, str]]:
    if isinstance(value, dict) and 'type' in value:
        return [(value, key)]
    if isinstance(value, (list, tuple)):
        return [(node, f'{key}.{i}') for i, node in enumerate(value) if isinstance(node, dict)]
    return []


# keys of a dataloader config that mmengine's Runner.build_dataloader takes out before torch's DataLoader sees the rest
_LOADER_OWN = ('dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn', 'num_batch_per_epoch',
               'disable_subprocess_warning')


def check_loaders(cfg: Any, scope: str, keys: tuple[str, ...] | None = None) -> None:
    """Each ``*_dataloader``'s ``sampler`` / ``batch_sampler`` (a registered type and its arguments) and the keys
    torch's ``DataLoader`` receives (known arguments; ``batch_size`` at least 1, ``num_workers`` at least 0;
    ``persistent_workers`` and ``prefetch_factor`` only with ``num_workers`` of at least 1); a val / test loader
    scores each image once (no training sampler, no ``drop_last=True``, no ``batch_sampler``, no dataset
    ``filter_cfg`` outside ``test_mode``: :func:`_check_whole_split`); a sampler's ``seed`` is an int in ``[0, 2**32)``
    (:func:`~automl_mm.utils.seeding.as_seed`: torch's generator keeps a seed's low 32 bits).
    ``keys``: the loaders to check (default: train, val and test).

    Raises:
        ConfigCheckError: naming the key and value.
    """
    from torch.utils.data import DataLoader

    from automl_mm.registry import DATA_SAMPLERS
    from automl_mm.utils.seeding import as_seed

    for key in keys or ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        for name in ('sampler', 'batch_sampler'):
            node = loader.get(name)
            if isinstance(node, dict):
                cls = _resolve(DATA_SAMPLERS, node, f'{key}.{name}', 'data sampler', scope)
                # mmengine passes a batch sampler the sampler and the loader's batch_size
                check_arguments(cls, {k: v for k, v in node.items() if k != 'type'}, f'{key}.{name}',
                                ('sampler', 'batch_size') if name == 'batch_sampler' else ())
                # mmengine's / mmdet's samplers seed torch, which keeps 32 bits: 2**32 + 5 shuffled as 5 (automl_mm's
                # own, CopySampler, refuse such a seed when they are built: named there, with their class)
                own = cls is not None and getattr(cls, '__module__', '').startswith('automl_mm.')
                if node.get('seed') is not None and not own:
                    try:
                        as_seed(node['seed'], f'{key}.{name}.seed')
                    except ValueError as err:
                        raise ConfigCheckError(str(err)) from None
        rest = {k: v for k, v in loader.items() if k not in _LOADER_OWN}
        check_arguments(DataLoader, rest, key)
        if key != 'train_dataloader':
            _check_whole_split(loader, key)
        for name, least in (('batch_size', 1), ('num_workers', 0)):
            value = rest.get(name)
            if isinstance(value, numbers.Number) and not isinstance(value, bool) and (
                    value != int(value) or value < least):
                raise ConfigCheckError(f'{key}.{name}={value!r} must be a whole number of at least {least}')
        # torch's DataLoader raises a ValueError naming no key for these without worker processes
        if not rest.get('num_workers'):
            for name, off in (('persistent_workers', False), ('prefetch_factor', None)):
                if rest.get(name, off) not in (off, ):
                    raise ConfigCheckError(
                        f'{key}.{name}={rest[name]!r} needs worker processes, but {key}.num_workers='
                        f'{rest.get("num_workers", 0)!r}: set {key}.num_workers to at least 1, or {key}.{name}='
                        f'{off!r}')


#: Samplers (mmengine's, mmdet's, automl_mm's) that draw a training stream, not each image once in order.
_TRAINING_SAMPLERS = frozenset({'InfiniteSampler', 'ClassAwareSampler', 'MultiSourceSampler', 'GroupMultiSourceSampler',
                                'CustomSampleSizeSampler', 'CopySampler'})


def _check_whole_split(loader: dict, key: str) -> None:
    """An evaluated loader (val / test) reads every image of its split, silently otherwise:

    * ``drop_last=True`` drops each rank's last partial batch, and mmengine's ``collect_results`` keeps what is left
      (it removes only the sampler's padding, by the dataset's length): the 357-image digits test split was scored
      on 300 images at ``batch_size=100``;
    * a training sampler (:data:`_TRAINING_SAMPLERS`: mmdet's ``ClassAwareSampler`` over images of classes
      [0, 0, 0, 1] gave [0, 2, 3, 3]; mmengine's ``InfiniteSampler`` never ends);
    * a ``batch_sampler`` (mmdet's ``AspectRatioBatchSampler`` groups each rank's images by shape) puts the
      results out of the sampler's order, which ``collect_results`` assumes when it interleaves the ranks' results
      and cuts the padding off the end: on several processes a padded image was scored twice and another never
      (harmless on one process, which the config cannot tell);
    * a dataset's ``filter_cfg`` that filters (``filter_empty_gt``, ``min_size`` > 0) outside ``test_mode``: mmdet's
      datasets drop those images unless ``test_mode=True``, and a ``CocoMetric`` with an ``ann_file`` (which lists
      every image) counted their objects as missed (the training set's filter copied into a val set).

    Raises:
        ConfigCheckError: naming the key.
    """
    from .preflight_walk import _datasets

    sampler = loader.get('sampler')
    kind = sampler.get('type') if isinstance(sampler, dict) else None
    if isinstance(kind, str) and kind.rsplit('.', 1)[-1] in _TRAINING_SAMPLERS:
        raise ConfigCheckError(
            f'{key}.sampler ({kind}) is a training sampler: it draws images (by class, by source, with repeats, or '
            "without end) instead of giving each image once, in the order mmengine's collect_results assumes, so "
            'some images would be scored twice and others never, silently (ClassAwareSampler over classes '
            f"[0, 0, 0, 1]: images [0, 2, 3, 3]). Use {key}.sampler=dict(type='DefaultSampler', shuffle=False)")
    batch_sampler = loader.get('batch_sampler')
    if batch_sampler is not None:
        kind = batch_sampler.get('type') if isinstance(batch_sampler, dict) else type(batch_sampler).__name__
        raise ConfigCheckError(
            f'{key}.batch_sampler ({kind}) regroups the images of each rank (mmdet\'s aspect-ratio batch samplers '
            "group them by shape; with drop_last, drop some): mmengine's collect_results interleaves the ranks' "
            "results in the sampler's order and cuts DefaultSampler's padding off the end, so on several processes a "
            'padded image was scored twice and another not at all (image 0 twice, image 1 never, of 5 on 2 ranks), '
            f'silently. Remove {key}.batch_sampler: evaluation batches by {key}.sampler alone')
    if loader.get('drop_last') is True:
        raise ConfigCheckError(
            f'{key}.drop_last=True drops the last partial batch of every rank: the metrics would be of a subset of '
            f'the split, without a word (mmengine keeps the results it collects). Set {key}.drop_last=False (the '
            'padding of DefaultSampler is removed before scoring)')
    for dataset, where in _datasets(loader.get('dataset'), f'{key}.dataset'):
        filters = dataset.get('filter_cfg')
        if not isinstance(filters, dict) or dataset.get('test_mode') is True:
            continue
        min_size = filters.get('min_size', 0)
        if filters.get('filter_empty_gt') or (isinstance(min_size, numbers.Number) and min_size > 0):
            raise ConfigCheckError(
                f'{where}.filter_cfg={dict(filters)!r} drops images from the scored split (mmdet\'s datasets filter '
                f'outside test_mode): their objects would count as missed by a COCO metric reading every image of '
                f'its ann_file, or the metrics be of a subset. Set {where}.test_mode=True (mmdet\'s val / test '
                'datasets), or remove filter_cfg')


def _check_collate_fns(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Each dataloader's ``collate_fn`` type names a function of mmengine's ``FUNCTIONS`` registry, looked up as
    mmengine's ``Runner.build_dataloader`` (and :func:`automl_mm.engine.evaluate.build_local_loader`) look it up;
    mmengine wrapped the ``None`` it found in a ``partial``: ``TypeError: the first argument must be callable``, naming
    neither the key nor the name."""

    from mmengine.registry import FUNCTIONS

    for loader, key in _loader_cfgs(cfg):
        collate = loader.get('collate_fn')
        kind = collate.get('type') if isinstance(collate, dict) else None
        if outside_split(key, test_only, split) or not isinstance(kind, str) or FUNCTIONS.get(kind):
            continue
        names = sorted(FUNCTIONS.module_dict)
        close = difflib.get_close_matches(kind.split('.')[-1], names, n=1)
        raise ConfigCheckError(f"{key}.collate_fn.type={kind!r} is not a function in mmengine's FUNCTIONS registry, "
                               f'where mmengine looks it up (it has {", ".join(names)}'
                               + (f'; did you mean {close[0]!r}?)' if close else ')'))


def check_training_config(cfg: Any, scope: str, test_only: bool = False, split: str = 'test') -> None:
    """Static checks (no data read, nothing built): the dataloaders' samplers and loading arguments
    (:func:`check_loaders`), the loops ``train_cfg`` / ``val_cfg`` / ``test_cfg``, and the types and arguments of
    ``optim_wrapper``, its ``optimizer`` and each ``param_scheduler``; with ``test_only``, what evaluating ``split``
    reads (``{split}_dataloader``, ``{split}_cfg``: ``tools/test.py`` and ``Runner.test`` the test split's,
    ``Runner.val`` the val split's).

    Raises:
        ConfigCheckError: naming the key and value.
    """
    from mmengine.runner import TestLoop, ValLoop

    from automl_mm.registry import PARAM_SCHEDULERS

    check_loaders(cfg, scope, (f'{split}_dataloader', ) if test_only else None)
    if not test_only and cfg.get('train_cfg') is not None:
        _check_loop(cfg.get('train_cfg'), 'train_cfg', None, scope)
    for name, default in (('val_cfg', ValLoop), ('test_cfg', TestLoop)):
        if not outside_split(name, test_only, split):
            _check_loop(cfg.get(name), name, default, scope)
    if not test_only:
        _check_optimizer_node(cfg, scope)
        for node, key in _scheduler_nodes(cfg.get('param_scheduler'), 'param_scheduler'):
            cls = _resolve(PARAM_SCHEDULERS, node, key, 'parameter scheduler', scope)
            check_arguments(cls, {k: v for k, v in node.items() if k not in ('type', 'convert_to_iter_based')}, key)


def check_optimisation(cfg: Any, model: Any, scope: str) -> tuple[Any, Any] | None:
    """Build ``optim_wrapper`` for ``model`` and every ``param_scheduler`` on it, as ``Runner.train`` would
    (schedulers with ``epoch_length=1``; a missing ``end`` defaults to the train loop's ``max_epochs`` /
    ``max_iters``, as mmengine sets it): what the signatures cannot say (a negative lr, ``begin`` after ``end``,
    ``paramwise_cfg`` keys).

    Returns:
        ``(optimiser wrapper, parameter schedulers)`` as the runner holds them (a list, or a dict of lists by
        optimiser name for an ``OptimWrapperDict``), for the checks of what OHL spaces write into them; ``None``
        without ``optim_wrapper`` or model.

    Raises:
        ConfigCheckError: naming the key and value, or the key and the error the build raised.
    """
    from mmengine.optim import OptimWrapperDict, build_optim_wrapper
    from mmengine.registry import DefaultScope

    from automl_mm.registry import PARAM_SCHEDULERS

    train_cfg = cfg.get('train_cfg')
    if cfg.get('optim_wrapper') is None or model is None:
        return None
    schedulers = cfg.get('param_scheduler')
    with DefaultScope.overwrite_default_scope(scope):
        try:
            wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        except Exception as err:  # noqa: BLE001 -- any build error, named by its key
            raise ConfigCheckError(f'optim_wrapper: building it for the model failed: {type(err).__name__}: '
                                   f'{err}') from err
        if schedulers is None:
            return wrapper, []
        loop = train_cfg if isinstance(train_cfg, dict) else {}
        wrappers = dict(wrapper.items()) if isinstance(wrapper, OptimWrapperDict) else {None: wrapper}
        built: dict = {}
        for name, one in wrappers.items():
            # mmengine: a dict of schedulers keyed by the optimisers' names, else the same list for each
            chosen = schedulers[name] if name is not None and isinstance(schedulers, dict) and name in schedulers \
                else schedulers
            where = f'param_scheduler.{name}' if chosen is not schedulers else 'param_scheduler'
            for node, key in _scheduler_nodes(chosen, where):
                node = copy.deepcopy(dict(node))
                end = loop.get('max_epochs') if node.get('by_epoch', True) else loop.get('max_iters')
                if end is not None:
                    node.setdefault('end', end)
                try:
                    built.setdefault(name, []).append(
                        PARAM_SCHEDULERS.build(node, default_args=dict(optimizer=one, epoch_length=1)))
                except Exception as err:  # noqa: BLE001
                    raise ConfigCheckError(f'{key}: building {node.get("type")} failed: {type(err).__name__}: '
                                           f'{err}') from err
    return wrapper, built.get(None, []) if None in built or not built else built
