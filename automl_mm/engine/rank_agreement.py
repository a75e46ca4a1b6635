"""Every process of a distributed run runs the same thing: one config, one automl_mm, one set of packages.

Under torchrun (``tools/dist_train.sh`` on each node) or srun every process reads the config file, applies its own
command line's ``--cfg-options`` and imports automl_mm and its dependencies from its own node's disk. A node with an
older checkout, another mmdet / mmengine / torch, an edit of the config that was not synced, or another
``--cfg-options`` on its command line trained another model or searched another space: collectives that matched by
shape went on and the run finished with silently wrong rewards, or one that did not hung far from the cause until
``env_cfg.dist_cfg.timeout``. The runner's own start-up is collective already (mmengine broadcasts the timestamp and
a seed, wraps the model in DDP, ``CopyRunner`` forms the copies' groups), so a difference there could hang before
any check of the built runner.

:func:`join_process_group` starts the process group as mmengine's ``Runner.setup_env`` would, before the runner
is built; :func:`check_ranks_run_alike` then all-gathers one :func:`rank_record` per rank (one
``all_gather_object``) and refuses a run whose ranks differ, naming what differs (the ``(resume, load_from)`` start
as :func:`~automl_mm.engine.resume.check_ranks_start_alike` says it, the config and its first differing top-level
keys, automl_mm's source files, the package versions), which ranks (grouped, with their host names) and what to
sync. ``tools/train.py`` and ``tools/test.py`` call both; a runner that a stock launcher builds from a config
compares its ranks when its ``train()`` / ``val()`` / ``test()`` starts (:mod:`automl_mm.engine.runner_checks`).
Before both, the tools' start checks of each rank's own files (its data, its checkpoint) are agreed on as the process
group starts (:func:`checking_own_files_together`): a node lacking a file stops every rank. Before those, the reading
of the config file itself, which the process group's settings come from, is agreed on through the launcher's
rendezvous store (:func:`reading_config_together`). Those three, the starting and the leaving of the process group,
live in :mod:`automl_mm.engine.rank_start` (re-exported here); this module compares what the ranks run.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import os
import os.path as osp
import platform
import re
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..utils.file_identity import FileIdentity, file_identity
from ..utils.imported_files import MAX_FILES, changed_since_import, module_files
from .rank_start import (  # noqa: F401 (their home before: the tools and tests import them from here)
    CONFIG_READ_KEY,
    RENDEZVOUS_ENV,
    _group_token,
    _stores,
    checking_own_files_together,
    join_process_group,
    leave_process_group,
    reading_config_together,
)
from .resume import starts_differ

#: Top-level config keys that every process resolves for itself and that :func:`starts_differ` compares with its
#: own message (``tools/train.py`` resolves ``--resume`` in each process's view of ``work_dir``): left out of the
#: config's hash when the start is compared. A real 2-process gloo run of ``tools/train.py`` (torchrun, and the
#: local launcher's workers) gives every other key the same value on every rank.
START_KEYS = ('resume', 'load_from')

#: Packages whose versions must agree: ``python`` is the interpreter's (``platform.python_version()``), the others
#: the imported module's ``__version__`` (else the installed distribution's; ``'not installed'`` without one).
VERSIONED = ('python', 'torch', 'mmengine', 'mmcv', 'mmdet', 'numpy')

#: A package named in ``custom_imports`` with more ``.py`` files than this is hashed by its ``__init__`` only.
MAX_HASHED_FILES = MAX_FILES

_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')


def _canonical(value: Any) -> Any:
    """``value`` as plain, ordered, address-free data whose ``repr`` is the same in every process that resolved
    the same config (dict keys sorted; a class or function by its import path; ``repr`` without ``at 0x...``)."""
    if isinstance(value, Mapping):
        return ('dict', sorted((str(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_canonical(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return ('set', sorted(repr(_canonical(v)) for v in value))
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    array = _array_bytes(value)
    if array is not None:  # by content: numpy and torch print a large array with '...' in place of most values
        return array
    if isinstance(value, type) or callable(value) and hasattr(value, '__qualname__'):
        return f'{getattr(value, "__module__", "")}.{value.__qualname__}'
    return _ADDRESS.sub('', f'{type(value).__module__}.{type(value).__qualname__}:{value!r}')


def _array_bytes(value: Any) -> tuple | None:
    """A numpy array's or torch tensor's ``(kind, dtype, shape, sha256 of its bytes)``; ``None`` for anything else."""
    if type(value).__module__ == 'numpy' and hasattr(value, 'tobytes') and hasattr(value, 'shape'):
        import numpy as np

        data = np.ascontiguousarray(value)
        return ('ndarray', str(data.dtype), tuple(data.shape), hashlib.sha256(data.tobytes()).hexdigest())
    torch = sys.modules.get('torch')
    if torch is not None and isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous()
        return ('tensor', str(data.dtype), tuple(data.shape),
                hashlib.sha256(data.reshape(-1).view(torch.uint8).numpy().tobytes()
                               if data.numel() else b'').hexdigest())
    return None


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


#: Environment variable: comma-separated config keys (dotted paths, list indices as numbers:
#: ``train_dataloader.dataset.data_root``) that may differ between nodes and are left out of the comparison, e.g. a
#: dataset copied to each node's own scratch folder under another path. Set it alike on every node.
MAY_DIFFER_ENV = 'AUTOML_MM_RANKS_MAY_DIFFER'


def _drop(data: Any, path: list[str]) -> None:
    """Remove the entry at ``path`` (keys, list indices as digits) from nested dicts / lists; absent: nothing."""
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(data, dict) and part in data:
            if last:
                del data[part]
                return
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            if last:
                data[int(part)] = '<left out>'
                return
            data = data[int(part)]
        else:
            return


def config_key_hashes(cfg: Any, leave_out: Sequence[str] = START_KEYS) -> dict[str, str]:
    """``{top-level key: hash of its resolved value}`` of a config as this process resolved it (the file, its
    ``_base_`` files and ``--cfg-options`` merged, and what the tool set), in the config's key order, without the
    keys in ``leave_out`` and the (dotted) keys that :data:`MAY_DIFFER_ENV` names."""
    data = cfg.to_dict() if hasattr(cfg, 'to_dict') else copy.deepcopy(dict(cfg))
    for name in [*leave_out, *os.environ.get(MAY_DIFFER_ENV, '').split(',')]:
        if name.strip():
            _drop(data, name.strip().split('.'))
    return {str(key): _digest(_canonical(value)) for key, value in data.items()}


def _package_files(module: Any) -> list[tuple[str, str]]:
    """``(path shown, absolute path)`` of the ``.py`` files of an imported module
    (:func:`~automl_mm.utils.imported_files.module_files`: a package's all under its folder), or ``[]`` where it has
    no source file."""
    files = module_files(module)
    if not files:
        return []
    name = module.__name__
    if osp.basename(module.__file__) != '__init__.py' or len(files) == 1:
        return [(f'{name}:{osp.basename(path)}', path) for path in files]
    root = osp.dirname(module.__file__)
    return [(f'{name}:{osp.relpath(p, root)}', p) for p in files]


#: The start of :func:`_file_hash`'s answer for a file changed on disk since this process imported it.
CHANGED_SINCE_IMPORT = 'changed on disk since imported'


def _file_hash(path: str) -> str:
    """The hash of the file ``path`` as this process imported it: read from disk where the file there is still the
    one recorded at import (:func:`~automl_mm.utils.imported_files.changed_since_import`; or none was recorded),
    each file read once while unchanged; else ``'changed on disk since imported (<what changed>)'``
    (:data:`CHANGED_SINCE_IMPORT`), which :func:`ranks_differ` refuses: what the process runs is no longer on disk.
    """
    changed = changed_since_import(path)
    if changed is not None:
        return f'{CHANGED_SINCE_IMPORT} ({changed})'
    try:
        identity = file_identity(path)
    except OSError as err:
        return f'unreadable ({err.strerror})'
    return _content_hash(path, identity)


@functools.cache
def _content_hash(path: str, identity: FileIdentity) -> str:
    try:
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError as err:
        return f'unreadable ({err.strerror})'


def source_hashes(cfg: Any = None) -> dict[str, str]:
    """``{'automl_mm:<path in the package>': hash}`` of every ``.py`` file of the imported automl_mm package, and the
    same for the modules that ``cfg.custom_imports`` names (their own ``.py`` file, a package's files under its
    folder), except automl_mm's and the :data:`VERSIONED` packages' (compared by version). Each file is read once
    per process while unchanged; one changed on disk since the process imported it is
    ``'changed on disk since imported (...)'`` (:func:`_file_hash`)."""
    import automl_mm

    modules = [automl_mm]
    imports = ((cfg.get('custom_imports') if cfg is not None else None) or {}).get('imports') or []
    for name in [imports] if isinstance(imports, str) else imports:
        top = str(name).split('.')[0]
        if top != 'automl_mm' and top not in VERSIONED and str(name) in sys.modules:
            modules.append(sys.modules[str(name)])
    return {shown: _file_hash(path) for module in modules for shown, path in _package_files(module)}


def package_versions() -> dict[str, str]:
    """``{package: version}`` of :data:`VERSIONED`, as this process imported (or would import) them."""
    versions = {'python': platform.python_version()}
    for name in VERSIONED[1:]:
        module = sys.modules.get(name)
        version = getattr(module, '__version__', None) if module is not None else None
        if version is None:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = 'not installed'
        versions[name] = str(version)
    return versions


def rank_record(cfg: Any, compare_start: bool = True) -> dict[str, Any]:
    """What this process runs, as :func:`check_ranks_run_alike` gathers it: ``host``, ``start`` (``(resume,
    load_from)``, or ``None`` when ``compare_start`` is False), ``config`` (:func:`config_key_hashes`, without
    :data:`START_KEYS` when the start is compared), ``source`` (:func:`source_hashes`) and ``versions``
    (:func:`package_versions`). A few kB to pickle."""
    start = (bool(cfg.get('resume', False)), cfg.get('load_from')) if compare_start else None
    return dict(host=socket.gethostname(), start=start,
                config=config_key_hashes(cfg, START_KEYS if compare_start else ()),
                source=source_hashes(cfg), versions=package_versions())


def _groups(values: Sequence[Any]) -> dict[Any, list[int]]:
    """``{value: [ranks]}`` in the order of each value's first rank."""
    groups: dict[Any, list[int]] = {}
    for rank, value in enumerate(values):
        groups.setdefault(value, []).append(rank)
    return groups


def _ranks_on(ranks: list[int], hosts: Sequence[str]) -> str:
    on = list(dict.fromkeys(hosts[r] for r in ranks))
    shown = ', '.join(on[:3]) + (f' and {len(on) - 3} more' if len(on) > 3 else '')
    return f'ranks {ranks} (on {shown})'


def _first(names: list[str], limit: int = 5) -> str:
    return ', '.join(names[:limit]) + (f' and {len(names) - limit} more' if len(names) > limit else '')


def _differing_entries(tables: Sequence[Mapping[str, str]]) -> list[str]:
    """The entries whose value is not the same in every table (missing in one counts), in first-seen order."""
    names = list(dict.fromkeys(name for table in tables for name in table))
    return [name for name in names if len({table.get(name) for table in tables}) > 1]


def ranks_differ(records: Sequence[Mapping[str, Any]], work_dir: str) -> str | None:
    """The refusal :func:`check_ranks_run_alike` raises for every rank's :func:`rank_record` (indexed by global
    rank), or ``None`` when the ranks run the same thing.

    Only the start differs: :func:`~automl_mm.engine.resume.starts_differ`'s message unchanged. Otherwise each
    difference is named with the groups of ranks that agree (and their hosts): the config with its first differing
    top-level keys, automl_mm's (and ``custom_imports``') source with its first differing files (``only on ranks
    ...`` where a file is missing elsewhere), and each package whose version differs with every version's ranks.
    """
    foreign = [rank for rank, r in enumerate(records) if not (isinstance(r, Mapping) and 'source' in r)]
    if foreign:  # an older tools/train.py gathers its (resume, load_from) alone, in the same collective
        return (f'ranks {foreign} of {len(records)} run another automl_mm: they sent {records[foreign[0]]!r} where '
                'this check gathers its record. Sync the automl_mm checkout to every node, then start again')
    hosts = [r.get('host', '?') for r in records]
    said = []
    start = starts_differ([r['start'] for r in records], work_dir) if records[0].get('start') is not None else None
    configs = [r['config'] for r in records]
    groups = _groups([tuple(c.items()) for c in configs])
    if len(groups) > 1:
        keys = _differing_entries(configs)
        which = ' and '.join(_ranks_on(ranks, hosts) for ranks in groups.values())
        said.append(f'the config differs between {which}: top-level key{"s" if len(keys) > 1 else ""} '
                    f'{_first(keys)} (compare the config files and each node\'s command line: --cfg-options, paths; '
                    f'a key that may differ between nodes, such as a dataset path on each node\'s own disk, is left '
                    f'out with {MAY_DIFFER_ENV}=key.path,... set on every node)')
    sources = [r['source'] for r in records]
    groups = _groups([tuple(sorted(s.items())) for s in sources])
    if len(groups) > 1:
        files = _differing_entries(sources)
        which = ' and '.join(_ranks_on(ranks, hosts) for ranks in groups.values())
        said.append(f'the source code differs between {which}: {_first(files)}')
    edited = [(name, [rank for rank, source in enumerate(sources)
                      if str(source.get(name, '')).startswith(CHANGED_SINCE_IMPORT)])
              for name in dict.fromkeys(n for source in sources for n in source)]
    edited = [(name, ranks) for name, ranks in edited if ranks]
    if edited:
        said.append('source files changed on disk after the processes imported them, so what they run is no longer '
                    'what is on disk (a hash of the file now would say nothing of it): '
                    + '; '.join(f'{name} changed on disk after {_ranks_on(ranks, hosts)} imported it '
                                f'({sources[ranks[0]][name][len(CHANGED_SINCE_IMPORT):].strip(" ()")})'
                                for name, ranks in edited[:5])
                    + (f' and {len(edited) - 5} more' if len(edited) > 5 else '')
                    + ': restart every process after the edit (edit no source a run is starting from)')
    for name in dict.fromkeys(n for r in records for n in r['versions']):
        groups = _groups([r['versions'].get(name, 'not reported') for r in records])
        if len(groups) > 1:
            said.append(f'{name} ' + ', '.join(f'{version} on {_ranks_on(ranks, hosts)}'
                                                for version, ranks in groups.items()))
    if not said:
        return start
    return ((f'{start}. Also, ' if start else '') +
            'the processes of this run do not run the same thing (each one read the config and imported the code '
            f'on its own node): {"; ".join(said)}. Sync the automl_mm checkout and the config files to every node, '
            'start every node with the same command line (--cfg-options included) and the same packages, then '
            'start again')


def check_ranks_run_alike(cfg: Any, compare_start: bool = True) -> None:
    """Refuse a distributed run whose ranks do not run the same thing (see the module docstring). Collective: every
    rank calls it (one ``all_gather_object`` of :func:`rank_record`); a no-op without a process group.

    Args:
        cfg: The config as this process resolved it (before the runner is built from it).
        compare_start: Also compare ``(resume, load_from)`` (``tools/train.py``, where each process resolves
            ``--resume``); ``False``: they are part of the config (``tools/test.py``'s CHECKPOINT).

    Raises:
        RuntimeError: :func:`ranks_differ`'s message, on every rank.
    """
    from mmengine.dist import all_gather_object, is_distributed

    if not is_distributed():
        return
    problem = ranks_differ(all_gather_object(rank_record(cfg, compare_start)), cfg.get('work_dir', '?'))
    if problem is not None:
        raise RuntimeError(problem)


def state_part_digests(state: Any, depth: int = 2) -> dict[str, str]:
    """``{dotted key: hash}`` of a loaded state's parts, for naming what differs between ranks: a mapping's entries
    by key, those that are mappings themselves by their own keys down to ``depth`` levels (``'pool.scores'``); a
    state that is no mapping is one part, ``''``. The hashes are of :func:`_canonical` values (order of dict keys
    and memory addresses left out)."""
    if not isinstance(state, Mapping) or depth <= 0:
        return {'': _digest(_canonical(state))}
    parts = {}
    for key, value in state.items():
        for sub, digest in state_part_digests(value, depth - 1).items():
            parts[f'{key}.{sub}' if sub else str(key)] = digest
    return parts


def loaded_states_differ(records: Sequence[Mapping[str, Any]], what: str) -> str | None:
    """The refusal :func:`check_ranks_loaded_alike` raises for every rank's record (indexed by global rank:
    ``host``, ``path``, ``summary``, ``parts`` from :func:`state_part_digests`), or ``None`` when every rank loaded
    the same state."""
    groups = _groups([tuple(sorted(r['parts'].items())) for r in records])
    if len(groups) == 1:
        return None
    hosts = [r.get('host', '?') for r in records]
    loaded = '; '.join(f'{_ranks_on(ranks, hosts)} loaded {records[ranks[0]]["path"]}'
                       + (f' ({records[ranks[0]]["summary"]})' if records[ranks[0]].get('summary') else '')
                       + ('' if len({records[r]['path'] for r in ranks}) == 1 else
                          f' (and {", ".join(sorted({str(records[r]["path"]) for r in ranks[1:]}))})')
                       for ranks in groups.values())
    parts = [name or 'the whole state' for name in _differing_entries([r['parts'] for r in records])]
    same_path = len({str(r['path']) for r in records}) == 1
    return (f'{what}: the ranks loaded different states from their checkpoints: {loaded}; they differ in '
            f'{_first(parts)}'
            + (' (one path, but the nodes\' copies of the file differ)' if same_path else '') +
            '. Each rank reads its checkpoint itself, and ranks that go on from different states take different steps '
            '(a search stage one has finished scored again by another, another θ stepped, another network run): '
            'the run would give wrong '
            'results or hang. Give every node the same checkpoint: a work_dir shared by every node (only rank 0 '
            'writes checkpoints), or the same file copied to each node after the last save (a stale copy holds an '
            'earlier state), then start again')


def check_ranks_loaded_alike(what: str, state: Any, path: str, summary: str = '') -> None:
    """Refuse, on every rank, a run whose ranks loaded different states from their checkpoints (a resume, a test).

    mmengine loads the checkpoint in every process from the path that process resolved; where the nodes do not
    share ``work_dir``, or one node holds a stale copy of the file, the ranks restore different states (a search's
    pools, decisions, scores, seed, iteration) and then take different code paths: silently wrong results, or a
    collective that never matches. Call it on every rank once the state is loaded (and checked), outside any
    block that may raise on one rank alone. Collective: one ``all_gather_object`` of a few hashes; a no-op without a
    process group.

    Args:
        what: Who loaded the state, first in the message (``'PCNASLoop'``).
        state: What this rank loaded, as plain data (nested dicts, lists, numbers, strings); compared by the hashes
            of :func:`state_part_digests`, so that the message names the parts that differ.
        path: The checkpoint file this rank loaded, named in the message.
        summary: A few words on this rank's state for the message (``'iteration 4'``); empty: none.

    Raises:
        RuntimeError: the ranks' states differ, naming each group of ranks (with their hosts), the checkpoint path
            it loaded, its ``summary``, and the parts of the state that differ.
    """
    from mmengine.dist import all_gather_object, is_distributed

    if not is_distributed():
        return
    record = dict(host=socket.gethostname(), path=str(path), summary=summary, parts=state_part_digests(state))
    problem = loaded_states_differ(all_gather_object(record), what)
    if problem is not None:
        raise RuntimeError(problem)
