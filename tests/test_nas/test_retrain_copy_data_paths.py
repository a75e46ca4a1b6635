"""The ``*_retrain_config.py`` a PC-NAS / CR-NAS search writes beside its final config kept the retrain config's data
paths as written, relative to the directory the search ran in: mmengine reads ``data_root``, ``ann_file`` and
``data_prefix`` from the directory a run starts in, so the exported final config retrained from another directory
(a copied work dir) read other data, or none. The copy now holds them absolute where they exist at the export (the
header names each as written), and names those that do not in a warning."""
from __future__ import annotations

import functools
import logging
import os
import os.path as osp
from types import SimpleNamespace

from mmengine.config import Config
from mmengine.logging import MMLogger

from automl_mm.nas.loop import SearchLoopBase
from automl_mm.nas.retrain_export import absolute_data_paths, resolved_config_text

RETRAIN = """data_root = 'data/coco/'
train_dataloader = dict(dataset=dict(type='CocoDataset', data_root=data_root, ann_file='annotations/a.json',
                                     data_prefix=dict(img='train/')))
val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='data/coco/annotations/a.json',
                                   data_prefix=dict(img='data/imgs/')))
val_evaluator = dict(type='CocoMetric', ann_file='data/coco/annotations/a.json')
test_evaluator = dict(type='CocoMetric', ann_file='data/missing.json')
remote = dict(type='CocoDataset', data_root='s3://bucket/coco/')
"""


def _search_dir(tmp_path) -> str:
    """A search's directory holding the data the retrain config names (relative to it) and the config."""
    search = tmp_path / 'search'
    (search / 'data' / 'coco' / 'annotations').mkdir(parents=True)
    (search / 'data' / 'coco' / 'annotations' / 'a.json').write_text('{}')
    (search / 'data' / 'imgs').mkdir()
    (search / 'retrain.py').write_text(RETRAIN)
    (tmp_path / 'elsewhere').mkdir()
    return str(search)


def _check_absolute(cfg: Config, search: str) -> None:
    assert cfg.data_root == osp.join(search, 'data', 'coco') + os.sep
    assert cfg.train_dataloader.dataset.data_root == osp.join(search, 'data', 'coco') + os.sep
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/a.json'  # joined to the data_root by mmengine
    assert cfg.train_dataloader.dataset.data_prefix.img == 'train/'
    assert cfg.val_dataloader.dataset.ann_file == osp.join(search, 'data', 'coco', 'annotations', 'a.json')
    assert cfg.val_dataloader.dataset.data_prefix.img == osp.join(search, 'data', 'imgs') + os.sep
    assert cfg.val_evaluator.ann_file == osp.join(search, 'data', 'coco', 'annotations', 'a.json')
    assert cfg.test_evaluator.ann_file == 'data/missing.json'  # not there at the export: left, and named
    assert cfg.remote.data_root == 's3://bucket/coco/'



def _exporting_loop(retrain_config: str, out_dir: str, monkeypatch) -> tuple[SimpleNamespace, list[str]]:
    """A stand-in search loop with ``SearchLoopBase``'s own export methods (``write_final_config`` is called on it)
    and the list the current logger's warnings go to."""
    loop = SimpleNamespace(retrain_config=retrain_config, out_dir=out_dir)
    loop.write_text = functools.partial(SearchLoopBase.write_text, loop)
    loop.remove_output = functools.partial(SearchLoopBase.remove_output, loop)
    logged = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'log', lambda level, msg, *a, **k: level >= logging.WARNING and logged.append(msg))
    return loop, logged

def test_the_resolved_copy_holds_absolute_data_paths(tmp_path, monkeypatch):
    search = _search_dir(tmp_path)
    monkeypatch.chdir(search)
    found: list = []
    text = resolved_config_text('retrain.py', found)
    monkeypatch.chdir(tmp_path / 'elsewhere')  # a retrain started from another directory
    _check_absolute(Config.fromstring(text, '.py'), search)
    rewritten, left, kept = found[0]
    assert [key for key, _, _ in rewritten] == [
        'data_root', 'train_dataloader.dataset.data_root', 'val_dataloader.dataset.ann_file',
        'val_dataloader.dataset.data_prefix.img', 'val_evaluator.ann_file']
    assert left == [('test_evaluator.ann_file', 'data/missing.json')] and kept == []  # no backend there


