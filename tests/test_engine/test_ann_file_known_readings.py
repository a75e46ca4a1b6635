"""mmdet's dataset classes whose ``ann_file`` reading the probe cannot tell (``RefCocoDataset``, ``OpenImagesDataset``,
``OpenImagesChallengeDataset``, ``LVISDataset`` / ``LVISV1Dataset`` without ``lvis``, ``DSDLDetDataset``) are told by
``automl_mm.engine.ann_file_backend.KNOWN_READINGS``, read from their source: the export warned that it "cannot be
told" whether each reads its ``ann_file`` through its ``backend_args``."""
from __future__ import annotations

import pytest

from automl_mm.engine import ann_file_backend as afb


@pytest.fixture(autouse=True)
def _fresh_answers():
    afb.ann_file_through_backend.cache_clear()
    yield
    afb.ann_file_through_backend.cache_clear()


def test_mmdet_classes_the_probe_cannot_tell_are_told_by_the_table():
    from mmdet.datasets import LVISDataset, LVISV1Dataset, OpenImagesChallengeDataset, OpenImagesDataset, RefCocoDataset
    from mmdet.datasets.dsdl import DSDLDetDataset

    told = {cls.__name__: afb.ann_file_through_backend(cls) for cls in (
        RefCocoDataset, OpenImagesDataset, OpenImagesChallengeDataset, LVISDataset, LVISV1Dataset, DSDLDetDataset)}
    assert told == dict(RefCocoDataset=False, OpenImagesDataset=True, OpenImagesChallengeDataset=True,
                        LVISV05Dataset=True, LVISV1Dataset=True, DSDLDetDataset=False)
    for cls in (RefCocoDataset, OpenImagesDataset, DSDLDetDataset):  # (the probe tells none of them)
        assert afb.probe_ann_file_reading(cls) is None


def test_a_subclass_inherits_a_row_unless_it_overrides_the_reading_method():
    from mmdet.datasets import OpenImagesDataset, RefCocoDataset

    class MyRefCoco(RefCocoDataset):
        pass

    class MyOpenImages(OpenImagesDataset):

        def load_data_list(self):  # reads as it reads: the table cannot say
            return super().load_data_list()

    assert afb.ann_file_through_backend(MyRefCoco) is False
    assert afb.ann_file_through_backend(MyOpenImages) is None
    assert afb.known_reading(dict) is None and afb.known_reading('RefCocoDataset') is None


def test_a_row_whose_call_is_no_longer_in_the_source_tells_nothing(monkeypatch):
    from mmdet.datasets import RefCocoDataset

    key = 'mmdet.datasets.refcoco.RefCocoDataset'
    monkeypatch.setitem(afb.KNOWN_READINGS, key, afb.KNOWN_READINGS[key]._replace(call='load(self.ann_file)'))
    assert afb.ann_file_through_backend(RefCocoDataset) is None


def test_the_export_says_refcoco_reads_its_ann_file_from_the_local_disk():
    from automl_mm.nas.retrain_data_paths import _local_ann_file_note

    note = _local_ann_file_note(dict(type='RefCocoDataset', ann_file='a.json', backend_args=dict(backend='petrel')),
                                'mmdet')
    assert note == 'RefCocoDataset reads it from the local disk, not through its backend_args'
    assert _local_ann_file_note(dict(type='OpenImagesDataset', ann_file='a.csv'), 'mmdet') is None


def test_mmdet_seg_sets_that_never_read_their_ann_file_are_neither_warned_of_nor_looked_for(monkeypatch):
    """mmdet's ``ADE20KSegDataset`` and ``CocoSegDataset`` list their image folder and never read an ``ann_file``
    (ade20k.py:237-260): the export warned "cannot be told: its load_data_list could not be probed" and the start's
    data check refused a missing one, a file nothing reads."""
    from mmdet.datasets import ADE20KSegDataset, CocoSegDataset
    from mmdet.datasets.base_semseg_dataset import BaseSegDataset
    from mmengine.config import Config

    from automl_mm.engine.preflight_loading import check_before_loading, check_data_files
    from automl_mm.nas.retrain_data_paths import _local_ann_file_note

    assert afb.never_reads_ann_file(ADE20KSegDataset) and afb.never_reads_ann_file(CocoSegDataset)
    assert not afb.never_reads_ann_file(BaseSegDataset)  # (it reads one where given)

    class ReadsIt(CocoSegDataset):
        def load_data_list(self):
            return [dict(img_path=line) for line in open(self.ann_file)]

    assert not afb.never_reads_ann_file(ReadsIt)
    assert _local_ann_file_note(dict(type='CocoSegDataset', ann_file='x.txt', backend_args=dict(backend='petrel')),
                                'mmdet') is None
    dataset = dict(type='CocoSegDataset', data_root='/nonexistent-automl-mm', ann_file='unused.txt',
                   data_prefix=dict(img_path='img', seg_map_path='seg'), pipeline=[])
    check_data_files(Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=dataset))), 'mmdet', False)
    dataset.pop('type')
    check_before_loading(CocoSegDataset(**dataset, lazy_init=True), 'train_dataloader.dataset')  # (the start's)
    monkeypatch.setitem(afb.NEVER_READS, 'mmdet.datasets.base_semseg_dataset.BaseSegDataset', 'load_data_list')
    assert not afb.never_reads_ann_file(BaseSegDataset)  # (a row whose method names ann_file: no answer)


