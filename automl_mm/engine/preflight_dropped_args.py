"""Config nodes built by a constructor that takes ``**kwargs`` and drops the ones it does not read (part of
:func:`automl_mm.engine.preflight.check_config`).

mmdet's ``BaseBBoxCoder.__init__(use_box_type=False, **kwargs)`` and ``BaseSampler.__init__(num, pos_fraction,
neg_pos_ub, add_gt_as_proposals, **kwargs)`` end their classes' constructor chains without passing ``**kwargs`` on
or reading them: ``model.rpn_head.bbox_coder.target_stdss=[...]`` trained with the default stds and
``model.train_cfg.rcnn.sampler.neg_pos_ubb=3`` without the bound, silently (mmengine's ``ManagerMixin`` does the
same to a visualizer's arguments when the process already holds one of that name:
:mod:`~automl_mm.engine.preflight_runner_args` checks those). :func:`check_dropped_arguments` refuses such a key
where it is a near miss of an argument the chain reads (a misspelling), naming it, the class that drops it and the
arguments the chain reads, and warns of any other (mmdet's own configs give ``Mask2FormerHead`` a ``strides`` it
never reads, and ``QuasiDenseTrackHead`` a ``loss_bbox``).

A constructor "drops" ``kwargs`` when every ``__init__`` of its class chain takes ``**kwargs`` and uses them only
to pass them to ``super().__init__`` or to read named entries (``kwargs.get('rng')``, which count as read); any
other use (stored, passed to another callable: mmengine's ``CheckpointHook``, ``EMAHook``) is left alone, as is a
chain that ends in a constructor without ``**kwargs`` (that one raises ``TypeError`` when built, which the build
check reports).
"""
from __future__ import annotations

import ast
import functools
import inspect
import logging
import textwrap
from typing import Any

from mmengine.logging import print_log

from .preflight_walk import ConfigCheckError, scoped_nodes


def _kwargs_uses(init: Any) -> tuple[set[str], bool] | None:
    """``(names read as kwargs['x'] / kwargs.get('x') / kwargs.pop('x'), passed on to super().__init__)`` of an
    ``__init__`` taking ``**kwargs``; ``None`` when it uses them any other way (or its source cannot be read)."""
    params = inspect.signature(init).parameters
    var = next((n for n, p in params.items() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return None
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    read, forwarded = set(), False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == var):
            continue
        up = parents.get(node)
        if isinstance(up, ast.keyword) and up.arg is None:  # **kwargs in a call
            call = parents.get(up)
            func = call.func if isinstance(call, ast.Call) else None
            if (isinstance(func, ast.Attribute) and func.attr == '__init__' and isinstance(func.value, ast.Call)
                    and isinstance(func.value.func, ast.Name) and func.value.func.id == 'super'):
                forwarded = True
                continue
            return None
        if isinstance(up, ast.Subscript) and isinstance(up.slice, ast.Constant):
            read.add(str(up.slice.value))
            continue
        if isinstance(up, ast.Attribute) and up.attr in ('get', 'pop', 'setdefault'):
            call = parents.get(up)
            if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant):
                read.add(str(call.args[0].value))
                continue
        return None
    return read, forwarded


