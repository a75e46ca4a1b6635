"""Whether a dataset class reads its ``ann_file`` through its own ``backend_args`` (a storage backend: petrel, a
path-mapping ``LocalBackend`` subclass) or from the local disk at the path as written.

mmdet's ``CocoDataset`` and ``LVISV1Dataset`` open it with ``get_local_path(ann_file, backend_args=...)``,
``XMLDataset`` / ``CrowdHumanDataset`` with ``list_from_file`` / ``get_text`` and their ``backend_args``, but
mmengine's own ``BaseDataset`` (``load(ann_file)``; it takes no ``backend_args``, but mmdet's ``BaseDetDataset``
and other subclasses that take them keep its ``load_data_list``), mmdet's ``CocoCaptionDataset``, ``RefCocoDataset``,
``DODDataset``, ``Flickr30kDataset``, ``BaseVideoDataset`` and ``ReIDDataset`` (``COCO(ann_file)``, ``open``,
``get_local_path`` without ``backend_args``) read it from the local disk whatever their ``backend_args``, and
``BaseSegDataset`` asserts that it is a local file first. The answer is learnt from the class itself
(:func:`ann_file_through_backend`), not from a list: its ``load_data_list`` is run once on a bare instance whose
``ann_file`` names no file and whose ``backend_args`` choose a probe backend that records the first path it is
asked for and stops.

A few of mmdet's classes cannot be probed so (their ``load_data_list`` reads another file first or needs what their
``__init__`` sets, or imports a package that is not installed: ``RefCocoDataset``, ``OpenImagesDataset``,
``OpenImagesChallengeDataset``, ``LVISDataset`` / ``LVISV1Dataset`` without ``lvis``, ``DSDLDetDataset``, which
reads it in ``__init__``); for them :data:`KNOWN_READINGS` gives the answer read from their source, where the probe
has none, and, for a row whose reading is in a method the probe does not run (``DSDLDetDataset.__init__``), before
the probe: a subclass that keeps that method (or, for a local read, calls it through ``super()``) reads as the
row says whatever its own ``load_data_list`` does.
``ADE20KSegDataset`` and ``CocoSegDataset`` read nothing the probe can see because they never read an
``ann_file`` (:data:`NEVER_READS`, :func:`never_reads_ann_file`): neither the export nor the start's data check
names theirs.
"""
from __future__ import annotations

import copy
import functools
import inspect
import io
import os.path as osp
import re
import shutil
import tempfile
import threading
import uuid
from contextlib import contextmanager, redirect_stdout
from typing import Any, NamedTuple

#: The name the probe backend is registered under, only while a probe runs.
PROBE_BACKEND = 'automl_mm_ann_file_probe'

#: One probe at a time: the probe backend is registered in mmengine's process-wide registry for its length, and the
#: end of one probe unregistered it under another thread's.
_PROBE_LOCK = threading.RLock()


class KnownReading(NamedTuple):
    """How a dataset class reads its ``ann_file``, read from its source (a row of :data:`KNOWN_READINGS`)."""

    through_backend: bool  #: ``True``: through the dataset's ``backend_args``; ``False``: from the local disk
    method: str  #: the method (of the row's class) that reads it
    call: str  #: the reading call as that method's source holds it (whitespace aside): the row holds while it does


