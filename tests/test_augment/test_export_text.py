"""The exported FixedAutoAugment config is written as Python text (final_policy.py): it must read back as the same
elements, whatever form the elements were given in."""
from __future__ import annotations

import ast
import pprint

import numpy as np

from automl_mm.augment import FixedAutoAugment, OHLAutoAugment
from automl_mm.augment.ops import Invert, Rotate


def test_elements_given_as_classes_are_exported_by_their_registered_names():
    """An element built from the class (``dict(type=Rotate, ...)``, ``(Invert, None)``, as the Python API allows)
    was exported as ``<class 'automl_mm.augment.ops.Rotate'>``: final_policy.py held text that is not Python."""
    t = OHLAutoAugment(elements=[dict(type=Rotate, magnitude=10, fill=0), (Invert, None), ('Posterize', 4.4)])
    probs = np.arange(1, 10) / 45
    text = pprint.pformat(t.export_cfg(probs.tolist()))
    cfg = ast.literal_eval(text)  # raised SyntaxError on the class repr
    replay = FixedAutoAugment(**{k: v for k, v in cfg.items() if k != 'type'})
    names = [e.name for e in replay.elements]
    assert names == [e.name for e in t.elements] == ['Rotate(10)', 'Invert', 'Posterize(4.4)']
    assert replay.elements[0].fill == 0
    np.testing.assert_array_equal(replay.fixed_probs, t.export_cfg(probs.tolist())['probs'])
