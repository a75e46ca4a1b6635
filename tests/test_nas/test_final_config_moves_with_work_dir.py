"""A search's exported final config loads from a copy of its work dir: PC-NAS and CR-NAS wrote
``_base_ = '<absolute path of train_cfg.retrain_config>'``, so a work dir copied to another checkout or machine (or
the checkout moved) no longer loaded (mmengine's FileNotFoundError on the old path). The export now writes the
retrain config as the search resolved it beside the final config (``*_retrain_config.py``, self-contained, as
mmengine's ``Config.dump`` writes a run's config) and inherits it by a path relative to the final config."""
from __future__ import annotations

import logging
import os
import os.path as osp
import shutil

from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from test_nas.test_cr_nas_flops_budget import _loop as cr_loop
from test_nas.test_pc_nas_loop import CONFIG as DIGITS_CONFIG
from test_nas.test_pc_nas_loop import _cfg as pc_cfg

from automl_mm.registry import MODELS

from conftest import REPO_ROOT


def _moved(tmp_path, checkout: str, search: str, name: str) -> Config:
    """Copy the search's output folder elsewhere, move the checkout the retrain config lived in, load the copy."""
    copied = str(tmp_path / 'elsewhere' / 'search')
    shutil.copytree(search, copied)
    os.rename(checkout, checkout + '_moved')
    cfg = Config.fromfile(osp.join(copied, name))  # FileNotFoundError on the checkout's old path before
    for file in os.listdir(copied):
        if file.endswith('.py'):
            with open(osp.join(copied, file)) as f:
                code = [line for line in f if not line.startswith('#')]  # a comment may say where it came from
            assert not [line for line in code if checkout in line], file  # no path into the former checkout
    return cfg


def test_the_pc_nas_final_config_loads_from_a_copied_work_dir(tmp_path):
    checkout = str(tmp_path / 'checkout')
    os.makedirs(checkout)
    retrain = osp.join(checkout, 'retrain.py')
    with open(retrain, 'w') as f:
        f.write(f"_base_ = {osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')!r}\n"
                'train_cfg = dict(max_epochs=3)\n')
    runner = Runner.from_cfg(pc_cfg(str(tmp_path / 'run'), retrain_config=retrain))
    loop = runner.build_train_loop(runner._train_loop)
    arch = list(loop.space.values([0] * loop.space.num_decisions))
    loop.results = [{'potential': 0.5, 'arch': arch}]
    loop.pool.history = []
    loop._export()
    final = _moved(tmp_path, checkout, loop.out_dir, 'pc_nas_final_config.py')
    assert final.train_cfg.max_epochs == 3  # the retrain config's own setting, kept
    assert list(final.model.backbone.arch) == list(arch)
    with DefaultScope.overwrite_default_scope('automl_mm'):
        MODELS.build(final.model)


def test_the_cr_nas_final_config_loads_from_a_copied_work_dir(tmp_path):
    checkout = str(tmp_path / 'checkout')
    os.makedirs(checkout)
    retrain = osp.join(checkout, 'retrain.py')
    with open(retrain, 'w') as f:
        f.write(f'_base_ = {DIGITS_CONFIG!r}\n'
                "model = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                "stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, norm_eval=False), "
                "head=dict(in_channels=128))\n"
                "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)\n")
    loop = cr_loop(str(tmp_path / 'run'), retrain_config=retrain)
    stage_blocks, dilations = [1, 2, 2, 1], [3, 1, 2, 2, 1, 3]
    flops = loop.allocation_flops(loop.stage_space.path_of(stage_blocks))
    loop.result = {'stage_blocks': stage_blocks, 'dilations_per_block': dilations, 'spatial_search_score': 0.5,
                   'backbone_gflops': flops / 1e9, 'reference_gflops': loop.allocation_flops(loop.reference_path) / 1e9,
                   'stage_ranking': [{'stage_blocks': stage_blocks, 'score': 0.5, 'gflops': flops / 1e9}]}
    loop._export()
    final = _moved(tmp_path, checkout, loop.out_dir, 'cr_nas_final_config.py')
    assert final.train_cfg.max_iters == 2
    assert list(final.model.backbone.stage_blocks) == stage_blocks
    assert list(final.model.backbone.dilations_per_block) == dilations
    with DefaultScope.overwrite_default_scope('automl_mm'):
        net = MODELS.build(final.model)
    assert list(net.backbone.active_stage_blocks) == stage_blocks


def test_an_environment_variable_the_retrain_config_reads_is_named_as_frozen_in_the_copy(tmp_path, monkeypatch):
    """The copy holds the retrain config as it resolved at the export: mmengine substitutes ``{{$VAR:default}}`` as
    it loads, so the copy holds the search machine's value, where the final config inheriting the retrain config read
    the variable again where it was retrained (another machine's data root). Said at the export, naming the variable
    and the value written, rather than a retrain on another machine reading the search machine's path unsaid."""
    from mmengine.logging import MMLogger

    monkeypatch.setenv('AUTOML_MM_TEST_DATA_ROOT', '/search/machine/data')
    retrain = str(tmp_path / 'retrain.py')
    with open(retrain, 'w') as f:
        f.write(f"_base_ = {osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')!r}\n"
                "data_root_note = '{{$AUTOML_MM_TEST_DATA_ROOT:data/}}'\n")
    runner = Runner.from_cfg(pc_cfg(str(tmp_path / 'run'), retrain_config=retrain))
    loop = runner.build_train_loop(runner._train_loop)
    loop.results = [{'potential': 0.5, 'arch': list(loop.space.values([0] * loop.space.num_decisions))}]
    loop.pool.history = []
    logged = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'log', lambda level, msg, *a, **k: level >= logging.WARNING and logged.append(msg))
    loop._export()
    said = [m for m in logged if 'AUTOML_MM_TEST_DATA_ROOT' in m]
    assert len(said) == 1, logged
    assert "'/search/machine/data'" in said[0] and 'pc_nas_retrain_config.py' in said[0], said[0]
    assert Config.fromfile(osp.join(loop.out_dir, 'pc_nas_final_config.py')).data_root_note == '/search/machine/data'
