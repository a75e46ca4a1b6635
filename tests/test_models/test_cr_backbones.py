"""CR-NAS backbones: mmdet layout compatibility, the supernet interface (drop-in use in mmdet detectors:
test_cr_backbones_in_detectors.py)."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.registry import MODELS
from tests.test_models._cr_backbones import _searched_convs


def _randomize(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BN statistics, so that equality tests cannot pass on zeros/ones."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                values = torch.rand(t.shape, generator=g) + 0.5 if 'running_var' in name else \
                    torch.randn(t.shape, generator=g) * 0.1
                t.copy_(values)
    return net


def _shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _assert_same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    a.eval()
    b.eval()
    with torch.no_grad():
        outs_a, outs_b = a(x), b(x)
    assert len(outs_a) == len(outs_b)
    for oa, ob in zip(outs_a, outs_b):
        torch.testing.assert_close(oa, ob, rtol=0, atol=0)


# --- mmdet layout and outputs -----------------------------------------------------------------------


@pytest.mark.parametrize('depth', [18, 34, 50, 101])
def test_standard_resnet_has_mmdet_state_dict_layout(depth):
    assert _shapes(CRResNet(depth=depth)) == _shapes(ResNet(depth=depth))


def test_standard_mobilenet_v2_has_mmdet_state_dict_layout():
    assert _shapes(CRMobileNetV2()) == _shapes(MobileNetV2())
    assert _shapes(CRMobileNetV2(widen_factor=0.5)) == _shapes(MobileNetV2(widen_factor=0.5))


def test_mmdet_resnet_checkpoint_loads_through_init_cfg(tmp_path):
    ref = _randomize(ResNet(depth=18))
    path = str(tmp_path / 'resnet18_mmdet.pth')
    torch.save({'state_dict': ref.state_dict()}, path)
    net = CRResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    loaded = net.state_dict()
    for key, value in ref.state_dict().items():
        assert torch.equal(loaded[key], value), key


def test_a_checkpoint_in_another_layout_stops_at_init_instead_of_loading_nothing(tmp_path):
    """mmengine loads Pretrained init_cfg with strict=False: automl_mm.ResNet's own ImageNet checkpoint (keys
    backbone.stem.*, backbone.res_layers.*) loaded 0 tensors into CRResNet with one warning line, and with
    frozen_stages / norm_eval the stem stayed random and frozen for the whole run."""
    from automl_mm.models import ImageClassifier

    clf = ImageClassifier(backbone=dict(type='ResNet', depth=18, stem='imagenet', out_indices=(3, )),
                          head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    path = str(tmp_path / 'automl_mm_resnet18.pth')
    torch.save({'state_dict': clf.state_dict()}, path)
    for prefix in (None, 'backbone.'):
        init_cfg = dict(type='Pretrained', checkpoint=path, **({'prefix': prefix} if prefix else {}))
        net = CRResNet(depth=18, frozen_stages=1, norm_eval=True, init_cfg=init_cfg)
        with pytest.raises(ValueError, match=r'does not fill CRResNet: \d+ of \d+ tensors missing .*mmdet\'s layout'):
            net.init_weights()
    # mmdet's layout fills a supernet's standard blocks; its extra blocks are not expected in the file
    ref = _randomize(ResNet(depth=18))
    mmdet_path = str(tmp_path / 'resnet18_mmdet.pth')
    torch.save({'state_dict': ref.state_dict()}, mmdet_path)
    CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3),
             init_cfg=dict(type='Pretrained', checkpoint=mmdet_path)).init_weights()
    # MobileNetV2 in torchvision's names (features.*) is not mmdet's (conv1.*, layer1.*)
    import torchvision

    tv_path = str(tmp_path / 'mobilenet_v2_torchvision.pth')
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), tv_path)
    with pytest.raises(ValueError, match='does not fill CRMobileNetV2'):
        CRMobileNetV2(init_cfg=dict(type='Pretrained', checkpoint=tv_path)).init_weights()


@pytest.mark.parametrize('make_std,make_cr,built', [
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw), (3, 3, 3, 3)),
    (lambda: ResNet(depth=50), lambda **kw: CRResNet(depth=50, **kw), (3, 5, 6, 4)),
    (lambda: MobileNetV2(widen_factor=0.5, out_indices=(2, 4, 6)),
     lambda **kw: CRMobileNetV2(widen_factor=0.5, out_indices=(2, 4, 6), **kw), (1, 3, 3, 5, 3, 4, 1)),
])
def test_blocks_a_pretrained_checkpoint_leaves_unfilled_start_as_identity(tmp_path, make_std, make_cr, built):
    """Under a Pretrained init_cfg the blocks beyond the standard count kept PyTorch's default init (BN weight 1):
    adding them changed the checkpoint's features by 18-25 % (ResNet-18 supernet, all stages deepened by one), so
    a supernet's deeper allocations and a reallocated network started from damaged pretrained features. They now
    get mmdet's from-scratch init with the residual branch's last BN weight 0: any allocation that only adds
    blocks computes the checkpoint's function, in train and in eval mode."""
    ref = _randomize(make_std())
    path = str(tmp_path / 'standard.pth')
    torch.save({'state_dict': ref.state_dict()}, path)
    net = make_cr(max_stage_blocks=built, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    assert net.unfilled_blocks()
    x = torch.rand(2, 3, 64, 64)
    _assert_same_outputs(ref, net, x)  # every extra block active, eval mode
    ref.train()
    net.train()
    with torch.no_grad():
        for a, b in zip(ref(x), net(x)):
            torch.testing.assert_close(a, b)
    # and they learn: one step moves the zero-initialised BN weights
    net.train()
    sum(o.square().mean() for o in net(x)).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for block in net.unfilled_blocks() for p in block.parameters())


