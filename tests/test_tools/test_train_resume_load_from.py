"""tools/train.py --resume (without a path) in a config that starts from load_from weights."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp

import torch

from conftest import REPO_ROOT

DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


def _train_tool():
    spec = importlib.util.spec_from_file_location('_tool_train', osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(work_dir: str, cfg_options: dict) -> argparse.Namespace:
    return argparse.Namespace(config=osp.join(REPO_ROOT, DIGITS), work_dir=work_dir, resume='auto', amp=False,
                              cfg_options=cfg_options, launcher='none', local_rank=0)


def test_resume_with_nothing_to_resume_keeps_the_configs_load_from(tmp_path, monkeypatch):
    """`--resume` on the first run of a config with load_from=pretrained.pth trained from random weights."""
    import automl_mm.engine.resume as resume_module

    logged = []
    monkeypatch.setattr(resume_module, 'print_log', lambda msg, **kw: logged.append(msg))
    pretrained = str(tmp_path / 'pretrained.pth')
    torch.save(dict(state_dict={}), pretrained)
    work = tmp_path / 'work'
    train = _train_tool()
    cfg = train.build_config(_args(str(work), dict(load_from=pretrained)))
    assert (cfg.resume, cfg.load_from) == (False, pretrained)  # loaded as weights, not resumed
    assert len(logged) == 1 and f'starts from the weights of load_from {pretrained}' in logged[0]

    # once the work dir holds a checkpoint, --resume continues from it instead
    work.mkdir()
    checkpoint = str(work / 'epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1, iter=10), state_dict={}), checkpoint)
    (work / 'last_checkpoint').write_text(checkpoint)
    cfg = train.build_config(_args(str(work), dict(load_from=pretrained)))
    assert (cfg.resume, cfg.load_from) == (True, checkpoint)
