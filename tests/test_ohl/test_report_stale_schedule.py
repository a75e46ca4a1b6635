"""A search whose spaces are all per-item (no per-copy values to replay) left the ``schedule_policy.py`` of an
earlier search in the same work_dir in place: read as this run's learned schedule, it replayed another search's
values. The report removes it at the first trunk end."""
from __future__ import annotations

import os
import os.path as osp

from conftest import tiny_ohl_cfg, train_copy_runner


def test_a_run_without_per_copy_spaces_removes_another_searchs_schedule_policy(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))  # PipelineChoiceSpace only
    cfg.train_cfg.max_epochs = 1
    stale = osp.join(cfg.work_dir, 'ohl', 'schedule_policy.py')
    os.makedirs(osp.dirname(stale))
    with open(stale, 'w') as f:
        f.write("custom_hooks = [dict(type='TrunkScheduleHook', values={'optim_wrapper.optimizer.param_groups.*.lr': "
                "[0.1]}, trunk_epochs=1)]\n")
    train_copy_runner(cfg)
    assert osp.isfile(osp.join(cfg.work_dir, 'ohl', 'final_policy.py'))
    assert not osp.exists(stale)
