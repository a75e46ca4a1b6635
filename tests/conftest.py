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
