"""Checks of numbers a user configures, shared by every package: each returns the value in the type the code uses
and raises a ``ValueError`` that names the config key, before anything runs."""
from __future__ import annotations

import ast
import numbers
import operator
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import numpy as np


def as_count(value: Any, key: str, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum`` (iterations, batches, pixels, layers, tries).

    A float (``2.7`` iterations, a ``1.5``-layer stage, a ``2.5``-pixel padding) used to be truncated by ``int()``
    and the run used another setting; a bool is refused too (``True`` is not a count).

    Args:
        value: The configured value (an ``int`` or a numpy integer).
        key: Its config key, named in the error (e.g. ``'train_cfg.stage_iters'``).
        minimum: The smallest value allowed.

    Raises:
        ValueError: ``value`` is not an integer, or is below ``minimum``.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f'{key} must be an int >= {minimum}, got {value!r}') from None
    if number < minimum:
        raise ValueError(f'{key} must be an int >= {minimum}, got {value!r}')
    return number


def as_flag(value: Any, key: str) -> bool:
    """``value`` as a bool, refusing anything that is not one (``'False'`` in a config is truthy: the switch it
    meant to turn off stayed on).

    Raises:
        ValueError: ``value`` is not a bool (numpy's ``bool_`` is accepted).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'{key} must be True or False, got {value!r}')
    return bool(value)


def as_out_indices(value: Any, num_outputs: int, key: str = 'out_indices') -> tuple[int, ...]:
    """``value`` as a backbone's ``out_indices``: a non-empty, strictly increasing sequence of ints in
    ``[0, num_outputs)``.

    A backbone returns its outputs in stage order, once each, and skips an index it never reaches: mmdet's ResNet
    returned nothing for ``(-1,)``, one map for ``(1, 1)`` and ``(stage 1, stage 3)`` for ``(3, 1)``, so a neck
    configured for the written order or count failed later (a shape error naming no key) or read the wrong maps.

    Args:
        value: The configured indices (a list or tuple of ints).
        num_outputs: How many outputs the backbone can return (its stages).
        key: Its config key, named in the error.

    Raises:
        ValueError: ``value`` is not a sequence of ints, is empty, has an index outside ``[0, num_outputs)``, or is
            not strictly increasing.
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        raise ValueError(f'{key} must be a sequence of output indices, got {value!r}')
    indices = tuple(value)
    try:
        if any(isinstance(i, bool) for i in indices):
            raise TypeError
        indices = tuple(operator.index(i) for i in indices)
    except TypeError:
        raise ValueError(f'{key} must contain ints, got {value!r}') from None
    if not indices:
        raise ValueError(f'{key} is empty: the backbone would return no feature map')
    bad = [i for i in indices if not 0 <= i < num_outputs]
    if bad:
        raise ValueError(f'{key}={indices!r}: {bad[0]} is not an output index in [0, {num_outputs})'
                         + (' (indices are not counted from the end)' if bad[0] < 0 else ''))
    if list(indices) != sorted(set(indices)):
        raise ValueError(f'{key} must be increasing, each index once: the outputs come in stage order, once each '
                         f'(got {indices!r}; write {tuple(sorted(set(indices)))!r} and order the neck\'s in_channels '
                         'alike)')
    return indices


