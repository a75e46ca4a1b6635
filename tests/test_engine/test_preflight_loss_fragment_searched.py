"""A pasted AM-LFS ``final_policy.py`` beside the search's ``OHLHook``: the README's retrain pastes the fragment into
a config inheriting the search config and sets ``custom_hooks = []`` and a ``DefaultSampler``; with the hook kept,
its ``LossFunctionSpace`` searched again from cross-entropy (μ₀) and the learned loss the fragment set was never
trained with, without a word (seen following the README: the run logged 'OHL trunk 0' with θ samples around 0). Now
the config check refuses it, naming ``am_lfs_loss``, the key and the space."""
from __future__ import annotations

import os

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_unbound_choices import check_loss_fragment_not_searched
from automl_mm.engine.preflight_walk import ConfigCheckError

SEARCH = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'am_lfs',
                      'am-lfs_convnet_1x4_30e_digits-noise20.py')
THETA = [0.1, -0.1] * 7
# what LossFunctionSpace.export_fragment writes for the search config (theta shortened to the test's)
FRAGMENT = f'''custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)
am_lfs_loss = dict(type='automl_mm.AMLFSLoss', num_intervals=6, parametrisation='monotone', theta={THETA!r},
                   avg_non_ignore=False, class_weight=None, eps=1e-06, ignore_index=None, loss_weight=1.0,
                   reduction='mean', scale=None, use_sigmoid=False)
model = dict(head=dict(loss=am_lfs_loss))
'''
RETRAIN = ("custom_hooks = []\n"
           "train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))\n")


def _config(tmp_path, text):
    path = tmp_path / 'my_am_lfs_retrain.py'
    path.write_text(f'_base_ = [{os.path.abspath(SEARCH)!r}]\n{text}')
    return Config.fromfile(str(path))


def test_the_fragment_beside_the_search_hook_is_refused(tmp_path):
    with pytest.raises(ConfigCheckError) as info:
        check_loss_fragment_not_searched(_config(tmp_path, FRAGMENT))
    assert str(info.value) == (
        'am_lfs_loss: model.head.loss is the learned loss of a pasted AM-LFS final_policy.py, but '
        'custom_hooks[0].spaces[0] (LossFunctionSpace) searches that loss (model.head.loss_module.theta) from '
        'cross-entropy, so the run would never train with it. To retrain with the learned loss, drop the hook and its '
        "CopySampler: custom_hooks = [] and train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', "
        'shuffle=True))')


@pytest.mark.parametrize('text', [FRAGMENT + RETRAIN,  # the README's retrain
                                  '',  # the search itself
                                  FRAGMENT + 'model = dict(head=dict(loss=dict(theta=None)))\n'])  # another loss
def test_the_retrain_the_search_and_a_loss_other_than_the_fragment_s_pass(tmp_path, text):
    check_loss_fragment_not_searched(_config(tmp_path, text))
