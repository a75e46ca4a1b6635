"""CR-NAS supernets: an allocation's active prefix equals the plain network of its arch(), set_dilations and
set_allocation reach every searched conv, a stage reallocation keeps the FLOPs, and mmdet's freezing
(frozen_stages, norm_eval) holds for the standard blocks while the blocks beyond them train."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from tests.test_models._cr_backbones import _assert_same_outputs, _randomize, _searched_convs, _shapes


@pytest.mark.parametrize('allocation,dilations', [((2, 2, 2, 2), None), ((1, 3, 2, 3), [1, 2, 1, 3, 1, 2, 1, 1, 2])])
def test_resnet_supernet_prefix_equals_plain_network(allocation, dilations):
    supernet = _randomize(CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3)))
    supernet.set_allocation(allocation)
    if dilations is not None:
        supernet.set_dilations(dilations)
    plain = CRResNet(depth=18, **supernet.arch())
    missing, unexpected = plain.load_state_dict(supernet.state_dict(), strict=False)
    assert missing == []
    # Exactly the blocks past each stage's active prefix are left over.
    leftover = {k.split('.')[0] + '.' + k.split('.')[1] for k in unexpected}
    assert leftover == {f'layer{i + 1}.{j}' for i, n in enumerate(allocation) for j in range(n, 3)}
    _assert_same_outputs(supernet, plain, torch.randn(2, 3, 64, 64))


def test_mobilenet_v2_supernet_prefix_equals_plain_network():
    supernet = _randomize(CRMobileNetV2(widen_factor=0.5, out_indices=(1, 2, 4, 7),
                                        max_stage_blocks=(2, 3, 4, 5, 4, 4, 2)))
    supernet.set_allocation((1, 2, 3, 4, 3, 3, 1))
    supernet.set_dilations([1, 1, 2, 1, 1, 2, 1, 2, 3, 1, 2, 1, 1, 2, 2, 1, 1])
    plain = CRMobileNetV2(widen_factor=0.5, out_indices=(1, 2, 4, 7), **supernet.arch())
    assert _shapes(plain) == _shapes(MobileNetV2(widen_factor=0.5))
    missing, _ = plain.load_state_dict(supernet.state_dict(), strict=False)
    assert missing == []
    _assert_same_outputs(supernet, plain, torch.randn(2, 3, 64, 64))


@pytest.mark.parametrize('cls,kwargs,dilations', [
    (CRResNet, dict(depth=18), [1, 2, 1, 3, 2, 1, 1, 2]),
    (CRMobileNetV2, dict(widen_factor=0.5, out_indices=(2, 4, 6)), [1] * 7 + [2, 3, 2, 2, 1, 2, 3, 1, 1, 1]),
])
def test_dilation_changes_output_but_not_parameters_or_shapes(cls, kwargs, dilations):
    net = _randomize(cls(**kwargs))
    net.eval()  # mmdet backbones' train() returns None, so no chaining
    x = torch.randn(1, 3, 64, 64)
    n_params = sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        before = net(x)
        net.set_dilations(dilations)
        after = net(x)
    assert sum(p.numel() for p in net.parameters()) == n_params
    assert [o.shape for o in after] == [o.shape for o in before]
    assert not torch.allclose(after[-1], before[-1])
    assert net.active_dilations == tuple(dilations)


SEARCHABLE = [
    (CRResNet, dict(depth=18)),
    (CRResNet, dict(depth=50)),
    (CRResNet, dict(depth=18, max_stage_blocks=(3, 4, 3, 3), stage_blocks=(1, 3, 2, 2))),
    (CRResNet, dict(depth=34, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2,))),
    (CRMobileNetV2, dict()),
    (CRMobileNetV2, dict(widen_factor=0.5, max_stage_blocks=(2, 2, 4, 4, 3, 4, 2), stage_blocks=(2, 1, 3, 4, 2, 3, 2))),
]


@pytest.mark.parametrize('cls,kwargs', SEARCHABLE)
def test_set_dilations_reaches_every_searched_conv(cls, kwargs):
    net = cls(**kwargs)
    rng = random.Random(0)
    dilations = [rng.randint(1, 4) for _ in range(net.num_active_blocks)]
    net.set_dilations(dilations)
    convs = _searched_convs(net)
    assert len(convs) == net.num_active_blocks == len(dilations)
    for conv, d in zip(convs, dilations):
        assert conv.dilation == (d, d)
        assert conv.padding == (d, d)
    assert net.active_dilations == tuple(dilations)
    assert net.arch() == {'stage_blocks': list(net.active_stage_blocks), 'dilations_per_block': dilations}
    # The constructor argument sets the same convs.
    rebuilt = cls(**{k: v for k, v in kwargs.items() if k not in ('max_stage_blocks', 'stage_blocks')}, **net.arch())
    assert [c.dilation for c in _searched_convs(rebuilt)] == [c.dilation for c in convs]


def test_deformable_searched_conv_dilates_its_offset_conv_too():
    dcn = dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)
    net = CRResNet(depth=50, dcn=dcn, stage_with_dcn=(False, True, True, True), stage_blocks=(1, 2, 2, 1))
    assert _shapes(CRResNet(depth=50, dcn=dcn, stage_with_dcn=(False, True, True, True))) == \
        _shapes(ResNet(depth=50, dcn=dcn, stage_with_dcn=(False, True, True, True)))
    net.set_dilations([1, 2, 3, 1, 2, 3])
    for conv, d in zip(_searched_convs(net)[1:], [2, 3, 1, 2, 3]):
        assert conv.conv_offset.dilation == conv.dilation == (d, d)
        assert conv.conv_offset.padding == conv.padding == (d, d)
    net.eval()
    with torch.no_grad():
        assert [o.shape[-1] for o in net(torch.randn(1, 3, 64, 64))] == [16, 8, 4, 2]


def test_set_allocation_keeps_active_dilations_and_resets_reactivated_blocks():
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3))
    assert net.built_stage_blocks == net.active_stage_blocks == (3, 3, 3, 3)
    net.set_dilations([2] * 12)
    net.set_allocation((1, 2, 3, 2))
    assert net.active_stage_blocks == (1, 2, 3, 2)
    assert net.num_active_blocks == 8
    assert net.active_dilations == (2,) * 8
    net.set_allocation((3, 3, 3, 3))
    assert net.active_dilations == (2, 1, 1, 2, 2, 1, 2, 2, 2, 2, 2, 1)
    # What a search loop samples (numpy arrays) is accepted as well.
    net.set_allocation(np.array([1, 1, 2, 3]))
    net.set_dilations(np.arange(1, 8))
    assert net.arch() == {'stage_blocks': [1, 1, 2, 3], 'dilations_per_block': [1, 2, 3, 4, 5, 6, 7]}


def test_arch_rebuilds_a_plain_network_with_the_active_parameters():
    supernet = CRResNet(depth=18, max_stage_blocks=(3, 3, 4, 3), stage_blocks=(1, 2, 4, 1),
                        dilations_per_block=[1, 1, 2, 1, 2, 3, 2, 1])
    plain = CRResNet(depth=18, **supernet.arch())
    assert plain.built_stage_blocks == plain.active_stage_blocks == (1, 2, 4, 1)
    assert plain.active_dilations == supernet.active_dilations == (1, 1, 2, 1, 2, 3, 2, 1)
    active_keys = {k for k in supernet.state_dict()
                   if not k.startswith('layer') or int(k.split('.')[1]) < supernet.active_stage_blocks[
                       int(k[5]) - 1]}
    assert set(plain.state_dict()) == active_keys


@pytest.mark.parametrize('cls,kwargs', [(CRResNet, dict(depth=18, max_stage_blocks=(3, 3, 3, 3))),
                                        (CRMobileNetV2, dict(max_stage_blocks=(2, 3, 3, 4, 3, 3, 2)))])
def test_frozen_stages_and_norm_eval(cls, kwargs):
    """mmdet's freezing holds for the stem and the standard blocks; blocks beyond the standard count train."""
    net = cls(frozen_stages=2, norm_eval=True, **kwargs)
    net.set_allocation((1,) * len(net.built_stage_blocks))
    for _ in range(2):  # also after a second train(): the override must not drift
        net.train()
        stem = net.conv1 if cls is CRMobileNetV2 else torch.nn.ModuleList([net.conv1, net.norm1])
        assert not any(p.requires_grad for p in stem.parameters())
        standard = net.standard_stage_blocks
        for s, stage in enumerate(net._searchable_stages()):
            for j, block in enumerate(stage):
                bns = [m for m in block.modules() if isinstance(m, _BatchNorm)]
                if j < standard[s]:  # filled by an mmdet-layout checkpoint: mmdet's meaning, inactive ones too
                    assert all(p.requires_grad for p in block.parameters()) == (s >= 2), (s, j)
                    assert not any(m.training for m in bns), (s, j)
                else:  # no checkpoint fills it: never frozen, BN statistics trained (they start at 0 / 1)
                    assert all(p.requires_grad for p in block.parameters()), (s, j)
                    assert all(m.training for m in bns), (s, j)
    assert len(net.unfilled_blocks()) == sum(max(b - n, 0) for b, n in zip(net.built_stage_blocks, standard))
    net.eval()
    assert not any(m.training for m in net.modules())


