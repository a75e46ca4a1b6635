"""Every registry of automl_mm, each with the contract of what its ``build()`` returns.

All registries are children of mmengine's roots with the scope ``automl_mm``, so:

* inside automl_mm configs (``default_scope = 'automl_mm'``) a ``type`` is looked up here first, then in
  mmengine's root (e.g. ``ImgDataPreprocessor``, ``OptimWrapper``, ``CheckpointHook``);
* any other OpenMMLab scope reaches our modules with the scope prefix, e.g. an mmdet detector config
  (``default_scope = 'mmdet'``) uses ``backbone=dict(type='automl_mm.CRResNet', ...)``; mmengine resolves the
  prefix through the root registry and builds the module under our scope;
* ``locations`` make the lookup import the implementing package on first use, so a config never needs
  ``custom_imports`` for automl_mm's own modules.

The AutoML registries (search spaces, samplers, controllers) are new roots: they have several implementations
each and no counterpart in mmengine. ``SEARCH_SPACES`` and ``SAMPLERS`` each hold one family per engine, told apart
by base class; each engine states its contract where it is used and its builders refuse the other family:

* OHL (``automl_mm.ohl.base``, built by ``OHLHook``): ``OHLSpace`` in ``SEARCH_SPACES``, ``BaseDistribution`` in
  ``SAMPLERS``, ``BaseController`` in ``CONTROLLERS``;
* NAS (``automl_mm.nas.base``, built by the search loops and ``PathSamplingHook``): ``BasePathSpace`` in
  ``SEARCH_SPACES``, ``BasePathSampler`` in ``SAMPLERS``.

``automl_mm.testing`` checks any implementation (yours too) against its family's contract in one call.
"""
from typing import Any

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

_SCOPE = 'automl_mm'


def _child(name: str, parent: Registry, locations: list[str]) -> Registry:
    return Registry(name, parent=parent, scope=_SCOPE, locations=locations)


# --- children of mmengine's roots -------------------------------------------------------------------
# an mmengine Runner (sub)class instance, e.g. CopyRunner (OHL)
RUNNERS = _child('runner', MMENGINE_RUNNERS, ['automl_mm.engine', 'automl_mm.ohl'])
# callable(cfg) -> Runner
RUNNER_CONSTRUCTORS = _child('runner constructor', MMENGINE_RUNNER_CONSTRUCTORS, ['automl_mm.engine'])
# mmengine BaseLoop: train/val/test loops and the NAS search loops
LOOPS = _child('loop', MMENGINE_LOOPS, ['automl_mm.engine', 'automl_mm.nas'])
# mmengine Hook, e.g. OHLHook, PathSamplingHook
HOOKS = _child('hook', MMENGINE_HOOKS, ['automl_mm.engine', 'automl_mm.ohl', 'automl_mm.nas'])
DATASETS = _child('dataset', MMENGINE_DATASETS, ['automl_mm.datasets'])  # a torch Dataset (mostly BaseDataset)
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, ['automl_mm.datasets', 'automl_mm.ohl'])  # torch Sampler
# callable(results: dict) -> dict | None
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    ['automl_mm.datasets', 'automl_mm.ohl', 'automl_mm.augment'])
# nn.Module: model, backbone, head, loss, data preprocessor
MODELS = _child('model', MMENGINE_MODELS, ['automl_mm.models', 'automl_mm.losses'])
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, ['automl_mm.ohl'])  # wrapped model (DDP, ...)
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS, ['automl_mm.models'])  # init fn
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, ['automl_mm.engine'])  # torch Optimizer
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, ['automl_mm.engine'])  # mmengine OptimWrapper
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    ['automl_mm.engine'])  # callable(model) -> OptimWrapper
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, ['automl_mm.engine'])  # _ParamScheduler
METRICS = _child('metric', MMENGINE_METRICS, ['automl_mm.evaluation'])  # mmengine BaseMetric
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, ['automl_mm.evaluation'])  # mmengine Evaluator
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, ['automl_mm.models'])  # assigners, samplers of boxes, ...
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, ['automl_mm.engine'])  # mmengine Visualizer
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, ['automl_mm.engine'])  # mmengine BaseVisBackend
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS, ['automl_mm.engine'])  # mmengine LogProcessor
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, ['automl_mm.datasets'])  # plain callables (collate_fn, ...)

# --- AutoML families (new roots; contracts in automl_mm/ohl/base.py and automl_mm/nas/base.py) ----------
# Two families, told apart by base class:
# * OHL spaces (automl_mm.ohl.base.OHLSpace, built by OHLHook via build_ohl_space): a distribution plus the target
#   its samples configure (an attribute path, a pipeline transform's policy, a loss's parameters); the hook drives
#   setup / begin_trunk / after_train_iter / trunk_stats / export_fragment. AttributeSpace, PipelineChoiceSpace,
#   LossFunctionSpace.
# * Architecture path spaces (automl_mm.nas.base.BasePathSpace, built by the NAS loops / PathSamplingHook via
#   build_path_space): decisions, their constraint, and apply(path, model) to a supernet. LayerwiseSpace,
#   StageAllocationSpace, DilationSpace.
SEARCH_SPACES = Registry('search space', scope=_SCOPE, locations=['automl_mm.ohl', 'automl_mm.losses', 'automl_mm.nas'])
# Two families, told apart by base class:
# * OHL distributions (automl_mm.ohl.base.BaseDistribution): learnable p_θ with sample / log_prob /
#   sufficient_stats / grad_mean_log_prob / state_dict. Categorical, FactorisedCategorical, DiagGaussian, Product.
# * Architecture path samplers (automl_mm.nas.base.BasePathSampler): sample / complete(prefix) from a numpy
#   generator only, rank-identical. UniformPathSampler, PoolPathSampler, FairPathSampler.
SAMPLERS = Registry('sampler', scope=_SCOPE, locations=['automl_mm.ohl', 'automl_mm.nas'])
# OHL controllers (automl_mm.ohl.base.BaseController): update one distribution from the copies' statistics and
# rewards: ``step(stats, rewards) -> dict`` of logged scalars, deterministic given its inputs (every rank applies
# the same update), with ``state_dict()``. REINFORCE, FrozenController (the same engine with θ kept fixed).
CONTROLLERS = Registry('controller', scope=_SCOPE, locations=['automl_mm.ohl'])
# BaseAugmentOp: one augmentation element (op + magnitude) of OHL-Auto-Aug's space, applied to a results dict
# (uint8 HWC image, and for geometric ops boxes/masks) with ``op.apply(results, rng)``.
AUGMENT_OPS = Registry('augment op', scope=_SCOPE, locations=['automl_mm.augment'])


