"""The concrete claims of public docstrings of the OHL distributions, controller, spaces, hooks and sampler (their
formulas too) (``Raises``, shapes, defaults, formulas), checked by running the code. Each case is one sentence of a
docstring: a change that breaks it goes red here.
"""
from __future__ import annotations

import pytest
import torch

from automl_mm.registry import (
    AUGMENT_OPS,
    CONTROLLERS,
    DATA_SAMPLERS,
    HOOKS,
    METRICS,
    MODELS,
    SAMPLERS,
    SEARCH_SPACES,
)

# --- every "Raises" sentence of the OHL distributions, the controller, the losses and the augment ops ------------
_CAT = dict(type='Categorical', num_choices=3)
RAISES = [
    # (registry, config, error, text the message names)
    (SAMPLERS, dict(type='Categorical', num_choices=1), ValueError, 'num_choices'),
    (SAMPLERS, dict(type='Categorical', num_choices=3, logits=[0.0, 0.0]), ValueError, 'logits'),
    (SAMPLERS, dict(type='Categorical', num_choices=3, logits=[0.0, 0.0, float('nan')]), ValueError, 'logits'),
    (SAMPLERS, dict(type='Categorical', num_choices=3, labels=['a']), ValueError, 'labels'),
    (SAMPLERS, dict(type='FactorisedCategorical', factor_sizes=[]), ValueError, 'factor_sizes'),
    (SAMPLERS, dict(type='FactorisedCategorical', factor_sizes=[1, 3]), ValueError, 'factor_sizes'),
    (SAMPLERS, dict(type='FactorisedCategorical', factor_sizes=[2, 3], labels=[['a']]), ValueError, 'labels'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[], std=1.0), ValueError, 'mean'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[[0.0]], std=1.0), ValueError, 'mean'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[float('nan')], std=1.0), ValueError, 'mean'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[0.0], std=0.0), ValueError, 'std'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[0.0, 1.0], std=[1.0]), ValueError, 'std'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[0.0], std=1.0, learn_std='no'), ValueError, 'learn_std'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[0.0], std=1.0, min_std=0), ValueError, 'min_std'),
    (SAMPLERS, dict(type='DiagGaussian', mean=[0.0], std=1e-5, learn_std=True), ValueError, 'min_std'),
    (SAMPLERS, dict(type='Product', components=[_CAT]), ValueError, 'components'),
    (SAMPLERS, dict(type='Product', components={'a': 5}), TypeError, "components\\['a'\\]"),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, baseline='x'), ValueError, 'baseline'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, momentum=1), ValueError, 'momentum'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, normalize=1), ValueError, 'normalize'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, eps=-1), ValueError, 'eps'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, entropy_weight=-1), ValueError, 'entropy_weight'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, optimizer=dict(lr=1)), ValueError, 'optimizer'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, optimizer=dict(type='Adam', lr=0)), ValueError,
     'optimizer.lr'),
    (CONTROLLERS, dict(type='REINFORCE', distribution=_CAT, optimizer=dict(type='Adam', lr=0.1, maximize=True)),
     ValueError, 'optimizer.maximize'),
    (MODELS, dict(type='CrossEntropyLoss', label_smoothing=1.0), ValueError, 'label_smoothing'),
    (MODELS, dict(type='CrossEntropyLoss', reduction='avg'), ValueError, 'reduction'),
    (MODELS, dict(type='CrossEntropyLoss', use_sigmoid=True), ValueError, 'use_sigmoid'),
    (MODELS, dict(type='CrossEntropyLoss', loss_weight=float('nan')), ValueError, 'loss_weight'),
    (MODELS, dict(type='LabelSmoothingLoss', smoothing=-0.1), ValueError, 'smoothing'),
    (MODELS, dict(type='GeneralizedCrossEntropyLoss', q=0), ValueError, 'q must'),
    (MODELS, dict(type='SymmetricCrossEntropyLoss', alpha=-1), ValueError, 'alpha'),
    (MODELS, dict(type='SymmetricCrossEntropyLoss', beta=float('inf')), ValueError, 'beta'),
    (MODELS, dict(type='SymmetricCrossEntropyLoss', log_zero=0), ValueError, 'log_zero'),
    (MODELS, dict(type='Poly1CrossEntropyLoss', epsilon=-2), ValueError, 'epsilon'),
    (AUGMENT_OPS, dict(type='Invert', magnitude=1), ValueError, 'magnitude'),
    (AUGMENT_OPS, dict(type='Rotate'), ValueError, 'magnitude'),
    (AUGMENT_OPS, dict(type='Rotate', magnitude=181), ValueError, 'magnitude'),
    (AUGMENT_OPS, dict(type='Posterize', magnitude=8.5), ValueError, 'magnitude'),
    (AUGMENT_OPS, dict(type='Rotate', magnitude=10, fill=256), ValueError, 'fill'),
    (AUGMENT_OPS, dict(type='Contrast', magnitude=1.3, bgr='False'), ValueError, 'bgr'),
]


