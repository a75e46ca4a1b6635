"""--cfg-options on a key that a hook of the config writes over while training: an OHL AttributeSpace writes its
target at every trunk start, a pasted final_policy.py's SetAttributesHook before training. ohl-lr-wd's
optim_wrapper.optimizer.lr=0.1 trained on the space's learning rates from the first iteration, as without the
option, silently. Refused now, naming the writer."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, merge_options
from automl_mm.engine.preflight_option_targets import config_key

from conftest import REPO_ROOT

LR_WD = 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py'
DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


@pytest.mark.parametrize('key, value, writer, path', [
    ('optim_wrapper.optimizer.lr', 0.1, 'custom_hooks.0.spaces.0', 'optim_wrapper.optimizer.param_groups.*.lr'),
    ('optim_wrapper.optimizer.weight_decay', 0, 'custom_hooks.0.spaces.1',
     'optim_wrapper.optimizer.param_groups.*.weight_decay'),
])
def test_an_option_on_a_searched_key_is_refused_naming_the_space(key, value, writer, path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, LR_WD))
    with pytest.raises(ConfigCheckError, match=rf'--cfg-options {key}={value} changes nothing: {writer} writes '
                                               rf'{path.replace(".", r"[.]").replace("*", r"[*]")} with its sample at '
                                               rf'every trunk start.*\(its choices\)'):
        merge_options(cfg, {key: value})


def test_other_optimiser_keys_and_the_spaces_own_keys_pass():
    cfg = Config.fromfile(osp.join(REPO_ROOT, LR_WD))
    choices = [0.001, 0.01, 0.03, 0.1, 0.3]
    merge_options(cfg, {'optim_wrapper.optimizer.momentum': 0.8, 'custom_hooks.0.spaces.0.choices': choices})
    assert cfg.optim_wrapper.optimizer.momentum == 0.8 and cfg.custom_hooks[0].spaces[0].choices == choices


def _pasted_set_attributes(tmp_path, values: dict) -> Config:
    """The digits baseline with a pasted final_policy.py's SetAttributesHook writing ``values``."""
    path = tmp_path / 'retrain.py'
    path.write_text(f"_base_ = {osp.join(REPO_ROOT, DIGITS)!r}\n"
                    f"custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={values!r})]\n")
    return Config.fromfile(str(path))


def test_a_pasted_set_attributes_hook_refuses_an_option_on_its_value(tmp_path):
    cfg = _pasted_set_attributes(tmp_path, {'optim_wrapper.optimizer.weight_decay': 1e-3})
    with pytest.raises(ConfigCheckError, match=r'weight_decay=0\.0 changes nothing: custom_hooks\.0\.values writes '
                                               r'optim_wrapper\.optimizer\.weight_decay before training'):
        merge_options(cfg, {'optim_wrapper.optimizer.weight_decay': 0.0})
    merge_options(cfg, {'optim_wrapper.optimizer.lr': 0.05})
    assert cfg.optim_wrapper.optimizer.lr == 0.05


def test_config_keys_of_attribute_paths():
    assert config_key('optim_wrapper.optimizer.param_groups.*.betas.0') == 'optim_wrapper.optimizer.betas.0'
    assert config_key('optim_wrapper.optimizer.param_groups.0.lr') is None  # one group: no config key
    assert config_key('model.head.loss.loss_weight') == 'model.head.loss.loss_weight'


def test_an_option_on_the_searched_loss_theta_is_refused():
    # the AM-LFS search's LossFunctionSpace (its default target model.head.loss_module.theta: mmpretrain-style heads
    # build loss_module from the config's loss) writes a copy's sample at every trunk start, its mean starting at
    # cross-entropy, so model.head.loss.theta set by an option never trained: it passed, silently
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_20e_fmnist-noise0.py'))
    theta = [0.5] * len(cfg.model.head.loss.get('theta') or [0] * 12)
    with pytest.raises(ConfigCheckError, match=r'model\.head\.loss\.theta=.* changes nothing: custom_hooks\.\d+\.'
                                               r'spaces\.0 writes model\.head\.loss_module\.theta with its sample'):
        merge_options(cfg, {'model.head.loss.theta': theta})


def test_a_pasted_set_attributes_hook_on_the_loss_module_refuses_the_loss_key(tmp_path):
    cfg = _pasted_set_attributes(tmp_path, {'model.head.loss_module.label_smoothing': 0.1})
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\.0\.values writes model\.head\.loss_module\.'
                                               r'label_smoothing before training'):
        merge_options(cfg, {'model.head.loss.label_smoothing': 0.2})
    assert config_key('model.head.loss_module.theta') == 'model.head.loss.theta'


