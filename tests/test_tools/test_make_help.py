"""`make help` lists every Makefile target with what it does, without installing anything first (a new user's
`make help` stopped with "No rule to make target 'help'")."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which('make') is None, reason='make is not installed')


def _phony_targets() -> list[str]:
    with open(os.path.join(REPO_ROOT, 'Makefile')) as f:
        line = next(line for line in f if line.startswith('.PHONY:'))
    return line.split(':', 1)[1].split()


def _help() -> str:
    dry = subprocess.run(['make', '--no-print-directory', '-n', 'help'], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert 'install.sh' not in dry.stdout, f'make help would run tools/install.sh first:\n{dry.stdout}'
    proc = subprocess.run(['make', '--no-print-directory', '-s', 'help'], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_make_help_lists_every_target_with_its_description():
    out = _help()
    described = dict(re.findall(r'^make (\S+)\n((?:    .+\n)+)', out, flags=re.MULTILINE))
    targets = _phony_targets()
    assert 'help' in targets
    for target in targets:
        assert target in described, f'make help does not describe {target!r}:\n{out}'
        assert described[target].strip(), target
    assert 'OHL-Auto-Aug' in described['demo'] and 'ruff' in described['test']
