"""MBConvSupernet: presets, per-layer candidates, single-path forward, stand-alone ``arch`` networks."""
from __future__ import annotations

import math

import pytest
import torch

from automl_mm.models.backbones.mbconv_supernet import SPACES, MBConv, MBConvSupernet
from automl_mm.registry import MODELS

DIGITS_SHAPE = (2, 3, 16, 16)


def test_digits_space_is_small_enough_to_enumerate():
    net = MBConvSupernet(space='digits')
    # skip is illegal in layer 2 (16 -> 32 channels at stride 2) and nowhere else.
    assert net.layer_choices == [['k3e3', 'k5e6', 'skip'], ['k3e3', 'k5e6', 'skip'], ['k3e3', 'k5e6'],
                                 ['k3e3', 'k5e6', 'skip']]
    assert net.num_layers == 4 and net.path == (0, 0, 0, 0)
    assert math.prod(len(c) for c in net.layer_choices) == 54
    assert net.fixed_layers == ['stem', 'final_conv'] and net.out_channels == (64,)


@pytest.mark.parametrize('space,num_layers,num_skip', [('pcnas_s', 21, 15), ('pcnas_l', 24, 18)])
def test_imagenet_presets(space, num_layers, num_skip):
    net = MBConvSupernet(space=space)
    assert net.num_layers == num_layers
    assert sum('skip' in c for c in net.layer_choices) == num_skip
    assert all(len(c) in (6, 7) for c in net.layer_choices)
    assert net.layer_input_shapes((1, 3, 224, 224))[-1][2:] == (7, 7)
    assert net.out_channels == (SPACES[space]['out_channels'],)


@pytest.mark.parametrize('space,shape', [('digits', (1, 3, 16, 16)), ('digits', (1, 3, 15, 9)),
                                         ('pcnas_s', (1, 3, 33, 47)), ('fmnist', (1, 3, 28, 28))])
def test_layer_input_shapes_match_a_dry_run(space, shape):
    net = MBConvSupernet(space=space).eval()
    seen = []
    for layer in net.layers:
        layer.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    fixed = {}
    for name in net.fixed_layers:
        getattr(net, name).register_forward_pre_hook(lambda m, args, name=name: fixed.update({name: args[0].shape}))
    with torch.no_grad():
        net(torch.zeros(shape))
    assert net.layer_input_shapes(shape) == seen
    assert net.fixed_input_shapes(shape) == {k: tuple(v) for k, v in fixed.items()}


def test_only_the_selected_ops_run_and_get_gradients():
    torch.manual_seed(0)
    net = MBConvSupernet(space='digits')
    net.set_path([1, 2, 0, 0])
    assert net.arch_names() == ['k5e6', 'skip', 'k3e3', 'k3e3']
    net(torch.randn(DIGITS_SHAPE))[0].sum().backward()
    selected = {(0, 'k5e6'), (2, 'k3e3'), (3, 'k3e3')}
    for i, ops in enumerate(net.layer_choices):
        for op in ops:
            grads = [p.grad for p in net.get_op(i, op).parameters()]
            if (i, op) in selected:
                assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), (i, op)
            else:
                assert all(g is None for g in grads), (i, op)


def test_path_changes_the_output_and_all_skip_layers_are_identities():
    torch.manual_seed(0)
    net = MBConvSupernet(space='digits').eval()
    x = torch.randn(DIGITS_SHAPE)
    outs = []
    for path in ([0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 0, 2]):
        net.set_path(path)
        outs.append(net(x)[0])
    assert not torch.allclose(outs[0], outs[1])
    y = net.stem(x)
    with torch.no_grad():
        expected = net.final_conv(net.get_op(2, 'k3e3')(y))
    assert torch.allclose(outs[2], expected)


@pytest.mark.parametrize('path,match', [([0, 0, 0], 'path has 3 entries'), ([0, 0, 2, 0], r'path\[2\] = 2'),
                                        ([0, -1, 0, 0], 'layer 1'), ([0, 0.5, 0, 0], r'path\[1\]')])
def test_set_path_rejects_bad_paths(path, match):
    net = MBConvSupernet(space='digits')
    with pytest.raises(ValueError, match=match):
        net.set_path(path)
    assert net.path == (0, 0, 0, 0)


