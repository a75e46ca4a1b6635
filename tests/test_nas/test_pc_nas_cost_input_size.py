"""PC-NAS counts its costs at the image size the supernet runs at: a digits search whose images were set to 32 px
kept the config's 16 px ``input_shape``, so its FLOPs limit (3.5 MFLOPs) admitted paths by a quarter of their cost
and the final pool reported those figures. Refused before training; real Runners on the digits PC-NAS config."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg


class _Past(Exception):
    pass


def _at(work_dir: str, img_size: int, **train_cfg):
    cfg = _cfg(work_dir, **train_cfg)
    for loader in (cfg.train_dataloader, cfg.reward_dataloader):
        loader.dataset.img_size = img_size
    return cfg


def test_costs_counted_at_another_image_size_are_refused_before_training(tmp_path, monkeypatch):
    from automl_mm.nas.pc_nas import PCNASLoop

    trained = []
    monkeypatch.setattr(PCNASLoop, 'train_until', lambda self, *a, **k: trained.append(a))
    with pytest.raises(ValueError, match=r"^train_cfg\.input_shape \[1, 3, 16, 16\]: the search split's images reach "
                                         r'the network as \(C, H, W\) = \(3, 32, 32\), not \(3, 16, 16\)'):
        Runner.from_cfg(_at(str(tmp_path / 'bad'), 32)).train()
    assert trained == []


def test_costs_counted_at_the_image_size_run_are_accepted(tmp_path, monkeypatch):
    from automl_mm.nas.pc_nas import PCNASLoop

    trained = []
    monkeypatch.setattr(PCNASLoop, 'train_until', lambda self, *a, **k: trained.append(a))
    def past_the_check(self, *args):
        raise _Past

    monkeypatch.setattr(PCNASLoop, 'path_evaluator', past_the_check)
    with pytest.raises(_Past):  # past the check, into the search
        # no retrain config: the shipped one retrains at 16 px (test_pc_nas_retrain_input_size.py)
        Runner.from_cfg(_at(str(tmp_path / 'ok'), 32, input_shape=(1, 3, 32, 32), flops_limit=14e6,
                            retrain_config=None)).train()
    assert len(trained) == 1
