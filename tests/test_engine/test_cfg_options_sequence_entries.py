"""--cfg-options on one entry of a list or tuple of values (an OHL space's choices, the controller's Adam betas,
a scheduler's milestones): mmengine's merge descended into the entry as into a dict and failed with
AttributeError: 'float' object has no attribute 'copy', naming no key. The entry is set now."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, merge_options

from conftest import REPO_ROOT

LR_WD = osp.join(REPO_ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py')
DIGITS = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')


def test_one_entry_of_a_list_and_of_a_tuple_is_set():
    cfg = Config.fromfile(LR_WD)
    merge_options(cfg, {'custom_hooks.0.spaces.0.choices.0': 0.001, 'custom_hooks.0.spaces.0.choices.4': 0.2,
                        'custom_hooks.0.controller.optimizer.betas.0': 0.9})
    assert cfg.custom_hooks[0].spaces[0].choices == [0.001, 0.01, 0.03, 0.1, 0.2]
    assert cfg.custom_hooks[0].controller.optimizer.betas == (0.9, 0.999)


def test_an_entry_the_sequence_does_not_have_is_named():
    with pytest.raises(ConfigCheckError, match=r'--cfg-options custom_hooks\.0\.spaces\.0\.choices\.5=0\.5: '
                                               r'custom_hooks\.0\.spaces\.0\.choices holds 5 entries'):
        merge_options(Config.fromfile(LR_WD), {'custom_hooks.0.spaces.0.choices.5': 0.5})


def test_an_entry_inside_a_template_is_still_refused_naming_the_loaders_copy():
    """train_pipeline.0.transforms.1=[] (digits' OHLRandomChoice choices): the loader holds its own copy."""
    with pytest.raises(ConfigCheckError, match=r"changes 'train_pipeline' only: .*"
                                               r"train_dataloader\.dataset\.pipeline\.0\.transforms keeps"):
        merge_options(Config.fromfile(DIGITS), {'train_pipeline.0.transforms.1': []})