#: ``{'module.ClassName': KnownReading}`` for mmdet's dataset classes the probe cannot tell (mmdet 3.3.0's source, the
#: file and line of each call below). A subclass inherits its base class's row while it keeps the row's ``method``;
#: a row whose ``call`` is no longer in that method's source (another mmdet) tells nothing.
KNOWN_READINGS: dict[str, KnownReading] = {
    # refcoco.py:85, after the split_file (a bare instance has none); RefCocoDataset takes no backend_args at all
    'mmdet.datasets.refcoco.RefCocoDataset': KnownReading(
        False, 'load_data_list', "self.instances = mmengine.load(self.ann_file, file_format='json')"),
    # openimages.py:68-69, after the label, image-level and hierarchy files (read through the backend first)
    'mmdet.datasets.openimages.OpenImagesDataset': KnownReading(
        True, 'load_data_list', 'get_local_path( self.ann_file, backend_args=self.backend_args) as local_path:'),
    # openimages.py:338-339 (its own load_data_list, as its base's)
    'mmdet.datasets.openimages.OpenImagesChallengeDataset': KnownReading(
        True, 'load_data_list', 'get_local_path( self.ann_file, backend_args=self.backend_args) as local_path:'),
    # lvis.py:290-291 (LVISDataset is this class), after ``import lvis``, which raises where lvis is not installed
    'mmdet.datasets.lvis.LVISV05Dataset': KnownReading(
        True, 'load_data_list', 'get_local_path( self.ann_file, backend_args=self.backend_args) as local_path:'),
    # lvis.py:603-604, likewise
    'mmdet.datasets.lvis.LVISV1Dataset': KnownReading(
        True, 'load_data_list', 'get_local_path( self.ann_file, backend_args=self.backend_args) as local_path:'),
    # dsdl.py:72-74: dsdl's DSDLDataset opens it in __init__ with a LocalFileReader (dsdl.py:51), no backend_args
    'mmdet.datasets.dsdl.DSDLDetDataset': KnownReading(
        False, '__init__', "DSDLDataset( dsdl_yaml=kwargs['ann_file'], location_config=loc_config,"),
}


#: ``{'module.ClassName': method}`` for mmdet's dataset classes that never read their ``ann_file`` (the probe sees
#: nothing read, and could not tell): the ``method`` that makes their data list names none (mmdet 3.3.0). A subclass
#: inherits the row while it keeps ``method``; a row whose method's source names ``ann_file`` (another mmdet) tells
#: nothing.
NEVER_READS: dict[str, str] = {
    # ade20k.py:237-260: lists data_prefix['img_path'] (fileio.list_dir_or_file), unlike BaseSegDataset's
    # (base_semseg_dataset.py:237-241, which reads an ann_file where one is given); CocoSegDataset
    # (coco_semantic.py:7) is a subclass that keeps it
    'mmdet.datasets.ade20k.ADE20KSegDataset': 'load_data_list',
}


def never_reads_ann_file(cls: Any) -> bool:
    """Whether the dataset class ``cls`` never reads its ``ann_file``: ``'ann_file'`` is in its ``UNREAD_BASE_KEYS``
    (automl_mm's folder / CIFAR sets, whose build refuses one), or the first class of its MRO with a
    :data:`NEVER_READS` row has one that ``cls`` keeps (same ``method``) and whose source names no ``ann_file``."""
    if not isinstance(cls, type):
        return False
    if 'ann_file' in getattr(cls, 'UNREAD_BASE_KEYS', ()):
        return True
    for owner in cls.__mro__:
        name = NEVER_READS.get(f'{owner.__module__}.{owner.__qualname__}')
        if name is not None:
            method = getattr(owner, name, None)
            has_source = _source_holds(method, '')  # ('' is in any source; False where there is none to read)
            return getattr(cls, name, None) is method and has_source and not _source_holds(method, 'ann_file')
    return False


@functools.cache
def _source_holds(function: Any, call: str) -> bool:
    try:
        return call in ' '.join(inspect.getsource(function).split())
    except (OSError, TypeError):  # no source to read (a built-in, a class made in a REPL)
        return False


def known_reading(cls: Any) -> bool | None:
    """:data:`KNOWN_READINGS`' answer for ``cls``: the row of the first class of its MRO that has one, where ``cls``
    keeps that row's ``method`` (or, for a local read, overrides it with one that calls ``super().<method>(``:
    :func:`_runs_inherited`; another override reads as it reads: no answer) and the method's source still holds the
    row's ``call``; else ``None``."""
    row = _known_row(cls)
    return None if row is None else row.through_backend


def _known_row(cls: Any) -> KnownReading | None:
    """The :data:`KNOWN_READINGS` row that holds for ``cls`` (:func:`known_reading`), or ``None``."""
    for owner in getattr(cls, '__mro__', ()) if isinstance(cls, type) else ():
        row = KNOWN_READINGS.get(f'{owner.__module__}.{owner.__qualname__}')
        if row is None:
            continue
        method = getattr(owner, row.method, None)
        if not _source_holds(method, row.call) or not _runs_inherited(cls, owner, row.method, not row.through_backend):
            return None
        return row
    return None


