"""The retrain config a search exports: the checks of ``train_cfg.retrain_config`` (a file that trains one
architecture, with the searched backbone) and the exported config's text.

Used by ``PCNASLoop`` and ``CRNASLoop``; still importable from :mod:`automl_mm.nas.loop`, their former home.
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Callable, Sequence
from typing import Any

from .retrain_data_paths import (  # noqa: F401 (served here: their former home)
    _READS_LOCALLY,
    _backend_reads,
    _is_local_relative,
    _local_ann_file_note,
    _own_backend,
    absolute_data_paths,
)
from .search_log import warn


def check_retrain_config(path: str | None) -> str | None:
    """``train_cfg.retrain_config`` as an absolute path, or an error now: the export reads it again at the end (its
    resolved copy, :func:`resolved_config_text`, or, where that has no text, as ``_base_``), and a path relative to
    another directory than the one the run starts in exported a config that could not load.

    A config whose ``train_cfg`` is a search loop (``PCNASLoop``, ``CRNASLoop`` or a subclass, its ``type`` resolved
    as the runner builds it, in its ``_scope_``, else the config's ``default_scope``: e.g. the search config itself)
    is refused: the exported config inherits its ``train_cfg``, so "retraining" the searched architecture ran
    another search over it (a PC-NAS space of one operator per layer, a CR-NAS supernet at the exported allocation)
    with the search's schedule, and exported that.

    Raises:
        ValueError: naming ``train_cfg.retrain_config``: the file is missing, cannot be read (a ``_base_`` that
            names no file, a failing ``custom_imports``: :func:`~automl_mm.engine.config_read.read_config`'s message),
            or trains with a search loop.
    """
    if path is None:
        return None
    if not osp.isfile(path):
        raise ValueError(f'train_cfg.retrain_config not found: {path!r} (a relative path is read from the current '
                         f'directory, {os.getcwd()})')
    from automl_mm.engine.config_read import read_config
    from automl_mm.engine.preflight_walk import runner_scope
    from automl_mm.registry import LOOPS, config_class

    from .loop import SearchLoopBase  # the loop imports this module

    try:
        retrain = read_config(path)
    except FileNotFoundError as err:  # a _base_: read_config names the config, the entry and where it looked
        raise ValueError(f'train_cfg.retrain_config {path!r}: {err}') from None
    except ImportError as err:  # its custom_imports: the module's own error stays chained
        raise ValueError(f'train_cfg.retrain_config {path!r}: {err}') from err
    loop = retrain.get('train_cfg')
    kind = loop.get('type') if isinstance(loop, dict) else None
    # as the retrain config's runner builds it: its _scope_, else the runner's scope (runner_scope: 'mmengine'
    # without default_scope, whose registry holds no search loop; None: a scope prefix of a package not installed)
    cls = config_class(LOOPS, loop, runner_scope(retrain))
    if cls is not None and issubclass(cls, SearchLoopBase):
        raise ValueError(f'train_cfg.retrain_config {path!r} trains with train_cfg.type={kind!r}, a search loop: the '
                         'exported config inherits it and would run another search over the searched architecture '
                         'instead of training it; give the config that trains one architecture from scratch (e.g. '
                         'configs/pc_nas/pc-nas-retrain_*.py, configs/cr_nas/cr-nas-final_*.py)')
    return osp.abspath(path)


def check_retrain_backbone(retrain_config: str | None, searched: dict, exported: Sequence[str],
                           fill: dict | None = None, ignored: Sequence[str] = (),
                           scope: str | None = 'automl_mm') -> None:
    """Refuse a ``retrain_config`` whose ``model.backbone`` is another network than the searched one: the export
    writes only the ``exported`` keys (the searched ``arch``, or ``stage_blocks`` / ``dilations_per_block``) over
    it, so any other difference (depth, widths, strides, stem, activation, normalisation) was retrained silently:
    a search on a CR-ResNet-18 exported a ResNet-50 with its allocation; one with ReLU retrained with ReLU6.

    Both configs, without the exported and ``ignored`` keys (and ``init_cfg``) and with ``fill`` set in both (e.g.
    one allocation for two plain networks), are built each in the scope its model builds it in (the searched one in
    ``scope``; the retrain one in its model's ``_scope_``, else the scope the retrain config's runner builds in,
    :func:`~automl_mm.engine.preflight_walk.runner_scope`: ``'mmengine'`` without ``default_scope``: an unprefixed
    ``type`` is built as that config's runner builds it, e.g. mmdet's ``HRNet`` under ``'mmdet'``) and compared
    module by module (``repr``: types, shapes, strides, dilations, activations, norms). Nothing is built when the
    two configs are equal (the shipped configs).

    Args:
        retrain_config: Absolute path (``check_retrain_config``), or None: nothing to check.
        searched: The search run's ``model.backbone`` config.
        exported: The keys the export writes over the retrain config's backbone.
        fill: Keys set in both before building.
        ignored: Other keys left out of both (search-only keys, e.g. ``max_stage_blocks``).
        scope: The scope the search built its backbone in (:func:`backbone_scope`).

    Raises:
        ValueError: naming ``train_cfg.retrain_config`` and the first module that differs, or why the retrain
            backbone cannot be built.
        FileNotFoundError, ImportError: the file cannot be read (:func:`~automl_mm.engine.config_read.read_config`:
            a ``_base_`` that names no file is named with where mmengine looked).
    """
    if retrain_config is None:
        return
    from mmengine.registry import DefaultScope

    from automl_mm.engine.config_read import read_config
    from automl_mm.engine.preflight_walk import _built_in, runner_scope
    from automl_mm.registry import MODELS

    retrain_cfg = read_config(retrain_config)
    retrain = (retrain_cfg.get('model') or {}).get('backbone')
    if not isinstance(retrain, dict):
        return  # no backbone to compare (a config that sets the backbone elsewhere)
    dropped = {*exported, *ignored, 'init_cfg'}
    configs = [{k: v for k, v in dict(cfg).items() if k not in dropped} for cfg in (retrain, searched)]
    if configs[0] == configs[1]:
        return
    layouts = []
    # each built in the scope its model builds it in: the model's _scope_, else its runner's (runner_scope of the
    # retrain config: 'mmengine' without default_scope; ``scope`` for the searched one)
    scopes = (_built_in(retrain_cfg.get('model') or {}, runner_scope(retrain_cfg)), scope)
    for name, cfg, cfg_scope in zip(('retrain', 'searched'), configs, scopes):
        try:
            with DefaultScope.overwrite_default_scope(cfg_scope):
                layouts.append(repr(MODELS.build({**cfg, **(fill or {})})).splitlines())
        except Exception as err:  # the retrain backbone cannot take the exported keys' values
            raise ValueError(f'train_cfg.retrain_config {retrain_config}: its model.backbone cannot be built as the '
                             f'{name} network ({type(err).__name__}: {err}); give it the searched backbone\'s type '
                             'and settings') from None
    if layouts[0] != layouts[1]:
        line = next((i for i, (a, b) in enumerate(zip(*layouts)) if a != b), min(map(len, layouts)))
        got = [rows[line].strip() if line < len(rows) else '(nothing)' for rows in layouts]
        raise ValueError(f'train_cfg.retrain_config {retrain_config}: its model.backbone is another network than the '
                         f'searched one, but the export sets only {", ".join(exported)} over it (first difference, '
                         f'module line {line}: retrain {got[0]!r}, searched {got[1]!r}); give it the searched '
                         'backbone\'s settings')


def retrain_config_snapshot(path: str | None) -> dict | None:
    """``train_cfg.retrain_config`` as the search's start checked it: the config its ``_base_`` chain resolves to,
    as a plain dict (None without a retrain config). :func:`recheck_retrain_config` compares it at the export.

    Raises:
        Exception: whatever :func:`~automl_mm.engine.config_read.read_config` raises (mmengine's ``Config.fromfile``,
            a ``_base_`` that names no file explained; the start's checks read the file first).
    """
    if path is None:
        return None
    from automl_mm.engine.config_read import read_config

    return read_config(path).to_dict()


def recheck_retrain_config(path: str | None, checked: dict | None, check: Callable[[], None]) -> ValueError | None:
    """At a search's export: the refusal, if any, of a ``train_cfg.retrain_config`` edited, moved or deleted since
    the search's start checked it.

    The exported final config inherits the retrain config as the file reads at the export (its resolved copy,
    :func:`resolved_config_text`), not as the start read it: the export writes from what the file holds at the end. The
    start's checks (``check``: not a search loop, the searched backbone, the image size) ran on what the file held at
    the start, and an edit during the search (a search's config pasted in, another depth) was exported unchecked. Where
    the resolved config differs from ``checked`` (:func:`retrain_config_snapshot`), the start's checks run again:
    passed, a warning names the changed keys (``key: old -> new``) and the export goes on with the file as it is;
    failed, or the file can no longer be read, the refusal names the changed keys and the check's error.

    Args:
        path: Absolute path of ``train_cfg.retrain_config``, or None: nothing to check.
        checked: Its snapshot at the start.
        check: The loop's start checks of the retrain config, run again (raise ``ValueError``).

    Returns:
        None (unchanged, or changed and passing), else the ``ValueError`` to raise, naming
        ``train_cfg.retrain_config`` and the file.
    """
    if path is None:
        return None
    from automl_mm.engine.resume_config import MAX_KEYS, config_differences, shown_value

    try:
        now = retrain_config_snapshot(path)
    except Exception as err:  # noqa: BLE001  (deleted, moved, or edited into a file mmengine cannot load)
        return ValueError(f'train_cfg.retrain_config {path} cannot be read at the export, where the search\'s start '
                          f'read and checked it ({type(err).__name__}: {err}); the exported config is '
                          'written from what it holds at the export')
    differences = config_differences(checked, now)  # ==, key by key (a value without a plain == by its repr)
    if not differences:
        return None
    listed = '; '.join(f'{key}: {shown_value(old)} -> {shown_value(new)}' for key, old, new in differences[:MAX_KEYS])
    if len(differences) > MAX_KEYS:
        listed += f'; and {len(differences) - MAX_KEYS} more'
    try:
        check()
    except ValueError as err:
        return ValueError(f'train_cfg.retrain_config {path} was edited during the search ({listed}) and no longer '
                          f'passes the checks its start passed: {err}')
    warn(f'train_cfg.retrain_config {path} was edited during the search ({listed}): checked again as at the start; '
         'the exported config inherits it as it is now')
    return None


def retrain_config_text(base: str | None, model_override: str, comment: str) -> str:
    """A config inheriting ``base`` with a model override; ``base=None`` writes the override only.

    ``base`` starting with ``./`` is kept (relative to the written file's folder, where mmengine reads it from: the
    copy :func:`resolved_config_text` gives, written beside it); any other path is written absolute.
    """
    lines = [f'# {line}' if line else '#' for line in comment.splitlines()]
    if base is not None:
        lines.append(f'_base_ = {base if base.startswith("./") else osp.abspath(base)!r}')
    lines.append(model_override)
    return '\n'.join(lines) + '\n'


def retrain_copy_name(final_name: str) -> str:
    """The file name of the retrain config's copy a final config inherits: ``pc_nas_final_config.py`` ->
    ``pc_nas_retrain_config.py``."""
    return final_name.replace('_final_config.py', '_retrain_config.py')


def resolved_config_text(path: str, data_paths: list | None = None) -> str | None:
    """The config at ``path`` as its ``_base_`` chain resolves, as one self-contained Python config text (mmengine's
    ``Config.pretty_text``, what ``Config.dump`` writes), or None where that text does not load back to the same
    config (a value with no Python literal, e.g. a class object as a ``type``).

    A search's final config inherits this copy, written beside it in the work dir, by a relative path: it inherited
    ``train_cfg.retrain_config`` by its absolute path, and a work dir copied to another checkout or machine no longer
    loaded. Its data paths relative to the current directory are written absolute where they exist from it
    (:func:`absolute_data_paths`): mmengine reads them from the directory a run starts in, so a copy retrained from
    another directory read other data, or none; ``data_paths`` (a list) receives ``(rewritten, left, kept)``
    (:func:`absolute_data_paths` and its ``kept``).

    Raises:
        Exception: whatever :func:`~automl_mm.engine.config_read.read_config` raises (the export's recheck read the
            file just before).
    """
    from mmengine.config import Config

    from automl_mm.engine.config_read import read_config

    cfg = read_config(path)
    kept: list = []
    found = absolute_data_paths(cfg, kept)
    if data_paths is not None:
        data_paths.append((*found, kept))
    try:
        text = cfg.pretty_text
        same = Config.fromstring(text, '.py').to_dict() == cfg.to_dict()
    except Exception:  # noqa: BLE001  (no literal for a value: the text does not parse or load)
        return None
    return text if same else None


def registered_type_name(cls: type) -> str:
    """``'<scope>.<name>'`` under which ``cls`` is registered in a ``MODELS`` registry of the tree automl_mm's belongs
    to (automl_mm's, mmdet's, mmengine's, ...): the text a config names it by.

    Raises:
        ValueError: ``cls`` is registered in none of them (a config text cannot name it).
    """
    from automl_mm.registry import MODELS

    root = MODELS
    while root.parent is not None:
        root = root.parent
    todo = [root]
    while todo:
        registry = todo.pop(0)
        name = next((k for k, v in registry.module_dict.items() if v is cls), None)
        if name is not None:
            return f'{registry.scope}.{name}'
        todo.extend(registry.children.values())
    raise ValueError(f'model.backbone.type is the class {cls.__module__}.{cls.__qualname__}, which no MODELS registry '
                     'holds: a backbone fragment cannot name it; register it with @MODELS.register_module() '
                     '(automl_mm.registry)')


def fragment_type(kind: str | type, scope: str | None = 'automl_mm') -> tuple[str, type]:
    """The text a backbone fragment names ``model.backbone.type`` by, and the class it builds.

    An unprefixed name is resolved as the search built it, in the scope it built the backbone in (``scope``,
    :func:`backbone_scope`;
    :func:`~automl_mm.registry.registered_class`: that scope's ``MODELS`` and its parents), and written with that
    scope's prefix (the fragment loads in a config of any scope): ``'CRResNet'`` under ``'automl_mm'`` is
    ``'automl_mm.CRResNet'``, ``'ResNet'`` under ``'mmdet'`` is ``'mmdet.ResNet'`` (``'automl_mm.ResNet'``, which
    automl_mm registers too, named another class than the search built); a name the scope does not resolve gets the
    ``automl_mm.`` prefix. A prefixed name is kept; a class object (a pure-Python config) is written by its
    registered name (:func:`registered_type_name`).

    Args:
        kind: ``model.backbone.type`` (a name or a class).
        scope: The scope the search built its backbone in (:func:`backbone_scope`; None: the current default scope).

    Raises:
        ValueError: naming ``model.backbone.type``: a class no ``MODELS`` registry holds, or a name the fragment's
            type does not build (e.g. ``'MyNet'`` registered in no registry of ``scope``, written
            ``'automl_mm.MyNet'``).
    """
    from automl_mm.registry import MODELS, registered_class

    if isinstance(kind, type):
        return registered_type_name(kind), kind

    def built(text: str) -> type | None:
        try:
            cls = MODELS.get(text)
        except KeyError:  # a scope prefix of a package not installed
            return None
        return cls if isinstance(cls, type) else None

    if '.' not in kind:
        searched = registered_class(MODELS, kind, scope)  # the class the search built
        if isinstance(searched, type):
            text = f'{scope}.{kind}' if scope and built(f'{scope}.{kind}') is searched else \
                registered_type_name(searched)
            return text, searched
    text = kind if '.' in kind else f'automl_mm.{kind}'
    cls = built(text)
    if cls is None:
        raise ValueError(f'model.backbone.type={kind!r}: the backbone fragment would name it {text!r}, which no MODELS '
                         'registry builds (a config of any scope loads the fragment, so the type needs its scope '
                         "prefix: write type='<scope>.<name>', e.g. 'mmdet.ResNet', with the name its registry "
                         'holds)')
    return text, cls


def backbone_scope(runner: Any) -> str | None:
    """The scope a search's runner built its ``model.backbone`` in: the backbone's ``_scope_``, else its model's
    (mmengine builds the model in that scope, and the model's class builds the backbone), else the runner's own
    (:func:`~automl_mm.engine.preflight_walk.built_scope`: the ``Runner(default_scope=...)`` argument, not its
    ``cfg``'s key, which a runner built directly may lack). ``None``: the current default scope."""
    from automl_mm.engine.preflight_walk import _built_in, built_scope
    from automl_mm.engine.runner_checks import checked_config

    model = checked_config(runner).get('model') or {}  # Runner(model=dict(...), cfg=dict(...)): the argument
    backbone = model.get('backbone') if isinstance(model, dict) else None
    scope = _built_in(model, built_scope(runner)) if isinstance(model, dict) else built_scope(runner)
    return _built_in(backbone, scope) if isinstance(backbone, dict) else scope


def search_backbone(runner: Any, loop: str) -> dict:
    """The search's ``model.backbone`` config as its runner runs it: the ``model`` argument given as a config, else
    its ``cfg``'s (:func:`~automl_mm.engine.runner_checks.checked_config`; ``runner.cfg`` alone missed the model of
    ``Runner(model=dict(...), cfg=dict(...))``). The export writes the searched keys over it; the retrain config's
    backbone is compared with it.

    Args:
        runner: The search's runner.
        loop: ``train_cfg.type``, named in the error.

    Returns:
        A copy (a plain ``dict``; its values as configured).

    Raises:
        ValueError: the runner holds no ``model.backbone`` dict (a model given built, with no ``model`` in its
            ``cfg``): the search could not write its result, which it did only after the whole search.
    """
    from automl_mm.engine.runner_checks import checked_config

    model = checked_config(runner).get('model')
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone, dict):
        held = f'model.backbone={backbone!r}' if isinstance(model, dict) else \
            f'its model was given built ({type(getattr(runner, "model", None)).__name__}) and its cfg has no model'
        raise ValueError(f'train_cfg.type={loop} exports the searched backbone as its model.backbone config with the '
                         f'searched keys written over it, but the runner holds no such config ({held}): give '
                         'Runner(model=...) the model as a config dict, or its cfg the model entry')
    return dict(backbone)


def check_backbone_exportable(backbone: dict | None, loop: str, scope: str | None = 'automl_mm') -> None:
    """Refuse, at the start of a search, a ``model.backbone.type`` its export cannot name in the backbone fragment
    (:func:`fragment_type`): a class object no ``MODELS`` registry holds (a class of one's own without
    ``@MODELS.register_module()``) was refused only by the export, after the whole search, and the search was lost.

    Args:
        backbone: The search config's ``model.backbone`` (None or a type of another kind: nothing to check).
        loop: ``train_cfg.type``, named in the error.
        scope: The scope the search built its backbone in (:func:`backbone_scope`), in which an unprefixed type is
            resolved.

    Raises:
        ValueError: :func:`fragment_type`'s error, saying that the search would be lost at its export.
    """
    kind = (backbone or {}).get('type') if isinstance(backbone, dict) else None
    if not isinstance(kind, (str, type)):
        return
    try:
        fragment_type(kind, scope)
    except ValueError as err:
        raise ValueError(f'{err}. train_cfg.type={loop} writes the searched backbone as such a fragment at its end: '
                         'refused before the search, which would otherwise run to the end and fail there') from None


def backbone_fragment_text(title: str, backbone: dict, scope: str | None = 'automl_mm') -> str:
    """The searched backbone as a fragment to paste into a config of one's own (``cr_nas_backbone.py``,
    ``pc_nas_backbone.py``), loadable whatever that config's ``default_scope`` is.

    The fragment named the search config's backbone type as it was written (``'MBConvSupernet'``, or
    ``'automl_mm.CRResNet'``) and imported nothing: pasted into a stock mmdet config (``default_scope='mmdet'``), an
    unprefixed type is looked up in mmdet's registry, and a prefixed one needs automl_mm imported, so mmdet's
    ``tools/train.py`` stopped with ``KeyError``. Now the type carries the prefix of the scope the search resolved
    it in (:func:`fragment_type`; a type with a scope of its own is kept), the fragment sets ``custom_imports``
    (automl_mm and the module of a user's backbone class, :func:`~automl_mm.ohl.report.custom_imports_line`) and
    its comment gives the line that replaces another
    backbone whole (``_delete_=True``: merged over mmdet's ResNet, that backbone's keys would be kept). Pasted with
    that line alone into mmdet's ``faster-rcnn_r50_fpn_1x_coco.py``, a searched CR-ResNet-18 met an FPN written for
    ResNet-50's maps and failed at the first step (torch: "expected input[1, 64, 16, 16] to have 256 channels"):
    the fragment now also sets ``backbone_out_channels``, the widths of the maps the backbone returns (built on
    the meta device, :func:`~automl_mm.engine.preflight_model.backbone_widths`), and the comment's line sets
    ``model.neck.in_channels`` to them where the backbone returns several maps (a detector's neck); a single map
    (a classifier's backbone) is named for the head's ``in_channels``. A ``type`` given as the class object (a
    pure-Python config) is written by its registered name (:func:`registered_type_name`): written as itself, the
    fragment did not parse.

    Args:
        title: The first comment line (what was searched and its score).
        backbone: The backbone config (``type``, a name or a registered class, and its arguments).
        scope: The scope the search built its backbone in (:func:`backbone_scope`), in which an unprefixed ``type``
            is resolved
            (:func:`fragment_type`).

    Returns:
        Python config text setting ``custom_imports``, ``backbone`` and, where the widths can be learnt on the meta
        device, ``backbone_out_channels``.

    Raises:
        ValueError: ``type`` is a class no ``MODELS`` registry holds, or a name the fragment cannot build
            (:func:`fragment_type`; the search loops refuse both at start, :func:`check_backbone_exportable`).
    """
    from automl_mm.engine.preflight_model import backbone_widths
    from automl_mm.ohl.report import custom_imports_line
    from automl_mm.utils.config_text import config_literal

    backbone = dict(backbone)
    classes = []
    if isinstance(backbone.get('type'), (str, type)):
        backbone['type'], cls = fragment_type(backbone['type'], scope)
        classes = [cls]
    widths = backbone_widths(backbone, 'automl_mm')
    if widths and len(widths) > 1:
        paste = ('# Paste into a config of your own: model = dict(backbone=dict(_delete_=True, **backbone),\n'
                 '#     neck=dict(in_channels=backbone_out_channels)) replaces its backbone whole (without\n'
                 '# _delete_=True the keys of its backbone, e.g. mmdet ResNet\'s, are kept) and gives its neck the\n'
                 '# widths of these maps (a neck written for another backbone, e.g. an FPN for ResNet-50\'s\n'
                 '# [256, 512, 1024, 2048], fails at the first step).\n')
    else:
        paste = ('# Paste into a config of your own: model = dict(backbone=dict(_delete_=True, **backbone)) replaces'
                 ' its\n# backbone whole (without _delete_=True the keys of its backbone, e.g. mmdet ResNet\'s, are'
                 ' kept).\n')
        if widths:
            paste += '# Its map has backbone_out_channels[0] channels: the head\'s in_channels where it was another.\n'
    return (f'# {title}\n' + paste
            + custom_imports_line(classes, 'the searched backbone')
            + f'backbone = {config_literal(backbone, width=110, compact=True, sort_dicts=False)}\n'
            + (f'backbone_out_channels = {config_literal(widths)}\n' if widths else ''))
