"""A ``Pretrained`` ``init_cfg`` that loads nothing is an error, not a warning.

mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs the keys it could not match: a file in
another key layout (torchvision's ResNet names for ``automl_mm.ResNet``, whose modules are ``stem`` /
``res_layers``) loads nothing, and with ``frozen_stages`` / ``norm_eval`` the random stem stays frozen for the whole
run. Every automl_mm backbone checks the file after loading it (:class:`CheckedPretrainedMixin`; the CR backbones
through :func:`check_pretrained`, skipping the blocks no standard checkpoint holds).

Both mixins also keep the other ``init_cfg`` entries in force over every mmcv ConvModule inside the module
(:func:`init_cfg_over_own_inits`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple


def _loads_a_file(cfg: Any) -> bool:
    """Whether the ``init_cfg`` entry builds mmengine's ``PretrainedInit``: ``type='Pretrained'``, the class itself
    (mmengine's pure-Python configs; ``BaseModule`` accepts it), a scoped name such as ``'mmengine.Pretrained'``, or
    a subclass of it, resolved as mmengine's ``initialize`` builds the entry (its ``_scope_`` first)."""
    from mmengine.model import PretrainedInit
    from mmengine.registry import WEIGHT_INITIALIZERS

    from automl_mm.registry import config_class

    # as mmengine's initialize builds it: its _scope_, else the current default scope (None: an unknown scope or
    # type, which mmengine's build names)
    built = config_class(WEIGHT_INITIALIZERS, cfg, None)
    return built is not None and issubclass(built, PretrainedInit)


def pretrained_cfgs(init_cfg: Any) -> list[dict]:
    """The entries of an ``init_cfg`` (a dict, a list of dicts or ``None``) that load a checkpoint file:
    ``type='Pretrained'``, ``type=PretrainedInit`` or a scoped name of it (``'mmengine.Pretrained'``). Matching the
    string ``'Pretrained'`` only, the other two spellings, which mmengine loads as well, skipped every check made on
    the file (a file that filled nothing passed) and a CR backbone's init of its unfilled blocks."""
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    return [cfg for cfg in cfgs if _loads_a_file(cfg)]


def other_init_cfgs(init_cfg: Any) -> list[dict]:
    """The entries of an ``init_cfg`` that load no file (:func:`pretrained_cfgs` are those that do): initialisers
    such as ``dict(type='Normal', layer='Conv2d', std=0.01)``."""
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    return [cfg for cfg in cfgs if isinstance(cfg, dict) and not _loads_a_file(cfg)]


def layers_reached(entries: list[dict], top: Any, block: Any) -> list[Any]:
    """The modules of ``block`` (a submodule of ``top``, the module whose ``init_cfg`` holds ``entries``) that
    mmengine's ``initialize(top, entries)`` initialises, matched as mmengine's initialisers match them
    (``mmengine.model.weight_init``): a module whose class name or the name of one of its direct bases is in an
    entry's ``layer``, or the attribute of ``top`` an entry's ``override`` names (``name``) and every module inside it
    (mmengine initialises an override's module whole)."""
    import torch.nn as nn

    layers: set[str] = set()
    named: list[Any] = []
    for entry in entries:
        layer = entry.get('layer')
        layers.update([layer] if isinstance(layer, str) else list(layer or ()))
        override = entry.get('override')
        for item in [override] if isinstance(override, dict) else list(override or ()):
            if isinstance(item, dict) and isinstance(item.get('name'), str):
                named.append(getattr(top, item['name'], None))
    # an override initialises the module it names whole (mmengine's _initialize_override: wholemodule=True, every
    # module inside it), whatever its layer: override=dict(name='layer2', ...) reaches layer2.2's convs and norms
    whole = {id(sub) for m in named if isinstance(m, nn.Module) for sub in m.modules()}
    reached = []
    for module in block.modules():
        names = {type(module).__name__, *(base.__name__ for base in type(module).__bases__)}
        if names & layers or id(module) in whole:
            reached.append(module)
    return reached


@contextlib.contextmanager
def init_cfg_over_own_inits(module: Any) -> Iterator[None]:
    """Inside the block, mmengine's ``init_weights`` of ``module`` does not call the ``init_weights`` of the mmcv
    ``ConvModule`` s inside it, where ``module`` has an ``init_cfg`` entry other than ``Pretrained`` and is not
    initialised yet.

    mmengine's ``BaseModule.init_weights`` applies ``init_cfg`` and then calls ``init_weights()`` of every direct
    child that has one and no ``is_init``: a ``ConvModule`` (initialised already when it was built) re-drew its conv
    (Kaiming) and reset its norm (weight 1) over what ``init_cfg`` had just set, so ``MBConvSupernet``'s ``stem`` and
    ``final_conv`` (and mmdet ``MobileNetV2``'s ``conv1`` / ``conv2``) ignored e.g.
    ``dict(type='Normal', layer='Conv2d', std=0.01)`` while every other layer took it; so did they under an
    ``ImageClassifier``'s ``init_cfg``. A ``BaseModule`` inside keeps mmengine's rule (its own ``init_cfg`` comes
    after this one's), and other modules with an ``init_weights`` of their own (mmcv's deformable convs zero their
    offset conv there) are still called. Without such an ``init_cfg`` entry nothing changes (the ConvModules' inits
    run as before, drawing what they drew).
    """
    from mmcv.cnn import ConvModule

    cfgs = getattr(module, 'init_cfg', None)
    cfgs = cfgs if isinstance(cfgs, list) else [cfgs]
    others = [c for c in cfgs if isinstance(c, dict) and c.get('type') != 'Pretrained']
    marked = [] if not others or getattr(module, '_is_init', False) else [
        m for m in module.modules() if isinstance(m, ConvModule) and not hasattr(m, 'is_init')]
    for conv_module in marked:
        conv_module.is_init = True  # read by mmengine's BaseModule.init_weights: "initialised, do not call"
    try:
        yield
    finally:
        for conv_module in marked:
            del conv_module.is_init


class FileFill(NamedTuple):
    """What a ``Pretrained`` file left out of a module and what of it the module left unused."""

    #: Keys of the module the file does not fill (absent, or of another shape): not loaded.
    missing: set[str]
    #: Keys of the file (under the prefix, mmengine's ``module.`` stripped) the module does not have: not loaded.
    unexpected: list[str]
    #: Keys of ``missing`` the file holds in another shape, that it must hold (or any of them, ``optional``).
    other_shape: tuple[str, ...] = ()


def check_pretrained(module: Any, checkpoint: str, prefix: str | None, skip: tuple[str, ...] = (),
                     layout: str = '', optional: tuple[str, ...] = (), check: bool = True) -> FileFill:
    """Raise unless ``checkpoint`` (under ``prefix``) holds every weight and statistic of ``module`` outside the
    ``skip`` key prefixes, in the module's shapes; return the keys of the module it does not fill and those of
    the file the module does not have.

    Args:
        module: The module the file was loaded into.
        checkpoint: The ``init_cfg`` file.
        prefix: The ``init_cfg`` prefix (e.g. ``'backbone.'``), or ``None``.
        skip: Key prefixes the file need not hold (a CR supernet's extra blocks).
        layout: What the file's layout must be, appended to the error.
        optional: Key prefixes the file need not hold but, where it holds them, must hold in the module's shapes
            (the parts mmdet adds to a ResNet block: deformable convs' offset convs, plugins).
        check: ``False``: return what the file fills without raising (:func:`check_pretrained_files` checks
            several files together).

    Raises:
        ValueError: a tensor is missing or has another shape; the message names the file, the prefix, the counts
            and the first keys of each.
    """
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix

    from automl_mm.engine.checkpoint import checkpoint_mismatch

    state = (_load_checkpoint_with_prefix(prefix, checkpoint, map_location='cpu') if prefix
             else _load_checkpoint(checkpoint, map_location='cpu'))

    def counts(key: str) -> bool:  # a tensor the file must hold
        return not key.endswith('num_batches_tracked') and not key.startswith(skip)

    found = checkpoint_mismatch(module, state)  # compared as mmengine's loader copies (``module.`` stripped)
    missing = [k for k in found['missing'] if counts(k) and not k.startswith(optional)]
    other_shape = [k for k in found['shape'] if counts(k.split(':')[0])]
    if (missing or other_shape) and check:
        where = f'{checkpoint}' + (f' (prefix {prefix!r})' if prefix else '')
        total = sum(map(counts, module.state_dict()))
        file_state = state.get('state_dict', state)
        file_keys = list(file_state)
        hint = _prefix_hint(file_state, module.state_dict(), missing) if not prefix else ''
        raise ValueError(
            f'init_cfg Pretrained {where} does not fill {type(module).__name__}: {len(missing)} of {total} '
            f'tensors missing (e.g. {missing[:3]}), {len(other_shape)} of another shape (e.g. '
            f'{other_shape[:3]}); the file has e.g. {file_keys[:3]}.' + hint + (f' {layout}' if layout else ''))
    # neither a missing tensor nor one of another shape is loaded
    return FileFill(set(found['missing']) | {k.split(':')[0] for k in found['shape']}, list(found['unexpected']),
                    tuple(k.split(':')[0] for k in other_shape))


def check_pretrained_files(module: Any, cfgs: list[dict], skip: tuple[str, ...] = (), layout: str = '',
                           optional: tuple[str, ...] = ()) -> list[FileFill]:
    """:func:`check_pretrained` of the ``Pretrained`` entries ``cfgs`` of one ``init_cfg``, taken together as
    mmengine loads them (every file, in order, ``strict=False``): a tensor one file fills is loaded whatever the
    others hold. One file is checked alone (its message unchanged); several are refused only for the tensors none
    of them fills (a backbone split over two files, stem and first stages in one, the rest in the other, loads in
    mmdet's ResNet and was refused naming the first file).

    Returns:
        Each entry's :class:`FileFill`, in order.

    Raises:
        ValueError: a tensor ``check_pretrained`` requires that no file fills (missing from each, or of another
            shape), naming every file, the counts and the first keys.
    """
    if len(cfgs) <= 1:
        return [check_pretrained(module, cfg['checkpoint'], cfg.get('prefix'), skip, layout, optional)
                for cfg in cfgs]
    fills = [check_pretrained(module, cfg['checkpoint'], cfg.get('prefix'), skip, layout, optional, check=False)
             for cfg in cfgs]
    counted = [k for k in module.state_dict() if not k.endswith('num_batches_tracked') and not k.startswith(skip)]
    shaped = {k for fill in fills for k in fill.other_shape}
    nowhere = [k for k in counted if all(k in fill.missing for fill in fills)
               and (not k.startswith(optional) or k in shaped)]
    if nowhere:
        where = ', '.join(cfg['checkpoint'] + (f' (prefix {cfg["prefix"]!r})' if cfg.get('prefix') else '')
                          for cfg in cfgs)
        raise ValueError(f'init_cfg Pretrained {where} do not fill {type(module).__name__} together: '
                         f'{len(nowhere)} of {len(counted)} tensors in none of them in its shape (e.g. '
                         f'{nowhere[:3]}).' + (f' {layout}' if layout else ''))
    return fills


def _prefix_hint(file_state: dict, module_state: dict, missing: list[str]) -> str:
    """`` Its keys start with ...: add prefix=...`` when the missing tensors are in the file, in the module's
    shapes, under one leading ``name.`` (a whole model's checkpoint: mmcls / mmpretrain and mmdet keep the backbone
    under ``backbone.``), else ``''``."""
    prefixes = sorted({k.split('.', 1)[0] + '.' for k in file_state if '.' in k})
    for p in prefixes:
        def fits(key: str, p: str = p) -> bool:
            value = file_state.get(p + key)
            return hasattr(value, 'shape') and tuple(value.shape) == tuple(module_state[key].shape)
        if missing and all(fits(k) for k in missing):
            return (f' Its keys start with {p!r} (a whole model\'s checkpoint): add prefix={p!r} to the '
                    'Pretrained init_cfg to load that part.')
    return ''


class CheckedPretrainedMixin:
    """``init_weights`` = mmengine's (with :func:`init_cfg_over_own_inits`), then :func:`check_pretrained` for each
    ``Pretrained`` entry of ``init_cfg``.

    Put it before ``BaseModule`` in the bases of an automl_mm backbone.

    Raises:
        ValueError: from :meth:`init_weights`, when a ``Pretrained`` file does not fill the module.
    """

    #: What the error says the file's layout must be.
    pretrained_layout = ('It must be a checkpoint of this backbone (its own key names, e.g. from an automl_mm '
                         'run); convert other layouts first.')

    def init_weights(self) -> None:
        initialised = getattr(self, '_is_init', False)
        with init_cfg_over_own_inits(self):
            super().init_weights()  # type: ignore[misc]
        if initialised:
            return  # mmengine initialises once (a second call only warns): nothing was loaded to check
        check_pretrained_files(self, pretrained_cfgs(getattr(self, 'init_cfg', None)), layout=self.pretrained_layout)
