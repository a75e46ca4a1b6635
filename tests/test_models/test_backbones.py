"""Every registered automl_mm backbone runs forward on a tiny input (catches most rot)."""
from __future__ import annotations

import pytest
import torch

from automl_mm.models import ResNet, SimpleConvNet, WideResNet

CASES = [
    (ResNet, dict(depth=18, stem='cifar'), (1, 3, 32, 32), [(64, 32), (128, 16), (256, 8), (512, 4)]),
    (ResNet, dict(depth=50, stem='imagenet', out_indices=(3,)), (1, 3, 64, 64), [(2048, 2)]),
    (ResNet, dict(depth=18, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), out_indices=(3,)), (1, 3, 64, 64),
     [(512, 4)]),
    (WideResNet, dict(depth=10, widen_factor=2), (2, 3, 32, 32), [(128, 8)]),
    (SimpleConvNet, dict(channels=(8, 16, 32)), (2, 3, 32, 32), [(32, 4)]),
]


@pytest.mark.parametrize('cls,kwargs,shape,expected', CASES)
def test_backbone_forward_shapes(cls, kwargs, shape, expected):
    net = cls(**kwargs)
    net.init_weights()
    outs = net(torch.randn(*shape))
    assert [(o.shape[1], o.shape[-1]) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


def test_wrn28_10_parameter_count():
    # WRN-28-10 has 36.5M parameters (Zagoruyko & Komodakis, 2016).
    n = sum(p.numel() for p in WideResNet(depth=28, widen_factor=10).parameters())
    assert 36.4e6 < n < 36.6e6


@pytest.mark.parametrize('depth, out_indices', [(18, (3, )), (50, (1, 3)), (18, (0, 1, 2, 3))])
def test_resnet_out_channels_are_those_of_the_returned_maps(depth, out_indices):
    """They listed every stage whatever out_indices returned ((64, 128, 256, 512) for one 512-channel map)."""
    net = ResNet(depth=depth, stem='cifar', out_indices=out_indices)
    assert net.out_channels == tuple(f.shape[1] for f in net(torch.zeros(1, 3, 32, 32)))


def test_resnet_parameter_counts_match_the_standard_models():
    # torchvision's resnet18/50 without the fc layer: 11,176,512 and 23,508,032 parameters.
    assert sum(p.numel() for p in ResNet(depth=18).parameters()) == 11_176_512
    assert sum(p.numel() for p in ResNet(depth=50).parameters()) == 23_508_032


def test_frozen_stages_and_norm_eval():
    net = ResNet(depth=18, frozen_stages=1, norm_eval=True)
    net.train()
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert not any(p.requires_grad for p in net.res_layers[0].parameters())
    assert all(p.requires_grad for p in net.res_layers[1].parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize('kwargs,match', [(dict(depth=19), 'depth'), (dict(stem='tiny'), 'stem'),
                                          (dict(out_indices=(4,)), 'out_indices'),
                                          (dict(out_indices=(3, 0)), 'out_indices must be increasing'),
                                          (dict(out_indices=(2, 2)), 'out_indices must be increasing')])
def test_resnet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet(**kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(strides=(1, 2, 2, 0)), r'ResNet strides=\(1, 2, 2, 0\): every stage.s value must be >= 1'),
    (dict(strides=(1, 2, 2, -1)), r'ResNet strides=\(1, 2, 2, -1\)'),
    (dict(dilations=(1, 1, 1, 0)), r'ResNet dilations=\(1, 1, 1, 0\)'),
    (dict(strides=(1, 2, 2, 2.0)), 'ResNet strides must contain ints'),
    (dict(strides=2), 'ResNet strides must be a sequence of 4 ints'),
    (dict(dilations='1112'), 'ResNet dilations must be a sequence of 4 ints'),
    (dict(strides=(1, 2, 2)), 'ResNet strides must have 4 entries'),
    (dict(stage_blocks=(2, 2, 2), dilations=(1, 1, 1, 1), strides=(1, 2, 2)), 'ResNet dilations must have 3'),
])
def test_resnet_strides_and_dilations_are_one_int_ge_1_per_stage(kwargs, match):
    """A stride or dilation of 0, -1 or 2.0 built a network that failed at the first forward inside torch
    ('non-positive stride is not supported', naming no key); an int for strides failed inside len()."""
    with pytest.raises(ValueError, match=match):
        ResNet(depth=18, **kwargs)


