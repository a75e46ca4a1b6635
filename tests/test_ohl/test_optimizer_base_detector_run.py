"""The base weight decay (``optim_wrapper.optimizer.weight_decay``) searched by OHL over two copies (gloo, spawned
by ``tools/train.py``) of the Faster R-CNN leaf config under ``paramwise_cfg`` (norm and bias groups undecayed, the
backbone at lr_mult 0.1, the RPN head's decay set outright): in every copy, at every trunk start (the copy's own
sample) and after every best-copy broadcast, each of the 90 parameter groups holds, bit for bit, what mmengine's
constructor builds at the base in effect (a hook in the run builds that optimiser and compares by parameter
identity); the bases are the history's (each copy's sample, then the best copy's). Through ``--resume``:
``test_optimizer_base_lr_run.py`` (the digits config, killed and resumed)."""
from __future__ import annotations

import os.path as osp
import sys

import pytest
from _base_form_recorder import add_recorder, run_through
from mmengine.config import Config

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

LEAF = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
BASE = 'optim_wrapper.optimizer.weight_decay'
RPN_DECAY = 5e-5  # custom_keys' value set outright: every base keeps it



def _config(tmp_path) -> Config:
    fashion = write_fake_fashion(str(tmp_path / 'fashion'))
    root = str(tmp_path / 'det')
    from automl_mm.datasets import generate_fmnist_det

    generate_fmnist_det(root, data_root=fashion, seed=0, num_train=4, num_reward=4, num_val=2, num_test=2,
                        img_size=128, max_objects=2)
    cfg = Config.fromfile(osp.join(REPO_ROOT, LEAF))
    for loader in ('train_dataloader', 'reward_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].dataset.pipeline = [t for t in cfg[loader].dataset.pipeline if 'OHLAutoAugment' not in t['type']]
        for t in cfg[loader].dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (64, 64)
    cfg.reward_evaluator.ann_file = osp.join(root, 'annotations', osp.basename(cfg.reward_evaluator.ann_file))
    cfg.train_dataloader.batch_size = cfg.reward_dataloader.batch_size = 2
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.optim_wrapper.optimizer.weight_decay = 1e-4
    cfg.optim_wrapper.paramwise_cfg = dict(norm_decay_mult=0., bias_decay_mult=0., custom_keys={
        'backbone': dict(lr_mult=0.1), 'rpn_head': dict(weight_decay=RPN_DECAY)})
    hook = cfg.custom_hooks[0]
    hook.update(num_copies=2, plot=False, spaces=[dict(type='AttributeSpace', name='wd', target=BASE,
                                                       choices=[3e-4, 7e-4, 2e-3],
                                                       distribution=dict(type='Categorical'))])
    add_recorder(cfg, tmp_path, 'weight_decay', imports=('automl_mm.models', ))
    return cfg


@pytest.mark.slow
def test_every_group_of_every_copy_is_the_constructors_at_the_base_through_broadcasts(tmp_path):
    cfg = _config(tmp_path)
    history, rows = run_through(cfg, tmp_path)
    assert [h['trunk'] for h in history] == [0, 1]
    for rank in (0, 1):
        for row in rows[rank]:
            assert row['groups'] == 90 and row['differ'] == [], row  # bit for bit the constructor's
            assert row['values'][0] == 0.0 and RPN_DECAY in row['values']  # norm / bias undecayed, RPN outright
        assert rows[rank][0]['base'] == 1e-4  # the config's, before the first trunk
        for trunk, h in enumerate(history):
            own = h['copy_values']['wd'][rank][BASE]  # ranks_per_copy=1: rank r trains copy r
            best = h['copy_values']['wd'][h['best']][BASE]
            start, broadcast = [r for r in rows[rank] if r['epoch'] == trunk and r['phase'] != 'start']
            assert start['base'] == own and broadcast['base'] == best
            assert own in start['values']
