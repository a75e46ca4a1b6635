"""An ImageClassifier whose head does not take the width of the backbone's last map is refused when it is built."""
import pytest
import torch

from automl_mm.models import ImageClassifier


@pytest.mark.parametrize('backbone, width', [
    (dict(type='ResNet', depth=50, stem='cifar', base_channels=8, out_indices=(3, )), 256),  # depth=50 over R-18
    (dict(type='CRResNet', depth=18, base_channels=8, out_indices=(1, 3)), 64),
    (dict(type='SimpleConvNet', channels=(8, 16)), 16),
    (dict(type='MBConvSupernet', space='digits'), 64),
    (dict(type='WideResNet', depth=10, widen_factor=1), 64),
])
@pytest.mark.parametrize('head_type', ['LinearClsHead', 'CosineLinearClsHead'])
def test_a_head_of_another_width_is_refused_at_build_naming_the_key(backbone, width, head_type):
    """It failed only at the first forward: "mat1 and mat2 shapes cannot be multiplied (2x256 and 512x10)"."""
    head = dict(type=head_type, num_classes=3, in_channels=width * 2)
    with pytest.raises(ValueError, match=rf'model.head.in_channels={width * 2} but .* returns {width} channels'):
        ImageClassifier(backbone=backbone, head=head)
    model = ImageClassifier(backbone=backbone, head=dict(head, in_channels=width))
    assert model(torch.zeros(2, 3, 16, 16), mode='tensor').shape == (2, 3)


def test_a_backbone_that_does_not_declare_its_widths_is_not_checked():
    """mmdet's ResNet has no ``out_channels``: built as before (a wrong head fails at the forward, as in mmdet)."""
    model = ImageClassifier(backbone=dict(type='mmdet.ResNet', depth=18, out_indices=(3, )),
                            head=dict(type='LinearClsHead', num_classes=3, in_channels=512))
    assert model.eval()(torch.zeros(1, 3, 32, 32), mode='tensor').shape == (1, 3)