def registered_class(registry: Registry, name: str, scope: str | None = None) -> type | None:
    """The class ``registry.build(dict(type=name))`` would build with ``scope`` as the default scope, or ``None``.

    mmengine builds every config node inside ``registry.switch_scope_and_registry(scope)``: an unprefixed ``name``
    is looked up in the registry of that scope (e.g. mmdet's ``DATASETS`` under ``default_scope = 'mmdet'``) and
    its parents. ``registry.get(name)`` alone searches only ``registry`` and its parents, so from automl_mm's
    registries it misses mmdet's ``'CocoDataset'`` although the runner builds it. Use this wherever a config's
    ``type`` is resolved without building it (config checks, type tests).

    Args:
        registry: any automl_mm or mmengine registry.
        name: a registered name, with or without a scope prefix (``'CocoDataset'``, ``'mmdet.CocoDataset'``).
        scope: the config's ``default_scope``; ``None``: the current default scope, else ``registry``'s own.

    Returns:
        The class, or ``None`` where ``name`` is no str (a node without ``type``) or nothing in that scope holds
        ``name``, an unknown scope prefix or ``scope`` included (``'nopkg.X'``: mmengine only logs a warning). As
        mmengine's ``get``, a dotted name that no registry holds is tried as an import path last (``'os.path'``
        gives that module).
    """
    if not isinstance(name, str):  # a node without ``type`` (mmengine's get raised TypeError naming no key)
        return None
    with registry.switch_scope_and_registry(scope) as scoped:
        return scoped.get(name)


def config_class(registry: Registry, node: Any, scope: str | None = None) -> type | None:
    """The class mmengine's ``build_from_cfg`` builds from config node ``node`` with ``scope`` as the default scope,
    or ``None``: the one resolver of a node's ``type`` for the checks that read a config without building it.

    As ``build_from_cfg``, a node's own ``_scope_`` comes first (mmengine pops it and switches to that scope's
    registry, :meth:`~mmengine.registry.Registry.switch_scope_and_registry`), then ``scope``; a ``'scope.Type'``
    string names its own scope (:func:`registered_class`); a class as ``type`` is that class. Resolved in ``scope``
    alone, a user's class registered in the user's own registry under ``_scope_`` was not found and the checks of
    its kind skipped (an ``OHLHook`` subclass: no OHL start check ran).

    Args:
        registry: the registry that builds the node (``HOOKS``, ``TRANSFORMS``, ...; any automl_mm or mmengine one).
        node: a config node (a dict with ``type`` and optionally ``_scope_``); anything else gives ``None``.
        scope: the scope the node is built in when it has no ``_scope_``: the config's ``default_scope``, or that
            of the node that builds it (a dataset's ``_scope_`` for its pipeline's transforms: mmengine keeps the
            switched scope while the dataset's class builds them; the walkers of
            :mod:`automl_mm.engine.preflight_walk` give it, ``scoped_nodes``); ``None``: the current default scope,
            else ``registry``'s own.

    Returns:
        The class, or ``None`` where ``type`` is missing or neither a str nor a class, or no registry in that scope
        holds it (an unknown scope prefix, a dotted name that imports nothing: the build names it), or it names
        something that is no class (a function).
    """
    if not isinstance(node, dict):
        return None
    kind = node.get('type')
    if isinstance(kind, type):
        return kind
    if not isinstance(kind, str):
        return None
    node_scope = node.get('_scope_')
    try:
        found = registered_class(registry, kind, node_scope if isinstance(node_scope, str) and node_scope else scope)
    except (KeyError, RuntimeError, ImportError, AttributeError):  # mmengine: 'Failed to get <key>' and the like
        return None
    return found if isinstance(found, type) else None


def registered_name(registry: Registry, cls: type, scoped: bool = False) -> str:
    """The name under which ``cls`` is registered in ``registry`` or one of its descendants (mmdet's, automl_mm's,
    ... registries are children of mmengine's): what config text writes for a ``type`` given as a class.

    Args:
        registry: The registry to search first; its children are searched after it, depth first.
        cls: The class.
        scoped: Prefix the registry's scope (``'mmdet.RandomFlip'``), which any default scope resolves.

    Returns:
        The registered name, or ``cls.__name__`` where no registry holds ``cls`` (building it then names it).
    """
    stack = [registry]
    while stack:
        current = stack.pop()
        name = next((key for key, value in current.module_dict.items() if value is cls), None)
        if name is not None:
            return f'{current.scope}.{name}' if scoped else name
        stack.extend(current.children.values())
    return cls.__name__