def test_a_checkpoint_that_holds_the_extra_blocks_keeps_them(tmp_path):
    """Only blocks the file does not fill are initialised: a CR supernet's own checkpoint restores every block."""
    sup = _randomize(CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3)))
    path = str(tmp_path / 'supernet.pth')
    torch.save({'state_dict': sup.state_dict()}, path)
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    for key, value in sup.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def test_two_pretrained_files_fill_a_block_either_holds(tmp_path, caplog):
    """init_cfg=[ImageNet file, the reallocated network's own file]: mmengine loads both, in order, so layer2.2 holds
    the second file's weights. Taken file by file, the first file's gap re-initialised layer2.2 over them (from
    scratch, its last BN at 0) and the second then marked it filled: frozen with the wrong weights."""
    imagenet, own = str(tmp_path / 'imagenet.pth'), str(tmp_path / 'own.pth')
    torch.save(_randomize(ResNet(depth=18), seed=1).state_dict(), imagenet)
    source = _randomize(CRResNet(depth=18, stage_blocks=(1, 3, 2, 2)), seed=2)
    torch.save(source.state_dict(), own)
    net = CRResNet(depth=18, stage_blocks=(1, 3, 2, 2), frozen_stages=2, norm_eval=True,
                   init_cfg=[dict(type='Pretrained', checkpoint=imagenet), dict(type='Pretrained', checkpoint=own)])
    logged = _pretrained_log(net, caplog)
    for key, value in source.layer2[2].state_dict().items():
        assert torch.equal(net.layer2[2].state_dict()[key], value), key
    net.train()
    assert not any(p.requires_grad for p in net.layer2[2].parameters())
    assert logged == [
        f'CRResNet stage_blocks [1, 3, 2, 2], init_cfg Pretrained {imagenet}, {own}: the stem and the standard blocks '
        'loaded; loaded beyond the standard count (frozen_stages / norm_eval apply as to a standard block): '
        'layer2.2; in the file but not built by this allocation, unused: layer1.1']