def test_a_reallocated_plain_network_trains_only_its_unfilled_blocks_bn():
    """The exported network (e.g. stage_blocks (1, 3, 1, 3)) loads ImageNet weights for 2 + 2 + 1 + 2 blocks."""
    net = CRResNet(depth=18, stage_blocks=(1, 3, 1, 3), frozen_stages=1, norm_eval=True)
    net.train()
    assert [m.training for m in (net.layer2[1].bn1, net.layer2[2].bn1, net.layer4[1].bn1, net.layer4[2].bn1)] == [
        False, True, False, True]
    assert not any(m.training for m in net.layer1.modules())


def test_frozen_stage_bn_stays_in_eval_without_norm_eval():
    net = CRResNet(depth=18, frozen_stages=1, norm_eval=False)
    net.train()
    assert not net.layer1[0].norm1.training
    assert net.layer2[0].norm1.training


@pytest.mark.parametrize('depth, max_blocks, choices, total, reference, edges', [
    # the CPU search space (every allocation) and the paper's ResNet-50 choices (the edge allocations: nearly every
    # block in one stage, the other stages at their minimum)
    (18, (3, 3, 3, 3), [[1, 2, 3]] * 4, 8, (2, 2, 2, 2), None),
    (50, (10, 10, 11, 11), [list(range(1, 11)), list(range(1, 11)), [2, 3, 5, 6, 9, 11], [2, 3, 4, 6, 7, 9, 11]],
     16, (3, 4, 6, 3), [(10, 2, 2, 2), (1, 10, 3, 2), (1, 1, 11, 3), (1, 1, 3, 11)]),
])
def test_stage_reallocation_keeps_flops(depth, max_blocks, choices, total, reference, edges):
    """METHODS.md §5: a ResNet block costs about the same FLOPs in every stage, so every allocation of the fixed
    total the stage search can emit stays within CRNASLoop's default flops_tolerance (5 %) of the reference, counted
    by mmengine's FlopAnalyzer as the loop counts it (eval mode). Counted at 64 x 64: every layer's FLOPs scale by
    the same (64 / 224) ** 2 as at 224 x 224 (each stride halves an even size), so the ratios are the same numbers
    (max |ratio - 1| = 0.000497 for the depth-18 allocations at 224, 64 and 32) and the counts of the plain
    networks equal the supernet's at both sizes; 224 x 224 traced each network at 12 times the cost."""
    from automl_mm.nas.latency import count_flops
    from automl_mm.nas.spaces import StageAllocationSpace

    space = StageAllocationSpace(choices, total)
    allocations = [tuple(space.values(p)) for p in space.completions(())] if edges is None else edges
    assert all(sum(a) == total and space.path_of(a) is not None for a in allocations)
    net = CRResNet(depth=depth, max_stage_blocks=max_blocks, stage_blocks=reference)
    net.eval()
    shape = (1, 3, 64, 64)
    ref = count_flops(net, shape)
    for allocation in allocations:
        net.set_allocation(allocation)
        flops = count_flops(net, shape)
        assert abs(flops / ref - 1) < 0.01, allocation
        # the supernet counts its active blocks only: the plain network of the allocation counts the same
        plain = CRResNet(depth=depth, stage_blocks=allocation)
        plain.eval()
        assert count_flops(plain, shape) == flops, allocation


