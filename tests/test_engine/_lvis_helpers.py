"""A stand-in lvis-api for the tests (lvis is not installed here): a module ``lvis`` written to a folder, loaded
from there as ``lvis`` and handed to mmdet's ``LVISMetric`` module (which imported lvis-api, or found none, when
mmdet was imported), whose ``LVISEval.accumulate`` casts as lvis-api does: with ``np.float`` (PyPI's lvis 0.5.3, eval.py
line 361) or ``float`` (lvis-dataset/lvis-api's main branch)."""
from __future__ import annotations

import importlib.util
import sys

_SOURCE = '''\
import json

import numpy as np

__version__ = '0.5.3'


class LVIS:
    def __init__(self, annotation_path):
        with open(annotation_path) as f:
            self.dataset = json.load(f)

    def get_img_ids(self):
        return [image['id'] for image in self.dataset['images']]

    def get_cat_ids(self):
        return [category['id'] for category in self.dataset['categories']]


class LVISResults(LVIS):
    def __init__(self, lvis_gt, results, max_dets=300):
        with open(results) as f:
            self.dataset = dict(lvis_gt.dataset, annotations=json.load(f))


class LVISEval:
    def __init__(self, lvis_gt, lvis_dt, iou_type='segm'):
        self.lvis_gt, self.lvis_dt, self.eval, self.results = lvis_gt, lvis_dt, {}, {}

    def evaluate(self):
        self.tps = [[True, False]]

    def accumulate(self):
        tp_sum = np.cumsum(self.tps, axis=1).astype(dtype=np.{cast})
        self.eval = dict(recall=tp_sum[:, -1])

    def summarize(self):
        self.results['AP'] = float(self.eval['recall'][0])
'''


def fake_lvis_api(monkeypatch, folder, cast: str = 'float') -> object:
    """Write a stand-in lvis-api whose ``accumulate`` casts with ``np.{cast}`` (``'float'``: fails under numpy >=
    1.24; ``'float64'``: runs) to ``folder``, load it as ``sys.modules['lvis']`` and hand it to mmdet's
    ``LVISMetric`` module as the lvis-api it imported; returns it. The monkeypatch undoes both."""
    from mmdet.evaluation.metrics import lvis_metric

    path = folder / 'lvis.py'
    path.write_text(_SOURCE.replace('{cast}', cast))
    spec = importlib.util.spec_from_file_location('lvis', path)
    lvis = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lvis)
    monkeypatch.setitem(sys.modules, 'lvis', lvis)  # (importable: mmdet's LVIS datasets import it when they load)
    for name in ('LVIS', 'LVISResults', 'LVISEval'):
        monkeypatch.setattr(lvis_metric, name, getattr(lvis, name), raising=False)
    monkeypatch.setattr(lvis_metric, 'lvis', lvis)
    return lvis
