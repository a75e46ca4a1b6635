"""Runner-level dicts whose keys mmengine passes as arguments while it builds the runner (randomness, log_processor,
visualizer and its backends, log_level, env_cfg.mp_cfg / dist_cfg, the hooks' arguments, an EMAHook's model
arguments, optim_wrapper.clip_grad): a misspelled key stopped every worker with a TypeError naming a class, after
the launching process's checks had passed, or (the visualizer, when the process already held one of that name) was
dropped by mmengine's ManagerMixin.get_instance with only a Python warning."""
from __future__ import annotations

import glob
import os.path as osp

import pytest
from mmengine.config import Config
from test_preflight_read_keys import _build_config  # tools/train.py's build_config on DIGITS

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.preflight_runner_args import check_runner_arguments

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


@pytest.mark.parametrize('options, match', [
    ({'randomness.sed': 1}, r"randomness\.sed: mmengine's Runner\.set_randomness takes no argument 'sed'.*did you "
                            r'mean randomness\.seed\?'),
    ({'log_processor.window_sise': 3}, r"log_processor\.window_sise: LogProcessor takes no argument 'window_sise'"),
    ({'visualizer.nme': 'x'}, r"visualizer\.nme: Visualizer takes no argument 'nme'"),
    ({'visualizer.vis_backends.0.save_dirr': 'x'}, r'visualizer\.vis_backends\[0\]\.save_dirr: LocalVisBackend'),
    ({'log_level': 'INF'}, r"log_level='INF' is not a logging level"),
    ({'env_cfg.mp_cfg.opencv_num_thread': 0}, r'env_cfg\.mp_cfg\.opencv_num_thread: .*did you mean '
                                              r'env_cfg\.mp_cfg\.opencv_num_threads\?'),
    ({'env_cfg.dist_cfg.timout': 60}, r'env_cfg\.dist_cfg\.timout: .*did you mean env_cfg\.dist_cfg\.timeout\?'),
    ({'default_hooks.logger.intervl': 5}, r"default_hooks\.logger\.intervl: LoggerHook takes no argument 'intervl'"),
    ({'custom_hooks': [dict(type='EMAHook', momentm=0.01)]},  # EMAHook passes it on to its model, in before_run
     r"custom_hooks\[0\]\.momentm: ExponentialMovingAverage takes no argument 'momentm'"),
    ({'model_wrapper_cfg': dict(type='MMDistributedDataParallel', find_unused_parameter=True)},  # every worker
     r"model_wrapper_cfg\.find_unused_parameter: MMDistributedDataParallel takes no argument"),
    ({'optim_wrapper.clip_grad': dict(max_norm=1.0, norm=2)},  # at the first optimiser step
     r'optim_wrapper\.clip_grad\.norm: torch\.nn\.utils\.clip_grad_norm_ takes no argument .*first optimiser step'),
])
def test_a_key_the_runner_cannot_take_is_refused_before_launch(tmp_path, options, match):
    with pytest.raises(ConfigCheckError, match=match):
        _build_config(tmp_path, options)


def test_the_arguments_mmengine_takes_pass(tmp_path):
    cfg = _build_config(tmp_path, {
        'randomness.diff_rank_seed': True, 'log_processor.num_digits': 3, 'visualizer.save_dir': str(tmp_path),
        'visualizer.vis_backends': [dict(type='LocalVisBackend', name='local')], 'log_level': 'DEBUG',
        'env_cfg.dist_cfg.timeout': 60, 'env_cfg.mp_cfg.opencv_num_threads': 1, 'default_hooks.logger.interval': 5,
        'custom_hooks': [dict(type='EMAHook', momentum=0.01, update_buffers=True)],
        'optim_wrapper.clip_grad': dict(max_norm=1.0, norm_type=2)})
    assert cfg.randomness.diff_rank_seed and cfg.log_level == 'DEBUG'
    cfg.log_level = 10  # a number
    check_config(cfg)


def test_the_visualizer_check_does_not_depend_on_an_existing_instance():
    """With a visualizer of that name in the process, mmengine drops the misspelled argument with a warning only."""
    from mmengine.registry import VISUALIZERS

    VISUALIZERS.build(dict(type='Visualizer', name='visualizer'))
    with pytest.warns(UserWarning, match='has been created'):
        VISUALIZERS.build(dict(type='Visualizer', name='visualizer', nme='x'))  # no error: ignored
    cfg = Config.fromfile(DIGITS)
    cfg.visualizer.nme = 'x'
    with pytest.raises(ConfigCheckError, match=r'visualizer\.nme'):
        check_runner_arguments(cfg, 'automl_mm')


@pytest.mark.parametrize('hooks, match', [
    (dict(chekpoint=dict(interval=2)), r"default_hooks\.chekpoint = \{'interval': 2\} has no type"),
    (dict(visualisation=None), r'default_hooks\.visualisation=None: mmengine removes only its own default hooks'),
])
def test_a_default_hook_the_runner_cannot_register_is_refused(hooks, match):
    """mmengine: "must contain the key 'type'" / a bare AssertionError while the runner is built (in a
    single-process run no build check came first)."""
    cfg = Config.fromfile(DIGITS)
    cfg.default_hooks.update(hooks)
    with pytest.raises(ConfigCheckError, match=match):
        check_runner_arguments(cfg, 'automl_mm')
    cfg = Config.fromfile(DIGITS)
    cfg.default_hooks.checkpoint = None  # one of mmengine's: removed
    check_runner_arguments(cfg, 'automl_mm')


def test_randomness_without_a_seed_is_refused():
    cfg = Config.fromfile(DIGITS)
    cfg.randomness = dict(deterministic=True)  # mmengine: set_randomness() missing 'seed', in every worker
    with pytest.raises(ConfigCheckError, match=r"randomness=\{'deterministic': True\} has no seed"):
        check_runner_arguments(cfg, 'automl_mm')


def test_testing_checks_what_its_runner_builds():
    cfg = Config.fromfile(DIGITS)
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0, norm=2)  # not read by a test
    check_runner_arguments(cfg, 'automl_mm', test_only=True)
    cfg.randomness.sed = 1
    with pytest.raises(ConfigCheckError, match=r'randomness\.sed'):
        check_runner_arguments(cfg, 'automl_mm', test_only=True)


@pytest.mark.parametrize('path', sorted(p for p in glob.glob(osp.join(REPO_ROOT, 'configs/**/*.py'), recursive=True)
                                        if '/_base_/' not in p))
def test_shipped_configs_pass(path):
    from automl_mm.engine.dist import gloo_without_gpus

    cfg = Config.fromfile(path)
    check_runner_arguments(cfg, cfg.get('default_scope') or 'automl_mm')
    gloo_without_gpus(cfg)  # (tools/train.py: the wrapper it writes on a machine without GPUs)
    check_runner_arguments(cfg, cfg.get('default_scope') or 'automl_mm')