def _pretrained_log(net: torch.nn.Module, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines of mmengine's current logger that name the CR network's Pretrained fill, during init_weights."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        net.init_weights()
    finally:
        logger.removeHandler(caplog.handler)
    return [r.getMessage() for r in caplog.records if 'init_cfg Pretrained' in r.getMessage()]


@pytest.mark.parametrize('make_std,make_cr,kwargs,expected', [
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw), dict(stage_blocks=(1, 3, 2, 2)),
     "CRResNet stage_blocks [1, 3, 2, 2], init_cfg Pretrained {path}: the stem and the standard blocks loaded; not "
     "in the file, from mmdet's from-scratch init, each starting as the identity (zero_init_residual): layer2.2; in "
     "the file but not built by this allocation, unused: layer1.1"),
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw),
     dict(max_stage_blocks=(2, 2, 3, 3), stage_blocks=(1, 2, 3, 2), zero_init_residual=False),
     "CRResNet stage_blocks [1, 2, 3, 2] (max_stage_blocks [2, 2, 3, 3]), init_cfg Pretrained {path}: the stem and "
     "the standard blocks loaded; not in the file, from mmdet's from-scratch init: layer3.2, layer4.2"),
    (lambda: CRResNet(depth=18, stage_blocks=(3, 1, 2, 2)), lambda **kw: CRResNet(depth=18, **kw),
     dict(stage_blocks=(3, 1, 2, 3)),
     "CRResNet stage_blocks [3, 1, 2, 3], init_cfg Pretrained {path}: the stem and the standard blocks loaded; not "
     "in the file, from mmdet's from-scratch init, each starting as the identity (zero_init_residual): layer4.2; "
     "loaded beyond the standard count (frozen_stages / norm_eval apply as to a standard block): layer1.2"),
    (lambda: MobileNetV2(widen_factor=0.25), lambda **kw: CRMobileNetV2(widen_factor=0.25, **kw),
     dict(stage_blocks=(1, 1, 4, 4, 3, 3, 1)),
     "CRMobileNetV2 stage_blocks [1, 1, 4, 4, 3, 3, 1], init_cfg Pretrained {path}: the stem and the standard blocks "
     "loaded; not in the file, from mmdet's from-scratch init, each starting as the identity (zero_init_residual): "
     "layer3.3; in the file but not built by this allocation, unused: layer2.1"),
])
def test_a_pretrained_file_s_fill_of_a_reallocated_network_is_logged(tmp_path, caplog, make_std, make_cr, kwargs,
                                                                      expected):
    """Which blocks a Pretrained file did not fill (initialised here), filled beyond the standard count, or held
    for blocks this allocation does not build: mmengine logged the missing and unexpected keys, and its init summary
    said of every initialised block that its values were 'the same before and after calling init_weights'."""
    path = str(tmp_path / 'file.pth')
    torch.save(make_std().state_dict(), path)
    assert _pretrained_log(make_cr(init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs), caplog) == [
        expected.format(path=path)]


@pytest.mark.parametrize('make_std,make_cr,kwargs,block', [
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw), dict(stage_blocks=(1, 3, 2, 2)), 'layer2.2'),
    (lambda: MobileNetV2(widen_factor=0.5), lambda **kw: CRMobileNetV2(widen_factor=0.5, **kw),
     dict(stage_blocks=(1, 2, 4, 4, 3, 3, 1)), 'layer3.3'),
])
def test_unfilled_blocks_keep_the_init_cfg_s_other_entries(tmp_path, caplog, make_std, make_cr, kwargs, block):
    """init_cfg=[Pretrained, Normal(Conv2d, std=0.01)]: mmengine applies the Normal entry to every conv before
    loading the file, and mmdet's ResNet keeps it where the file has nothing. The CR init of the blocks the file
    does not hold overwrote it with Kaiming (layer2.2's convs at std 0.042 instead of 0.01); it is kept now, and the
    block still starts as the identity (zero_init_residual)."""
    path = str(tmp_path / 'file.pth')
    torch.save(make_std().state_dict(), path)
    net = make_cr(init_cfg=[dict(type='Pretrained', checkpoint=path), dict(type='Normal', layer='Conv2d', std=0.01)],
                  **kwargs)
    logged = _pretrained_log(net, caplog)
    extra = net.get_submodule(block)
    assert net.unfilled_blocks() == [extra]
    for name, conv in extra.named_modules():
        if isinstance(conv, torch.nn.Conv2d) and conv.weight.numel() > 500:
            assert abs(float(conv.weight.std()) - 0.01) < 0.002, name
    assert float(net._residual_last_norm(extra).weight.abs().sum()) == 0
    assert len(logged) == 1
    assert ("not in the file, from mmdet's from-scratch init where the init_cfg's other entries do not reach, each "
            f'starting as the identity (zero_init_residual): {block}') in logged[0]


