"""The base lr (``optim_wrapper.optimizer.lr``) searched by OHL over two copies (gloo, ``tools/train.py``) of the
digits config under ``auto_scale_lr`` (a copy's batch is a quarter of ``base_batch_size``: each group's lr × 0.25)
and ``paramwise_cfg`` (a ``custom_keys`` lr set outright), killed after trunk 2 and resumed: at every trunk start,
after every broadcast and after ``--resume``, each group's lr is bit for bit mmengine's constructor at the base in
effect × 0.25 (the factor read before the checkpoint's values were loaded, in ``before_run``)."""
from __future__ import annotations

import json
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO_ROOT, run_tool

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
BASE = 'optim_wrapper.optimizer.lr'
HEAD_LR = 0.0123  # custom_keys' lr set outright: every base keeps it (× the batch factor)

PLUGIN = '''
import copy, json, os
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from automl_mm.registry import HOOKS
from automl_mm.ohl.attributes import get_attribute


@HOOKS.register_module()
class CompareLrWithConstructor(Hook):
    priority = 'LOWEST'  # after the OHLHook's writes and broadcasts

    def __init__(self, out, factor, kill_after=None):
        self.out, self.factor, self.kill_after = out, factor, kill_after

    def _record(self, runner, phase):
        base = get_attribute(runner, 'optim_wrapper.optimizer.lr')[0]
        cfg = copy.deepcopy(runner.cfg.optim_wrapper)
        cfg['optimizer']['lr'] = base
        fresh = {id(p): g['lr'] * self.factor for g in runner.build_optim_wrapper(cfg).optimizer.param_groups
                 for p in g['params']}
        live = [(g['lr'], fresh.get(id(p))) for g in runner.optim_wrapper.optimizer.param_groups
                for p in g['params']]
        row = dict(phase=phase, epoch=runner.epoch, base=base, differ=[x for x in live if x[0] != x[1]],
                   values=sorted({v for v, _ in live}))
        with open(os.path.join(self.out, f'rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(row) + '\\n')

    def before_train(self, runner):
        self._record(runner, 'start')

    def before_train_epoch(self, runner):
        self._record(runner, 'trunk_start')

    def after_train_epoch(self, runner):
        self._record(runner, 'broadcast')
        if self.kill_after == runner.epoch + 1:  # a crashed job, after this epoch's checkpoint
            barrier()
            os._exit(3)
'''


@pytest.mark.slow
def test_base_lr_under_auto_scale_lr_through_broadcast_and_resume(tmp_path):
    (tmp_path / 'lr_plugin.py').write_text(PLUGIN)
    cfg = Config.fromfile(osp.join(REPO_ROOT, OHL))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=100)
    cfg.param_scheduler = []  # a scheduler of the lr owns it: the base form is refused under one
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=cfg.train_dataloader.batch_size * 4)
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'head': dict(lr=HEAD_LR)})
    hook = cfg.custom_hooks[0]
    hook.update(num_copies=2, spaces=[dict(type='AttributeSpace', name='lr', target=BASE, choices=[0.03, 0.07, 0.11],
                                           distribution=dict(type='Categorical'))])
    cfg.custom_imports = dict(imports=['lr_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='automl_mm.CompareLrWithConstructor', out=str(tmp_path), factor=0.25))
    path, killed = str(tmp_path / 'search.py'), str(tmp_path / 'search_killed.py')
    cfg.dump(path)
    cfg.custom_hooks[-1]['kill_after'] = 2
    cfg.dump(killed)
    env = {'PYTHONPATH': f'{tmp_path}:{REPO_ROOT}'}
    work = str(tmp_path / 'work')
    assert run_tool('tools/train.py', killed, '--work-dir', work, env=env, check=False).returncode != 0
    out = run_tool('tools/train.py', path, '--work-dir', work, '--resume', env=env)
    assert 'resumed epoch: 2' in (out.stdout + out.stderr).replace(',', '')

    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    for rank in (0, 1):
        with open(tmp_path / f'rank{rank}.jsonl') as f:
            rows = [json.loads(line) for line in f]
        assert [(r['phase'], r['epoch']) for r in rows] == [
            ('start', 0), ('trunk_start', 0), ('broadcast', 0), ('trunk_start', 1), ('broadcast', 1),
            ('start', 2), ('trunk_start', 2), ('broadcast', 2)]
        for row in rows:
            assert row['differ'] == [], row  # bit for bit: constructor at the base, × 0.25
            assert HEAD_LR * 0.25 in row['values'] and len(row['values']) == 2
        assert rows[0]['base'] == cfg.optim_wrapper.optimizer.lr
        for trunk, h in enumerate(history):
            values = h['copy_values']['lr']
            start, broadcast = [r for r in rows if r['epoch'] == trunk and r['phase'] != 'start']
            assert start['base'] == values[rank][BASE] and broadcast['base'] == values[h['best']][BASE]
