"""A value that a model node's constructor refuses with an ``assert`` (mmengine's and mmdet's way of checking their
arguments) stopped ``tools/train.py`` with a bare traceback ending in ``AssertionError: `mean` should have 1 or 3
values, to be compatible with RGB or gray image, but got 2 values`` (``--cfg-options
model.data_preprocessor.mean=[1,2]`` on the digits baseline), naming no config key. The model build now names the node
being built and its class: ``model.data_preprocessor (ImgDataPreprocessor): `mean` should have 1 or 3 values ...``,
with the file and line of the ``assert``, in a lone runner (``Runner.from_cfg``, a runner's ``__init__``) and in the
multi-copy build check (``build_check``)."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_model_args import located_assertion_error
from automl_mm.registry import MODELS
from tests.test_engine._preflight_configs import DETECTOR, OHL

from conftest import tiny_digits_cfg

_MEAN = (r'^model\.data_preprocessor \(ImgDataPreprocessor\): `mean` should have 1 or 3 values, to be compatible '
         r'with RGB or gray image, but got 2 values \(an assert in .*data_preprocessor\.py:\d+, '
         r'ImgDataPreprocessor\.__init__, refused the value this node was built with\)$')


def test_a_runner_names_the_node_an_assert_refused(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.data_preprocessor = dict(type='ImgDataPreprocessor', mean=[1, 2], std=[1, 2])
    with pytest.raises(ValueError, match=_MEAN) as info:
        Runner.from_cfg(cfg)
    assert isinstance(info.value.__cause__, AssertionError)


def test_the_build_check_of_a_multi_copy_run_names_the_node():
    cfg = Config.fromfile(OHL)
    cfg.model.data_preprocessor = dict(type='ImgDataPreprocessor', mean=[1, 2], std=[1, 2])
    with pytest.raises(ValueError, match=_MEAN):
        build_check(cfg)


def test_an_mmdet_node_is_located_also_where_its_parent_added_keys():
    """mmdet's FPN asserts that in_channels is a list; a detector's heads are built from copies their detector
    extended (train_cfg / test_cfg added), so the node is matched by its own keys, not by identity."""
    cfg = Config.fromfile(DETECTOR)
    cfg.model.neck.in_channels = 64
    with DefaultScope.overwrite_default_scope(cfg.default_scope), pytest.raises(AssertionError) as info:
        MODELS.build(cfg.model)
    located = located_assertion_error(info.value, cfg.model)
    assert str(located).startswith('model.neck (FPN): ') and 'fpn.py:' in str(located)
    cfg = Config.fromfile(DETECTOR)
    # BBoxHead: a bare `assert with_cls or with_reg`, no message: its source line is shown; the roi head around it
    # is built from a copy its detector gave train_cfg / test_cfg
    cfg.model.roi_head.bbox_head.update(with_cls=False, with_reg=False)
    with DefaultScope.overwrite_default_scope(cfg.default_scope), pytest.raises(AssertionError) as info:
        MODELS.build(cfg.model)
    assert str(info.value) == ''
    located = str(located_assertion_error(info.value, cfg.model))
    assert located.startswith('model.roi_head.bbox_head (Shared2FCBBoxHead): assert with_cls or with_reg (an assert '
                              'in '), located
    assert 'bbox_head.py:' in located and 'BBoxHead.__init__' in located


def test_an_assert_outside_a_node_s_build_is_left_alone():
    try:
        assert False, 'an invariant'  # noqa: B011 - raised here, not while a config node was built
    except AssertionError as err:
        assert located_assertion_error(err, dict(type='ImageClassifier')) is None
    assert located_assertion_error(ValueError('x'), dict(type='ImageClassifier')) is None


def test_a_node_its_parent_extended_is_found_by_its_own_keys():
    """A parent that builds its child from an extended copy (mmdet's detectors give their heads train_cfg /
    test_cfg) hands build_from_cfg a dict that is not the config's node and not equal to it."""
    import torch.nn as nn

    class _Child(nn.Module):
        def __init__(self, width, extra=None):
            super().__init__()
            assert width > 0, f'width must be > 0, got {width}'

    class _Parent(nn.Module):
        def __init__(self, child):
            super().__init__()
            self.child = MODELS.build(dict(child, extra=1))

    model = dict(type=_Parent, child=dict(type=_Child, width=-1))
    with pytest.raises(AssertionError) as info:
        MODELS.build(Config(dict(model=model)).model)
    assert str(located_assertion_error(info.value, model)).startswith(
        'model.child (_Child): width must be > 0, got -1')  # (pytest's rewritten assert adds its own line)
