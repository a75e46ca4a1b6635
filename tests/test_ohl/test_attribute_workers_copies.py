"""Data-path writes reach the dataloader workers of every copy of a multi-copy OHL run (2 processes, gloo).

The single-copy runs of ``test_attribute_workers.py`` check the loader logic; here each copy's process draws its
own value per trunk (``copy_values`` in the history differ between copies) and each must train on its own, through
its own persistent workers, one process per copy: ``tools/train.py``'s main in 2 gloo ranks forked as torchrun
starts them (tests/_train_ranks.py), not the tool's local launch (whose workers start loader workers of their own:
tests/test_engine/test_launch.py, test_each_worker_reads_through_loader_worker_processes_of_its_own).
"""
from __future__ import annotations

import json
import os.path as osp

import pytest
from _train_ranks import train_ranks

from conftest import tiny_ohl_cfg

PATH = 'train_dataloader.dataset.pipeline.transforms.0.value'

PLUGIN = '''
import json
import os
import os.path as osp

from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook

from automl_mm.ohl import get_copy_layout
from automl_mm.registry import HOOKS, TRANSFORMS


@TRANSFORMS.register_module()
class StampValue(BaseTransform):
    """Writes its value and the loading process's id into the results."""

    def __init__(self, value=0.0):
        self.value = value

    def transform(self, results):
        results['stamp'], results['pid'] = self.value, os.getpid()
        return results


@HOOKS.register_module()
class DumpStamps(Hook):
    """Per iteration, the stamps of the batch; at the end, one file per copy (its first rank)."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.seen, self.pids = [], set()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        samples = data_batch['data_samples']
        self.seen.append(sorted({s.metainfo['stamp'] for s in samples}))
        self.pids.update(s.metainfo['pid'] for s in samples)

    def after_train(self, runner):
        layout = get_copy_layout()
        with open(osp.join(runner.work_dir, f'stamps_copy{layout.copy_id}.json'), 'w') as f:
            json.dump(dict(seen=self.seen, pids=sorted(self.pids), main=os.getpid()), f)
'''


@pytest.mark.slow  # 2 ranks with 2 persistent workers each
def test_each_copy_trains_on_the_value_it_records_through_its_own_workers(tmp_path):
    (tmp_path / 'stamp_plugin.py').write_text(PLUGIN)
    work = str(tmp_path / 'work')
    cfg = tiny_ohl_cfg(work, trunk_iters=3)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='StampValue'), dict(type='PackClsInputs', meta_keys=('stamp', 'pid', 'sample_idx'))]
    cfg.train_dataloader.update(num_workers=2, persistent_workers=True, batch_size=16)
    cfg.reward_dataloader.num_workers = 0
    cfg.custom_imports = dict(imports=['stamp_plugin'], allow_failed_imports=False)
    choices = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    cfg.custom_hooks[0].update(num_copies=2, seed=0, spaces=[dict(
        type='AttributeSpace', name='stamp', target=PATH, choices=choices, distribution=dict(type='Categorical'))])
    cfg.custom_hooks.append(dict(type='DumpStamps'))
    cfg.default_hooks.checkpoint.interval = 3  # epoch 3 ends trunk 3 (iteration 12)
    cfg.pop('launcher')
    cfg.dump(str(tmp_path / 'cfg.py'))
    # tools/train.py's main in 2 gloo ranks forked as torchrun starts them (tests/_train_ranks.py), each with its own
    # loader workers as under the local launcher: a subprocess of the tool imported everything again in its launcher
    # and in its fork server, most of the run
    train_ranks([str(tmp_path / 'cfg.py'), '--work-dir', work], 2, sys_path=[str(tmp_path)])
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert len(history) == 4  # 3 epochs of 4 iterations in trunks of 3
    per_copy = [[h['copy_values']['stamp'][c][PATH] for h in history] for c in (0, 1)]
    assert per_copy[0] != per_copy[1]  # the copies drew their own values (seed 0)
    for copy_id, applied in enumerate(per_copy):
        with open(osp.join(work, f'stamps_copy{copy_id}.json')) as f:
            stamps = json.load(f)
        assert stamps['seen'] == [[applied[i // 3]] for i in range(12)], f'copy {copy_id}'
        assert stamps['main'] not in stamps['pids']  # loaded by its workers