@pytest.mark.parametrize('make_std,make_cr,kwargs,block', [
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw), dict(stage_blocks=(1, 3, 2, 2)), 'layer2.2'),
    (lambda: MobileNetV2(widen_factor=0.5), lambda **kw: CRMobileNetV2(widen_factor=0.5, **kw),
     dict(stage_blocks=(1, 2, 4, 4, 3, 3, 1)), 'layer3.3'),
])
def test_unfilled_blocks_get_the_scratch_init_where_the_other_entries_do_not_reach(tmp_path, caplog, make_std,
                                                                                      make_cr, kwargs, block):
    """init_cfg=[Pretrained, Constant(layer='_BatchNorm', val=1)]: the other entry reaches no conv, so mmengine
    left the convs of the blocks the file does not hold at PyTorch's default (kaiming_uniform, a=sqrt(5): std
    1/sqrt(3 fan_in), 0.017 for layer2.2's 3x3 128-channel convs); they get mmdet's from-scratch Kaiming (fan_out,
    normal: std sqrt(2 / fan_out), 0.042 there), as without other entries, and the BN layers the entry reaches keep
    its value. Until the forty-seventh session's review any other entry turned the whole scratch init off.
    (CRMobileNetV2's convs are mmcv ConvModules, which take that Kaiming when built: there only the log differed.)"""
    path = str(tmp_path / 'file.pth')
    torch.save(make_std().state_dict(), path)
    net = make_cr(init_cfg=[dict(type='Pretrained', checkpoint=path), dict(type='Constant', layer='_BatchNorm', val=1)],
                  **kwargs)
    logged = _pretrained_log(net, caplog)
    extra = net.get_submodule(block)
    assert net.unfilled_blocks() == [extra]
    convs = [(n, m) for n, m in extra.named_modules() if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 500]
    assert convs
    for name, conv in convs:
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        assert float(conv.weight.std()) == pytest.approx((2 / fan_out) ** 0.5, rel=0.15), name
    last = net._residual_last_norm(extra)
    assert float(last.weight.abs().sum()) == 0  # zero_init_residual: the identity
    for m in extra.modules():
        if isinstance(m, _BatchNorm) and m is not last:
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
    assert len(logged) == 1
    assert ("not in the file, from mmdet's from-scratch init where the init_cfg's other entries do not reach, each "
            f'starting as the identity (zero_init_residual): {block}') in logged[0]