def test_the_exported_final_config_reads_the_search_data_from_elsewhere(tmp_path, monkeypatch):
    search = _search_dir(tmp_path)
    monkeypatch.chdir(search)
    out = str(tmp_path / 'work' / 'pc_nas')
    os.makedirs(out)
    loop, logged = _exporting_loop(osp.join(search, 'retrain.py'), out, monkeypatch)
    SearchLoopBase.write_final_config(loop, 'pc_nas_final_config.py', 'model = dict(type="X")', 'searched')
    said = [m for m in logged if 'data/missing.json' in m]
    assert len(said) == 1 and 'test_evaluator.ann_file' in said[0] and 'pc_nas_retrain_config.py' in said[0], logged
    with open(osp.join(out, 'pc_nas_retrain_config.py')) as f:
        assert "# val_evaluator.ann_file: 'data/coco/annotations/a.json' (relative to" in f.read()
    monkeypatch.chdir(tmp_path / 'elsewhere')
    _check_absolute(Config.fromfile(osp.join(out, 'pc_nas_final_config.py')), search)


def test_proposal_files_and_a_panoptic_seg_prefix_are_made_absolute(tmp_path, monkeypatch):
    """mmdet joins a dataset's proposal_file to its data_root (as ann_file) and CocoPanopticMetric reads seg_prefix
    from the current directory: both were kept relative."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'p.pkl').write_text('')
    (tmp_path / 'seg').mkdir()
    cfg = dict(val_dataloader=dict(dataset=dict(type='CocoDataset', proposal_file='p.pkl')),
               val_evaluator=dict(type='CocoPanopticMetric', seg_prefix='seg/'),
               test_dataloader=dict(dataset=dict(type='CocoDataset', data_root='gone/', proposal_file='p.pkl')))
    rewritten, left = absolute_data_paths(cfg)
    assert [key for key, _, _ in rewritten] == ['val_dataloader.dataset.proposal_file', 'val_evaluator.seg_prefix']
    assert cfg['val_dataloader']['dataset']['proposal_file'] == str(tmp_path / 'p.pkl')
    assert cfg['val_evaluator']['seg_prefix'] == str(tmp_path / 'seg') + os.sep
    assert cfg['test_dataloader']['dataset']['proposal_file'] == 'p.pkl'  # joined to its data_root
    assert left == [('test_dataloader.dataset.data_root', 'gone/')]


def test_a_retrain_config_inherited_by_its_path_names_its_relative_data_paths(tmp_path, monkeypatch):
    """Where the resolved config has no text (a class object as a value) the final config inherits the retrain
    config itself: its relative data paths, rewritten or not, are named in a warning."""
    import automl_mm.nas.search_outputs as outputs_module  # write_final_config's module

    def no_text(path, data_paths):
        data_paths.append(([('data_root', 'data/', '/abs/data/')], [('x.ann_file', 'missing.json')],
                           [('y.ann_file', "'a.json' (joined to data_root 'd/')")]))

    monkeypatch.setattr(outputs_module, 'resolved_config_text', no_text)
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'retrain.py').write_text('x = 1\n')
    loop, logged = _exporting_loop(str(tmp_path / 'retrain.py'), str(tmp_path), monkeypatch)
    SearchLoopBase.write_final_config(loop, 'pc_nas_final_config.py', 'model = dict(type="X")', 'searched')
    said = [m for m in logged if 'are relative to the directory a run starts in' in m]
    assert len(said) == 1 and "data_root='data/'" in said[0] and "x.ann_file='missing.json'" in said[0], logged
    assert "y.ann_file='a.json' (joined to data_root 'd/')" in said[0]  # kept for a pipeline's backend


def test_paths_a_remote_backend_reads_stay_as_written(tmp_path, monkeypatch):
    """A petrel ``path_mapping`` maps the prefix as written (``data/`` -> ``s3://...``): made absolute, the path no
    longer matched it and the retrain read ``/abs/data/...`` through petrel, although ``data/`` existed here too. Every
    path of a node read through a backend other than the local disk (its own ``backend_args`` / ``file_client_args``,
    or its pipeline's) stays as written, but for an ``ann_file`` its dataset reads from the local disk (a pipeline's
    backend: ``val_dataloader``), made absolute as the local ones around it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data' / 'coco' / 'annotations').mkdir(parents=True)
    (tmp_path / 'data' / 'coco' / 'annotations' / 'a.json').write_text('{}')
    petrel = dict(backend='petrel', path_mapping={'data/': 's3://bucket/data/'})
    cfg = dict(
        data_root='data/coco/',
        backend_args=petrel,
        train_dataloader=dict(dataset=dict(type='CocoDataset', data_root='data/coco/', backend_args=petrel)),
        val_dataloader=dict(dataset=dict(type='CocoDataset', ann_file='data/coco/annotations/a.json',
                                         data_prefix=dict(img='data/coco/'),
                                         pipeline=[dict(type='LoadImageFromFile', file_client_args=petrel)])),
        val_evaluator=dict(type='CocoMetric', ann_file='data/coco/annotations/a.json', backend_args=petrel),
        test_evaluator=dict(type='CocoMetric', ann_file='data/coco/annotations/a.json'))
    rewritten, left = absolute_data_paths(cfg)
    assert cfg['train_dataloader']['dataset']['data_root'] == 'data/coco/'
    assert cfg['val_dataloader']['dataset']['ann_file'] == str(tmp_path / 'data/coco/annotations/a.json')
    assert cfg['val_dataloader']['dataset']['data_prefix']['img'] == 'data/coco/'
    assert cfg['val_evaluator']['ann_file'] == 'data/coco/annotations/a.json'
    assert cfg['data_root'] == 'data/coco/'  # the config's variable, which its backend_args read
    assert [key for key, _, _ in rewritten] == ['val_dataloader.dataset.ann_file', 'test_evaluator.ann_file']
    assert left == []


def test_paths_a_local_backend_subclass_reads_stay_as_written(tmp_path, monkeypatch):
    """A ``LocalBackend`` subclass may map paths as petrel does (a user's backend registered with mmengine): its
    node's paths stay as written; mmengine's own ``'local'`` backend reads them from the disk, so they are made
    absolute."""
    from mmengine.fileio.backends import LocalBackend, register_backend
    from mmengine.fileio.backends.registry_utils import backends

    class MappingLocal(LocalBackend):
        pass

    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data').mkdir()
    register_backend('automl_mm_test_mapping_local', MappingLocal, force=True)
    try:
        cfg = dict(a=dict(dataset=dict(data_root='data/', backend_args=dict(backend='automl_mm_test_mapping_local'))),
                   b=dict(dataset=dict(data_root='data/', backend_args=dict(backend='local'))))
        rewritten, _ = absolute_data_paths(cfg)
    finally:
        backends.pop('automl_mm_test_mapping_local', None)
    assert cfg['a']['dataset']['data_root'] == 'data/'
    assert [key for key, _, _ in rewritten] == ['b.dataset.data_root']


def test_a_local_ann_file_of_a_pipelines_backend_is_made_absolute_or_warned(tmp_path, monkeypatch):
    """A dataset whose pipeline loads its images through petrel keeps its data_root and data_prefix as written
    (petrel's ``path_mapping`` maps them, as written), but its ``ann_file`` is read from the local disk, relative to
    the directory a run starts in: it was kept relative (named in a warning from the fifty-ninth session), and a
    retrain from another directory did not find it. mmengine joins no data_root to an absolute ``ann_file``, so it is
    now written absolute (data_root joined) where it exists here, and named in the "kept as written" warning where it
    does not; a dataset with its own petrel backend_args (its ann_file read through petrel too) and an absolute
    data_root are neither."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data' / 'coco' / 'annotations').mkdir(parents=True)
    (tmp_path / 'data' / 'coco' / 'annotations' / 'a.json').write_text('{}')
    petrel = dict(backend='petrel', path_mapping={'data/': 's3://bucket/data/'})
    (tmp_path / 'retrain.py').write_text(f"""default_scope = 'mmdet'
petrel = {petrel!r}
pipeline = [dict(type='LoadImageFromFile', backend_args=petrel)]
train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/a.json',
                                     data_prefix=dict(img='train/'), pipeline=pipeline))
