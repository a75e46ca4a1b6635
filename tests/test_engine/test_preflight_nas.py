"""NAS settings that cannot work fail before the first iteration, naming the key: a stage space or reference
allocation outside the space, and a PC-NAS FLOPs limit or a CR-NAS FLOPs budget that no architecture meets (with the
range the space reaches)."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.nas.spaces import StageAllocationSpace
from tests.test_engine._preflight_configs import CR_NAS, PC_NAS

from conftest import REPO_ROOT


def test_a_bad_stage_space_is_named_as_the_stage_space():
    """Every stage_space error was reported as train_cfg.reference_allocation."""
    cfg = Config.fromfile(CR_NAS)
    cfg.train_cfg.stage_space = dict(stage_choices=[[1, 2]] * 4, total_blocks=30)
    cfg.train_cfg.reference_allocation = (2, 2, 2, 2)
    with pytest.raises(ConfigCheckError, match=r'train_cfg\.stage_space: total_blocks=30 is out of reach'):
        check_config(cfg)


def test_cr_nas_reference_allocation_outside_the_space_names_both():
    cfg = Config.fromfile(CR_NAS)
    cfg.train_cfg.reference_allocation = (2, 2, 2, 3)
    with pytest.raises(ConfigCheckError, match=r'train_cfg\.reference_allocation: \[2, 2, 2, 3\] \(4 stages, 9 '
                                               r'blocks\) is not an allocation of the space: 4 stages, '
                                               r'total_blocks=8'):
        check_config(cfg)
    space = StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8)
    with pytest.raises(ValueError, match='9 blocks'):
        space.path_of((2, 2, 2, 3))  # what CRNASLoop itself calls
    with pytest.raises(ValueError, match='3 stages'):
        space.path_of((3, 3, 2))
    assert space.values(space.path_of((2, 2, 2, 2))) == [2, 2, 2, 2]


def test_pc_nas_flops_limit_nobody_meets_fails_before_training_naming_the_range(tmp_path):
    cfg = Config.fromfile(PC_NAS)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.flops_limit = 1e5
    cfg.train_cfg.warmup_iters = 1
    cfg.train_cfg.stage_iters = 1
    cfg.param_scheduler = []
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'train_cfg\.flops_limit=100000 is below every architecture of the space: '
                                         r'flops reaches from (\S+) to (\S+)') as info:
        runner.train()
    low, high = (float(v) for v in str(info.value).split('from ')[1].split(' to '))
    # the config's comment: 40 of the 54 paths fit 3.5 MFLOPs, the largest has 5.2 MFLOPs
    assert low < 3.5e6 < high and abs(high - 5.2e6) < 0.1e6
    assert not [f for f in __import__('os').listdir(tmp_path) if f.endswith('.pth')]  # nothing trained


def _cr_nas_test_cfg():
    import importlib.util

    path = osp.join(REPO_ROOT, 'tests/test_nas/test_cr_nas_loop.py')
    spec = importlib.util.spec_from_file_location('_cr_nas_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._cfg


def test_cr_nas_budget_nothing_fits_fails_before_the_first_iteration(coco_root, tmp_path, monkeypatch):
    from automl_mm.datasets.coco_split import split_coco
    from automl_mm.nas import CRNASLoop

    split_coco(osp.join(coco_root, 'annotations', 'instances_train.json'), osp.join(coco_root, 'annotations'),
               val_images=2, seed=0)
    make_cfg = _cr_nas_test_cfg()
    iterations = []
    def counted(self, batch):  # count training iterations instead of running them
        iterations.append(1)
        self._iter += 1

    monkeypatch.setattr(CRNASLoop, 'run_iter', counted)
    with pytest.raises(ValueError, match=r'train_cfg\.flops_tolerance=0\.0: the FLOPs band .* holds no allocation of '
                                         r'stage_space but the reference itself'):
        Runner.from_cfg(make_cfg(coco_root, str(tmp_path / 'w'), flops_tolerance=0)).train()
    assert iterations == []
    with pytest.raises(ValueError, match=r'train_cfg\.reference_allocation: \[2, 2, 2, 1\] \(4 stages, 7 blocks\) '
                                         r'is not an allocation of the space: 4 stages, total_blocks=6'):
        Runner.from_cfg(make_cfg(coco_root, str(tmp_path / 'x'), reference_allocation=(2, 2, 2, 1))).train()
    assert iterations == []
