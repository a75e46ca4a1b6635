"""The config a PC-NAS search exports inherits ``train_cfg.retrain_config``'s data: a digits search at 32 px
(``input_shape=(1, 3, 32, 32)``, ``flops_limit=14e6``; final pool at 8.9 MFLOPs) exported a config that retrained
and tested the network at the template's 16 px (a quarter of those FLOPs), silently. Refused before training when
the search counts costs, warned about when it does not; real Runners on the digits PC-NAS config."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_cost_input_size import _at, _Past

from conftest import REPO_ROOT

RETRAIN = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')




def _retrain_at(tmp_path, img_size: int) -> str:
    path = tmp_path / f'retrain_{img_size}.py'
    path.write_text(f'_base_ = {RETRAIN!r}\nimg_size = {img_size}\n'
                    'train_dataloader = dict(dataset=dict(img_size=img_size))\n'
                    'val_dataloader = dict(dataset=dict(img_size=img_size))\n'
                    'test_dataloader = val_dataloader\n')
    return str(path)


@pytest.fixture
def stubbed(monkeypatch):
    """No training; the search stops right after its start checks (``_Past``)."""
    from automl_mm.nas.pc_nas import PCNASLoop

    trained = []
    monkeypatch.setattr(PCNASLoop, 'train_until', lambda self, *a, **k: trained.append(a))

    def past_the_checks(self, *args):
        raise _Past

    monkeypatch.setattr(PCNASLoop, 'path_evaluator', past_the_checks)
    return trained


def test_a_retrain_config_at_another_size_than_the_costs_is_refused_before_training(tmp_path, stubbed):
    cfg = _at(str(tmp_path / 'bad'), 32, input_shape=(1, 3, 32, 32), flops_limit=14e6)
    with pytest.raises(ValueError, match=r'train_cfg\.retrain_config .*pc-nas-retrain_mbconv-digits_1x1_30e_digits'
                                         r'\.py: its test_dataloader gives the network images of \(C, H, W\) = '
                                         r"\(3, 16, 16\), the search's split \(3, 32, 32\).*counted at "
                                         r'train_cfg\.input_shape'):
        Runner.from_cfg(cfg).train()
    assert stubbed == []


def test_a_retrain_config_at_the_searched_size_is_accepted(tmp_path, stubbed):
    cfg = _at(str(tmp_path / 'ok'), 32, input_shape=(1, 3, 32, 32), flops_limit=14e6,
              retrain_config=_retrain_at(tmp_path, 32))
    with pytest.raises(_Past):
        Runner.from_cfg(cfg).train()
    assert len(stubbed) == 1


def test_without_costs_another_size_is_warned_about(tmp_path, stubbed, monkeypatch):
    import automl_mm.nas.retrain_input as module

    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    cfg = _at(str(tmp_path / 'warn'), 16, input_shape=None, flops_limit=None,
              retrain_config=_retrain_at(tmp_path, 24))
    with pytest.raises(_Past):
        Runner.from_cfg(cfg).train()
    assert len(stubbed) == 1
    assert any('(C, H, W) = (3, 24, 24), the search\'s split (3, 16, 16)' in m for m in logged), logged