val_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/a.json',
                                   backend_args=petrel, pipeline=pipeline))
test_dataloader = dict(dataset=dict(type='CocoDataset', data_root='{tmp_path}/data/coco/',
                                    ann_file='annotations/a.json', pipeline=pipeline))
other = dict(dataset=dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/gone.json',
                          pipeline=pipeline))
""")
    kept = []
    cfg = Config.fromfile(str(tmp_path / 'retrain.py'))
    rewritten, left = absolute_data_paths(cfg, kept)
    assert cfg.train_dataloader.dataset.ann_file == str(tmp_path / 'data/coco/annotations/a.json')
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'  # the mapped images' root, as written
    assert cfg.train_dataloader.dataset.data_prefix.img == 'train/'
    assert rewritten == [('train_dataloader.dataset.ann_file', 'annotations/a.json',
                          cfg.train_dataloader.dataset.ann_file)]
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/a.json' == cfg.test_dataloader.dataset.ann_file
    assert kept == [('other.dataset.ann_file', "'annotations/gone.json' (joined to data_root 'data/coco/')")]
    loop, logged = _exporting_loop(str(tmp_path / 'retrain.py'), str(tmp_path), monkeypatch)
    SearchLoopBase.write_final_config(loop, 'pc_nas_final_config.py', 'model = dict(type="X")', 'searched')
    said = [m for m in logged if 'kept as written' in m]
    assert len(said) == 1, logged
    assert ("other.dataset.ann_file='annotations/gone.json' (joined to data_root 'data/coco/') kept as "
            f'written, relative to the directory a run starts in ({tmp_path} for the search)') in said[0]
    assert 'dataloader' not in said[0]
    # the copy's header: the ann_file as written is relative to its data_root, not to the search's directory (it
    # said "'annotations/a.json' (relative to <search dir>)": a reader moving the data put it at the wrong place)
    with open(tmp_path / 'pc_nas_retrain_config.py') as f:
        header = [line for line in f if line.startswith('# train_dataloader.dataset.ann_file')]
    assert header == [f"# train_dataloader.dataset.ann_file: 'annotations/a.json' (joined to its data_root: "
                      f"'data/coco/annotations/a.json' relative to {tmp_path}) written as "
                      f"'{tmp_path / 'data/coco/annotations/a.json'}'\n"], header


def test_kept_ann_files_without_data_root_and_proposal_files_are_named_not_file_client_args_ones(tmp_path,
                                                                                                   monkeypatch):
    """The members the first test of ``kept`` left unchecked: an ``ann_file`` with no ``data_root`` (read from the
    current directory as written: named, nothing joined), a ``proposal_file``, and a dataset whose own backend is
    given as mmengine's older ``file_client_args`` (read through petrel: not named)."""
    monkeypatch.chdir(tmp_path)
    petrel = dict(backend='petrel', path_mapping={'data/': 's3://bucket/data/'})
    pipeline = [dict(type='LoadImageFromFile', backend_args=petrel)]
    cfg = dict(default_scope='mmdet',
               a=dict(dataset=dict(type='CocoDataset', ann_file='data/a.json', proposal_file='data/p.pkl',
                                   pipeline=pipeline)),
               b=dict(dataset=dict(type='CocoDataset', data_root='data/', ann_file='a.json',
                                   file_client_args=petrel, pipeline=pipeline)))
    kept = []
    absolute_data_paths(cfg, kept)
    assert kept == [('a.dataset.ann_file', "'data/a.json'"), ('a.dataset.proposal_file', "'data/p.pkl'")]