@pytest.mark.parametrize('make_std,backbone,block,channels', [
    (lambda: ResNet(depth=18), dict(type='CRResNet', depth=18, stage_blocks=(1, 3, 2, 2), out_indices=(3,)),
     'layer2.2', 512),
    (lambda: MobileNetV2(widen_factor=0.5), dict(type='CRMobileNetV2', widen_factor=0.5,
                                                 stage_blocks=(1, 2, 4, 4, 3, 3, 1), out_indices=(7,)),
     'layer3.3', 1280),
])
def test_unfilled_blocks_keep_a_parent_s_init_cfg_entry(tmp_path, caplog, make_std, backbone, block, channels):
    """ImageClassifier(init_cfg=Normal(Conv2d, std=0.01)) over a backbone with its own Pretrained file: mmengine
    applies the classifier's entry to every conv before the backbone's init_weights runs, and mmdet's ResNet keeps it
    where the file has nothing. The CR init could not see the parent's entry and drew Kaiming over it (layer2.2's
    convs at std 0.042, CRMobileNetV2's layer3.3 at 0.145 / 0.048 / 0.36); it reads mmengine's init record
    (_params_init_info) and keeps the Normal draw now, the block still the identity (zero_init_residual), the
    standard blocks the file's."""
    from automl_mm.models import ImageClassifier

    path = str(tmp_path / 'file.pth')
    std = make_std()
    torch.save(std.state_dict(), path)
    model = ImageClassifier(backbone=dict(backbone, init_cfg=dict(type='Pretrained', checkpoint=path)),
                            head=dict(type='LinearClsHead', num_classes=10, in_channels=channels),
                            init_cfg=dict(type='Normal', layer='Conv2d', std=0.01))
    logged = _pretrained_log(model, caplog)
    net = model.backbone
    extra = net.get_submodule(block)
    convs = [(n, m) for n, m in extra.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for name, conv in convs:
        assert abs(float(conv.weight.std()) - 0.01) < 0.002, name
    assert float(net._residual_last_norm(extra).weight.abs().sum()) == 0
    loaded = std.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in net.state_dict().items() if k.startswith('layer1.0.'))
    assert len(logged) == 1 and f"where a parent's init_cfg entry drew, its draw kept: {block}" in logged[0]


def test_a_pretrained_file_that_fills_the_standard_network_logs_no_fill(tmp_path, caplog):
    path = str(tmp_path / 'file.pth')
    torch.save(ResNet(depth=18).state_dict(), path)
    assert _pretrained_log(CRResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=path)), caplog) == []


def test_zero_init_residual_false_starts_unfilled_blocks_from_mmdet_init(tmp_path):
    ref = _randomize(ResNet(depth=18))
    path = str(tmp_path / 'standard.pth')
    torch.save({'state_dict': ref.state_dict()}, path)
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), zero_init_residual=False,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    for block in net.unfilled_blocks():
        assert torch.equal(block.norm2.weight, torch.ones_like(block.norm2.weight))
        # mmdet's Kaiming (fan_out, normal), not PyTorch's default kaiming_uniform(a=sqrt(5))
        fan_out = block.conv1.out_channels * 9
        assert abs(block.conv1.weight.std().item() - (2 / fan_out) ** 0.5) < 0.15 * (2 / fan_out) ** 0.5


@pytest.mark.parametrize('depth,kwargs', [(18, {}), (50, dict(out_indices=(1, 3))),
                                          (18, dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))),
                                          (50, dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)))])
def test_standard_resnet_matches_mmdet_outputs(depth, kwargs):
    ref = _randomize(ResNet(depth=depth, **kwargs))
    net = CRResNet(depth=depth, **kwargs)
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 64, 64))


def test_standard_mobilenet_v2_matches_mmdet_outputs():
    ref = _randomize(MobileNetV2(out_indices=(0, 2, 4, 7)))
    net = CRMobileNetV2(out_indices=(0, 2, 4, 7))
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 64, 64))


def test_mmdet_stage_dilations_are_reported_as_per_block_dilations():
    net = CRResNet(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    assert net.active_dilations == (1,) * 7 + (2,) * 6 + (4,) * 3
    # arch() of such a model rebuilds it together with the same per-stage dilations.
    rebuilt = CRResNet(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), **net.arch())
    assert rebuilt.active_dilations == net.active_dilations