def test_a_row_whose_source_cannot_be_read_tells_nothing(monkeypatch):
    """A method without source to read (mmdet installed as bytecode only) cannot be checked: no answer, no error."""
    from mmdet.datasets import ADE20KSegDataset, RefCocoDataset

    def no_source(_):
        raise OSError('could not get source code')

    afb._source_holds.cache_clear()
    monkeypatch.setattr(afb.inspect, 'getsource', no_source)
    try:
        assert afb.known_reading(RefCocoDataset) is None and not afb.never_reads_ann_file(ADE20KSegDataset)
    finally:
        afb._source_holds.cache_clear()


def test_a_dsdl_subclass_reading_through_the_backend_in_load_data_list_still_reads_locally_in_init():
    """``DSDLDetDataset.__init__`` opens the ann_file from the local disk (dsdl's LocalFileReader), where the probe
    (which runs ``load_data_list`` alone) does not look: a subclass whose own ``load_data_list`` reads it through the
    backend got the probe's ``True``, so the start's check skipped the local file that ``__init__`` then opened."""
    from mmdet.datasets.dsdl import DSDLDetDataset
    from mmengine.fileio import get_local_path

    class BackendDSDL(DSDLDetDataset):

        def load_data_list(self):
            with get_local_path(self.ann_file, backend_args=self.backend_args):
                return []

    class OwnInitDSDL(BackendDSDL):

        def __init__(self, **kwargs):  # reads nothing itself: the row's __init__ is not run
            pass

    assert afb.probe_ann_file_reading(BackendDSDL) is True  # what load_data_list alone does
    assert afb.ann_file_through_backend(BackendDSDL) is False
    assert afb.reads_ann_file_through_backend(BackendDSDL, dict(backend='petrel'), 'data/set.yaml') is False
    assert afb.ann_file_through_backend(OwnInitDSDL) is True  # another __init__: the probe's answer


def test_a_dsdl_subclass_adding_an_init_argument_still_reads_locally_in_its_bases_init():
    """``__init__(self, extra=1, **kwargs): super().__init__(**kwargs)`` runs DSDLDetDataset's local read: the
    row was dropped for any override of ``__init__`` and the probe's ``True`` answered."""
    from mmdet.datasets.dsdl import DSDLDetDataset
    from mmengine.fileio import get_local_path

    class SuperInitDSDL(DSDLDetDataset):

        def __init__(self, extra=1, **kwargs):
            self.extra = extra
            super().__init__(**kwargs)

        def load_data_list(self):
            with get_local_path(self.ann_file, backend_args=self.backend_args):
                return []

    class Below(SuperInitDSDL):  # keeps SuperInitDSDL's __init__

        def __init__(self, **kwargs):
            super().__init__(extra=2, **kwargs)

    assert afb.ann_file_through_backend(SuperInitDSDL) is False
    assert afb.ann_file_through_backend(Below) is False


def test_an_init_row_through_the_backend_gives_way_to_a_local_read_in_load_data_list(monkeypatch):
    """Either method reading the file from the local disk needs it there: the row's ``True`` is no answer then."""
    from mmengine.dataset import BaseDataset

    class InitReads(BaseDataset):

        def __init__(self, **kwargs):
            self.reader = ('backend', self.ann_file)  # the row's call

        def load_data_list(self):
            with open(self.ann_file) as f:
                return [f.read()]

    monkeypatch.setitem(afb.KNOWN_READINGS, f'{InitReads.__module__}.{InitReads.__qualname__}',
                        afb.KnownReading(True, '__init__', "self.reader = ('backend', self.ann_file)"))
    assert afb.known_reading(InitReads) is True and afb.ann_file_through_backend(InitReads) is False


def test_an_init_row_through_the_backend_answers_where_the_probe_cannot(monkeypatch):
    from mmengine.dataset import BaseDataset

    class InitReadsThrough(BaseDataset):

        def __init__(self, **kwargs):
            self.reader = ('backend', self.ann_file)  # the row's call

    monkeypatch.setitem(afb.KNOWN_READINGS, f'{InitReadsThrough.__module__}.{InitReadsThrough.__qualname__}',
                        afb.KnownReading(True, '__init__', "self.reader = ('backend', self.ann_file)"))
    monkeypatch.setattr(afb, 'probe_ann_file_reading', lambda cls: None)
    assert afb.ann_file_through_backend(InitReadsThrough) is True