def test_an_own_backends_ann_file_is_kept_by_what_the_dataset_class_does(tmp_path, monkeypatch):
    """"A dataset with its own backend_args reads its ann_file through it" held for mmdet's ``CocoDataset`` (and
    ``XMLDataset``: ``list_from_file`` with its ``backend_args``), not for mmdet's ``BaseDetDataset`` (mmengine's
    ``load`` of the plain path) nor ``DODDataset`` (``COCO(ann_file)``): their relative ann_file, read from the
    directory a run starts in, was kept as written without a word. The rule is now learnt from the class
    (:func:`~automl_mm.engine.ann_file_backend.ann_file_through_backend`), under a path-mapping backend registered
    here, and a type no registry holds is named as not told; a class that never reads an ann_file (automl_mm's
    ``ImageFolderDataset``: its build refuses one) is not named."""
    from mmengine.fileio.backends import LocalBackend, register_backend
    from mmengine.fileio.backends.registry_utils import backends

    from automl_mm.datasets import ImageFolderDataset

    class MappingLocal(LocalBackend):
        pass

    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'b.json').write_text('{}')  # (BaseDetDataset's exists here: written absolute)
    (tmp_path / 'data' / 'u.json').write_text('{}')  # (the unknown type's too: cannot be told, kept)
    (tmp_path / 'data' / 'a.json').write_text('{}')  # (CocoDataset's, read through the backend: as written)
    register_backend('automl_mm_test_mapping_local2', MappingLocal, force=True)
    mapped = dict(backend='automl_mm_test_mapping_local2')
    try:
        cfg = dict(default_scope='mmdet',
                   coco=dict(type='CocoDataset', data_root='data/', ann_file='a.json', backend_args=mapped),
                   voc=dict(type='VOCDataset', data_root='data/', ann_file='t.txt', backend_args=mapped),
                   base=dict(type='BaseDetDataset', data_root='data/', ann_file='b.json', backend_args=mapped),
                   dod=dict(type='DODDataset', ann_file='data/d.json', backend_args=mapped),
                   metric=dict(type='CocoMetric', ann_file='data/a.json', backend_args=mapped),
                   unknown=dict(type='NoSuchDataset', ann_file='data/u.json', backend_args=mapped),
                   folder=dict(type=ImageFolderDataset, ann_file='data/f.txt', backend_args=mapped))
        kept = []
        rewritten, left = absolute_data_paths(cfg, kept)
    finally:
        backends.pop('automl_mm_test_mapping_local2', None)
    assert [key for key, _ in kept] == ['dod.ann_file', 'unknown.ann_file'], kept
    said = dict(kept)
    assert said['dod.ann_file'] == ("'data/d.json' (DODDataset reads it from the local disk, not through its "
                                    'backend_args)')  # (not here: named)
    assert "'NoSuchDataset' is no dataset class in scope 'mmdet'" in said['unknown.ann_file']
    assert 'cannot be told' in said['unknown.ann_file']
    # read from the local disk and found here: absolute (mmengine joins no data_root to it; the backend never sees it)
    assert rewritten == [('base.ann_file', 'b.json', str(tmp_path / 'data' / 'b.json'))] and left == []
    assert cfg['base']['ann_file'] == str(tmp_path / 'data' / 'b.json') and cfg['base']['data_root'] == 'data/'
    assert cfg['dod']['ann_file'] == 'data/d.json' and cfg['unknown']['ann_file'] == 'data/u.json'  # as written


