"""A ``Pretrained`` file that holds the backbone under a prefix (an mmcls / mmpretrain classifier's or an mmdet
detector's checkpoint: ``backbone.conv1.weight``) is refused with the ``prefix`` to set."""
import pytest
import torch
import torchvision

from automl_mm.models import CRResNet, ResNet


def _whole_model_file(tmp_path, state, prefix='backbone.'):
    path = str(tmp_path / 'whole.pth')
    torch.save({'state_dict': {prefix + k: v for k, v in state.items()}, 'meta': {}}, path)
    return path


@pytest.mark.parametrize('make, state', [
    (lambda **kw: CRResNet(depth=18, **kw), lambda: torchvision.models.resnet18().state_dict()),
    (lambda **kw: CRResNet(depth=18, max_stage_blocks=(3, 2, 2, 2), **kw),
     lambda: torchvision.models.resnet18().state_dict()),
    (lambda **kw: ResNet(depth=18, base_channels=8, **kw), lambda: ResNet(depth=18, base_channels=8).state_dict()),
])
def test_a_whole_model_checkpoint_names_the_prefix_to_set_and_loads_with_it(tmp_path, make, state):
    path = _whole_model_file(tmp_path, state())
    net = make(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"Its keys start with 'backbone\.'.*add prefix='backbone\.'"):
        net.init_weights()
    net = make(init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    net.init_weights()  # loads
    first = next(iter(state()))
    assert first in net.state_dict()


def test_no_prefix_hint_for_a_file_of_another_network(tmp_path):
    """A ResNet-50 file under ``backbone.`` does not fill a ResNet-18: no prefix would; the hint is not given."""
    path = _whole_model_file(tmp_path, torchvision.models.resnet50().state_dict())
    with pytest.raises(ValueError, match='does not fill') as err:
        CRResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()
    assert 'add prefix' not in str(err.value)
