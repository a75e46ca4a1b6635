"""The exported FixedAutoAugment config is written as Python text (final_policy.py): it must read back as the same
elements, whatever form the elements were given in."""
from __future__ import annotations

import ast
import pprint

import numpy as np
from mmengine.registry import DefaultScope

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


def test_random_choice_sub_transforms_given_as_classes_are_exported_by_scoped_names():
    """The same for ``OHLRandomChoice``: ``dict(type=RandomFlip, ...)`` (mmcv's class) was exported as its class
    repr. It is exported by its scoped name (mmcv registers into mmengine's root: ``'mmengine.RandomFlip'``),
    which every default scope resolves, nested lists included."""
    from mmcv.transforms import RandomApply, RandomFlip

    from automl_mm.augment import OHLRandomChoice

    choice = OHLRandomChoice([[dict(type=RandomFlip, prob=1.0)],
                              [dict(type=RandomApply, prob=1.0, transforms=[dict(type=RandomFlip, prob=1.0,
                                                                                 direction='vertical')])]], key='c')
    cfg = ast.literal_eval(pprint.pformat(choice.export_cfg([0.5, 0.5])))
    assert cfg['transforms'][0][0]['type'] == cfg['transforms'][1][0]['transforms'][0]['type'] == 'mmengine.RandomFlip'
    with DefaultScope.overwrite_default_scope('mmdet'):  # as in a stock mmdet config
        replay = OHLRandomChoice(**{k: v for k, v in cfg.items() if k != 'type'})
    assert type(replay.pipelines[0].transforms[0]) is RandomFlip
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for index, expected in ((0, img[:, ::-1]), (1, img[::-1])):
        out = replay.apply_choice(dict(img=img.copy(), img_shape=(3, 4)), index, np.random.default_rng(0))
        np.testing.assert_array_equal(out['img'], expected)
