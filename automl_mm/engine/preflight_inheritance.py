"""Config inheritance (part of :func:`automl_mm.engine.preflight.check_config`): what a child config file
assigns reaches what it was meant to change. mmengine resolves a base file's names when it reads that file, so a
child that redefines ``train_pipeline`` alone, or assigns ``train_dataloader`` without its ``pipeline``, leaves the
base's loader with the base's pipeline (:func:`_check_train_pipeline_used`); the same with ``test_pipeline`` and the
scored loaders is warned of (:func:`warn_test_pipeline_unused`).
"""
from __future__ import annotations

from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import _LOADERS, ConfigCheckError, _datasets, outside_split


def _assigned_names(path: str) -> dict[str, bool] | None:
    """The names a config file assigns at its top level, each with whether one of its assigned values names a
    ``pipeline`` (a ``pipeline=`` keyword or a ``'pipeline'`` dict key at any depth), ``None`` if the file is not
    Python that parses."""
    import ast

    try:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    names: dict[str, bool] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        value = getattr(node, 'value', None)
        pipeline = value is not None and any(
            (isinstance(n, ast.keyword) and n.arg == 'pipeline')
            or (isinstance(n, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == 'pipeline' for k in n.keys))
            for n in ast.walk(value))
        for t in targets:
            if isinstance(t, ast.Name):
                names[t.id] = names.get(t.id, False) or pipeline
    return names


def _check_train_pipeline_used(cfg: Any) -> None:
    """A config file that assigns ``train_pipeline`` trains with that pipeline.

    mmengine resolves ``pipeline=train_pipeline`` when the base file is read: a child config that redefines
    ``train_pipeline`` alone (as a retraining config with an exported policy is usually written) leaves the base's
    loader with the base's pipeline, and trained without the new one, silently; so did one that assigns
    ``train_dataloader`` for its own data (``batch_size``, ``data_root``, ``ann_file``: a stock mmdet config
    pasted with an exported policy) without ``pipeline`` in it (until the forty-first session any file that
    assigned ``train_dataloader`` passed). Only the file itself is read for what it assigns: a config whose
    loader pipeline was changed while the top-level name stayed (a benchmark arm, a dumped config) assigns a
    ``pipeline`` in its ``train_dataloader`` and is not checked.

    Raises:
        ConfigCheckError: naming the file, the pipeline's transforms and the rebinding it needs.
    """
    path = getattr(cfg, 'filename', None)
    names = _assigned_names(path) if path else None
    if not names or 'train_pipeline' not in names:
        return
    what = _rebinding_needed(cfg, names, 'train_pipeline', 'train_dataloader')
    if what is not None:
        raise ConfigCheckError(f'{path} {what}, whose '
                               'dataset keeps the pipeline its base config was read with: the run would train '
                               'without it. Rebind it in the same file: train_dataloader = dict(dataset=dict('
                               'pipeline=train_pipeline)) (for a dataset wrapper, the wrapped dataset\'s pipeline)')


def _rebinding_needed(cfg: Any, names: dict[str, bool], pipeline_key: str, loader_key: str) -> str | None:
    """The message's middle part when the file assigns ``pipeline_key`` but its ``loader_key`` keeps another
    pipeline (the file does not assign that loader with a ``pipeline`` in it, and no dataset of the resolved loader
    holds the file's pipeline), else None."""
    pipeline, loader = cfg.get(pipeline_key), cfg.get(loader_key)
    if not isinstance(pipeline, (list, tuple)) or not isinstance(loader, dict) or names.get(loader_key):
        return None
    datasets = [d for d, _ in _datasets(loader.get('dataset'), f'{loader_key}.dataset')]
    if not datasets or any(d.get('pipeline') == pipeline for d in datasets):
        return None  # the file reached the loader another way (a name the loader was built with)
    types = [config_type_name(t) for t in pipeline if isinstance(t, dict)]
    what = f'and {loader_key} without its pipeline' if loader_key in names else f'but not {loader_key}'
    return f'assigns {pipeline_key} ({", ".join(types)}) {what}'


