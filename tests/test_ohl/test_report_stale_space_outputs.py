"""A search rerun in a reused work_dir with other spaces left the ``distribution_<space>.png`` and
``probs_<space>.npz`` of the earlier search's spaces beside this run's, read as this run's. The report removes, at
the first trunk end, the files of its own per-space naming whose space is not in this run, and nothing else."""
from __future__ import annotations

import os
import os.path as osp

from conftest import tiny_ohl_cfg, train_copy_runner

STALE = ('distribution_lr.png', 'probs_lr.npz', 'distribution_aug_old.png', 'probs_aug_old.npz')
KEPT = ('distribution_lr.txt', 'probs_lr.npz.bak', 'my_distribution_lr.png', 'distribution_.png.orig', 'notes.png',
        '.probs_lr.npz.0a1b.tmp')


def test_a_rerun_removes_per_space_outputs_of_spaces_not_in_it_and_nothing_else(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))  # one space, 'aug'; plot=False: the records are removed all the same
    cfg.train_cfg.max_epochs = 1
    out = osp.join(cfg.work_dir, 'ohl')
    os.makedirs(osp.join(out, 'distribution_dir.png'))  # a folder of that name: not a file the report wrote
    for name in STALE + KEPT:
        with open(osp.join(out, name), 'w') as f:
            f.write('an earlier search\n')
    train_copy_runner(cfg)
    left = set(os.listdir(out))
    assert not left & set(STALE)
    assert set(KEPT) | {'distribution_dir.png', 'probs_aug.npz', 'final_policy.py'} <= left
