""":func:`build_check` builds in the launching process what every worker would (model, hooks, the OHL spaces
against the model and pipeline), so that a config error fails once there; a worker's own error is raised once, with
its rank and traceback."""
from __future__ import annotations

import os.path as osp
import re

import pytest
from mmengine.config import Config

from automl_mm.engine.launch import WorkerError, launch_local
from automl_mm.engine.preflight import ConfigCheckError, build_check
from tests.test_engine._preflight_configs import OHL

from conftest import REPO_ROOT


def test_build_check_raises_config_errors_in_the_launching_process():
    cfg = Config.fromfile(OHL)
    build_check(cfg)
    cfg.custom_hooks[0].trunk_epochs = 0
    with pytest.raises(ValueError, match='trunk_epochs must be a positive integer'):
        build_check(cfg)
    cfg = Config.fromfile(OHL)
    cfg.model.backbone.type = 'ConvNett'
    with pytest.raises(KeyError, match='ConvNett'):
        build_check(cfg)
    # --cfg-options default_hooks.chekpoint.interval=1: every copy failed with mmengine's "must contain the key
    # 'type'", naming nothing
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict({'default_hooks.chekpoint.interval': 1})
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.chekpoint = \{'interval': 1\} has no type: "
                                               r".*checkpoint"):
        build_check(cfg)
    cfg = Config.fromfile(OHL)
    cfg.default_hooks.logger.intervall = 1
    with pytest.raises(TypeError, match='intervall'):  # built here, as mmengine builds it
        build_check(cfg)


@pytest.mark.slow  # spawns two interpreters (about 20 s on 2 busy cores)
def test_a_worker_error_is_raised_once_with_its_rank_and_traceback(tmp_path):
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(WorkerError) as info:
        launch_local(cfg, 2, int)  # int(cfg_path) fails in every worker; a builtin keeps the workers' start light
    message = str(info.value)
    assert re.match(r'worker rank [01] of 2 failed \(work_dir ', message)
    assert 'Traceback' in message
    assert message.count('ValueError: invalid literal for int()') == 1
    assert message.rstrip().splitlines()[-1].startswith('ValueError: invalid literal for int()')  # printed last


AM_LFS = osp.join(REPO_ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')
AUTOAUG = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')


def test_a_space_that_disagrees_with_the_model_or_pipeline_fails_in_the_launching_process():
    """What an OHL space reads from the model or the training pipeline (AM-LFS's num_intervals, the key of a
    PipelineChoiceSpace) used to be checked only when a worker's hook met its runner: after every copy had
    started, once per process."""
    build_check(Config.fromfile(AM_LFS))
    cfg = Config.fromfile(AM_LFS)
    cfg.custom_hooks[0].spaces[0].num_intervals = 3
    with pytest.raises(ValueError, match='LossFunctionSpace has num_intervals=3 but the loss'):
        build_check(cfg)

    build_check(Config.fromfile(AUTOAUG))
    cfg = Config.fromfile(AUTOAUG)
    cfg.custom_hooks[0].spaces[0].key = 'autoaugg'
    with pytest.raises(ValueError, match="PipelineChoiceSpace\\(key='autoaugg'\\) found no choice transform"):
        build_check(cfg)


def test_a_space_reading_what_the_check_does_not_build_is_left_to_the_run():
    """A space whose resolve reads the optimiser (built by the runner only) is not failed by the check."""
    from automl_mm.engine.preflight import _resolve_spaces

    class NeedsOptimiser:
        resolved = False

        def resolve(self, runner):
            runner.optim_wrapper  # noqa: B018
            NeedsOptimiser.resolved = True

    from automl_mm.ohl import OHLHook

    hook = OHLHook(spaces=[dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=2),
                                target='model.x', choices=[1, 2])], num_copies=2,
                   trunk_epochs=1, reward_dataloader=dict(dataset=dict(type='DigitsDataset', split='reward')),
                   reward_evaluator=dict(type='Accuracy'), reward_key='accuracy/top1')
    hook.spaces[0].resolve = NeedsOptimiser().resolve
    _resolve_spaces([hook], model=object(), train_dataset=None)
    assert not NeedsOptimiser.resolved


FASHION = osp.join(REPO_ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py')


def test_a_dataset_or_metric_that_fails_to_build_is_named_by_its_key():
    """``--cfg-options reward_dataloader.dataset.data_root=data/fashionmnist`` stopped ``tools/train.py`` with the
    dataset's "Fashion-MNIST data_root is not a folder", which did not say which of the four loaders (train, val,
    test, reward) it was; a metric's argument error likewise. Both now lead with the config key."""
    cfg = Config.fromfile(FASHION)
    cfg.reward_dataloader.dataset.data_root = 'data/fashionmnist'
    with pytest.raises(FileNotFoundError, match=r'^reward_dataloader\.dataset\.data_root: Fashion-MNIST '
                                                r'data_root is not a folder: data/fashionmnist'):
        build_check(cfg)
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = dict(type='Accuracy', topk=0)
    with pytest.raises(ValueError, match=r'^custom_hooks\[0\]\.reward_evaluator: Accuracy: topk values must be '):
        build_check(cfg)


def test_an_error_whose_class_takes_other_arguments_passes_unchanged():
    import json

    from automl_mm.engine.preflight_build import _named
    with pytest.raises(json.JSONDecodeError, match='^Expecting value'):
        with _named('train_dataloader.dataset'):
            json.loads('')
