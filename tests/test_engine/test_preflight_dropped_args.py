"""Config nodes whose class's constructor chain takes ``**kwargs`` and drops the ones it does not read (mmdet's
``BaseBBoxCoder``, ``BaseSampler`` / ``RandomSampler``): a misspelled key built without a word, and the run trained
with the default. ``check_config`` refuses it, naming the key, the class that drops it and a close name."""
from __future__ import annotations

import glob
import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.preflight_dropped_args import check_dropped_arguments, dropping_chain

from conftest import REPO_ROOT

DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')


def test_mmdet_drops_the_misspelled_argument_silently():
    """The fault itself: mmdet builds the coder and keeps its default stds."""
    from automl_mm.registry import TASK_UTILS
    from automl_mm.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    coder = TASK_UTILS.build(dict(type='mmdet.DeltaXYWHBBoxCoder', target_stdss=[0.1, 0.1, 0.2, 0.2]))
    assert coder.stds == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize('options, match', [
    ({'model.rpn_head.bbox_coder.target_stdss': [0.1, 0.1, 0.2, 0.2]},
     r"model\.rpn_head\.bbox_coder\.target_stdss: DeltaXYWHBBoxCoder does not read 'target_stdss'; its constructor "
     r"chain ends in BaseBBoxCoder's \*\*kwargs.*did you mean model\.rpn_head\.bbox_coder\.target_stds\?"),
    ({'model.train_cfg.rcnn.sampler.neg_pos_ubb': 3},
     r'model\.train_cfg\.rcnn\.sampler\.neg_pos_ubb: RandomSampler does not read.*did you mean '
     r'model\.train_cfg\.rcnn\.sampler\.neg_pos_ub\?'),
])
def test_a_dropped_argument_is_refused(options, match):
    cfg = Config.fromfile(DETECTOR)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigCheckError, match=match):
        check_config(cfg, test_only=True)  # (the model is built by a test too)


def test_what_the_chain_reads_or_passes_elsewhere_is_not_dropped():
    from mmengine.hooks import CheckpointHook, EMAHook
    from mmengine.visualization import Visualizer

    from automl_mm.registry import TASK_UTILS

    assert 'rng' in dropping_chain(TASK_UTILS.get('mmdet.RandomSampler'))[0]  # kwargs.get('rng')
    assert dropping_chain(CheckpointHook) is None and dropping_chain(EMAHook) is None  # kept / passed on
    assert dropping_chain(Visualizer) is None  # no **kwargs: a TypeError (preflight_runner_args)
    assert dropping_chain(TASK_UTILS.get('mmdet.MaxIoUAssigner')) is None
    cfg = Config.fromfile(DETECTOR)
    cfg.model.train_cfg.rcnn.sampler.neg_pos_ub = 3
    check_dropped_arguments(cfg, 'mmdet')


@pytest.mark.parametrize('path', sorted(p for p in glob.glob(osp.join(REPO_ROOT, 'configs/**/*.py'), recursive=True)
                                        if '/_base_/' not in p))
def test_shipped_configs_pass(path):
    cfg = Config.fromfile(path)
    check_dropped_arguments(cfg, cfg.get('default_scope') or 'automl_mm')
