"""OHL ``AttributeSpace`` targets under the runner's ``param_schedulers`` and ``train_loop`` are resolved in the
launching process's ``build_check``, against the schedulers it builds and the train loop built from ``train_cfg``:
a wrong path was refused only in ``AttributeSpace.setup``, in every worker after the launch (about 20 s)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'  # CosineAnnealingLR, EpochBasedTrainLoop


def _with_space(target: str, cfg: Config | None = None) -> Config:
    cfg = cfg or Config.fromfile(OHL)
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='x', target=target, choices=[1, 2],
                                           distribution=dict(type='Categorical')))
    return cfg


def test_a_scheduler_path_that_does_not_resolve_is_refused_at_start_naming_hook_space_and_path():
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'x': attribute path "
                                               r"'param_schedulers.0.eta_mn': CosineAnnealingLR has no attribute "
                                               r"'eta_mn'"):
        build_check(_with_space('param_schedulers.0.eta_mn'))
    build_check(_with_space('param_schedulers.0.eta_min'))
    with pytest.raises(ConfigCheckError, match=r"'param_schedulers.1.eta_min': index 1 .*out of range"):
        build_check(_with_space('param_schedulers.1.eta_min'))


@pytest.mark.parametrize('train_cfg', [dict(max_epochs=12, val_interval=4),
                                       dict(type='EpochBasedTrainLoop', max_epochs=12),
                                       dict(by_epoch=False, max_iters=40, val_interval=8)])
def test_a_loop_path_that_does_not_resolve_is_refused_at_start(train_cfg):
    def cfg() -> Config:
        made = Config.fromfile(OHL)
        made.train_cfg = train_cfg
        return made

    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'x': attribute path "
                                               r"'train_loop.val_intervl': \w+TrainLoop has no attribute "
                                               r"'val_intervl'"):
        build_check(_with_space('train_loop.val_intervl', cfg()))
    build_check(_with_space('train_loop.val_interval', cfg()))


def test_a_pipeline_path_through_the_loop_is_resolved_and_other_loader_paths_are_left_to_the_workers():
    with pytest.raises(ConfigCheckError, match=r"'train_loop.dataloader.dataset.pipeline.transforms.5.prob': "
                                               r'index 5 .*out of range'):
        build_check(_with_space('train_loop.dataloader.dataset.pipeline.transforms.5.prob'))
    build_check(_with_space('train_loop.dataloader.dataset.pipeline.transforms.1.meta_keys'))
    build_check(_with_space('train_loop.dataloader.batch_size'))  # the loader is not built here: not refused
