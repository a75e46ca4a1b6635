"""The ``Smoke:`` command a benchmark's docstring documents reads only files that exist in a clean checkout: every
path it passes to an input option is in the repository (outputs, ``--out`` and the like, may be anywhere)."""
from __future__ import annotations

import glob
import os.path as osp
import re
import shlex

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OUTPUT_OPTIONS = {'--out', '--work-dir', '--plot-out', '--save-policies'}


def smoke_commands() -> dict[str, list[str]]:
    """``{script: argv}`` of every ``Smoke: python benchmarks/<script>.py ...`` line (with its ``\\``
    continuations) in the benchmarks' module docstrings."""
    found = {}
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'benchmarks', '*.py'))):
        with open(path) as f:
            text = f.read()
        match = re.search(r'^Smoke: (python benchmarks/\S+\.py(?:[^\n]*\\\n)*[^\n]*)$', text, re.MULTILINE)
        if match:
            found[osp.basename(path)] = shlex.split(match.group(1).replace('\\\n', ' '))[2:]
    return found


def test_smoke_commands_are_found():
    assert {'nas_ground_truth_fmnist.py', 'pc_nas_ranking_fmnist.py'} <= set(smoke_commands())


@pytest.mark.parametrize('script, argv', smoke_commands().items())
def test_a_documented_smoke_command_reads_only_files_that_exist(script, argv):
    """pc_nas_ranking_fmnist.py's smoke command read ``--ground-truth /tmp/gt_fake.json``, which nothing makes:
    run as documented it stopped at once with FileNotFoundError."""
    missing = []
    for option, value in zip(argv, argv[1:]):
        if not option.startswith('--') or option in OUTPUT_OPTIONS or value.startswith('--'):
            continue
        if '/' in value or value.endswith(('.json', '.py', '.txt', '.log')):
            if not osp.exists(value if osp.isabs(value) else osp.join(REPO_ROOT, value)):
                missing.append(f'{option} {value}')
    assert not missing, f'{script}: the Smoke command reads {missing}, which a clean checkout does not have'