def as_frozen_stages(value: Any, num_stages: int, key: str = 'frozen_stages') -> int:
    """``value`` as a backbone's ``frozen_stages``: an int in ``[-1, num_stages]`` (-1 freezes nothing, 0 the stem,
    ``k`` the stem and the first ``k`` stages).

    mmdet's ResNet froze ``layer1`` ... ``layer{k}`` by name and failed for ``k`` above its stages with
    ``AttributeError: ... no attribute 'layer5'``; a slice of the stages froze all of them without a word.

    Raises:
        ValueError: ``value`` is not an int in ``[-1, num_stages]`` (naming ``key``).
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or not -1 <= number <= num_stages:
        raise ValueError(f'{key} must be an int in [-1, {num_stages}] (-1: nothing, 0: the stem, k: the stem and '
                         f'the first k of the {num_stages} stages), got {value!r}')
    return number


def same_setting(saved: Any, configured: Any) -> bool:
    """Whether a setting a checkpoint saved equals the configured one, sequences compared element-wise whether
    list or tuple (a checkpoint keeps a config's tuples as lists: ``betas=(0.5, 0.999)`` comes back as a list)."""
    def plain(value: Any) -> Any:
        return tuple(plain(v) for v in value) if isinstance(value, (list, tuple)) else value

    return plain(saved) == plain(configured)


#: Config keys whose string values name files or folders (mmengine's ``BaseDataset`` and mmdet's metrics use these
#: names; ``data_prefix`` is a dict of them): besides these, every key ending in one of :data:`_PATH_SUFFIXES`.
_PATH_KEYS = ('data_root', 'ann_file', 'data_prefix', 'proposal_file')
_PATH_SUFFIXES = ('_file', '_path', '_dir', '_root', '_prefix')


def _is_path_key(key: Any) -> bool:
    return isinstance(key, str) and (key in _PATH_KEYS or key.endswith(_PATH_SUFFIXES))


def _real(path: Any) -> Any:
    """A local path as ``os.path.realpath`` has it (absolute, ``.`` / ``..`` and symlinks resolved); empty strings,
    URLs (``s3://``) and non-strings as they are."""
    return osp.realpath(path) if isinstance(path, str) and path and '://' not in path else path


def resolve_config_paths(value: Any) -> Any:
    """``value`` (a config as plain dicts and lists) with its file and folder paths resolved as the run reads them.

    A path is the string value of a path key (``data_root``, ``ann_file``, ``data_prefix.*``, ``*_file``,
    ``*_path``, ...). Where a dict has a ``data_root``, relative ``ann_file`` and ``data_prefix`` values are joined
    to it first, as mmengine's ``BaseDataset`` does; every path is then made absolute from the working directory and
    resolved (``os.path.realpath``). So ``data/x``, ``./data/x`` and ``/abs/data/x`` (the same folder) become one
    value, while ``data/x`` read from another working directory is another.
    """
    if isinstance(value, (list, tuple)):
        return [resolve_config_paths(v) for v in value]
    if not isinstance(value, dict):
        return value
    value = {key: os.fspath(item) if _is_path_key(key) and isinstance(item, os.PathLike) else item
             for key, item in value.items()}  # a pathlib data_root / ann_file (a Runner built in Python) as its str
    root = value.get('data_root')
    root = root if isinstance(root, str) and root else None
    remote = root is not None and '://' in root  # relative ann_file / data_prefix name remote files: left as written

    def resolved_path(path: Any, under_root: bool) -> Any:
        if not (isinstance(path, str) and path) or '://' in path:
            return path
        if under_root and root is not None and not osp.isabs(path):
            return osp.join(root, path) if remote else _real(osp.join(root, path))
        return _real(path)

    resolved = {}
    for key, item in value.items():
        under_root = key in ('ann_file', 'data_prefix')  # joined to data_root by mmengine's BaseDataset
        if key == 'data_prefix' and isinstance(item, dict):
            resolved[key] = {k: resolved_path(os.fspath(v) if isinstance(v, os.PathLike) else v, True)
                             for k, v in item.items()}
        elif _is_path_key(key) and isinstance(item, str):
            resolved[key] = resolved_path(item, under_root)
        else:
            resolved[key] = resolve_config_paths(item)
    return resolved


def same_config(saved: Any, configured: Any) -> bool:
    """Whether a config value a checkpoint saved and the configured one are the same setting: :func:`same_setting`
    after :func:`resolve_config_paths` on both (a checkpoint written before paths were resolved kept them as written:
    they are resolved from the working directory now), and two paths that differ are the same when both exist and
    are one file (``os.path.samefile``: hard links, bind mounts)."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if (isinstance(a, str) and isinstance(b, str) and a != b and osp.isabs(a) and osp.isabs(b)
                and osp.exists(a) and osp.exists(b)):
            return osp.samefile(a, b)
        return same_setting(a, b)

    return same(resolve_config_paths(saved), resolve_config_paths(configured))


#: What :func:`without_data_paths` gives for a path that names the data of a loader compared by content.
DATA_PATH = '(the data: compared by content)'


def _dataset_nodes(dataset: Any) -> list[dict]:
    """A loader's dataset config and the datasets it wraps (``dataset``, ``datasets``), each a dict."""
    if not isinstance(dataset, dict):
        return []
    inner = dataset.get('datasets')
    return [dataset, *_dataset_nodes(dataset.get('dataset')),
            *(node for d in (inner if isinstance(inner, (list, tuple)) else ()) for node in _dataset_nodes(d))]


def without_data_paths(settings: dict[str, Any], loaders: Any) -> dict[str, Any]:
    """``settings`` (by key, as a checkpoint saves them: :func:`loader_setting` for loaders, resolved metric
    configs) with the data of the loaders ``loaders`` (keys of ``settings``) left out of a path comparison: their
    paths resolved (:func:`resolve_config_paths`), each path key of those loaders' datasets (``data_root``,
    ``ann_file``, ``data_prefix``, ...; wrapped datasets included, their pipelines not) dropped, and every path value
    of any setting that names one of those paths (a COCO metric's ``ann_file``: the loader's annotation file) given
    as :data:`DATA_PATH`. For a resume check whose data check compares those loaders' datasets by content
    (:func:`automl_mm.engine.data_fingerprint.compared_by_content`): compared by path, a copy of the data under
    another root was other data, and other data under the same paths the same. Returns new dicts."""
    resolved = {key: resolve_config_paths(value) for key, value in settings.items()}
    named: set[str] = set()
    for key in loaders:
        loader = resolved.get(key)
        for node in _dataset_nodes(loader.get('dataset') if isinstance(loader, dict) else None):
            for name in [k for k in node if _is_path_key(k)]:
                value = node.pop(name)
                named.update(v for v in (value.values() if isinstance(value, dict) else [value])
                             if isinstance(v, str) and v)

    def masked(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: DATA_PATH if _is_path_key(k) and isinstance(v, str) and v in named else masked(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [masked(v) for v in value]
        return value

    return {key: masked(value) for key, value in resolved.items()}


def plain(value: Any) -> Any:
    """Options as a checkpoint keeps them (plain types: ``weights_only`` loading): tuples as lists, recursively
    (allocations are tuples), numbers and strings as they are, anything else as its ``str``."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


#: Dataloader settings that say how to load, not what: they never change a score.
LOADING_ONLY = ('num_workers', 'persistent_workers', 'pin_memory', 'prefetch_factor', 'sampler', 'batch_sampler',
                'drop_last', 'worker_init_fn')


def plain_config(value: Any) -> Any:
    """A config value as plain dicts, lists and scalars (what a checkpoint keeps under ``weights_only``):
    :func:`plain`, with dicts."""
    if isinstance(value, dict):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    return plain(value)


def config_repr(value: Any) -> str:
    """``repr`` of a config value with every dict's keys sorted (``ConfigDict`` read as a dict; lists and tuples
    kept apart): the same text for the same settings however a config file orders its keys. mmengine's
    ``Config.dump`` sorts them, so a config read back from a dump (the config the local launcher's workers read, a
    work dir's copy) gave another ``repr`` than the file it was dumped from."""
    def ordered(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): ordered(v[k]) for k in sorted(v, key=str)}
        if isinstance(v, (list, tuple)):
            return type(v)(ordered(x) for x in v) if type(v) in (list, tuple) else [ordered(x) for x in v]
        return v

    return repr(ordered(value))


def same_signature(saved: str | None, now: str | None) -> bool:
    """Whether two space signatures (:meth:`OHLSpace.signature`) are the same, whatever the key order of the config
    dicts written inside them: a checkpoint saved before :func:`config_repr` kept the order of the file its
    process read (sorted by ``Config.dump`` under the local launcher, the file's own under torchrun). Both are read
    back as Python literals (a string in them that is itself a literal's ``repr``, too) and compared with their
    keys sorted; text that is no literal is compared as it is."""
    if saved == now:
        return True
    if not isinstance(saved, str) or not isinstance(now, str):
        return False

    def parsed(text: str) -> Any:
        def inner(v: Any) -> Any:
            if isinstance(v, str) and v[:1] in '[({':
                try:
                    return inner(ast.literal_eval(v))
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    return v
            if isinstance(v, dict):
                return {k: inner(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return type(v)(inner(x) for x in v)
            return v
        return inner(text)

    return config_repr(parsed(saved)) == config_repr(parsed(now))


def loader_setting(loader_cfg: Any, ignore: tuple[str, ...] = ()) -> Any:
    """What a dataloader config decides about the batches a score is read on (its dataset, batch size, collate;
    not :data:`LOADING_ONLY`, nor the keys in ``ignore``), as plain values with its paths resolved
    (:func:`resolve_config_paths`): the form a checkpoint saves and a resume compares (:func:`same_config`)."""
    if not isinstance(loader_cfg, dict):
        return plain_config(loader_cfg)
    return resolve_config_paths({k: v for k, v in plain_config(loader_cfg).items()
                                 if k not in LOADING_ONLY and k not in ignore})


def repeated_candidates(values: Sequence[Any]) -> list[tuple[Any, list[int]]]:
    """The candidates of a discrete search space that are listed more than once, each as ``(value, [its indices])``
    in order of first appearance; ``[]`` when every candidate is listed once.

    Two candidates are the same when their config text is (:func:`config_repr`: dict keys in any order), or when
    both are numbers of equal value (``1`` and ``1.0``; a ``bool`` is compared as itself). A categorical
    distribution over such a list gives one value two logits: its probability is split between them, so the
    controller's learned distribution, its mode and the report state the policy wrongly (the value's probability is
    the sum of the two).
    """
    def key(v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return 'number', float(v)
        return 'text', config_repr(v)

    seen: dict[Any, list[int]] = {}
    for index, value in enumerate(values):
        seen.setdefault(key(value), []).append(index)
    return [(values[indices[0]], indices) for indices in seen.values() if len(indices) > 1]
