"""A final_policy.py pipeline fragment (``ohl_fixed_<key>``) pasted into a retraining config without putting it into
``train_pipeline``: mmengine reads no top-level name, so the search's live ``OHLRandomChoice(key='aug')`` stayed in
the pipeline and, without its ``OHLHook``, drew uniformly: the retrain trained without the learned policy, silently.
The config check refuses it, naming the name, the transform in its place and the lines to add."""
import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_unbound_choices import check_policy_fragment_used
from automl_mm.engine.preflight_walk import ConfigCheckError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHOICES = [[], [dict(type='mmcv.RandomFlip', prob=1.0, direction='horizontal')]]
FIXED = dict(type='automl_mm.OHLRandomChoice', key='aug', probs=[0.7, 0.3], transforms=CHOICES)


def _cfg(pipeline, **extra):
    return Config(dict(train_dataloader=dict(dataset=dict(type='DigitsDataset', pipeline=pipeline)),
                       ohl_fixed_aug=FIXED, **extra))


def test_fragment_left_out_of_the_pipeline_is_refused():
    live = dict(type='OHLRandomChoice', key='aug', transforms=CHOICES)
    with pytest.raises(ConfigCheckError) as info:
        check_policy_fragment_used(_cfg([live, dict(type='PackClsInputs')]), 'automl_mm')
    message = str(info.value)
    assert message.startswith("ohl_fixed_aug: the config sets ohl_fixed_aug (type='automl_mm.OHLRandomChoice', "
                              "key='aug'), as a pasted final_policy.py does, but no train_dataloader pipeline holds "
                              "it; the training pipeline has train_dataloader.dataset.pipeline[0] = "
                              "OHLRandomChoice(key='aug') without probs (it draws uniformly) in its place")
    assert message.endswith('train_pipeline = [..., ohl_fixed_aug, ...] and train_dataloader = dict(dataset=dict('
                            "pipeline=train_pipeline)) (the fragment's comment says where)")
    with pytest.raises(ConfigCheckError, match=r'no transform of the training pipeline has that key'):
        check_policy_fragment_used(_cfg([dict(type='PackClsInputs')]), 'automl_mm')
    other = dict(FIXED, probs=[0.5, 0.5])  # another search's policy in the pipeline
    with pytest.raises(ConfigCheckError, match=r"OHLRandomChoice\(key='aug'\) with other probs in its place"):
        check_policy_fragment_used(_cfg([other, dict(type='PackClsInputs')]), 'automl_mm')


def test_fragment_in_the_pipeline_passes():
    check_policy_fragment_used(_cfg([FIXED, dict(type='PackClsInputs')]), 'automl_mm')
    # inside a dataset wrapper and a nested pipeline, as the walker reads them
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
        type='DigitsDataset', pipeline=[dict(type='mmcv.Compose', transforms=[FIXED])]))), ohl_fixed_aug=FIXED))
    check_policy_fragment_used(cfg, 'automl_mm')
    # a top-level ohl_fixed_ name that is no choice transform with probs is no fragment
    check_policy_fragment_used(Config(dict(ohl_fixed_aug=dict(type='automl_mm.OHLRandomChoice', key='aug'),
                                           ohl_fixed_note=dict(type='PackClsInputs', probs=[1.0]))), 'automl_mm')


def test_config_check_refuses_the_retrain_config_without_it(tmp_path):
    """The retraining config as a user writes it from the README: the OHL digits search, its final_policy.py
    pasted in, hook and CopySampler dropped, but train_pipeline not changed."""
    path = tmp_path / 'my_ohl_retrain.py'
    path.write_text(f"_base_ = [{osp.join(ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')!r}]\n"
                    "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n"
                    f'ohl_fixed_aug = {FIXED!r}\n'
                    "train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))\n"
                    'custom_hooks = []\n')
    with pytest.raises(ConfigCheckError, match=r'^ohl_fixed_aug: .*train_dataloader\.dataset\.pipeline\[0\] = '
                                               r"OHLRandomChoice\(key='aug'\) without probs"):
        check_config(Config.fromfile(str(path)))
    with open(path, 'a') as f:  # the fragment's comment followed (one train_dataloader: a later one replaces it)
        f.write("train_pipeline = [ohl_fixed_aug, dict(type='PackClsInputs')]\n"
                "train_dataloader = dict(dataset=dict(pipeline=train_pipeline), sampler=dict(\n"
                "    _delete_=True, type='DefaultSampler', shuffle=True))\n")
    check_config(Config.fromfile(str(path)))
