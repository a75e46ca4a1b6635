"""The data paths of a retrain config a search exports: which of its paths relative to the current directory are
written absolute in the exported copy, and which are kept as written because a storage backend reads them
(:func:`absolute_data_paths`).

Split from :mod:`automl_mm.nas.retrain_export` (the exported config's checks and text), which still serves every
name here.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any


def _is_local_relative(value: Any) -> bool:
    """A non-empty path string that mmengine reads relative to the current directory (not absolute, no URL)."""
    return isinstance(value, str) and bool(value) and not osp.isabs(value) and '://' not in value


def _backend_reads(node: Any) -> bool:
    """Whether the paths of ``node`` (a dataset or metric config, or the whole config) are read through a storage
    backend other than the local disk at that path: a ``backend_args`` / ``file_client_args`` in it or anything it
    holds (a dataset's pipeline loads its images with its own), of a remote backend (``petrel``, whose
    ``path_mapping`` maps the path as written: ``data/`` -> ``s3://...``) or of a ``LocalBackend`` subclass that may
    map paths (:func:`~automl_mm.engine.preflight_walk.reads_through_backend`)."""
    from automl_mm.engine.preflight_walk import _local_backend_subclass, remote_backend

    if isinstance(node, dict):
        for name, value in node.items():
            if name in ('backend_args', 'file_client_args') and (remote_backend(value) or
                                                                _local_backend_subclass(value)):
                return True
            if _backend_reads(value):
                return True
    elif isinstance(node, (list, tuple)):
        return any(_backend_reads(value) for value in node)
    return False


def _own_backend(node: Any) -> bool:
    """Whether ``node`` itself (not what it holds: a dataset's pipeline) names a backend other than the local disk in
    its ``backend_args`` / ``file_client_args`` (:func:`_backend_reads`)."""
    from automl_mm.engine.preflight_walk import _local_backend_subclass, remote_backend

    return any(remote_backend(node.get(name)) or _local_backend_subclass(node.get(name))
               for name in ('backend_args', 'file_client_args'))


#: How :func:`_local_ann_file_note` ends where the class reads the file from the local disk whatever its backend.
_READS_LOCALLY = 'reads it from the local disk, not through its backend_args'


def _local_ann_file_note(node: dict, scope: str | None) -> str | None:
    """Why the ``ann_file`` of ``node``, a config node with its own storage backend (:func:`_own_backend`), is read
    from the local disk as written, else ``None``: its dataset class reads it through its ``backend_args``
    (:func:`~automl_mm.engine.ann_file_backend.ann_file_through_backend`: mmdet's ``CocoDataset``, ``LVISV1Dataset``,
    ``XMLDataset``, ...), or it is a metric (mmdet's ``CocoMetric`` / ``LVISMetric`` open it with their
    ``backend_args``). A class that reads it with ``open`` / ``load`` without ``backend_args`` (mmdet's
    ``BaseDetDataset``, with mmengine's ``BaseDataset.load_data_list``, ``CocoCaptionDataset``, ``DODDataset``,
    ``Flickr30kDataset``, video datasets; ``RefCocoDataset``, ``DSDLDetDataset`` by
    :data:`~automl_mm.engine.ann_file_backend.KNOWN_READINGS`) says so; one whose reading cannot be told, or a
    ``type`` resolved to no dataset class in ``scope``, says that."""
    from mmengine.dataset import BaseDataset

    from automl_mm.engine.ann_file_backend import ann_file_through_backend, never_reads_ann_file
    from automl_mm.registry import DATASETS, METRICS, config_class

    cls = config_class(DATASETS, node, scope)
    if isinstance(cls, type) and issubclass(cls, BaseDataset):
        if never_reads_ann_file(cls):
            return None  # it never reads one (automl_mm's sets refuse it at build; mmdet's ADE20KSegDataset ignores it)
        through = ann_file_through_backend(cls)
        if through:
            return None
        if through is False:
            return f'{cls.__name__} {_READS_LOCALLY}'
        return (f'whether {cls.__name__} reads it through its backend_args cannot be told: its load_data_list could '
                'not be probed')
    if config_class(METRICS, node, scope) is not None:
        return None
    return (f'its type {node.get("type")!r} is no dataset class in scope {scope!r}: whether it reads it through its '
            'backend_args cannot be told')


def absolute_data_paths(cfg: Any, kept: list | None = None) -> tuple[list[tuple[str, str, str]],
                                                                     list[tuple[str, str]]]:
    """Rewrite, in place, the data paths of ``cfg`` (a ``Config`` or a dict) that mmengine reads relative to the
    current directory as absolute paths, where they exist from it: ``data_root`` of any node (a dataset's, and the
    config's top-level variable), and, in a node without ``data_root`` (to which mmengine's ``BaseDataset`` joins
    them otherwise), ``ann_file`` (a dataset's, an evaluator's ``CocoMetric``), ``proposal_file`` (mmdet's datasets),
    ``seg_prefix`` (mmdet's ``CocoPanopticMetric``) and each ``data_prefix`` path. Those
    that do not exist here are left as written (a set generated later, a path of another machine), and so is every
    path of a node read through a backend other than the local disk (:func:`_backend_reads`; for the config's own
    ``data_root``, a backend anywhere in it): petrel's ``path_mapping`` maps the prefix as written, which an absolute
    path no longer matches, even where the same folder exists here too.

    Args:
        cfg: The config, rewritten in place.
        kept: Where given, receives ``(config key, as written)`` of each relative ``ann_file`` / ``proposal_file`` of
            a node read through such a backend that is left as written although mmengine reads it from the current
            directory (with the node's ``data_root`` joined, as written in the key's text): one read from the local
            disk (the node's own backend is the local disk and only its pipeline's is another, e.g. petrel for the
            images; or its own ``ann_file``'s class reads it from the local disk whatever its ``backend_args``:
            mmdet's ``BaseDetDataset``, with mmengine's ``BaseDataset.load_data_list``, and ``DODDataset``) that
            does not exist here, and the ``ann_file`` of a
            node with its own backend whose class cannot be told to read it through the backend
            (:func:`_local_ann_file_note`, said in the text: a type no registry of its scope holds). Such a file read
            from the local disk that exists here is written absolute (``data_root`` joined; mmengine's
            ``BaseDataset`` joins no ``data_root`` to an absolute ``ann_file``, mmdet's none to a ``proposal_file``)
            and listed in ``rewritten``; the ``data_root`` and ``data_prefix`` it shares with the mapped image paths
            stay as written. mmdet's ``CocoDataset`` / ``VOCDataset`` with their own backend read it through the
            backend: as written, not named.

    Returns:
        ``(rewritten, left)``: ``(config key, as written, absolute path)`` of each path rewritten, ``(config key, as
        written)`` of each relative one left because it does not exist here (not those a backend reads).
    """
    from automl_mm.engine.preflight_walk import dict_nodes, runner_scope, scoped_nodes

    rewritten: list[tuple[str, str, str]] = []
    left: list[tuple[str, str]] = []

    def absolute(node: Any, name: str, key: str) -> None:
        value = node[name]
        if not _is_local_relative(value):
            return
        if osp.exists(value):
            node[name] = osp.abspath(value) + (os.sep if value.endswith(('/', os.sep)) else '')
            rewritten.append((key, value, node[name]))
        else:
            left.append((key, value))

    nodes = [(cfg, '')] + [(node, where) for name, value in cfg.items() for node, where in dict_nodes(value, name)]
    scope = runner_scope(cfg)  # (each typed node in the scope mmengine builds it in: its own _scope_, its builder's)
    scopes = {id(node): in_scope for name, value in cfg.items()
              for node, _, in_scope in scoped_nodes(value, name, scope)}
    for node, where in nodes:
        if _backend_reads(node):  # read through its backend as written (not relative to the current directory)
            if where:
                root = node.get('data_root')
                joined = f'joined to data_root {root!r}' if _is_local_relative(root) else ''
                # only its pipeline's backend: its files are local; its own: as far as its class reads them so
                names = ('ann_file', 'proposal_file') if not _own_backend(node) else ('ann_file',)
                for name in names:
                    if not (_is_local_relative(node.get(name)) and (joined or not root)):
                        continue
                    why = _local_ann_file_note(node, scopes.get(id(node), scope)) if _own_backend(node) else ''
                    if why is None:
                        continue  # its class reads it through its backend_args
                    # read from the local disk (mmengine joins no data_root to an absolute ann_file, and the backend
                    # never sees it): written absolute where it exists here, the data_root left for the images
                    path = osp.join(root, node[name]) if joined else node[name]
                    if (why == '' or why.endswith(_READS_LOCALLY)) and osp.exists(path):
                        value = node[name]
                        node[name] = osp.abspath(path)
                        rewritten.append((f'{where}.{name}', value, node[name]))
                        continue
                    notes = '; '.join(note for note in (joined, why) if note)
                    if kept is not None:
                        kept.append((f'{where}.{name}', f'{node[name]!r}' + (f' ({notes})' if notes else '')))
            continue
        at = f'{where}.' if where else ''
        if node.get('data_root'):
            absolute(node, 'data_root', f'{at}data_root')
            continue  # its ann_file / data_prefix are joined to it
        # (mmdet's BaseDetDataset joins its proposal_file to the data_root as ann_file; CocoPanopticMetric reads its
        # seg_prefix folder from the current directory)
        for name in ('ann_file', 'proposal_file', 'seg_prefix'):
            if name in node:
                absolute(node, name, f'{at}{name}')
        prefix = node.get('data_prefix')
        if isinstance(prefix, dict):
            for name in list(prefix):
                absolute(prefix, name, f'{at}data_prefix.{name}')
        elif prefix is not None:
            absolute(node, 'data_prefix', f'{at}data_prefix')
    return rewritten, left
