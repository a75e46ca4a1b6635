"""Widths, block counts and dropout of the automl_mm backbones are checked at construction, naming the argument
(they failed inside torch, some only at the first forward, or built another network silently)."""
import pytest
import torch

from automl_mm.models import ResNet, SimpleConvNet, WideResNet


@pytest.mark.parametrize('make, match', [
    (lambda: WideResNet(depth=10, widen_factor=0), r'WideResNet widen_factor must be an int >= 1, got 0'),
    (lambda: WideResNet(depth=10, widen_factor=2.5), r'WideResNet widen_factor must be an int >= 1, got 2.5'),
    (lambda: WideResNet(depth=10, widen_factor=1, dropout=1.5), r'WideResNet dropout must be in \[0, 1\), got 1.5'),
    (lambda: WideResNet(depth=10, widen_factor=1, dropout=-0.1), r'dropout must be in \[0, 1\), got -0.1'),
    (lambda: SimpleConvNet(channels=(8, 0)), r'SimpleConvNet channels\[1\] must be an int >= 1, got 0'),
    (lambda: SimpleConvNet(channels=(8, 4.5)), r'SimpleConvNet channels\[1\] must be an int >= 1, got 4.5'),
    (lambda: ResNet(depth=18, base_channels=0), r'ResNet base_channels must be an int >= 1, got 0'),
    (lambda: ResNet(depth=18, stage_blocks=(2, 0, 2, 2)), r'ResNet stage_blocks\[1\] must be an int >= 1, got 0'),
    (lambda: ResNet(depth=18, stage_blocks=(2, 2.5, 2, 2)), r'ResNet stage_blocks\[1\] must be an int >= 1'),
])
def test_bad_sizes_are_refused_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_zero_block_stage_is_not_built_with_one_block():
    """ResNet built stage_blocks=(2, 0, 2, 2) as (2, 1, 2, 2) without a word; the counts it builds are the ones
    given."""
    net = ResNet(depth=18, stem='cifar', stage_blocks=(1, 3, 1, 2), base_channels=8)
    assert [len(stage) for stage in net.res_layers] == [1, 3, 1, 2]
    assert net(torch.zeros(1, 3, 16, 16))[-1].shape == (1, 64, 2, 2)