@pytest.mark.parametrize('registry, cfg, error, text', RAISES, ids=lambda v: v.get('type') if isinstance(v, dict)
                         else None)
def test_documented_raises(registry, cfg, error, text):
    with pytest.raises(error, match=text):
        registry.build(cfg)


def test_reinforce_entropy_bonus_needs_grad_entropy():
    from automl_mm.ohl.base import BaseDistribution
    dist = SAMPLERS.build(_CAT)
    no_entropy = type('NoEntropy', (type(dist), ), {'grad_entropy': BaseDistribution.grad_entropy})(3)
    with pytest.raises(NotImplementedError, match='grad_entropy'):
        CONTROLLERS.build(dict(type='REINFORCE', distribution=no_entropy, entropy_weight=0.1))


# --- OHL spaces: what their Raises promise at construction (a multi-copy run's config check builds only the hook,
# so an error deferred to training start came from inside every copy's worker) -----------------------------------
@pytest.mark.parametrize('kwargs, text', [
    (dict(learn_std='no'), 'learn_std'),  # was accepted; refused at training start
    (dict(learn_std=True, std=1e-5), 'min_std'),  # was accepted; refused at training start
    (dict(std=0.0), 'std'),
    (dict(parametrisation='linear'), 'parametrisation'),
    (dict(num_intervals=2, std=[0.1, 0.2]), 'std'),
    (dict(target=5), 'target'),  # TypeError: 'int' object is not iterable
    (dict(target=['model.head.loss_module.theta', 5]), 'target'),  # was accepted
])
def test_loss_function_space_raises_at_construction(kwargs, text):
    with pytest.raises(ValueError, match=text):
        SEARCH_SPACES.build(dict(type='LossFunctionSpace', **kwargs))


@pytest.mark.parametrize('kwargs, text', [
    (dict(target=5), 'target'), (dict(target=[]), 'target'), (dict(target=['model.a', None]), 'target'),
    (dict(choices=[0.1]), 'choices'), (dict(transform='log'), 'transform'),
    (dict(distribution=dict(type='Categorical', num_choices=3)), 'choices'),
    (dict(distribution=dict(type='Categorical', num_choices=3), choices=[1, 2]), 'choices'),
    (dict(choices=[1, 2]), 'categorical'),
])
def test_attribute_space_raises_as_documented(kwargs, text):
    cfg = dict(type='AttributeSpace', distribution=dict(type='DiagGaussian', mean=[0.0], std=1.0), target='model.a')
    with pytest.raises(ValueError, match=text):
        SEARCH_SPACES.build({**cfg, **kwargs})


_SPACE = dict(type='AttributeSpace', distribution=dict(type='DiagGaussian', mean=[0.0], std=1.0), target='model.x')


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(spaces=_SPACE), ValueError, 'list'),  # was "spaces[0]: str is not an OHL space" (iterated by its keys)
    (dict(spaces=[]), ValueError, 'at least one space'),
    (dict(spaces=[5]), TypeError, 'spaces\\[0\\]'),
    (dict(spaces=[_SPACE, _SPACE]), ValueError, 'unique'),
    (dict(num_copies=2.0), ValueError, 'num_copies'),
    (dict(ranks_per_copy=0), ValueError, 'ranks_per_copy'),
    (dict(trunk_iters=None), ValueError, 'trunk_iters'),
    (dict(trunk_epochs=1), ValueError, 'trunk_epochs'),
    (dict(trunk_iters=0), ValueError, 'trunk_iters'),
    (dict(broadcast_interval=0), ValueError, 'broadcast_interval'),
    (dict(reward_key=''), ValueError, 'reward_key'),
    (dict(worst_reward=float('nan')), ValueError, 'worst_reward'),
    (dict(out_dir=''), ValueError, 'out_dir'),
    (dict(plot='no'), ValueError, 'plot'),
    (dict(verify_sync='no'), ValueError, 'verify_sync'),
    (dict(seed=-1), ValueError, 'seed'),
    (dict(bn_recalibration_batches=-1), ValueError, 'bn_recalibration_batches'),
    (dict(bn_recalibration_dataloader=dict()), ValueError, 'bn_recalibration_dataloader'),
])
def test_ohl_hook_raises_as_documented(kwargs, error, text):
    cfg = dict(type='OHLHook', spaces=[_SPACE], num_copies=2, reward_key='accuracy/top1', trunk_iters=5)
    with pytest.raises(error, match=text):
        HOOKS.build({**cfg, **kwargs})


