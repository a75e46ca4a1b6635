"""``init_weights`` initialises a backbone once, as mmengine's does: a second call (mmengine warns) changes nothing."""
import torch
import torchvision

from automl_mm.models import CRMobileNetV2, CRResNet


def _fill_(module, value):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)


def test_a_second_init_weights_keeps_what_the_unfilled_blocks_learnt(tmp_path):
    """The CR mixin re-ran its from-scratch init of the blocks beyond the standard count on every call: their
    learnt weights went back to the identity (zero last BN) while mmengine kept every other weight."""
    path = str(tmp_path / 'r18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), path)
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    assert float(net.layer1[2].bn2.weight.abs().sum()) == 0  # the first call: identity start
    _fill_(net.layer1[2], 0.5)  # "trained"
    _fill_(net.layer1[0], 0.25)
    net.init_weights()
    assert all(bool((p == 0.5).all()) for p in net.layer1[2].parameters())
    assert all(bool((p == 0.25).all()) for p in net.layer1[0].parameters())


def test_a_second_init_weights_of_a_mobilenet_supernet_changes_nothing(tmp_path):
    path = str(tmp_path / 'mbv2.pth')
    torch.save(CRMobileNetV2(widen_factor=0.25).state_dict(), path)  # mmdet's layout
    net = CRMobileNetV2(widen_factor=0.25, max_stage_blocks=(1, 3, 3, 5, 3, 3, 1),
                        init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    _fill_(net, 0.5)
    net.init_weights()
    assert all(bool((p == 0.5).all()) for p in net.parameters())
