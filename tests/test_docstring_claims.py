"""The concrete claims of public docstrings (``Raises``, shapes, defaults, formulas), checked by running the code.

Each case is one sentence of a docstring: a change that breaks it goes red here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.datasets.splits import check_counts
from automl_mm.registry import (
    AUGMENT_OPS,
    CONTROLLERS,
    DATA_SAMPLERS,
    DATASETS,
    HOOKS,
    METRICS,
    MODELS,
    SAMPLERS,
    SEARCH_SPACES,
    TRANSFORMS,
)

# --- "Raises: ValueError ... not an int >= 1" of the widths of backbones and heads ------------------------------
# Each of these was accepted (0: failed at the first forward; True: a 1-wide layer) or failed inside torch naming
# no key (2.5, 'x').
WIDTH_CASES = [
    ('SimpleConvNet', {}, 'in_channels'),
    ('WideResNet', dict(depth=10, widen_factor=1), 'in_channels'),
    ('CRResNet', dict(depth=18), 'in_channels'),
    ('CRResNet', dict(depth=18), 'base_channels'),
    ('CRResNet', dict(depth=18), 'stem_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('CosineLinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'num_classes'),
]


@pytest.mark.parametrize('value', [0, True, 2.5, 'x'])
@pytest.mark.parametrize('type_, base, key', WIDTH_CASES)
def test_widths_are_refused_naming_the_key(type_, base, key, value):
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


@pytest.mark.parametrize('type_, key, value', [
    ('WideResNet', 'depth', 28.0), ('WideResNet', 'depth', '28'),
    ('CRResNet', 'num_stages', 2.5), ('CRResNet', 'num_stages', True),
    ('CRMobileNetV2', 'widen_factor', -1), ('CRMobileNetV2', 'widen_factor', 0),
    ('CRMobileNetV2', 'widen_factor', float('nan')), ('CRMobileNetV2', 'widen_factor', np.float32('nan')),
    ('LinearClsHead', 'dropout', 'x'),
])
def test_structure_arguments_are_refused_naming_the_key(type_, key, value):
    base = dict(WideResNet=dict(depth=10, widen_factor=1), CRResNet=dict(depth=18), CRMobileNetV2={},
                LinearClsHead=dict(num_classes=3, in_channels=4))[type_]
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


def test_documented_backbone_output_shapes():
    # SimpleConvNet: (N, channels[-1], H // 2**S, W // 2**S); WideResNet: (N, 64k, ceil(H / 4), ceil(W / 4))
    x = torch.zeros(1, 3, 15, 17)
    assert MODELS.build(dict(type='SimpleConvNet', channels=(8, 16, 4)))(x)[0].shape == (1, 4, 1, 2)
    assert MODELS.build(dict(type='WideResNet', depth=10, widen_factor=2))(x)[0].shape == (1, 128, 4, 5)


# --- transforms ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('pad_val', [-1, 256, 2.5, None, 'x', True])
def test_random_crop_pad_val_is_a_grey_level(pad_val):
    # was accepted: -1 / 256 saturated silently, None / 'x' failed in cv2 at the first image
    with pytest.raises(ValueError, match='pad_val'):
        TRANSFORMS.build(dict(type='RandomCrop', crop_size=4, padding=1, pad_val=pad_val))


def test_random_crop_pads_with_pad_val_and_sets_img_shape():
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(4, 5), padding=2, pad_val=7))
    out = crop.transform(dict(img=np.full((1, 1, 3), 200, np.uint8)))
    assert out['img'].shape == (4, 5, 3) and out['img_shape'] == (4, 5)
    assert set(np.unique(out['img']).tolist()) <= {7, 200}


def test_random_resized_crop_fallback_is_the_central_square():
    crop = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=3, crop_ratio_range=(1.0, 1.0),
                                 aspect_ratio_range=(4.0, 4.0), max_attempts=1))
    img = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    assert crop._crop_box(4, 6) == (0, 1, 4, 4)  # no 4:1 crop of the whole area fits: central 4 x 4
    assert crop.transform(dict(img=img))['img_shape'] == (3, 3)


def test_resize_short_edge_rounds_the_long_side():
    out = TRANSFORMS.build(dict(type='ResizeShortEdge', size=4)).transform(dict(img=np.zeros((6, 9), np.uint8)))
    assert out['img'].shape == (4, 6) and out['img_shape'] == (4, 6)


# --- losses, metrics, dataset counts: "Raises ValueError naming the key" -----------------------------------------
@pytest.mark.parametrize('key, value', [
    ('num_intervals', 'x'), ('num_intervals', float('nan')), ('num_intervals', np.float32('nan')),
    ('num_intervals', 0), ('num_intervals', 2.5),
    ('parametrisation', 'linear'), ('theta', [0.0] * 5), ('theta', [float('nan')] * 14),
    ('scale', 0.0), ('scale', float('inf')), ('eps', 0.0), ('eps', 1.0), ('loss_weight', -1.0),
])
def test_am_lfs_loss_raises_as_documented(key, value):
    # num_intervals 'x' / NaN: int() raised "invalid literal" / "cannot convert float NaN", naming no key
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type='AMLFSLoss', **{key: value}))


@pytest.mark.parametrize('topk', [2.5, None, 'x', (), (1, 0), (True, )])
def test_accuracy_topk_raises_as_documented(topk):
    # 2.5 and None failed in tuple(), naming no key
    with pytest.raises(ValueError, match='topk'):
        METRICS.build(dict(type='Accuracy', topk=topk))


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1, 2.5, True, 'x'])
def test_dataset_counts_raise_naming_the_key(value):
    # NaN / inf: int() raised its own error ("cannot convert float NaN to integer"), naming no key
    with pytest.raises(ValueError, match='reward_size'):
        check_counts(reward_size=value)
    with pytest.raises(ValueError, match='reward_size'):
        DATASETS.build(dict(type='FashionMNISTDataset', reward_size=value))


def test_dataset_counts_take_whole_numbers_of_any_size():
    assert check_counts(a=10**30, b=np.int64(3), c=5.0, d=None) == {'a': 10**30, 'b': 3, 'c': 5, 'd': None}


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


@pytest.mark.parametrize('img', [np.zeros((2, 2), np.float32), np.zeros((2, 2, 2, 1), np.uint8)])
def test_augment_ops_refuse_images_as_documented(img):
    with pytest.raises(ValueError, match='uint8'):
        AUGMENT_OPS.build(dict(type='Invert')).apply(dict(img=img), np.random.default_rng(0))
    with pytest.raises(ValueError, match='1- or 3-channel'):
        AUGMENT_OPS.build(dict(type='Contrast', magnitude=1.3)).apply(dict(img=np.zeros((2, 2, 4), np.uint8)),
                                                                     np.random.default_rng(0))


def test_cross_entropy_takes_class_probabilities_as_documented():
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    loss = MODELS.build(dict(type='CrossEntropyLoss'))
    assert torch.isclose(loss(logits, torch.tensor([[0.0, 1.0, 0.0]])), loss(logits, torch.tensor([1])))


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


# --- NAS spaces and samplers -------------------------------------------------------------------------------------
@pytest.mark.parametrize('registry, cfg, text', [
    # num_blocks 0 / -1 were read as None (blocks taken from the supernet), 2.5 failed in list * float
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=0), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=-1), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', num_blocks=2.5), 'num_blocks'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=()), 'choices'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=(1, 1)), 'choices'),
    (SEARCH_SPACES, dict(type='DilationSpace', choices=(0, 1)), 'choices'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 2, total_blocks=9), 'total_blocks'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[0, 1]], total_blocks=1), 'stage_choices'),
    (SEARCH_SPACES, dict(type='StageAllocationSpace', stage_choices=[[1, 1]], total_blocks=1), 'more than once'),
    (SEARCH_SPACES, dict(type='LayerwiseSpace', options=[[]]), 'no options'),
    (SEARCH_SPACES, dict(type='LayerwiseSpace', options=[['a', 'a']]), 'more than once'),
    (SAMPLERS, dict(type='PoolPathSampler', pool=5), 'pool'),  # TypeError: 'int' object is not iterable
    (SAMPLERS, dict(type='PoolPathSampler', pool=[5]), 'pool'),
    (SAMPLERS, dict(type='PoolPathSampler', pool=[(0, ), (0, 1)]), 'pool'),
    (SAMPLERS, dict(type='UniformPathSampler', max_tries=0), 'max_tries'),
    (SAMPLERS, dict(type='UniformPathSampler', enumerate_limit=-1), 'enumerate_limit'),
])
def test_nas_spaces_and_samplers_raise_as_documented(registry, cfg, text):
    with pytest.raises(ValueError, match=text):
        registry.build(cfg)


def test_dilation_space_num_blocks_sets_the_decisions():
    assert SEARCH_SPACES.build(dict(type='DilationSpace', choices=(1, 2), num_blocks=3)).size() == 2**3


# --- engine hooks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('cfg, text', [
    # bool('False') is True: the check ran where the config turned it off
    (dict(type='FiniteLossHook', enabled='False'), 'enabled'),
    (dict(type='FiniteLossHook', check_weights_on_save='no'), 'check_weights_on_save'),
    (dict(type='FiniteLossHook', interval=0), 'interval'),
    # a bare pair or a 1-tuple failed in re.sub only when a checkpoint was loaded
    (dict(type='StrictCheckpointHook', revise_keys=('^module\\.', '')), 'revise_keys'),
    (dict(type='StrictCheckpointHook', revise_keys=[('^module\\.', )]), 'revise_keys'),
    (dict(type='StrictCheckpointHook', revise_keys=[('(', '')]), 'revise_keys'),
    (dict(type='StrictCheckpointHook', max_keys=0), 'max_keys'),
])
def test_engine_hooks_raise_as_documented(cfg, text):
    with pytest.raises(ValueError, match=text):
        HOOKS.build(cfg)


def test_engine_hooks_take_documented_values():
    assert HOOKS.build(dict(type='FiniteLossHook', enabled=np.bool_(False))).enabled is False
    hook = HOOKS.build(dict(type='StrictCheckpointHook', revise_keys=[['^model\\.', '']]))
    assert hook.revise_keys == [('^model\\.', '')]


# --- switches: 'False' in a config is truthy ---------------------------------------------------------------------
@pytest.mark.parametrize('registry, cfg, key', [
    (MODELS, dict(type='ResNet', depth=18, norm_eval='False'), 'norm_eval'),  # kept every BN in eval mode
    (MODELS, dict(type='CRResNet', depth=18, norm_eval='False'), 'norm_eval'),
    (MODELS, dict(type='CRResNet', depth=18, zero_init_residual='False'), 'zero_init_residual'),
    (MODELS, dict(type='CRMobileNetV2', zero_init_residual='False'), 'zero_init_residual'),
    (MODELS, dict(type='CRMobileNetV2', norm_eval='False'), 'norm_eval'),
    (DATASETS, dict(type='NoisyLabelDataset', dataset=dict(type='DigitsDataset', split='train', max_samples=20),
                    noise_ratio=0.1, lazy_init='False'), 'lazy_init'),  # deferred the flips
])
def test_switches_refuse_strings(registry, cfg, key):
    with pytest.raises(ValueError, match=key):
        registry.build(cfg)


def test_resnet_norm_eval_keeps_batch_norm_in_eval_mode():
    net = MODELS.build(dict(type='ResNet', depth=18, stem='cifar', norm_eval=np.bool_(True))).train()
    assert not any(m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(val_path=2), ValueError, 'val_path'),  # TypeError in tuple(), naming no key
    (dict(seed=-1), ValueError, 'seed'),
    (dict(sampler=dict(type='UniformPathSampler', space=dict(type='DilationSpace'))), ValueError, 'sampler.space'),
    (dict(sampler=dict(type='Categorical', num_choices=3)), TypeError, 'sampler'),
    (dict(space=dict(type='NoSuchSpace')), KeyError, 'NoSuchSpace'),
])
def test_path_sampling_hook_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        HOOKS.build(dict(type='PathSamplingHook', **{'space': dict(type='DilationSpace'), **kwargs}))


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(seed=-1), ValueError, 'seed'), (dict(shuffle='False'), TypeError, 'shuffle'),
    (dict(round_up=1), TypeError, 'round_up'), (dict(shared_order='yes'), TypeError, 'shared_order'),
])
def test_copy_sampler_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        DATA_SAMPLERS.build(dict(type='CopySampler', dataset=list(range(4)), **kwargs))


@pytest.mark.parametrize('cfg, text', [
    (dict(type='OHLRandomChoice', transforms=[[]]), 'at least 2'),
    (dict(type='OHLRandomChoice', transforms=[[], []], probs=[1.5, -0.5]), 'probs'),
    (dict(type='OHLAutoAugment', elements='nope'), 'nope'),
    (dict(type='OHLAutoAugment', probs=[1.0]), 'probs'),
    (dict(type='OHLAutoAugment', fill=300), 'fill'),
    (dict(type='OHLAutoAugment', bgr='rgb'), 'bgr'),
    (dict(type='TorchvisionAugment', policy='randaugment'), 'policy'),
    (dict(type='TorchvisionAugment', policy='RandAugment', bgr='no'), 'bgr'),
])
def test_choice_transforms_raise_as_documented(cfg, text):
    with pytest.raises(ValueError, match=text):
        TRANSFORMS.build(cfg)


@pytest.mark.parametrize('entry, text', [
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0]}, '2 images but 1 labels'),
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 10]}, 'labels must be in'),
    ({'data': np.zeros((2, 3072), np.float32), 'labels': [0, 1]}, 'integers'),
    ({'data': np.zeros((2, 100), np.uint8), 'labels': [0, 1]}, '3072'),
    ([1, 2], 'not a dict'),
])
def test_cifar_batch_reader_raises_as_documented(tmp_path, entry, text):
    import pickle

    from automl_mm.datasets.cifar import read_cifar_batch
    path = tmp_path / 'data_batch_1'
    path.write_bytes(pickle.dumps(entry))
    with pytest.raises(ValueError, match=text):
        read_cifar_batch(str(path))
    np_ok = {'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 9]}
    path.write_bytes(pickle.dumps(np_ok))
    images, labels = read_cifar_batch(str(path))
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64


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


def test_random_choice_transforms_must_be_a_list():
    # a bare config was iterated by its keys: "transform must be a callable object or dict, but got <class 'str'>"
    with pytest.raises(ValueError, match='transforms must be a list'):
        TRANSFORMS.build(dict(type='OHLRandomChoice', transforms=dict(type='RandomCrop', crop_size=4)))


# --- formulas stated in the loss docstrings ----------------------------------------------------------------------
def test_loss_formulas_as_documented():
    logits, target = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([1, 0])
    p = torch.softmax(logits, 1)
    p_y = p.gather(1, target[:, None]).squeeze(1)
    build = MODELS.build
    # GCE: (1 - p_y^q) / q; q = 1 is 1 - p_y
    assert torch.allclose(build(dict(type='GeneralizedCrossEntropyLoss', q=0.7))(logits, target),
                          ((1 - p_y**0.7) / 0.7).mean())
    assert torch.allclose(build(dict(type='GeneralizedCrossEntropyLoss', q=1.0))(logits, target), (1 - p_y).mean())
    # SCE: alpha CE - beta A (1 - p_y)
    assert torch.allclose(build(dict(type='SymmetricCrossEntropyLoss', alpha=0.1, beta=1.0, log_zero=-4.0))(
        logits, target), (0.1 * -p_y.log() + 4.0 * (1 - p_y)).mean())
    # Poly-1: CE + eps (1 - p_y); eps = -1 keeps it >= 0 even for a confident correct prediction
    assert torch.allclose(build(dict(type='Poly1CrossEntropyLoss', epsilon=2.0))(logits, target),
                          (-p_y.log() + 2.0 * (1 - p_y)).mean())
    assert build(dict(type='Poly1CrossEntropyLoss', epsilon=-1.0, reduction='none'))(logits, target).min() >= 0
    # label smoothing: -(1 - eps) log p_y - eps / C sum_j log p_j
    expected = (-(0.9) * p_y.log() - 0.1 / 3 * p.log().sum(1)).mean()
    assert torch.allclose(build(dict(type='LabelSmoothingLoss', smoothing=0.1))(logits, target), expected)
    # mmdet's weighting: sum(weight * loss) / avg_factor for 'mean'
    weight = torch.tensor([1.0, 0.0])
    per_row = -p_y.log()
    assert torch.allclose(build(dict(type='CrossEntropyLoss'))(logits, target, weight=weight, avg_factor=2.0),
                          (weight * per_row).sum() / 2.0)


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


def test_am_lfs_identity_is_cross_entropy_and_cosface_subtracts_the_margin():
    # METHODS.md §3: identity t and tau give softmax cross-entropy; CosFace is t(x) = x - m
    import torch.nn.functional as F

    from automl_mm.losses.am_lfs import cosface_theta
    torch.manual_seed(0)
    weight, feat, target = torch.randn(4, 6), torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 0])
    logits = feat @ weight.T
    w_norm, x_norm = weight.norm(dim=1), feat.norm(dim=1)
    loss = MODELS.build(dict(type='AMLFSLoss', parametrisation='piecewise'))
    assert torch.allclose(loss(logits, target, w_norm, x_norm), F.cross_entropy(logits, target), atol=1e-6)
    loss.theta = cosface_theta(0.35)
    modified = logits.clone()
    rows = torch.arange(5)
    modified[rows, target] = logits[rows, target] - 0.35 * w_norm[target] * x_norm
    assert torch.allclose(loss(logits, target, w_norm, x_norm), F.cross_entropy(modified, target), atol=1e-5)


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


def test_log_likelihood_floor_is_documented_value():
    # "min_prob: default 1e-12 (-27.6 nats)"; reports the mean of log p(y) in nats, <= 0
    metric = METRICS.build(dict(type='LogLikelihood'))
    metric.process(None, [dict(gt_label=torch.tensor([0]), pred_score=torch.tensor([0.0, 1.0])),
                          dict(gt_label=torch.tensor([1]), pred_score=torch.tensor([0.5, 0.5]))])
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx((-27.631 + np.log(0.5)) / 2, abs=1e-3)


# --- behaviour stated in docstrings ------------------------------------------------------------------------------
def test_auto_augment_pair_index_is_first_then_second():
    # "pair i applies element i // E then element i % E": pair 5 of 3 elements is Solarize(100) then Brightness(1.3)
    transform = TRANSFORMS.build(dict(type='OHLAutoAugment', elements=[('Invert', None), ('Solarize', 100),
                                                                       ('Brightness', 1.3)],
                                      probs=[0.0] * 5 + [1.0] + [0.0] * 3))
    out = transform(dict(img=np.array([[50, 150]], np.uint8)))
    assert out['ohl_choice']['autoaug'] == 5
    assert out['img'].tolist() == [[65, 136]]  # 150 -> 255 - 150 = 105 -> int(1.3 * 105) = 136


def test_am_lfs_bad_theta_stays_in_the_documented_bounds():
    # "each sample's -log tau(p_y) lies in [0, -log p_y - log eps]" for any finite theta ('piecewise')
    import torch.nn.functional as F
    loss = MODELS.build(dict(type='AMLFSLoss', parametrisation='piecewise'))
    theta = loss.theta.clone()
    theta[18:24] = -5.0  # tau's intercepts: tau(p) < 0 everywhere
    loss.theta = theta
    torch.manual_seed(0)
    logits, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    per_row = loss(logits, target, torch.ones(4), torch.ones(6), reduction_override='none')
    log_p = F.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    assert (per_row >= 0).all() and (per_row <= -log_p - np.log(loss.eps) + 1e-4).all()


def test_cosine_head_forward_is_scale_cos_with_a_scaled_loss():
    head = MODELS.build(dict(type='CosineLinearClsHead', num_classes=3, in_channels=4,
                             loss=dict(type='AMLFSLoss', scale=16.0)))
    feats = torch.randn(2, 4, 1, 1)
    x, w = feats.flatten(1), head.fc.weight
    cos = (x @ w.T) / (x.norm(dim=1)[:, None] * w.norm(dim=1)[None, :])
    assert torch.allclose(head([feats]), 16.0 * cos, atol=1e-5)
    assert head.fc.bias is None


def test_linear_head_predict_writes_the_documented_fields():
    head = MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=4))
    with torch.no_grad():
        sample = head.predict([torch.randn(2, 4, 3, 3)])[0]
    assert sample.pred_score.shape == (3, ) and float(sample.pred_score.sum()) == pytest.approx(1.0)
    assert sample.pred_label.shape == (1, ) and sample.pred_label.dtype == torch.int64
    assert int(sample.pred_label) == int(sample.pred_logit.argmax())


def test_registered_class_returns_none_for_unknown_names_and_scopes():
    # the docstring promised a KeyError for an unknown scope prefix; mmengine's lookup returns None (and warns)
    from automl_mm.registry import registered_class
    assert registered_class(MODELS, 'nopkg.NoSuchModel') is None
    assert registered_class(MODELS, 'NoSuchModel', 'nopkg') is None
    assert registered_class(DATASETS, 'CocoDataset', 'mmdet').__name__ == 'CocoDataset'
    assert registered_class(DATASETS, 'mmdet.CocoDataset').__name__ == 'CocoDataset'


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(policy_size=0), ValueError, 'policy_size'),
    (dict(distribution=dict(type='DiagGaussian', mean=[0.0], std=1.0)), ValueError, 'categorical'),
    (dict(distribution=5), TypeError, 'distribution'),
])
def test_pipeline_choice_space_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        SEARCH_SPACES.build(dict(type='PipelineChoiceSpace', **kwargs))


def test_registry_comments_name_every_implementation():
    # registry.py lists the implementations of each AutoML family in comments: a new one must be named there
    import inspect

    import automl_mm.registry as registry_module
    text = inspect.getsource(registry_module)
    for registry in (SEARCH_SPACES, SAMPLERS, CONTROLLERS):
        registry.get(next(iter(registry.module_dict)))  # imports the locations
        for name in registry.module_dict:
            assert name in text, f'{name} ({registry.name}) is not named in automl_mm/registry.py'


def _modules_with_examples() -> list[str]:
    import doctest
    import importlib
    import pkgutil

    import automl_mm
    names = []
    for info in pkgutil.walk_packages(automl_mm.__path__, 'automl_mm.'):
        module = importlib.import_module(info.name)
        if any(test.examples for test in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return names


@pytest.mark.parametrize('name', _modules_with_examples())
def test_every_examples_block_runs_as_written(name):
    # the Examples: blocks are claims too (shapes, values); the per-package doctest tests cover a few modules
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize('cfg, text', [
    (dict(type='StageAllocationSpace', stage_choices=[3, 4], total_blocks=7), 'stage_choices'),  # list(3): TypeError
    (dict(type='StageAllocationSpace', stage_choices=5, total_blocks=3), 'stage_choices'),
    (dict(type='LayerwiseSpace', options='abc'), 'options'),  # was accepted as three decisions 'a', 'b', 'c'
    (dict(type='LayerwiseSpace', options=[5]), 'options'),
    (dict(type='DilationSpace', choices=5), 'choices'),  # TypeError: 'int' object is not iterable
])
def test_path_space_options_must_be_lists_of_options(cfg, text):
    with pytest.raises(ValueError, match=text):
        SEARCH_SPACES.build(cfg)


def test_path_space_options_take_ranges_and_arrays():
    assert SEARCH_SPACES.build(dict(type='StageAllocationSpace', stage_choices=[range(1, 4)] * 2,
                                    total_blocks=3)).size() == 2
    assert SEARCH_SPACES.build(dict(type='LayerwiseSpace', options=np.arange(6).reshape(2, 3))).size() == 9
