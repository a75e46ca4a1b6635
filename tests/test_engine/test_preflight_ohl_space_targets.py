"""An OHL space that writes into the optimiser (``optim_wrapper.optimizer.param_groups.*.lr``) or the training
pipeline (``train_dataloader.dataset.pipeline...``) is checked in the
launching process's ``build_check``, with the optimiser wrapper and schedulers built there: a path that does not
resolve, or a parameter a ``param_scheduler`` owns (its writes would be rescaled by the schedule). Both were
refused only in ``AttributeSpace.setup``, in every copy's worker after the launch. So is a choice the optimiser's
constructor refuses (a negative lr), which trained silently."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _with_lr_space(target: str) -> Config:
    cfg = Config.fromfile(OHL)  # CosineAnnealingLR on lr
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='lr', target=target, choices=[0.01, 0.1],
                                           distribution=dict(type='Categorical')))
    return cfg


def test_a_scheduled_optimiser_parameter_is_refused_at_start_naming_the_space_and_scheduler():
    cfg = _with_lr_space('optim_wrapper.optimizer.param_groups.*.lr')
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'lr' writes "
                                               r"optim_wrapper.optimizer.param_groups.\*.lr but param_scheduler\[0\] "
                                               r"\(CosineAnnealingLR\) schedules 'lr'"):
        build_check(cfg)
    cfg.param_scheduler = []  # a constant schedule: the space owns lr
    build_check(cfg)
    # a negative lr among the choices trained by gradient ascent whenever a copy drew it (torch checks an lr only
    # when the optimiser is built): refused before any copy starts, naming the choice, in the base form too
    cfg.custom_hooks[0].spaces[-1].update(target='optim_wrapper.optimizer.lr', choices=[0.01, -0.1])
    with pytest.raises(ConfigCheckError, match=r"OHL space 'lr': choice -0.1: attribute path "
                                               r"'optim_wrapper.optimizer.lr': SGD refuses the value -0.1 "
                                               r"\(Invalid learning rate: -0.1\)"):
        build_check(cfg)


def test_an_optimiser_path_that_does_not_resolve_is_refused_at_start():
    cfg = _with_lr_space('optim_wrapper.optimizer.param_group.*.lr')
    cfg.param_scheduler = []
    with pytest.raises(ConfigCheckError, match=r"attribute path 'optim_wrapper.optimizer.param_group.\*.lr': SGD "
                                               r"has no attribute 'param_group'"):
        build_check(cfg)


def test_a_pipeline_path_that_does_not_resolve_is_refused_at_start():
    """A data path (through the training pipeline) is resolved against the dataset build_check builds."""
    cfg = Config.fromfile(OHL)  # train_pipeline: OHLRandomChoice, PackClsInputs
    space = dict(type='AttributeSpace', name='p', target='train_dataloader.dataset.pipeline.transforms.5.prob',
                 choices=[0.0, 0.5], distribution=dict(type='Categorical'))
    cfg.custom_hooks[0].spaces.append(space)
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'p': attribute path "
                                               r"'train_dataloader.dataset.pipeline.transforms.5.prob': index 5 .*out "
                                               r'of range'):
        build_check(cfg)
    space['target'] = 'train_dataloader.dataset.pipeline.transforms.1.meta_keys'  # PackClsInputs'
    build_check(cfg)


def _workers_answer(cfg: Config, split: str, path: str) -> str:
    """What ``AttributeSpace.setup`` says in every worker: ``get_attribute`` on the runner, whose
    ``<split>_dataloader`` (its ``<split>_loop``'s) holds the built dataset."""
    from types import SimpleNamespace

    from mmengine.registry import DefaultScope

    from automl_mm.ohl.attributes import get_attribute
    from automl_mm.registry import DATASETS

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    loader = SimpleNamespace(dataset=dataset)
    runner = SimpleNamespace(**{f'{split}_dataloader': loader, f'{split}_loop': SimpleNamespace(dataloader=loader)})
    with pytest.raises(ValueError) as refused:
        get_attribute(runner, path)
    return str(refused.value)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_a_val_or_test_pipeline_path_is_resolved_at_start_with_the_workers_answer(split):
    """Only the training pipeline's paths were resolved before the launch: a wrong val / test pipeline path (the
    config's spelling pipeline.<i>, which indexes nothing on the built dataset's Compose) was refused by
    AttributeSpace.setup in every worker, after the copies had started."""
    import re

    cfg = Config.fromfile(OHL)  # val / test pipeline: PackClsInputs
    wrong = f'{split}_dataloader.dataset.pipeline.0.meta_keys'
    space = dict(type='AttributeSpace', name='p', target=wrong, choices=[0.0, 0.5],
                 distribution=dict(type='Categorical'))
    cfg.custom_hooks[0].spaces.append(space)
    answer = _workers_answer(cfg, split, wrong)
    assert 'Compose has no attribute' in answer and f'{split}_dataloader.dataset.pipeline.transforms.0' in answer
    with pytest.raises(ConfigCheckError, match=rf"^custom_hooks\[0\]\.spaces\[1\]: OHL space 'p': "
                                               rf'{re.escape(answer)}'):
        build_check(cfg)
    space['target'] = f'{split}_loop.dataloader.dataset.pipeline.transforms.1.meta_keys'  # one transform only
    with pytest.raises(ConfigCheckError, match=rf"OHL space 'p': "
                                               rf"{re.escape(_workers_answer(cfg, split, space['target']))}"):
        build_check(cfg)
    for right in (f'{split}_dataloader.dataset.pipeline.transforms.0.meta_keys',
                  f'{split}_loop.dataloader.dataset.pipeline.transforms.0.meta_keys'):
        space['target'] = right
        build_check(cfg)


BASELINE = f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py'


@pytest.mark.parametrize('kind', ['SetAttributesHook', 'TrunkScheduleHook'])
@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_a_replay_hooks_pipeline_path_is_resolved_at_start_with_the_workers_answer(kind, split):
    """The exported fragments' hooks (a final_policy.py / schedule_policy.py pasted into a retraining config)
    resolved their paths in every worker only, the training pipeline's too."""
    import re

    cfg = Config.fromfile(BASELINE)  # every pipeline: PackClsInputs
    wrong = f'{split}_dataloader.dataset.pipeline.0.meta_keys'
    hook = dict(type=kind, values={wrong: ['img'] if kind == 'SetAttributesHook' else [['img']]})
    if kind == 'TrunkScheduleHook':
        hook['trunk_epochs'] = 1
    cfg.custom_hooks = [hook]
    with pytest.raises(ConfigCheckError, match=rf'^custom_hooks\[0\] \({kind}\): '
                                               rf'{re.escape(_workers_answer(cfg, split, wrong))}$'):
        build_check(cfg)
    hook['values'] = {f'{split}_loop.dataloader.dataset.pipeline.transforms.0.meta_keys': hook['values'][wrong]}
    cfg.custom_hooks = [hook]
    build_check(cfg)