@pytest.mark.parametrize('values', [{}, 5, None])
def test_set_attributes_hook_raises_as_documented(values):
    with pytest.raises(ValueError, match='values'):
        HOOKS.build(dict(type='SetAttributesHook', values=values))


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(seed=-1), ValueError, 'seed'), (dict(shuffle='False'), TypeError, 'shuffle'),
    (dict(round_up=1), TypeError, 'round_up'), (dict(shared_order='yes'), TypeError, 'shared_order'),
])
def test_copy_sampler_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        DATA_SAMPLERS.build(dict(type='CopySampler', dataset=list(range(4)), **kwargs))


def test_reinforce_step_is_the_methods_formula():
    # METHODS.md §1 step 6: theta += lr (1/N) sum_n A_n grad log p(h_n), A_n = R_n - mean(R); for softmax logits
    # and per-image samples the gradient is c_n / |c_n| - p
    dist = SAMPLERS.build(dict(type='Categorical', num_choices=3, logits=[0.0, 0.5, -0.5]))
    p = dist.probs().clone()
    controller = CONTROLLERS.build(dict(type='REINFORCE', distribution=dist, optimizer=dict(type='SGD', lr=0.5)))
    stats = [dist.sufficient_stats([0, 0, 1]), dist.sufficient_stats([2])]
    rewards = torch.tensor([3.0, 1.0], dtype=torch.float64)
    before = dist.logits.detach().clone()
    controller.step(stats, rewards.tolist())
    advantages = rewards - rewards.mean()
    grad = sum(a * (s / s.sum() - p) for a, s in zip(advantages, stats)) / 2
    assert torch.allclose(dist.logits.detach() - before, 0.5 * grad)


def test_gaussian_gradients_are_the_documented_formulas():
    dist = SAMPLERS.build(dict(type='DiagGaussian', mean=[0.5, -1.0], std=[0.5, 2.0], learn_std=True))
    x = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, -1.0]], dtype=torch.float64)
    dist.mean.grad = dist.log_std.grad = None
    dist.log_prob(x).mean().backward()
    grads = dist.grad_mean_log_prob(dist.sufficient_stats(x))
    assert torch.allclose(grads[0], dist.mean.grad) and torch.allclose(grads[1], dist.log_std.grad)


@pytest.mark.parametrize('registry, cfg, text', [
    (HOOKS, dict(type='TrunkScheduleHook', values={}), 'non-empty list'),
    (HOOKS, dict(type='TrunkScheduleHook', values={'model.x': []}, trunk_iters=1), 'non-empty list'),
    (HOOKS, dict(type='TrunkScheduleHook', values={'model.x': [1]}), 'exactly one positive'),
    (HOOKS, dict(type='TrunkScheduleHook', values={'model.x': [1]}, trunk_iters=1, trunk_epochs=1),
     'exactly one positive'),
    (HOOKS, dict(type='TrunkScheduleHook', values={'model.x': [1]}, trunk_iters=1.5), 'exactly one positive'),
    (HOOKS, dict(type='OHLProgressHook', interval=0), 'interval'),
    (HOOKS, dict(type='OHLProgressHook', interval=True), 'interval'),
    (METRICS, dict(type='LogLikelihood', min_prob=0), 'min_prob'),
    (METRICS, dict(type='LogLikelihood', min_prob=1), 'min_prob'),
])
def test_schedule_hooks_and_metrics_raise_as_documented(registry, cfg, text):
    with pytest.raises(ValueError, match=text):
        registry.build(cfg)