def _runs_inherited(cls: type, owner: type, name: str, through_super: bool) -> bool:
    """Whether ``cls``'s method ``name`` runs ``owner``'s: it keeps it, or, where ``through_super`` (a row's local
    read, which needs the file on the local disk whatever else the override reads), each override between them
    calls ``super().<name>(`` (``def __init__(self, extra=1, **kwargs): super().__init__(**kwargs)``, a subclass
    adding an argument, still runs the row's local read). Any other override (one through the backend may add a
    local read of its own), or one whose source cannot be read, reads as it reads (the row tells nothing)."""
    calls_super = re.compile(rf'\bsuper\([^()]*\)\s*\.\s*{re.escape(name)}\s*\(')
    for klass in cls.__mro__:
        if klass is owner:
            return True
        override = klass.__dict__.get(name)
        if override is None:
            continue
        if not through_super:
            return False
        try:
            source = inspect.getsource(override)
        except (OSError, TypeError):
            return False
        if not calls_super.search(source):
            return False
    return False


class _Asked(BaseException):
    """Raised by the probe backend at its first read: ``path`` is what the dataset asked it for. (A
    ``BaseException``, as ``KeyboardInterrupt``: a class that reads its file in ``try: ... except Exception:``, a
    fallback to an empty list, does not swallow the answer.)"""

    def __init__(self, path: Any) -> None:
        super().__init__(path)
        self.path = path


def _probe_backend_class() -> type:
    from mmengine.fileio.backends import BaseStorageBackend

    class ProbeBackend(BaseStorageBackend):
        """Answers no read: each raises :class:`_Asked` naming the path asked for."""

        def __init__(self, **kwargs: Any) -> None:
            pass

        def get(self, filepath: Any) -> bytes:
            raise _Asked(filepath)

        def get_text(self, filepath: Any, encoding: str = 'utf-8') -> str:
            raise _Asked(filepath)

        @contextmanager
        def get_local_path(self, filepath: Any):
            raise _Asked(filepath)
            yield  # (a generator, as mmengine's backends' get_local_path)

        def exists(self, filepath: Any) -> bool:
            raise _Asked(filepath)

        isfile = isdir = exists

        def join_path(self, filepath: Any, *filepaths: Any) -> str:
            return osp.join(filepath, *filepaths)

    return ProbeBackend


@functools.cache
def ann_file_through_backend(cls: type) -> bool | None:
    """Whether the dataset class ``cls`` (a subclass of mmengine's ``BaseDataset``) reads its ``ann_file`` through
    its ``backend_args`` when it loads: :func:`probe_ann_file_reading`'s answer, else (the probe cannot tell)
    :func:`known_reading`'s (mmdet's classes of :data:`KNOWN_READINGS`), learnt once per class (cached).

    A row whose reading is in another method than ``load_data_list`` (``DSDLDetDataset.__init__``), which the probe
    does not run, holds for a subclass that keeps that method whatever its own ``load_data_list`` does: a local
    read there is ``False`` (the file must be on the local disk; a subclass whose ``load_data_list`` reads it through
    the backend got the probe's ``True``), one through the backend is the probe's answer where it has one.

    Returns:
        ``True``, ``False``, or ``None`` where neither tells (see :func:`probe_ann_file_reading`).
    """
    row = _known_row(cls)
    if row is not None and row.method != 'load_data_list':
        if not row.through_backend:
            return False
        told = probe_ann_file_reading(cls)
        return told if told is not None else True
    told = probe_ann_file_reading(cls)
    return told if told is not None else known_reading(cls)


