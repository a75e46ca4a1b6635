"""CR-NAS backbones under a Pretrained init_cfg: an mmdet-layout file fills the stem and the standard blocks, a file
in another layout is refused at init, the blocks the file does not fill start as the identity (or keep the draw of
the init_cfg's other entries / a parent's entry), and the fill is logged."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from tests.test_models._cr_backbones import _assert_same_outputs, _randomize


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


# (make_std, make_cr, kwargs, block): a reallocated network whose one block beyond the standard count is ``block``
_ONE_UNFILLED_BLOCK = [
    (lambda: ResNet(depth=18), lambda **kw: CRResNet(depth=18, **kw), dict(stage_blocks=(1, 3, 2, 2)), 'layer2.2'),
    (lambda: MobileNetV2(widen_factor=0.5), lambda **kw: CRMobileNetV2(widen_factor=0.5, **kw),
     dict(stage_blocks=(1, 2, 4, 4, 3, 3, 1)), 'layer3.3'),
]


def _filled_beside(other: dict, tmp_path, caplog, make_std, make_cr, kwargs, block):
    """``make_cr(**kwargs)`` under init_cfg=[Pretrained(make_std()'s file), other], initialised: the network, its one
    block the file does not fill (``block``, asserted the only one) and the fill's log lines (_pretrained_log)."""
    path = str(tmp_path / 'file.pth')
    torch.save(make_std().state_dict(), path)
    net = make_cr(init_cfg=[dict(type='Pretrained', checkpoint=path), other], **kwargs)
    logged = _pretrained_log(net, caplog)
    extra = net.get_submodule(block)
    assert net.unfilled_blocks() == [extra]
    return net, extra, logged


def _assert_starts_as_identity_beside_other_entries(net, extra, logged, block) -> None:
    """The unfilled block's residual branch ends in a zero BN weight (zero_init_residual: the identity), and the one
    fill line names it as initialised where the init_cfg's other entries do not reach."""
    assert float(net._residual_last_norm(extra).weight.abs().sum()) == 0
    assert len(logged) == 1
    assert ("not in the file, from mmdet's from-scratch init where the init_cfg's other entries do not reach, each "
            f'starting as the identity (zero_init_residual): {block}') in logged[0]


@pytest.mark.parametrize('make_std,make_cr,kwargs,block', _ONE_UNFILLED_BLOCK)
def test_unfilled_blocks_keep_the_init_cfg_s_other_entries(tmp_path, caplog, make_std, make_cr, kwargs, block):
    """init_cfg=[Pretrained, Normal(Conv2d, std=0.01)]: mmengine applies the Normal entry to every conv before
    loading the file, and mmdet's ResNet keeps it where the file has nothing. The CR init of the blocks the file
    does not hold overwrote it with Kaiming (layer2.2's convs at std 0.042 instead of 0.01); it is kept now, and the
    block still starts as the identity (zero_init_residual)."""
    net, extra, logged = _filled_beside(dict(type='Normal', layer='Conv2d', std=0.01), tmp_path, caplog,
                                        make_std, make_cr, kwargs, block)
    for name, conv in extra.named_modules():
        if isinstance(conv, torch.nn.Conv2d) and conv.weight.numel() > 500:
            assert abs(float(conv.weight.std()) - 0.01) < 0.002, name
    _assert_starts_as_identity_beside_other_entries(net, extra, logged, block)


@pytest.mark.parametrize('make_std,make_cr,kwargs,block', _ONE_UNFILLED_BLOCK)
def test_unfilled_blocks_get_the_scratch_init_where_the_other_entries_do_not_reach(tmp_path, caplog, make_std,
                                                                                      make_cr, kwargs, block):
    """init_cfg=[Pretrained, Constant(layer='_BatchNorm', val=1)]: the other entry reaches no conv, so mmengine
    left the convs of the blocks the file does not hold at PyTorch's default (kaiming_uniform, a=sqrt(5): std
    1/sqrt(3 fan_in), 0.017 for layer2.2's 3x3 128-channel convs); they get mmdet's from-scratch Kaiming (fan_out,
    normal: std sqrt(2 / fan_out), 0.042 there), as without other entries, and the BN layers the entry reaches keep
    its value. Until the forty-seventh session's review any other entry turned the whole scratch init off.
    (CRMobileNetV2's convs are mmcv ConvModules, which take that Kaiming when built: there only the log differed.)"""
    net, extra, logged = _filled_beside(dict(type='Constant', layer='_BatchNorm', val=1), tmp_path, caplog,
                                        make_std, make_cr, kwargs, block)
    convs = [(n, m) for n, m in extra.named_modules() if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 500]
    assert convs
    for name, conv in convs:
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        assert float(conv.weight.std()) == pytest.approx((2 / fan_out) ** 0.5, rel=0.15), name
    last = net._residual_last_norm(extra)
    for m in extra.modules():
        if isinstance(m, _BatchNorm) and m is not last:
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
    _assert_starts_as_identity_beside_other_entries(net, extra, logged, block)


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
