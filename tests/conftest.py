from __future__ import annotations

import os.path as osp

import pytest

from automl_mm.utils import register_all_modules

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory) -> str:
    """A tiny generated COCO-format set shared by the detection tests."""
    from automl_mm.datasets import generate_coco

    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    generate_coco(root, num_train=8, num_val=4, img_size=64, max_objects=3, seed=0)
    return root


def run_tool(*args: str, timeout: int = 900, env: dict | None = None, check: bool = True):
    """Run a repo tool (e.g. tools/train.py) in a subprocess from the repo root; return the completed process."""
    import os
    import subprocess
    import sys

    full_env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc


def read_scalars(work_dir: str) -> list[dict]:
    """Rows of every scalars.json the LocalVisBackend wrote under work_dir (all runs, in time order)."""
    import glob
    import json

    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows
