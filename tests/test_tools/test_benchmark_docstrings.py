"""The benchmarks' docstrings (their ``--help`` text and the README's source for how arms are built) say how a
fixed arm keeps the engine without learning: ``FrozenController``, not a controller learning rate of 0, which
``REINFORCE`` refuses."""
from __future__ import annotations

import glob
import os.path as osp
import re

from conftest import REPO_ROOT


def test_no_benchmark_describes_its_fixed_arms_as_learning_rate_0():
    """autoaug_fmnist, autoaug_det, autoaug_digits, am_lfs_fmnist and am_lfs_digits said 'controller learning rate
    0' after their fixed arms had moved to FrozenController (373f2d6)."""
    stale = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'benchmarks', '*.py'))):
        with open(path) as f:
            text = ' '.join(f.read().split())  # a phrase broken over two lines reads as one
        if re.search(r'(controller )?learning rate 0\b(?!\.)', text):
            stale.append(osp.basename(path))
    assert not stale, f'{stale} describe a fixed arm as learning rate 0; it is FrozenController'
