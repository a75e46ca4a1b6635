"""The config files that several preflight test modules (``test_preflight_*.py``) check."""
from __future__ import annotations

import os.path as osp

from conftest import REPO_ROOT

OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')
PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
CR_NAS = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py')
DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
