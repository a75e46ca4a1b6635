"""A parameter thawed at an OHL trunk start inside an epoch (``trunk_iters``) is refused at that trunk start.

One copy of 2 ranks (``tools/train.py``, gloo): 64 images in batches of 8, 4 iterations per rank and epoch, trunks
of 2 iterations. A plugin hook freezes the backbone (6 parameters) before the copy's DDP is built (its first
training step) and thaws it after iteration 1, where trunk 1 begins (``LateTrunkStart``, mid-epoch): the copy's DDP
never all-reduces it, so each rank trains it on its own gradient. ``LearnedStateHook``'s check runs at each epoch's
first iteration only: without the check at the trunk start the run stopped at trunk 1's end on ``verify_sync``'s
'ranks of a copy in step: False', naming no parameter; ``OHLHook._begin_trunk`` now refuses the thaw there.
"""
from __future__ import annotations

import os.path as osp

import pytest

from conftest import run_tool, tiny_ohl_cfg

PLUGIN = '''
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from automl_mm.registry import HOOKS


def _stem(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return next(model.backbone.children())


@HOOKS.register_module()
class ThawAtIterOne(Hook):
    def before_train(self, runner):
        _stem(runner).requires_grad_(False)  # before the copy's DDP is built (its first training step)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 1:  # trunk 1 begins after this iteration's hooks (LateTrunkStart)
            _stem(runner).requires_grad_(True)
'''


@pytest.mark.slow  # one 2-process run
def test_a_parameter_thawed_at_a_mid_epoch_trunk_start_is_refused_there(tmp_path):
    (tmp_path / 'thaw_plugin.py').write_text(PLUGIN)
    work = str(tmp_path / 'work')
    cfg = tiny_ohl_cfg(work, trunk_iters=2)
    cfg.train_cfg.max_epochs = 2
    cfg.train_dataloader.batch_size = 8
    cfg.custom_imports = dict(imports=['thaw_plugin'], allow_failed_imports=False)
    cfg.custom_hooks[0].update(num_copies=1, ranks_per_copy=2, seed=0)
    cfg.custom_hooks.append(dict(type='ThawAtIterOne'))
    cfg.pop('launcher')
    cfg.dump(str(tmp_path / 'cfg.py'))
    done = run_tool('tools/train.py', str(tmp_path / 'cfg.py'), '--work-dir', work, check=False,
                    env={'PYTHONPATH': f'{tmp_path}:{osp.abspath(".")}'})
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    # a local worker's refusal is printed as its message alone, then its type (330bede)
    refused = ("): the start of OHL trunk 1 (epoch 0, iteration 1): 6 parameters were made trainable "
               "(requires_grad=True) after the model was wrapped in DistributedDataParallel, at the OHL copy's first "
               "training step (CopyDataParallel): ['backbone.layers.0.weight', 'backbone.layers.1.bias', ")
    assert 'tools/train.py: error: worker rank ' in out and refused in out, out[-3000:]
    assert '(ValueError; AUTOML_MM_TRACEBACK=1 prints the Python traceback)' in out, out[-3000:]
    assert 'epoch 1, iteration 4:' not in out, out[-3000:]