def test_a_basic_block_stage_dilation_leaves_the_searched_conv_free():
    """mmdet dilates a BasicBlock's conv1 for a per-stage dilation (DC5) and builds the searched conv2 with 1: an
    R18 DC5 search could choose dilation 3 there, and rebuilding its export was refused as a conflict."""
    kwargs = dict(depth=18, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    net = _randomize(CRResNet(**kwargs))
    net.set_dilations([1, 1, 1, 1, 1, 1, 3, 2])
    rebuilt = CRResNet(**kwargs, **net.arch())
    assert rebuilt.active_dilations == net.active_dilations == (1,) * 6 + (3, 2)
    assert rebuilt.layer4[0].conv1.dilation == (2, 2) and rebuilt.layer4[0].conv2.dilation == (3, 3)
    rebuilt.load_state_dict(net.state_dict())
    _assert_same_outputs(rebuilt, net, torch.randn(2, 3, 64, 64))


# --- supernet ----------------------------------------------------------------------------------------


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


# --- argument errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=19), 'depth=19'),
    (dict(depth=18, stage_blocks=(2, 2, 2)), 'stage_blocks must have 4 entries'),
    (dict(depth=18, stage_blocks=(2, 0, 2, 2)), r'stage_blocks\[1\]=0: stage 2'),
    (dict(depth=18, max_stage_blocks=(3, 3, 3, 3), stage_blocks=(2, 2, 4, 2)), r'stage_blocks\[2\]=4: stage 3'),
    (dict(depth=18, max_stage_blocks=(3, 0, 3, 3)), r'max_stage_blocks\[1\]=0'),
    (dict(depth=18, dilations_per_block=[1] * 7), 'dilations_per_block must have 8 entries'),
    (dict(depth=18, dilations_per_block=[1] * 7 + [0]), r'dilations_per_block\[7\]=0'),
    (dict(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), dilations_per_block=[1] * 16),
     r'dilations_per_block\[13\]=1 conflicts with dilations\[3\]=2'),
    (dict(depth=18, num_stages=5), 'num_stages=5'),
])
def test_resnet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CRResNet(**kwargs)


def test_mobilenet_v2_bad_arguments():
    with pytest.raises(ValueError, match='stage_blocks must have 7 entries'):
        CRMobileNetV2(stage_blocks=(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r'stage_blocks\[6\]=0: stage 7'):
        CRMobileNetV2(stage_blocks=(1, 2, 3, 4, 3, 3, 0))


@pytest.mark.parametrize('method,value,match', [
    ('set_allocation', (2, 2, 2), 'stage_blocks must have 4 entries'),
    ('set_allocation', (2, 0, 2, 2), r'stage_blocks\[1\]=0: stage 2'),
    ('set_allocation', (2, 2, 2, 4), r'stage_blocks\[3\]=4: stage 4 was built with only 3'),
    ('set_allocation', 'abcd', 'must be a sequence'),
    ('set_dilations', [1] * 11, 'dilations must have 12 entries'),
    ('set_dilations', [1] * 11 + [0], r'dilations\[11\]=0'),
    ('set_dilations', [1.5] * 12, 'must contain ints'),
])
def test_supernet_setters_reject_bad_values(method, value, match):
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3))
    with pytest.raises(ValueError, match=match):
        getattr(net, method)(value)
    # A rejected call changes nothing.
    assert net.active_stage_blocks == (3, 3, 3, 3)
    assert net.active_dilations == (1,) * 12


def test_registered_in_automl_mm_and_reachable_from_mmdet_scope():
    from mmdet.registry import MODELS as MMDET_MODELS

    net = MODELS.build(dict(type='CRResNet', depth=18, stage_blocks=(1, 1, 1, 1)))
    assert isinstance(net, CRResNet) and net.built_stage_blocks == (1, 1, 1, 1)
    net = MMDET_MODELS.build(dict(type='automl_mm.CRMobileNetV2', stage_blocks=(1, 1, 1, 1, 1, 1, 1)))
    assert isinstance(net, CRMobileNetV2) and net.num_active_blocks == 7


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
    by mmengine's FlopAnalyzer as the loop counts it (eval mode, 224 x 224 here)."""
    from automl_mm.nas.latency import count_flops
    from automl_mm.nas.spaces import StageAllocationSpace

    space = StageAllocationSpace(choices, total)
    allocations = [tuple(space.values(p)) for p in space.completions(())] if edges is None else edges
    assert all(sum(a) == total and space.path_of(a) is not None for a in allocations)
    net = CRResNet(depth=depth, max_stage_blocks=max_blocks, stage_blocks=reference)
    net.eval()
    shape = (1, 3, 224, 224)
    ref = count_flops(net, shape)
    for allocation in allocations:
        net.set_allocation(allocation)
        flops = count_flops(net, shape)
        assert abs(flops / ref - 1) < 0.01, allocation
        # the supernet counts its active blocks only: the plain network of the allocation counts the same
        plain = CRResNet(depth=depth, stage_blocks=allocation)
        plain.eval()
        assert count_flops(plain, shape) == flops, allocation