def warn_test_pipeline_unused(cfg: Any, test_only: bool = False, split: str = 'test') -> None:
    """Warn where a config file assigns ``test_pipeline`` and a scored loader (``val_dataloader``,
    ``test_dataloader``, ``reward_dataloader``, ``search_dataloader``; with ``test_only`` only
    ``{split}_dataloader``) keeps its base's pipeline: the fault of :func:`_check_train_pipeline_used` on the scored
    side, where the run was validated, tested or rewarded with the base's pipeline, silently. A warning, not a
    refusal: mmdet ships such leaves (bytetrack's and strongsort's MOT20 configs set their val and test loaders'
    data only, under another ``img_scale`` than their base's), which its users run as they are."""
    from mmengine.logging import print_log

    path = getattr(cfg, 'filename', None)
    names = _assigned_names(path) if path else None
    if not names or 'test_pipeline' not in names:
        return
    for key in _LOADERS:
        if key == 'train_dataloader' or outside_split(key, test_only, split):
            continue
        what = _rebinding_needed(cfg, names, 'test_pipeline', key)
        if what is not None:
            print_log(f'{path} {what}, whose dataset keeps the pipeline its base config was read with: it is scored '
                      f'with that pipeline, not this one. Rebind it in the same file: {key} = dict(dataset=dict('
                      'pipeline=test_pipeline)) (for a dataset wrapper, the wrapped dataset\'s pipeline)',
                      logger='current', level=30)


#: Hooks an exported OHL fragment (``final_policy.py``, ``schedule_policy.py``) puts in ``custom_hooks``.
REPLAY_HOOKS = frozenset({'SetAttributesHook', 'TrunkScheduleHook'})
#: Hooks of a search that a retraining config drops on purpose.
SEARCH_HOOKS = frozenset({'OHLHook'})


def base_custom_hooks(path: str) -> list | None:
    """The ``custom_hooks`` of the ``_base_`` files of the config file ``path`` (each read whole, as mmengine
    reads it; an mmdet package path such as ``'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py'`` too), in their order;
    ``None`` when the file names no base or a base cannot be read here."""
    from mmengine.config import Config

    try:
        bases = Config._get_base_files(path)
    except Exception:  # not a config mmengine parses: the runner names it
        return None
    if not bases:
        return None
    hooks: list = []
    for base in bases:
        try:
            found, _ = Config._get_cfg_path(base, path)
            hooks += list(Config.fromfile(found).get('custom_hooks') or [])
        except Exception:
            return None
    return hooks


def warn_base_hooks_dropped(cfg: Any) -> None:
    """Warn where a config file pastes an exported OHL fragment (its ``custom_hooks`` hold a ``SetAttributesHook``
    or ``TrunkScheduleHook``) over a base whose ``custom_hooks`` held other hooks: mmengine replaces a list, so the
    fragment's ``custom_hooks = [...]`` dropped them (an mmdet RTMDet's ``EMAHook`` and ``PipelineSwitchHook``; the
    retrain trained without them, silently). A search's ``OHLHook`` is dropped on purpose and not named; a base hook
    whose type is listed again in the file is kept (with other settings too: a retrain's own EMA momentum). A
    warning, not a refusal: dropping a hook may be meant.

    Only the file itself is read for what it assigns (as :func:`_check_train_pipeline_used`), and its bases are
    read again only when it holds such a hook."""
    from mmengine.logging import print_log

    path = getattr(cfg, 'filename', None)
    names = _assigned_names(path) if path else None
    hooks = cfg.get('custom_hooks')
    if not names or 'custom_hooks' not in names or not isinstance(hooks, (list, tuple)):
        return
    if not any(config_type_name(h) in REPLAY_HOOKS for h in hooks):
        return
    listed = {config_type_name(h) for h in hooks}  # a base hook listed again, with its settings or others, runs
    dropped = [h for h in base_custom_hooks(path) or []
               if config_type_name(h) not in REPLAY_HOOKS | SEARCH_HOOKS | listed]
    if dropped:
        kinds = ', '.join(config_type_name(h) or repr(h) for h in dropped)
        print_log(f'{path} assigns custom_hooks (with an exported OHL replay hook), which replaces its base '
                  f'config\'s list: the base\'s {kinds} will not run. List them in it too to keep them: '
                  'custom_hooks = [<the base\'s hooks>, <the fragment\'s hooks>]', logger='current', level=30)