def probe_ann_file_reading(cls: type) -> bool | None:
    """Whether the dataset class ``cls`` (a subclass of mmengine's ``BaseDataset``) reads its ``ann_file`` through
    its ``backend_args`` when its data list loads.

    Learnt by running ``cls.load_data_list`` on an instance made without ``__init__`` (its
    ``ann_file`` and data folders paths under a folder that does not exist, its ``backend_args`` a probe backend
    registered with mmengine for the probe alone): the probe asked for that path first, ``True``; the local disk
    refused the path (``FileNotFoundError`` / ``OSError`` / an ``AssertionError`` naming it: ``open``,
    ``COCO(...)``, ``load`` without ``backend_args``), ``False``. The class's own code runs: what it makes in the
    probe's folder is removed after, other side effects (a file written elsewhere, a thread) are its own; one probe
    runs at a time (a lock: the probe backend is process-wide while registered).

    Returns:
        ``True``, ``False``, or ``None`` where the class cannot be told: it is no ``BaseDataset`` subclass, it never
        reads its ``ann_file`` (``'ann_file'`` in its ``UNREAD_BASE_KEYS``: automl_mm's folder / CIFAR sets), its
        ``load_data_list`` needs more than a bare instance holds (an attribute its ``__init__`` sets), reads another
        file first, or reads nothing.
    """
    try:
        from mmengine.dataset import BaseDataset
        from mmengine.fileio.backends.registry_utils import backends, register_backend
        from mmengine.fileio.io import backend_instances
    except ImportError:
        return None
    if not isinstance(cls, type) or not issubclass(cls, BaseDataset) or \
            'ann_file' in getattr(cls, 'UNREAD_BASE_KEYS', ()):  # (automl_mm's sets that never read it)
        return None
    folder = osp.join(tempfile.gettempdir(), f'automl_mm-ann-file-probe-{uuid.uuid4().hex}')  # (never made)
    path = osp.join(folder, 'ann_file.json')
    dataset = cls.__new__(cls)
    metainfo = copy.deepcopy(dict(getattr(cls, 'METAINFO', {}) or {}))
    if not metainfo.get('classes'):  # (mmdet's XMLDataset asserts it has some before reading its ann_file)
        metainfo['classes'] = ('probe', )
    # every data path in the missing folder: a class that lists a folder before its ann_file lists nothing
    state = dict(ann_file=path, data_root=folder, data_prefix=dict(img=folder, img_path=folder, seg=folder,
                                                                   seg_map_path=folder),
                 img_suffix='.jpg', seg_map_suffix='.png', backend_args=dict(backend=PROBE_BACKEND),
                 _metainfo=metainfo, filter_cfg=None,
                 test_mode=False, serialize_data=False, _fully_initialized=False, proposal_file=None,
                 return_classes=False, caption_prompt=None, data_list=[], lazy_init=True)
    for name, value in state.items():
        try:
            object.__setattr__(dataset, name, value)
        except (AttributeError, TypeError):  # a property of the class: left to it
            pass
    _PROBE_LOCK.acquire()
    try:
        register_backend(PROBE_BACKEND, _probe_backend_class(), force=True)
        with redirect_stdout(io.StringIO()):  # (pycocotools' COCO prints as it opens)
            cls.load_data_list(dataset)
    except _Asked as asked:
        return True if asked.path == path else None
    except (OSError, AssertionError) as err:
        return False if getattr(err, 'filename', None) == path or path in str(err) else None
    except Exception:  # noqa: BLE001  (a bare instance lacks what its __init__ sets: cannot be told)
        return None
    finally:
        backends.pop(PROBE_BACKEND, None)
        for key in [key for key in backend_instances if PROBE_BACKEND in key]:
            backend_instances.pop(key, None)
        _PROBE_LOCK.release()
        if osp.isdir(folder):  # a class that made its data folder (a cache, an output) before reading: removed
            shutil.rmtree(folder, ignore_errors=True)
    return None  # it read nothing


def reads_ann_file_through_backend(cls: Any, backend_args: Any, path: str) -> bool:
    """Whether a dataset of class ``cls`` with ``backend_args`` reads its ``ann_file`` ``path`` through a storage
    backend (:func:`~automl_mm.engine.preflight_walk.reads_through_backend`: a URI, or ``backend_args`` of another
    backend than mmengine's ``LocalBackend``) rather than from the local disk at ``path``: not where the class reads
    it from the local disk whatever its ``backend_args`` (:func:`ann_file_through_backend` is ``False``; a class that
    cannot be told keeps the ``backend_args`` rule)."""
    from .preflight_walk import reads_through_backend

    if not reads_through_backend(dict(backend_args=backend_args), path):
        return False
    return '://' in path or ann_file_through_backend(cls) is not False