_DCN = dict(type='DCN', deform_groups=1, fallback_on_stride=False)


_GC = dict(cfg=dict(type='ContextBlock', ratio=1 / 16), position='after_conv3')


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=50, dcn=_DCN, stage_with_dcn=(False, True, True)),
     r'stage_with_dcn must have one bool per stage \(4\)'),
    (dict(depth=50, num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2), dilations=(1, 1, 1), dcn=_DCN),
     r'stage_with_dcn must have one bool per stage \(3\)'),
    (dict(depth=50, plugins=[dict(cfg=dict(type='ContextBlock', ratio=1 / 16), stages=(False, True, True),
                                  position='after_conv3')]), r'plugins\[0\]\.stages must have one bool per stage'),
    (dict(depth=50, style='tf'), "CRResNet style must be 'pytorch'"),
    (dict(depth=18, dcn=_DCN, stage_with_dcn=(False, True, True, True)), 'CRResNet dcn needs Bottleneck blocks'),
    # mmdet: 'Not implemented yet.', a bare assert, KeyError: 'position', AttributeError on a dict's key
    (dict(depth=18, plugins=[_GC]), r'CRResNet plugins need Bottleneck blocks \(depth 50, 101 or 152\).*depth 18'),
    (dict(depth=34, plugins=[]), r'CRResNet plugins need Bottleneck blocks .*\(plugins=None\), got \[\]'),
    (dict(depth=50, plugins=[_GC, dict(_GC, position='after_conv4')]),
     r"CRResNet plugins\[1\]\.position must be one of \('after_conv1', 'after_conv2', 'after_conv3'\).*'after_conv4'"),
    (dict(depth=50, plugins=[dict(cfg=_GC['cfg'])]), r'CRResNet plugins\[0\]\.position must be one of .*got None'),
    (dict(depth=50, plugins=_GC), 'CRResNet plugins must be a list of dicts'),
    (dict(depth=50, plugins=[dict(_GC, cfg='ContextBlock')]), r'CRResNet plugins\[0\] must be a dict with a cfg dict'),
    # mmdet: by truth value, 'False' put a deformable conv / a plugin in stage 1
    (dict(depth=50, dcn=_DCN, stage_with_dcn=('False', True, True, True)),
     r"stage_with_dcn\[0\] must be True or False \(one bool per stage\), got 'False'"),
    (dict(depth=50, plugins=[dict(_GC, stages=(0, 1, 1, 1))]), r'plugins\[0\]\.stages\[0\] must be True or False'),
    # mmdet: 'AssertionError: duplicate plugin context_block'
    (dict(depth=50, plugins=[dict(_GC, stages=(True, True, False, False)), dict(_GC, position='after_conv2')]),
     r"CRResNet plugins\[0\] and plugins\[1\] both add 'context_block' to the blocks of stage 1: give one of them "
     r"another cfg.postfix"),
])
def test_cr_resnet_per_stage_options_name_the_key(kwargs, match):
    """mmdet's ResNet checks these with bare asserts: an AssertionError with no message (or 'Not implemented yet.')
    naming neither the key nor the number of stages."""
    with pytest.raises(ValueError, match=match):
        CRResNet(**kwargs)