def test_a_space_type_is_resolved_as_the_ohl_hook_builds_it(monkeypatch):
    # the detection OHL-Auto-Aug leaves have default_scope='mmdet': resolving their spaces' types in that scope
    # (for their default targets) logs mmengine's 'Failed to search registry with scope "mmdet" in the "search
    # space" registry tree' at every check; OHLHook builds its spaces in automl_mm's scope
    import mmengine.logging

    logged = []
    monkeypatch.setattr(mmengine.logging, 'print_log', lambda msg, *a, **kw: logged.append(msg))
    det = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
    cfg = Config.fromfile(osp.join(REPO_ROOT, det))
    assert cfg.default_scope == 'mmdet'
    merge_options(cfg, {'randomness.seed': 1})
    assert not [m for m in logged if 'Failed to search registry' in m]


def test_config_keys_of_the_runners_built_schedulers_and_optimiser_dicts():
    """The runner's ``param_schedulers`` and an ``OptimWrapperDict``'s ``optim_wrappers`` are built from the config's
    ``param_scheduler`` and ``optim_wrapper.<name>``: their paths were taken for config keys of their own."""
    assert config_key('param_schedulers.0.eta_min') == 'param_scheduler.0.eta_min'
    assert config_key('param_schedulers.gen.0.gamma') == 'param_scheduler.gen.0.gamma'
    assert config_key('optim_wrapper.optim_wrappers.gen.optimizer.lr') == 'optim_wrapper.gen.optimizer.lr'
    assert config_key('optim_wrapper.optim_wrappers.gen.optimizer.param_groups.*.weight_decay') == \
        'optim_wrapper.gen.optimizer.weight_decay'


def test_an_option_on_a_searched_scheduler_value_is_refused():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py'))
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='floor', target='param_schedulers.0.eta_min',
                                       choices=[0.0, 1e-4], distribution=dict(type='Categorical'))]
    with pytest.raises(ConfigCheckError, match=r'--cfg-options param_scheduler\.0\.eta_min=0\.001 changes nothing: '
                                               r'custom_hooks\.0\.spaces\.0 writes param_schedulers\.0\.eta_min with '
                                               r'its sample at every trunk start'):
        merge_options(cfg, {'param_scheduler.0.eta_min': 0.001})
    merge_options(cfg, {'param_scheduler.0.T_max': 10})


def test_config_keys_of_the_runners_loops_and_built_pipelines():
    """``train_loop.*`` (built from ``train_cfg``, its loader from ``train_dataloader``) and a built pipeline's
    ``transforms.<i>`` (the config's ``pipeline.<i>``) were taken for config keys of their own."""
    assert config_key('train_loop.val_interval') == 'train_cfg.val_interval'
    assert config_key('val_loop.fp16') == 'val_cfg.fp16'
    assert config_key('train_loop.dataloader.batch_size') == 'train_dataloader.batch_size'
    assert config_key('test_loop.dataloader.dataset.pipeline.transforms.0.scale') == \
        'test_dataloader.dataset.pipeline.0.scale'
    assert config_key('train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude') == \
        'train_dataloader.dataset.pipeline.1.elements.0.magnitude'
    assert config_key('train_loop.dataloader.dataset.dataset.pipeline.transforms.2.prob') == \
        'train_dataloader.dataset.dataset.pipeline.2.prob'
    # only the pipeline's own index: what follows is the transform's attribute, as spelt
    assert config_key('train_dataloader.dataset.pipeline.transforms.1.transforms.0.prob') == \
        'train_dataloader.dataset.pipeline.1.transforms.0.prob'


@pytest.mark.parametrize('root', ['train_dataloader', 'train_loop.dataloader'])
def test_a_pasted_set_attributes_hook_on_a_pipeline_transform_refuses_the_pipeline_key(tmp_path, root):
    """A final_policy.py searching a transform's prob: ``--cfg-options train_dataloader.dataset.pipeline.0.prob=0.9``
    passed while the hook wrote over it before training."""
    path = f'{root}.dataset.pipeline.transforms.0.prob'
    cfg = _pasted_set_attributes(tmp_path, {path: 0.2})
    cfg.train_dataloader.dataset.pipeline = [dict(type='mmcv.RandomFlip', prob=0.5), dict(type='PackClsInputs')]
    with pytest.raises(ConfigCheckError, match=rf'train_dataloader\.dataset\.pipeline\.0\.prob=0\.9 changes nothing: '
                                               rf'custom_hooks\.0\.values writes {path.replace(".", r"[.]")} before'):
        merge_options(cfg, {'train_dataloader.dataset.pipeline.0.prob': 0.9})
    merge_options(cfg, {'train_dataloader.dataset.pipeline.0.direction': 'vertical'})
    assert cfg.train_dataloader.dataset.pipeline[0].direction == 'vertical'


def test_a_pasted_set_attributes_hook_on_the_train_loop_refuses_the_train_cfg_key(tmp_path):
    cfg = _pasted_set_attributes(tmp_path, {'train_loop.val_interval': 2})
    with pytest.raises(ConfigCheckError, match=r'train_cfg\.val_interval=3 changes nothing: custom_hooks\.0\.values '
                                               r'writes train_loop\.val_interval before training'):
        merge_options(cfg, {'train_cfg.val_interval': 3})
