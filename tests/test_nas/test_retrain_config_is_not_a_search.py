"""``train_cfg.retrain_config`` must train one architecture: the exported config inherits its ``train_cfg``, and a
search config there (the search's own config, the natural mistake) "retrained" the searched architecture by running
another search over it, with the search's schedule, and exported that."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import CONFIG as PC_CONFIG
from test_nas.test_pc_nas_loop import _cfg as _pc_cfg


def _loop(cfg):
    runner = Runner.from_cfg(cfg)
    return runner.build_train_loop(runner._train_loop)


def test_a_pc_nas_search_config_as_retrain_config_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match=r"train_cfg.retrain_config .*pc-nas_mbconv-digits_1x1_1800it_digits.py' "
                                         r"trains with train_cfg.type='PCNASLoop', a search loop"):
        _loop(_pc_cfg(str(tmp_path / 'pc'), retrain_config=PC_CONFIG))
    # the shipped retrain config (an IterBased / EpochBased loop) is accepted
    loop = _loop(_pc_cfg(str(tmp_path / 'ok')))
    assert loop.retrain_config.endswith('pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')


def test_a_cr_nas_search_config_as_retrain_config_is_refused_at_start(tmp_path):
    search = tmp_path / 'cr_search.py'  # a CR-NAS search config of the searched backbone (scoped type, as shipped)
    search.write_text(f"_base_ = {PC_CONFIG!r}\n"
                      "model = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                      "max_stage_blocks=(2, 2, 2, 2), stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, "
                      "norm_eval=False), head=dict(in_channels=128))\n"
                      "train_cfg = dict(_delete_=True, type='automl_mm.CRNASLoop', stage_iters=2, spatial_iters=2, "
                      "stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6))\n")
    with pytest.raises(ValueError, match=r"trains with train_cfg.type='automl_mm.CRNASLoop', a search loop"):
        _loop(digits_cr_cfg(str(tmp_path / 'cr'), retrain_config=str(search)))


def test_a_search_loop_named_in_the_retrain_config_scope_is_refused(tmp_path):
    """A search loop of one's own registered in mmdet's LOOPS, named unprefixed by a retrain config of
    default_scope='mmdet' (as its runner builds it), was looked up in automl_mm's scope and passed."""
    from mmdet.registry import LOOPS as MMDET_LOOPS

    from automl_mm.nas.pc_nas import PCNASLoop
    from automl_mm.nas.retrain_export import check_retrain_config

    MMDET_LOOPS.register_module('MMDetScopedPCNASLoopOfOnesOwn', module=type('_L', (PCNASLoop, ), {}), force=True)
    retrain = tmp_path / 'retrain.py'
    retrain.write_text("default_scope = 'mmdet'\ntrain_cfg = dict(type='MMDetScopedPCNASLoopOfOnesOwn')\n")
    with pytest.raises(ValueError, match=r"trains with train_cfg.type='MMDetScopedPCNASLoopOfOnesOwn', a search loop"):
        check_retrain_config(str(retrain))
    retrain.write_text("default_scope = 'mmdet'\ntrain_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)\n")
    assert check_retrain_config(str(retrain)) == str(retrain)
