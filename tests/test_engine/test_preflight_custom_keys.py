"""An entry of ``optim_wrapper.paramwise_cfg.custom_keys``: mmengine's DefaultOptimWrapperConstructor reads
``lr_mult`` / ``decay_mult`` and copies every other key into the parameter group, where only the optimizer's own
options are read; a misspelled one (``lr_mul=0.1``) trained the matched parameters at the full lr, without a word."""
from __future__ import annotations

import glob
import os.path as osp

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_read_keys import check_read_keys

from conftest import REPO_ROOT

DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')


def _with_custom_keys(entry: dict, optimizer: str = 'SGD') -> Config:
    cfg = Config.fromfile(DETECTOR)
    if optimizer != 'SGD':
        cfg.optim_wrapper.optimizer = dict(type=optimizer, lr=0.001, weight_decay=0.05)
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'backbone': entry})
    return cfg


@pytest.mark.parametrize('entry, close', [
    (dict(lr_mul=0.1), 'lr_mult'),
    (dict(decay_mul=0.0), 'decay_mult'),
    (dict(betas=(0.9, 0.99)), None),  # SGD has no betas: stored in the group, read by nothing
    (dict(momentun=0.5), 'momentum'),
    (dict(lr_mult=0.1, amsgrad=True), None),
])
def test_a_key_nothing_reads_is_refused(entry, close):
    cfg = _with_custom_keys(entry)
    name = next(k for k in entry if k != 'lr_mult')
    hint = rf' \(did you mean optim_wrapper\.paramwise_cfg\.custom_keys\.backbone\.{close}\?\)' if close else '$'
    with pytest.raises(ConfigCheckError, match=rf'optim_wrapper\.paramwise_cfg\.custom_keys\.backbone\.{name}: '
                                               rf".*param group of SGD reads only .*lr_mult.*{hint}"):
        check_read_keys(cfg)


@pytest.mark.parametrize('entry, optimizer', [
    (dict(lr_mult=0.1, decay_mult=0.0), 'SGD'),
    (dict(lr=0.001, momentum=0.5, nesterov=True), 'SGD'),  # the optimizer's own options: set on the group
    (dict(betas=(0.9, 0.99), amsgrad=True), 'AdamW'),
])
def test_what_mmengine_or_the_optimizer_reads_passes(entry, optimizer):
    check_read_keys(_with_custom_keys(entry, optimizer))


def test_an_optimizer_that_cannot_be_resolved_or_takes_kwargs_is_not_judged():
    from automl_mm.engine.preflight_read_keys import _optimizer_arguments

    assert _optimizer_arguments(dict(type='NoSuchOptimizer'), 'mmdet') is None
    assert _optimizer_arguments(dict(type=lambda params, **kwargs: None), None) is None
    assert 'momentum' in _optimizer_arguments(dict(type='SGD'), 'mmdet')


def test_every_custom_keys_entry_of_mmdets_configs_passes():
    """No false refusal: mmdet 3.3's 43 configs with custom_keys (Mask2Former, DETR, DINO, ...)."""
    root = osp.join(mmdet.__path__[0], '.mim', 'configs')
    files = [f for f in glob.glob(osp.join(root, '**', '*.py'), recursive=True) if 'custom_keys' in open(f).read()]
    assert len(files) >= 20
    for path in files:
        check_read_keys(Config.fromfile(path))
