"""Config inheritance (part of :func:`automl_mm.engine.preflight.check_config`): what a child config file
assigns reaches what it was meant to change. mmengine resolves a base file's names when it reads that file, so a
child that redefines ``train_pipeline`` alone, or assigns ``train_dataloader`` without its ``pipeline``, leaves the
base's loader with the base's pipeline (:func:`_check_train_pipeline_used`).
"""
from __future__ import annotations

from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _datasets


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
    pipeline, loader = cfg.get('train_pipeline'), cfg.get('train_dataloader')
    if not path or not isinstance(pipeline, (list, tuple)) or not isinstance(loader, dict):
        return
    names = _assigned_names(path)
    if names is None or 'train_pipeline' not in names or names.get('train_dataloader'):
        return
    if any(d.get('pipeline') == pipeline for d, _ in _datasets(loader.get('dataset'), 'train_dataloader.dataset')):
        return  # the file reached the loader another way (a name the loader was built with)
    types = [config_type_name(t) for t in pipeline if isinstance(t, dict)]
    what = 'and train_dataloader without its pipeline' if 'train_dataloader' in names else 'but not train_dataloader'
    raise ConfigCheckError(f'{path} assigns train_pipeline ({", ".join(types)}) {what}, whose '
                           'dataset keeps the pipeline its base config was read with: the run would train without '
                           'it. Rebind it in the same file: train_dataloader = dict(dataset=dict('
                           'pipeline=train_pipeline)) (for a dataset wrapper, the wrapped dataset\'s pipeline)')
