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
