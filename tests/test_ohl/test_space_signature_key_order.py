"""A space's signature (saved in OHL checkpoints, compared on ``--resume``) does not depend on the order of the
keys in its config: the local launcher's workers read the config as mmengine's ``Config.dump``
writes with sorted keys, while ``tools/train.py`` checks the resume against the user's file, so
``tools/train.py configs/ohl/ohl_convnet_1x4_12e_digits.py --resume`` was refused ('theta would load onto other
choices') for the same config."""
from mmengine.config import Config

from automl_mm.augment.choice import OHLRandomChoice
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.utils.checks import config_repr

CHOICES = [[], [dict(type='mmcv.RandomFlip', prob=1.0, direction='horizontal')],
           [dict(type='RandomCrop', crop_size=32, padding=3)],
           [dict(type='mmcv.Resize', scale=(32, 32), keep_ratio=False)]]


def test_choice_signature_same_after_config_dump(tmp_path):
    path = tmp_path / 'c.py'
    Config(dict(choices=CHOICES)).dump(str(path))
    dumped = Config.fromfile(str(path)).choices  # keys sorted by the dump, ConfigDicts
    assert OHLRandomChoice(transforms=dumped, key='aug').choice_signature() == \
        OHLRandomChoice(transforms=CHOICES, key='aug').choice_signature()


def test_choice_signature_still_tells_other_choices_apart():
    swapped = [CHOICES[0], CHOICES[2], CHOICES[1]]
    other = [[], [dict(type='mmcv.RandomFlip', prob=1.0, direction='vertical')], CHOICES[2]]
    sig = OHLRandomChoice(transforms=CHOICES, key='aug').choice_signature()
    assert OHLRandomChoice(transforms=swapped, key='aug').choice_signature() != sig
    assert OHLRandomChoice(transforms=other, key='aug').choice_signature() != sig


def test_attribute_space_signature_ignores_key_order():
    def space(choices):
        return AttributeSpace(target='model.head.loss_module.cfg', choices=choices,
                              distribution=dict(type='Categorical'))
    assert space([dict(a=1, b=2), dict(a=3, b=4)]).signature() == space([dict(b=2, a=1), dict(b=4, a=3)]).signature()
    assert space([dict(a=1, b=2), dict(a=3, b=4)]).signature() != space([dict(a=3, b=4), dict(a=1, b=2)]).signature()


def test_config_repr():
    assert config_repr({'b': 1, 'a': [{'d': (1, 2), 'c': 0}]}) == "{'a': [{'c': 0, 'd': (1, 2)}], 'b': 1}"
    assert config_repr([1]) != config_repr((1,))


def test_a_checkpoint_signature_in_the_old_key_order_is_the_same_space():
    """Checkpoints saved before config_repr hold the repr in the order their process read (a torchrun run: the
    file's own); the resume compares them with the keys sorted (same_signature), so they still resume."""
    from automl_mm.utils.checks import same_signature
    now = repr(('PipelineChoiceSpace', 'aug', OHLRandomChoice(transforms=CHOICES, key='aug').choice_signature()))
    old = repr(('PipelineChoiceSpace', 'aug', ('OHLRandomChoice', repr(CHOICES))))  # the file's key order
    assert old != now and same_signature(old, now)
    swapped = repr(('PipelineChoiceSpace', 'aug', ('OHLRandomChoice', repr([CHOICES[1], CHOICES[0], *CHOICES[2:]]))))
    assert not same_signature(swapped, now)
    assert not same_signature("('X', 'not a literal [')", "('X', 'other [')")