@pytest.mark.parametrize('cfg', [dict(type='ResNet', depth=18), dict(type='WideResNet', depth=10, widen_factor=1),
                                 dict(type='SimpleConvNet', channels=(8, 16)),
                                 dict(type='MBConvSupernet', space='digits')])
def test_a_pretrained_file_in_another_layout_is_an_error_and_the_own_layout_loads(cfg, tmp_path):
    """mmengine loads ``Pretrained`` non-strictly: a torchvision ResNet-18 file filled 0 of automl_mm ResNet's 120
    tensors with a warning, and ``frozen_stages`` kept the random stem frozen."""
    import torchvision

    from automl_mm.registry import MODELS

    foreign = str(tmp_path / 'torchvision_r18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), foreign)
    net = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=foreign)))
    with pytest.raises(ValueError, match=rf'init_cfg Pretrained {foreign} does not fill {cfg["type"]}: [1-9]\d* of '):
        net.init_weights()
    source = MODELS.build(cfg)
    source.init_weights()
    own = str(tmp_path / 'own.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, own)
    net = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=own, prefix='backbone.')))
    net.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def _as_mmdet_key(key: str) -> str:
    """automl_mm.ResNet's key in mmdet ResNet's layout (``stem.0`` / ``stem.1`` / ``res_layers.i`` ->
    ``conv1`` / ``bn1`` / ``layer{i+1}``)."""
    key = key.replace('stem.0.', 'conv1.').replace('stem.1.', 'bn1.')
    if key.startswith('res_layers.'):
        _, i, rest = key.split('.', 2)
        key = f'layer{int(i) + 1}.{rest}'
    return key


@pytest.mark.parametrize('depth', [18, 50])
@pytest.mark.parametrize('kwargs', [dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)),
                                    dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), frozen_stages=2,
                                         norm_eval=True)])
def test_resnet_equals_mmdet_resnet_with_the_same_weights(depth, kwargs):
    """Dilated BasicBlocks dilated conv2 as well as conv1 (mmdet and mmpretrain dilate conv1 only): a
    dilated ResNet-18 with mmdet's weights differed from mmdet's by up to 2.2 in the dilated stage's output.
    Outputs in train and eval mode, the trainable parameters and the BN layers in train mode after train() must be
    mmdet's."""
    from mmdet.models.backbones import ResNet as MMDetResNet
    from torch.nn.modules.batchnorm import _BatchNorm

    torch.manual_seed(0)
    ours = ResNet(depth=depth, **kwargs)
    ours.init_weights()
    theirs = MMDetResNet(depth=depth, zero_init_residual=False, **{'norm_eval': False, **kwargs})
    theirs.load_state_dict({_as_mmdet_key(k): v for k, v in ours.state_dict().items()}, strict=True)
    x = torch.rand(2, 3, 64, 64)
    for mode in (False, True):
        ours.train(mode)
        theirs.train(mode)
        assert ({_as_mmdet_key(n) for n, p in ours.named_parameters() if p.requires_grad}
                == {n for n, p in theirs.named_parameters() if p.requires_grad})
        assert ({_as_mmdet_key(n + '.') for n, m in ours.named_modules() if isinstance(m, _BatchNorm) and m.training}
                == {n + '.' for n, m in theirs.named_modules() if isinstance(m, _BatchNorm) and m.training})
        for a, b in zip(ours(x), theirs(x), strict=True):
            torch.testing.assert_close(a, b)
