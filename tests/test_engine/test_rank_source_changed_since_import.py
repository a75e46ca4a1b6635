"""The source files the ranks compare are the files they imported: ``rank_agreement._file_hash`` read a file when
``source_hashes`` first ran, so a file edited after a rank imported it was hashed as edited, and two ranks that
imported different versions (the edit landed between their imports) agreed on a file neither or only one ran.
A file whose identity (:mod:`automl_mm.utils.file_identity`) differs from the one recorded when it was imported
is now reported as changed, and :func:`ranks_differ` refuses the run naming it."""
from __future__ import annotations

import importlib
import os
import os.path as osp
import sys

import pytest
from mmengine.config import Config

import automl_mm
from automl_mm.engine import rank_agreement
from automl_mm.engine.rank_agreement import CHANGED_SINCE_IMPORT, ranks_differ, source_hashes
from automl_mm.utils import imported_files


@pytest.fixture
def module(tmp_path, monkeypatch):
    """A custom_imports module of its own, imported as mmengine imports one (``import_modules_from_strings``)."""
    name = f'edited_ops_{os.getpid()}_{id(tmp_path)}'
    path = tmp_path / f'{name}.py'
    path.write_text('X = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmengine.utils import import_modules_from_strings
    import_modules_from_strings([name])
    yield name, path
    sys.modules.pop(name, None)
    imported_files.forget(str(path))


def _record(source):
    return dict(host='node-a', start=None, config={'model': '1'}, source=source, versions={'python': '3'})


def test_an_unchanged_import_is_hashed(module):
    name, _ = module
    digest = source_hashes(Config(dict(custom_imports=dict(imports=[name]))))[f'{name}:{osp.basename(name)}.py']
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_a_custom_import_edited_after_its_import_is_reported_and_refused(module):
    name, path = module
    path.write_text('X = 22\n')  # the edit after the import, before the hashes (another size: no clock tick needed)
    cfg = Config(dict(custom_imports=dict(imports=[name])))
    digest = source_hashes(cfg)[f'{name}:{name}.py']
    assert digest.startswith(f'{CHANGED_SINCE_IMPORT} ('), digest
    # every rank saw the same edited file: they agree on its text, not on what they run
    said = ranks_differ([_record({f'{name}:{name}.py': digest}), _record({f'{name}:{name}.py': digest})], '/w')
    assert said is not None and f'{name}:{name}.py changed on disk after ranks [0, 1] (on node-a) imported it' in said
    assert 'restart' in said, said


def test_automl_mm_files_are_recorded_when_automl_mm_is_imported():
    importlib.import_module('automl_mm.ohl.hook')  # recorded at its own import
    from automl_mm.utils import file_identity  # imported before automl_mm/__init__ records: recorded there

    for path in (rank_agreement.__file__, osp.join(osp.dirname(automl_mm.__file__), 'ohl', 'hook.py'),
                 file_identity.__file__):
        assert imported_files.imported_identity(path) is not None, path
        assert imported_files.changed_since_import(path) is None


def test_a_package_file_edited_after_the_import_is_named(tmp_path, monkeypatch):
    package = tmp_path / 'edited_pkg_x'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'ops.py').write_text('Y = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    imported = __import__('edited_pkg_x')
    try:
        imported_files.record_imported(imported)
        __import__('edited_pkg_x.ops')
        os.replace(package / 'ops.py', package / 'old.py')  # another file renamed over it
        (package / 'ops.py').write_text('Y = 2\n')  # another text (the same one renamed over it is no change)
        assert 'replaced by another file' in imported_files.changed_since_import(str(package / 'ops.py'))
        assert imported_files.changed_since_import(str(package / '__init__.py')) is None
    finally:
        sys.modules.pop('edited_pkg_x', None)
        sys.modules.pop('edited_pkg_x.ops', None)
        imported_files._PACKAGES.discard('edited_pkg_x')
        for name in ('__init__.py', 'ops.py'):
            imported_files.forget(str(package / name))


def test_a_submodule_is_recorded_at_its_own_import_not_its_packages(tmp_path, monkeypatch):
    """A package's submodule imported after the package (lazily) runs the file as it is then: an edit before that
    import is no change (the package's import recorded every file of its folder, and refused the run), one after is;
    a file no import ran is not recorded."""
    package = tmp_path / 'lazy_pkg_x'
    package.mkdir()
    for name in ('__init__.py', 'ops.py', 'unused.py'):
        (package / name).write_text('')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        imported_files.record_imported(__import__('lazy_pkg_x'))
        (package / 'ops.py').write_text('Y = 2\n')  # before its import: the import runs this text
        (package / 'unused.py').write_text('Z = 2\n')
        __import__('lazy_pkg_x.ops')
        assert imported_files.changed_since_import(str(package / 'ops.py')) is None
        assert imported_files.imported_identity(str(package / 'unused.py')) is None
        (package / 'ops.py').write_text('Y = 22\n')  # after it
        assert imported_files.changed_since_import(str(package / 'ops.py')).startswith('rewritten')
    finally:
        for name in ('lazy_pkg_x', 'lazy_pkg_x.ops'):
            sys.modules.pop(name, None)
        imported_files._PACKAGES.discard('lazy_pkg_x')
        for name in ('__init__.py', 'ops.py', 'unused.py'):
            imported_files.forget(str(package / name))


def test_a_rewrite_of_the_same_size_is_named_with_when_not_a_time_since_the_import(tmp_path):
    """The same text rewritten is no change (it was refused); another text of the same size is. The message said
    'modified <t> s after the import', <t> counted from the file's ctime before the import, not from the import."""
    path = tmp_path / 'same_size.py'
    path.write_text('X = 1\n')
    module = type(sys)('same_size')
    module.__file__ = str(path)
    try:
        imported_files.record_imported(module)
        stat = os.stat(path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # its mtime moved on, its text the same
        assert imported_files.changed_since_import(str(path)) is None  # what it runs is on disk (it was refused)
        path.write_text('X = 2\n')
        said = imported_files.changed_since_import(str(path))
        assert said.startswith('rewritten in place, same size (changed at ') and 'after the import' not in said, said
    finally:
        imported_files.forget(str(path))
