"""Which feature maps a backbone returns (``out_indices``), their widths (``out_channels``) and what
``frozen_stages`` may name: checked at construction, naming the key, for every automl_mm backbone."""
import pytest
import torch

from automl_mm.models import CRMobileNetV2, CRResNet, MBConvSupernet, ResNet

BACKBONES = {
    'CRResNet': (lambda **kw: CRResNet(depth=18, base_channels=8, **kw), 4),
    'CRResNet supernet': (lambda **kw: CRResNet(depth=18, base_channels=8, max_stage_blocks=(3, 3, 3, 3), **kw), 4),
    'CRMobileNetV2': (lambda **kw: CRMobileNetV2(widen_factor=0.25, **kw), 8),
    'ResNet': (lambda **kw: ResNet(depth=18, base_channels=8, **kw), 4),
}
BAD_OUT_INDICES = [
    ((-1, ), 'not counted from the end'),  # mmdet's ResNet returned no map
    ((3, 1), 'must be increasing'),  # returned (stage 1, stage 3): the neck's in_channels in the other order
    ((1, 1), 'must be increasing'),  # returned one map for two entries
    ((), 'empty'),  # mmdet: "max() arg is an empty sequence"
    ((0, 2.0), 'must contain ints'),
]


@pytest.mark.parametrize('out_indices, match', BAD_OUT_INDICES)
@pytest.mark.parametrize('name', list(BACKBONES))
def test_out_indices_that_would_return_other_maps_are_refused(name, out_indices, match):
    make, _ = BACKBONES[name]
    with pytest.raises(ValueError, match=f'out_indices.*{match}|{match}.*out_indices|out_indices is {match}'):
        make(out_indices=out_indices)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_an_out_index_past_the_last_output_is_named(name):
    """mmdet's ResNet asserted with no message; the CR-ResNet with ``num_stages=3`` and the default out_indices too."""
    make, num_outputs = BACKBONES[name]
    match = rf'out_indices=.*{num_outputs} is not an output index in \[0, {num_outputs}\)'
    with pytest.raises(ValueError, match=match):
        make(out_indices=(0, num_outputs))


def test_cr_resnet_with_fewer_stages_names_the_default_out_indices():
    with pytest.raises(ValueError, match=r'out_indices=\(0, 1, 2, 3\): 3 is not an output index in \[0, 3\)'):
        CRResNet(depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1))
    assert len(CRResNet(depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(0, 2))(
        torch.rand(1, 3, 32, 32))) == 2


@pytest.mark.parametrize('name, frozen', [('CRResNet', 5), ('CRResNet supernet', 10), ('CRMobileNetV2', 8),
                                          ('ResNet', 5), ('CRResNet', -2), ('ResNet', 1.5)])
def test_frozen_stages_beyond_the_stages_is_refused(name, frozen):
    """CR-ResNet failed with ``'CRResNet' object has no attribute 'layer5'``; ResNet froze every stage silently."""
    make, _ = BACKBONES[name]
    with pytest.raises(ValueError, match=rf'frozen_stages must be an int in \[-1, \d\].*got {frozen}'):
        make(frozen_stages=frozen)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_every_stage_may_be_frozen(name):
    make, num_outputs = BACKBONES[name]
    last = num_outputs - 1 if name == 'CRMobileNetV2' else num_outputs  # MobileNetV2: 7 layers, conv2 not frozen
    net = make(frozen_stages=last)
    net.train()
    assert not any(p.requires_grad for n, p in net.named_parameters() if n.startswith(('conv1', 'layer1.0', 'stem')))


@pytest.mark.parametrize('make, out_indices', [
    (lambda oi: CRResNet(depth=50, base_channels=8, out_indices=oi), (1, 3)),
    (lambda oi: CRResNet(depth=18, base_channels=8, out_indices=oi, stage_blocks=(1, 3, 1, 2)), (0, 1, 2, 3)),
    (lambda oi: CRResNet(depth=50, base_channels=8, out_indices=oi, max_stage_blocks=(4, 4, 6, 4)), (0, 2, 3)),
    (lambda oi: CRMobileNetV2(widen_factor=0.5, out_indices=oi), (0, 2, 4, 6, 7)),
    (lambda oi: CRMobileNetV2(widen_factor=1.5, out_indices=oi, max_stage_blocks=(1, 3, 3, 5, 3, 3, 2)), (1, 2, 4, 7)),
])
def test_cr_backbones_report_the_widths_of_the_maps_they_return(make, out_indices):
    """``out_channels`` is what an FPN's ``in_channels`` must be (as for the other automl_mm backbones)."""
    net = make(out_indices).eval()
    assert net.out_channels == tuple(o.shape[1] for o in net(torch.rand(1, 3, 64, 64)))
    assert len(net.out_channels) == len(out_indices)


def test_mbconv_supernet_out_indices_use_the_shared_check():
    with pytest.raises(ValueError, match='out_indices is empty'):
        MBConvSupernet(space='digits', out_indices=[])


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_stages=3, out_indices=(0, 1, 2)), r'strides must have 3 entries'),  # mmdet: a bare assert
    (dict(num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2)), r'dilations must have 3 entries'),
    (dict(strides=(1, 0, 2, 2)), r'strides=\(1, 0, 2, 2\): every stage'),
])
def test_cr_resnet_per_stage_settings_have_one_entry_per_stage(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CRResNet(depth=18, **kwargs)