def test_the_ann_file_probe_tells_the_main_dataset_classes():
    """:func:`~automl_mm.engine.ann_file_backend.ann_file_through_backend` on the classes the export meets most."""
    from mmdet.datasets import CocoDataset, DODDataset, Flickr30kDataset, VOCDataset, XMLDataset
    from mmengine.dataset import BaseDataset

    from automl_mm.engine.ann_file_backend import ann_file_through_backend

    assert ann_file_through_backend(CocoDataset) is True and ann_file_through_backend(VOCDataset) is True
    assert ann_file_through_backend(BaseDataset) is False and ann_file_through_backend(DODDataset) is False
    assert ann_file_through_backend(Flickr30kDataset) is False
    assert ann_file_through_backend(XMLDataset) is True  # (its METAINFO has no classes, which it asserts: given)
    assert ann_file_through_backend(dict) is None


def test_the_ann_file_probe_cleans_up_after_a_class_and_is_not_swallowed(tmp_path):
    """The probe runs the class's own ``load_data_list``: a class that makes its data folder before reading left a
    folder in the temp dir, one that reads in ``try: ... except Exception: return []`` swallowed the probe's answer
    (told nothing), and the probe's lock is free after it (a second thread probes)."""
    import threading

    from mmengine.dataset import BaseDataset
    from mmengine.fileio import load

    from automl_mm.engine.ann_file_backend import ann_file_through_backend

    made = []

    class MakesItsFolder(BaseDataset):
        def load_data_list(self):
            os.makedirs(osp.join(self.data_root, 'cache'))
            made.append(self.data_root)
            return load(self.ann_file)['data_list']  # (no backend_args: the local disk)

    class Swallows(BaseDataset):
        def load_data_list(self):
            try:
                return load(self.ann_file, backend_args=self.backend_args)['data_list']
            except Exception:  # noqa: BLE001
                return []

    assert ann_file_through_backend(MakesItsFolder) is False
    assert len(made) == 1 and not osp.exists(made[0])
    told = []
    thread = threading.Thread(target=lambda: told.append(ann_file_through_backend(Swallows)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert told == [True]


def test_the_ann_file_probe_lists_no_real_folder_and_tells_only_the_ann_file(tmp_path, monkeypatch):
    """Two rules of the probe no test held: its data folders lie under its missing folder (a class that lists its
    image folder first listed the directory the run started in, ``data_root`` / ``data_prefix`` being ``''``), and a
    class whose first read through the backend is another file (an index beside its ``ann_file``) cannot be told: the
    backend asked for the index says nothing of how the ``ann_file`` is read."""
    import glob

    from mmengine.dataset import BaseDataset
    from mmengine.fileio import get_text, load

    from automl_mm.engine.ann_file_backend import ann_file_through_backend

    monkeypatch.chdir(tmp_path)
    (tmp_path / 'x.jpg').write_bytes(b'')
    listed = []

    class ListsItsImagesFirst(BaseDataset):
        def load_data_list(self):
            listed.extend(glob.glob(osp.join(self.data_prefix['img'], '*')))
            return load(self.ann_file)['data_list']

    class ReadsAnIndexFirst(BaseDataset):
        def load_data_list(self):
            get_text(osp.join(osp.dirname(self.ann_file), 'index.txt'), backend_args=self.backend_args)
            return load(self.ann_file)['data_list']

    assert ann_file_through_backend(ListsItsImagesFirst) is False and listed == []
    assert ann_file_through_backend(ReadsAnIndexFirst) is None
