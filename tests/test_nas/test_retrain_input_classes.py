"""CR-NAS's comparison of ``train_cfg.flops_input_shape`` with the resize scales a detector trains at
(:func:`automl_mm.nas.retrain_input.training_scales`, :func:`~automl_mm.nas.retrain_input.pad_size_divisor`) finds
the resize / pad transforms by class, as the runner builds them (the registry in the config's scope), not by the
last part of their ``type`` name.

Input that showed the fault: a user's ``Resize`` subclass (``type=MyResize``, or a registered alias) was not read,
so a search counted FLOPs at a size its detector never trained at without a word; a class named ``Resize`` /
``Pad`` that is not mmcv's was read as one."""
from __future__ import annotations

import pytest
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import FixShapeResize
from mmdet.datasets.transforms import Pad as DetPad
from mmdet.datasets.transforms import Resize as DetResize
from mmengine.config import Config

from automl_mm.nas.retrain_input import pad_size_divisor, training_scales


class MyResize(DetResize):
    """A user's resize under a name of its own."""


class MyFixShapeResize(FixShapeResize):
    """A user's fixed-shape resize (a subclass of mmdet's ``Resize`` too)."""


class MyPad(DetPad):
    """A user's pad under a name of its own."""


class Resize(BaseTransform):  # noqa: D101  (a transform of another kind that happens to be called Resize)
    def __init__(self, scale=None, keep_ratio=False):
        self.scale = scale

    def transform(self, results):
        return results


class Pad(BaseTransform):  # noqa: D101
    def __init__(self, size_divisor=None):
        self.size_divisor = size_divisor

    def transform(self, results):
        return results


def _cfg(*pipeline, **top):
    return Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=dict(type='CocoDataset',
                                                                                 pipeline=list(pipeline))), **top))


_SCALES = [('train_dataloader.dataset.pipeline[0].scale', (640, 480), (640, 480), True)]


@pytest.mark.parametrize('resize', [dict(type=MyResize), dict(type='mmdet.Resize'), dict(type='Resize'),
                                    dict(type='MyAliasResize')], ids=['subclass', 'scoped', 'mmdet', 'alias'])
def test_a_resize_is_found_by_its_class(monkeypatch, resize):
    from mmdet.registry import TRANSFORMS

    monkeypatch.setitem(TRANSFORMS._module_dict, 'MyAliasResize', MyResize)
    assert training_scales(_cfg(dict(resize, scale=(640, 480), keep_ratio=True))) == _SCALES


@pytest.mark.parametrize('resize', [dict(type='FixShapeResize'), dict(type=MyFixShapeResize)],
                         ids=['mmdet', 'subclass'])
def test_a_fixed_shape_resize_is_read_before_its_base(resize):
    """mmdet's ``FixShapeResize`` is a ``Resize``: its output size is ``width`` x ``height`` (it sets no ``scale``),
    read only when it is known as such before its base (read as a ``Resize``: no scale, nothing compared)."""
    assert training_scales(_cfg(dict(resize, width=512, height=384))) == [
        ('train_dataloader.dataset.pipeline[0].width/height', (512, 384), (512, 384), False)]


def test_a_transform_named_resize_of_another_kind_is_not_a_resize():
    assert training_scales(_cfg(dict(type=Resize, scale=(640, 480), keep_ratio=True))) == []


def test_an_unregistered_type_is_left_to_the_build():
    assert training_scales(_cfg(dict(type='NoSuchResize', scale=(640, 480)))) == []


def test_a_pad_is_found_by_its_class():
    assert pad_size_divisor(_cfg(dict(type=MyPad, size_divisor=64))) == 64
    assert pad_size_divisor(_cfg(dict(type='mmdet.Pad', size_divisor=64))) == 64
    assert pad_size_divisor(_cfg(dict(type=Pad, size_divisor=64))) == 1