def test_arch_builds_only_the_chosen_ops_and_takes_the_supernet_weights():
    torch.manual_seed(0)
    supernet = MBConvSupernet(space='digits').eval()
    path = [2, 1, 0, 1]
    supernet.set_path(path)
    arch = supernet.arch_names(path)
    net = MBConvSupernet(space='digits', arch=arch).eval()
    assert net.layer_choices == [[op] for op in arch] and net.path == (0, 0, 0, 0)
    assert sum(isinstance(m, MBConv) for m in net.modules()) == 3
    missing, unexpected = net.load_state_dict(supernet.state_dict(), strict=False)
    assert missing == []
    assert all(k.startswith('layers.') for k in unexpected)
    x = torch.randn(DIGITS_SHAPE)
    with torch.no_grad():
        assert torch.allclose(net(x)[0], supernet(x)[0])
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in supernet.parameters())


@pytest.mark.parametrize('kwargs,match', [
    (dict(space='digits', arch=['skip', 'skip', 'skip', 'skip']), r"arch\[2\] = 'skip'"),
    (dict(space='digits', arch=['k3e3']), 'arch has 1 ops'),
    (dict(space='cifar'), 'space'),
    (dict(stem_channels=8, ops=('k3e3',)), 'stages'),
    (dict(space='digits', ops=('k4e3',)), "'k4e3'"),
    (dict(space='digits', ops=('k3e0',)), "'k3e0'"),
    (dict(space='digits', ops=('skip',)), 'layer 2'),
    (dict(space='digits', stages=((16, 2, 3),)), r'stages\[0\]'),
    (dict(space='digits', out_indices=(2,)), 'out_indices'),
    # forward returns stage order, each stage once: out_channels said (64, 16) for maps of widths (16, 64)
    (dict(space='digits', out_indices=(1, 0)), 'out_indices must be increasing'),
    (dict(space='digits', out_indices=(1, 1)), 'out_indices must be increasing'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MBConvSupernet(**kwargs)


def test_explicit_arguments_override_the_preset_and_out_indices():
    net = MBConvSupernet(space='digits', ops=('k3e1', 'skip'), out_channels=0, stages=((8, 1, 2), (8, 2, 1)),
                         out_indices=(0, 1))
    assert net.layer_choices == [['k3e1'], ['k3e1', 'skip'], ['k3e1', 'skip']]
    assert net.final_conv is None and net.fixed_layers == ['stem'] and net.out_channels == (8, 8)
    assert isinstance(net.get_op(0, 'k3e1').expand, torch.nn.Identity)  # e == 1: no expansion conv
    outs = net(torch.zeros(1, 3, 16, 16))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 8, 8), (1, 8, 8, 8)]


def test_builds_from_the_registry_inside_a_classifier():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='MBConvSupernet', space='digits'),
                              head=dict(type='LinearClsHead', num_classes=10, in_channels=64)))
    model.init_weights()
    model.backbone.set_path([0, 2, 1, 0])
    from mmengine.structures import BaseDataElement

    samples = [BaseDataElement(gt_label=torch.tensor([i])) for i in range(2)]
    losses = model(torch.randn(DIGITS_SHAPE), samples, mode='loss')
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    assert model(torch.randn(DIGITS_SHAPE), mode='tensor').shape == (2, 10)


def test_a_training_step_of_a_path_is_the_stand_alone_networks_and_leaves_other_ops_alone():
    """In training mode too the supernet on a path is its ``arch`` network (outputs, the path's BN statistics),
    every op off the path keeps its BN statistics bit for bit, and the path's FLOPs in the table are the ones
    counted on the stand-alone network."""
    from automl_mm.nas.latency import FlopsTable, count_flops

    torch.manual_seed(0)
    supernet = MBConvSupernet(space='digits').train()
    path = [1, 2, 0, 1]
    supernet.set_path(path)
    net = MBConvSupernet(space='digits', arch=supernet.arch_names(path)).train()
    net.load_state_dict(supernet.state_dict(), strict=False)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    x = torch.randn(DIGITS_SHAPE)
    assert torch.allclose(supernet(x)[0], net(x)[0])
    on_path = tuple(f'layers.{i}.ops.{op}.' for i, op in enumerate(supernet.arch_names(path)))
    for key, value in supernet.state_dict().items():
        if key.startswith('layers.') and not key.startswith(on_path):
            assert torch.equal(value, before[key]), key
        elif key in net.state_dict():
            assert torch.allclose(value, net.state_dict()[key]), key
    table = FlopsTable.from_supernet(supernet, DIGITS_SHAPE)
    assert table.flops(supernet, path) == count_flops(net.eval(), (1, 3, 16, 16))
