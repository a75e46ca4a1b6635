"""A local ``load_from`` that is a directory or no file is refused by ``check_config`` naming ``load_from`` (a
directory with its newest complete checkpoint, as ``tools/train.py --resume DIR`` says); it used to be reported
only when the runner loaded it, after building the model and datasets. URLs and mmengine model-zoo names pass."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.preflight_load_from import check_load_from
from automl_mm.engine.preflight_walk import ConfigCheckError


def test_a_directory_is_refused_with_its_newest_checkpoint(tmp_path):
    torch.save({'state_dict': {}, 'meta': {}}, tmp_path / 'iter_4.pth')
    with pytest.raises(ConfigCheckError, match=rf'^load_from is a directory, not a checkpoint file: {tmp_path} '
                                               rf'\(the newest complete checkpoint in it is {tmp_path}/iter_4\.pth'):
        check_load_from(Config(dict(load_from=str(tmp_path))))


@pytest.mark.parametrize('value, match', [('missing/iter_4.pth', r'^load_from not found: missing/iter_4\.pth'),
                                          (5, r'^load_from must be a checkpoint file or URL, got 5'),
                                          ('', "^load_from must be a checkpoint file or URL, got ''")])
def test_a_missing_file_or_a_non_path_is_refused(value, match):
    with pytest.raises(ConfigCheckError, match=match):
        check_load_from(Config(dict(load_from=value)))


@pytest.mark.parametrize('value', [None, 'https://download.openmmlab.com/x.pth', 'open-mmlab://resnet50_caffe',
                                   'torchvision://resnet18', 's3://bucket/iter_4.pth'])
def test_urls_and_model_zoo_names_are_left_to_mmengine(value):
    check_load_from(Config(dict(load_from=value)))


def test_a_file_passes_and_check_config_runs_it(tmp_path):
    torch.save({'state_dict': {}}, tmp_path / 'w.pth')
    check_load_from(Config(dict(load_from=str(tmp_path / 'w.pth'))))
    from automl_mm.engine.preflight import check_config
    with pytest.raises(ConfigCheckError, match='^load_from is a directory'):
        check_config(Config(dict(load_from=str(tmp_path))))