@functools.cache
def dropping_chain(cls: type) -> tuple[frozenset[str], str] | None:
    """``(the arguments the constructor chain of cls reads, the class whose **kwargs end the chain)`` when that
    chain drops unknown keyword arguments (module docstring); ``None`` otherwise. An argument of a base class that a
    constructor of the chain gives it itself (``super().__init__(num=512, **kwargs)``,
    :func:`~automl_mm.engine.preflight_training.set_by_subclass`) is none of them: a config cannot give it."""
    from .preflight_training import set_by_subclass

    names: set[str] = set()
    for owner in [c for c in cls.__mro__ if '__init__' in vars(c) and c is not object]:
        try:
            params = inspect.signature(owner.__init__).parameters
        except (TypeError, ValueError):
            return None
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None  # it raises TypeError on an unknown key
        names |= {n for n, p in params.items() if n != 'self' and p.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
        uses = _kwargs_uses(owner.__init__)
        if uses is None:
            return None  # stored or passed elsewhere: not dropped here
        read, forwarded = uses
        names |= read
        if not forwarded:
            return frozenset(names - set(set_by_subclass(cls))), owner.__name__
    return None  # (reached object: its __init__ refuses keywords)


def _registries() -> dict[str, tuple]:
    """Top-level config key (``*_dataloader`` / ``*_evaluator`` for each such key) -> the registries its typed
    nodes are built from, tried in order."""
    from automl_mm import registry as r

    loader = (r.DATASETS, r.TRANSFORMS, r.DATA_SAMPLERS)
    return {'model': (r.MODELS, r.TASK_UTILS), 'default_hooks': (r.HOOKS, ), 'custom_hooks': (r.HOOKS, ),
            '_dataloader': loader, '_evaluator': (r.METRICS, r.EVALUATOR), 'param_scheduler': (r.PARAM_SCHEDULERS, ),
            'optim_wrapper': (r.OPTIM_WRAPPERS, r.OPTIMIZERS), 'visualizer': (r.VISUALIZERS, r.VISBACKENDS),
            'log_processor': (r.LOG_PROCESSORS, )}


def check_dropped_arguments(cfg: Any, scope: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse a key of a config node (the model and its task modules: bbox coders, samplers, assigners; hooks,
    datasets, transforms, samplers, metrics, schedulers, optimiser wrappers, visualizer) whose class's constructor
    chain takes it as ``**kwargs`` and drops it (module docstring).

    A dropped key that is no near miss of a read one (``difflib``'s default cutoff) is logged as a warning.
    ``skip``: top-level keys not checked.

    Raises:
        ConfigCheckError: for a near miss, naming the key, the class that drops it, the arguments the chain reads
            and the close one (never an argument a constructor of the chain gives its base itself:
            :func:`dropping_chain`); for such an argument given, naming it and the constructor that sets it.
    """
    import difflib

    from automl_mm.registry import config_class

    from .preflight_training import set_by_subclass

    registries = _registries()
    for top in cfg.keys():
        found = registries.get(top) or next((v for k, v in registries.items() if k.startswith('_')
                                             and top.endswith(k)), None)
        if found is None or top in skip:
            continue
        # each node in the scope mmengine builds it in (its _scope_, else the node's above it, which builds it);
        # the optimizer is built by the optimizer constructor, not inside optim_wrapper's scope
        for node, key, built_in in scoped_nodes(cfg.get(top), top, scope):
            node_scope = scope if top == 'optim_wrapper' else built_in
            cls = next((c for c in (config_class(registry, node, node_scope) for registry in found) if c is not None),
                       None)
            if cls is None or (chain := dropping_chain(cls)) is None:
                continue
            names, root = chain
            set_by = set_by_subclass(cls)
            for name in node:
                if name in ('type', '_scope_') or name in names:
                    continue
                if name in set_by:  # not dropped: Python's "got multiple values", naming no key
                    raise ConfigCheckError(
                        f'{key}.{name}: {cls.__name__} sets {name!r} itself ({set_by[name]} passes it to its base '
                        "class's constructor beside the keywords it forwards), so the config cannot give it")
                close = difflib.get_close_matches(str(name), sorted(names), n=1)
                what = (f'{key}.{name}: {cls.__name__} does not read {name!r}; its constructor chain ends in '
                        f'{root}\'s **kwargs, which drops it without a word (it reads {", ".join(sorted(names))})')
                if not close:  # mmdet's own configs carry such keys (Mask2FormerHead's strides)
                    print_log(f'{what}; the run goes on without it', logger='current', level=logging.WARNING)
                    continue
                raise ConfigCheckError(f'{what} (did you mean {key}.{close[0]}?)')