def test_cr_resnet_stage_with_dcn_is_not_checked_without_a_dcn():
    """As in mmdet, ``stage_with_dcn`` means nothing without a ``dcn`` (its 4-entry default with num_stages=3)."""
    net = CRResNet(depth=50, num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2), dilations=(1, 1, 1),
                   stage_with_dcn=(False, True, True, True))
    assert net.out_channels == (256, 512, 1024)
    ok = CRResNet(depth=50, dcn=_DCN, stage_with_dcn=(np.bool_(False), True, True, True))
    assert [hasattr(getattr(ok, f'layer{i}')[0].conv2, 'conv_offset') for i in (1, 2, 3, 4)] == [
        False, True, True, True]


@pytest.mark.parametrize('cls, kwargs, key', [
    (CRResNet, dict(depth=18, avg_down='False'), 'CRResNet avg_down'),
    (CRResNet, dict(depth=18, deep_stem='False'), 'CRResNet deep_stem'),
    (CRResNet, dict(depth=18, with_cp='False'), 'CRResNet with_cp'),
    (CRMobileNetV2, dict(with_cp='False'), 'CRMobileNetV2 with_cp'),
])
def test_structural_switches_refuse_strings(cls, kwargs, key):
    """mmdet reads these switches by truth value: ``avg_down='False'`` (a config written with quotes) built the
    average-pool shortcuts, whose keys are the plain ones, so an ImageNet file loaded into another network without
    a word; ``deep_stem='False'`` built the deep stem, ``with_cp='False'`` checkpointed every block."""
    with pytest.raises(ValueError, match=f"{key} must be True or False, got 'False'"):
        cls(**kwargs)


@pytest.mark.parametrize('kwargs', [dict(avg_down=True, deep_stem=True, with_cp=np.bool_(True)),
                                    dict(avg_down=False, deep_stem=False, with_cp=False)])
def test_structural_switches_as_bools_build_mmdet_resnet(kwargs):
    ref = _randomize(ResNet(depth=50, **kwargs))
    net = CRResNet(depth=50, **kwargs)
    assert net.avg_down is net.deep_stem is net.with_cp is kwargs['avg_down']
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 32, 32))


def test_cr_resnet_plugins_at_every_position_build_mmdet_resnet():
    """The plugins the check admits build mmdet's network (a ContextBlock after each of the three convs, on stages 2-4
    for one of them)."""
    plugins = [dict(_GC, cfg=dict(_GC['cfg'], postfix=str(i)), position=p) for i, p in
               enumerate(('after_conv1', 'after_conv2'))] + [dict(_GC, stages=(False, True, True, True))]
    ref = _randomize(ResNet(depth=50, plugins=plugins))
    net = CRResNet(depth=50, plugins=plugins)
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(1, 3, 32, 32))


def test_an_own_override_entry_reaches_the_whole_named_stage(tmp_path, caplog):
    """An own init_cfg entry with override=dict(name='layer2', ...): mmengine initialises the named module whole
    (every module inside it, wholemodule=True), so layer2.2's convs keep its Normal draw (std 0.2), as mmdet's ResNet
    keeps it; layers_reached took the named module alone, and the CR init drew Kaiming over it (std 0.042)."""
    from mmengine.model import BaseModule

    path = str(tmp_path / 'file.pth')
    std = ResNet(depth=18)
    torch.save(std.state_dict(), path)
    net = CRResNet(depth=18, stage_blocks=(1, 3, 2, 2), out_indices=(3,), init_cfg=[
        dict(type='Pretrained', checkpoint=path),
        dict(type='Normal', layer='Linear', std=0.01, override=dict(type='Normal', name='layer2', std=0.2))])
    assert isinstance(net, BaseModule)
    logged = _pretrained_log(net, caplog)
    extra = net.get_submodule('layer2.2')
    for name, conv in [(n, m) for n, m in extra.named_modules() if isinstance(m, torch.nn.Conv2d)]:
        assert abs(float(conv.weight.std()) - 0.2) < 0.02, name
    assert len(logged) == 1 and "where the init_cfg's other entries do not reach" in logged[0]
    assert "parent's init_cfg entry" not in logged[0]
