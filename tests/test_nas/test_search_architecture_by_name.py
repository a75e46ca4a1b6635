"""A PC-NAS search's final checkpoint names its architecture by operator, not by option index.

``checkpoint['nas_search']['architecture']`` held ``['set_path', [1, 0, 1, 2]]``: option indices into the search
config's ``ops`` order. The weights are keyed by operator name (``layers.{i}.ops.{op}``, a ``skip`` holds none), so a
config listing the same operators in another order (``model.backbone.ops``) loaded every weight of the checkpoint
and ``SearchedArchitectureHook`` (``tools/test.py``, a stock runner's ``test()`` with ``load_from``) ran the indices
on it: another architecture than the searched one, tested without a word (the resume of such a checkpoint is
refused since efb0f59; the test path was the same kind, unchecked).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas import PCNASLoop, apply_searched_architecture


class _Model(nn.Module):
    def __init__(self, **backbone) -> None:
        super().__init__()
        self.backbone = MBConvSupernet(space='digits', **backbone)


def _final_checkpoint(model: _Model) -> dict:
    """What PCNASLoop.finish saves: the weights and the architecture calls of the path the supernet runs."""
    calls = PCNASLoop.architecture_calls(SimpleNamespace(supernet=model.backbone))
    return {'state_dict': model.state_dict(), 'nas_search': {'architecture': calls}}


def test_the_searched_operators_run_under_another_order_of_the_same_ops():
    searched = _Model()  # ops ('k3e3', 'k5e6', 'skip')
    searched.backbone.set_path([1, 0, 1, 2])
    names = searched.backbone.arch_names()
    assert names == ['k5e6', 'k3e3', 'k5e6', 'skip']
    checkpoint = _final_checkpoint(searched)
    tested = _Model(ops=('k5e6', 'k3e3', 'skip'))  # the same modules and weight names, listed in another order
    assert set(tested.state_dict()) == set(checkpoint['state_dict'])
    tested.load_state_dict(checkpoint['state_dict'])
    assert apply_searched_architecture(tested, checkpoint)
    assert tested.backbone.arch_names() == names  # the indices [1, 0, 1, 2] ran k3e3 k5e6 k3e3 skip
    # the same order tests the same path, as before
    same = _Model()
    same.load_state_dict(checkpoint['state_dict'])
    apply_searched_architecture(same, checkpoint)
    assert same.backbone.path == (1, 0, 1, 2)


def test_an_operator_the_tested_supernet_lacks_is_named():
    searched = _Model()
    searched.backbone.set_path([0, 0, 1, 2])
    checkpoint = _final_checkpoint(searched)
    tested = _Model(ops=('k3e3', 'k5e6'))  # no skip: no weights, so the same keys, but no such candidate
    assert set(tested.state_dict()) == set(checkpoint['state_dict'])
    with pytest.raises(ValueError, match=r"checkpoint's architecture \(set_arch \['k3e3', 'k3e3', 'k5e6', 'skip'\]\) "
                                         r"does not fit this model's supernet \(MBConvSupernet\): .*layer 3.*'skip'"
                                         r".*\['k3e3', 'k5e6'\]"):
        apply_searched_architecture(tested, checkpoint)


def test_a_checkpoint_of_option_indices_still_applies():
    """Final checkpoints written before the operators were named (``['set_path', indices]``)."""
    model = _Model()
    checkpoint = {'state_dict': model.state_dict(), 'nas_search': {'architecture': [['set_path', [2, 1, 0, 2]]]}}
    apply_searched_architecture(model, checkpoint)
    assert model.backbone.path == (2, 1, 0, 2)


def test_the_architecture_applies_inside_a_model_wrapper_around_a_tta_wrapper():
    """A distributed ``tools/test.py --tta`` tests DDP(DetTTAModel(model)) (here torch's DataParallel, a model
    wrapper to mmengine, around mmengine's BaseTTAModel): one level unwrapped compared the TTA wrapper's
    ``module.``-prefixed keys with the checkpoint's, took the model for another network, and tested the path the
    config builds, silently."""
    from mmengine.model import BaseTTAModel

    class TTA(BaseTTAModel):
        def merge_preds(self, data_samples_list):
            return data_samples_list[0]

    class Tested(_Model):
        def test_step(self, data):  # what BaseTTAModel requires of its module
            return []

    searched = _Model()
    searched.backbone.set_path([1, 0, 1, 2])
    checkpoint = _final_checkpoint(searched)
    tested = Tested()
    wrapped = nn.DataParallel(TTA(module=tested), device_ids=[])
    assert apply_searched_architecture(wrapped, checkpoint) == [['set_arch', ['k5e6', 'k3e3', 'k5e6', 'skip']]]
    assert tested.backbone.path == (1, 0, 1, 2)
