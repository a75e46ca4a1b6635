"""The blocks beyond the standard count train under a ``norm_cfg`` with ``requires_grad=False`` (mmdet's
caffe-style detector configs): no checkpoint gives them a BN affine to keep."""
import copy

import pytest
import torch
import torchvision
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.models import CRMobileNetV2, CRResNet

FROZEN_BN = dict(type='BN', requires_grad=False)


def _r18(tmp_path, **kw):
    path = str(tmp_path / 'r18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return CRResNet(depth=18, norm_cfg=FROZEN_BN, norm_eval=True, style='caffe',
                    init_cfg=dict(type='Pretrained', checkpoint=path), **kw)


def _mbv2(tmp_path, **kw):
    path = str(tmp_path / 'mbv2.pth')
    torch.save(CRMobileNetV2(widen_factor=0.25).state_dict(), path)
    return CRMobileNetV2(widen_factor=0.25, norm_cfg=FROZEN_BN, norm_eval=True,
                         init_cfg=dict(type='Pretrained', checkpoint=path), **kw)


@pytest.mark.parametrize('make, kwargs', [(_r18, dict(max_stage_blocks=(3, 3, 3, 3))),
                                          (_r18, dict(stage_blocks=(1, 3, 1, 3), frozen_stages=1)),
                                          (_mbv2, dict(max_stage_blocks=(1, 3, 3, 5, 3, 3, 1)))])
def test_unfilled_blocks_learn_under_frozen_norm_layers(tmp_path, make, kwargs):
    """With the frozen zero weight of their last norm (zero_init_residual) they stayed the identity for good: no
    gradient reached any of their parameters (seen on a CR-ResNet-18 supernet: conv grads exactly 0)."""
    net = make(tmp_path, **kwargs)
    net.init_weights()
    net.train()
    unfilled = net.unfilled_blocks()
    assert unfilled
    x = torch.rand(2, 3, 64, 64)
    sum(o.sum() for o in net(x)).backward()
    for block in unfilled:
        last = net._residual_last_norm(block)
        assert float(last.weight.abs().sum()) == 0  # still the identity start
        assert all(p.requires_grad for p in block.parameters())
        assert last.weight.grad is not None and float(last.weight.grad.abs().sum()) > 0  # and it can leave it
    # the standard blocks keep the config's frozen affine
    filled = {id(m) for b in unfilled for m in b.modules()}
    norms = [m for m in net.modules() if isinstance(m, _BatchNorm) and id(m) not in filled]
    assert norms and not any(p.requires_grad for m in norms for p in m.parameters())


def test_after_one_step_an_unfilled_block_is_no_longer_the_identity(tmp_path):
    net = _r18(tmp_path, max_stage_blocks=(3, 2, 2, 2))
    net.init_weights()
    net.train()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    block = net.layer1[2]
    x = torch.rand(2, 3, 64, 64)
    sum(o.square().mean() for o in net(x)).backward()
    opt.step()
    h = torch.rand(2, 64, 16, 16)
    assert not torch.allclose(block(h), torch.relu(h))  # identity: relu(0 + h)


@pytest.mark.parametrize('cls, kwargs', [
    (CRResNet, dict(depth=18, stage_blocks=(1, 3, 2, 3), frozen_stages=2)),
    (CRMobileNetV2, dict(widen_factor=0.25, stage_blocks=(1, 3, 3, 4, 3, 3, 2), frozen_stages=2)),
])
def test_blocks_a_pretrained_file_fills_are_frozen_and_keep_bn_eval(tmp_path, cls, kwargs):
    """A reallocated network loading its own checkpoint (the file holds every block, the extra ones included):
    the extra blocks kept training under frozen_stages and their BN layers left eval mode under norm_eval at
    every train(), moving the file's statistics and affine. Now they are frozen / in eval mode as mmdet's
    standard blocks; the norm_cfg's requires_grad=False applies to their BN affine again."""
    path = str(tmp_path / 'own.pth')
    torch.save(cls(**kwargs).state_dict(), path)
    net = cls(**kwargs, norm_cfg=FROZEN_BN, norm_eval=True, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    extra = net.unfilled_blocks()
    assert len(extra) == 2  # stage 2's third block and the last stage's extra block
    for _ in range(2):  # the runner calls train() every epoch
        net.train()
        assert not any(m.training for m in net.modules() if isinstance(m, _BatchNorm))
        frozen_stage_block = extra[0]
        assert not any(p.requires_grad for p in frozen_stage_block.parameters())
        later = extra[1]
        assert all(p.requires_grad for p in later.parameters() if p.dim() == 4)  # its convs train
        assert not any(p.requires_grad for m in later.modules() if isinstance(m, _BatchNorm)
                       for p in m.parameters())


@pytest.mark.parametrize('cls, kwargs', [
    (CRResNet, dict(depth=18, stage_blocks=(1, 3, 2, 2), frozen_stages=2)),
    (CRMobileNetV2, dict(widen_factor=0.25, stage_blocks=(1, 3, 3, 4, 3, 3, 1), frozen_stages=2)),
])
def test_a_copy_keeps_the_blocks_a_pretrained_file_filled_frozen(tmp_path, cls, kwargs):
    """A copy of the network (copy.deepcopy: mmengine's ExponentialMovingAverage, a teacher / student pair) is the
    same network: stage 2's third block, filled by the file, stays frozen with BN in eval mode at the copy's train().
    The mark was the block's id() on the network, which named the original's blocks: the copy's train() put that
    block's BN layers in train mode (moving the file's statistics)."""
    from mmengine.model import ExponentialMovingAverage

    path = str(tmp_path / 'own.pth')
    torch.save(cls(**kwargs).state_dict(), path)
    net = cls(**kwargs, norm_eval=True, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    copies = [copy.deepcopy(net), ExponentialMovingAverage(net).module]
    for other in copies:
        other.train()
        block = other.layer2[2]
        bns = [m for m in block.modules() if isinstance(m, _BatchNorm)]
        assert bns and not any(m.training for m in bns)
        assert not any(p.requires_grad for p in block.parameters())
        assert other.unfilled_blocks()[0] is block and other._exempt_blocks() == other.unfilled_blocks()[1:]
