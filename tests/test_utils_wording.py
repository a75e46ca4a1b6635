"""The article before a class or type name in a message: ``'is a EMAHook'`` read wrong in the attribute-path hint
(and ``'a int'`` in the integer check's)."""
from __future__ import annotations

import pytest

from automl_mm.utils.wording import a_or_an, a_type


@pytest.mark.parametrize('name, article', [
    ('EMAHook', 'an'), ('SGD', 'an'), ('RPNHead', 'an'), ('OHEMSampler', 'an'), ('mmdet.Mosaic', 'an'),
    ('IoULoss', 'an'), ('int', 'an'), ('Expand', 'an'), ('OrderedDict', 'an'), ('ATSSAssigner', 'an'),
    ('LoggerHook', 'a'), ('Mosaic', 'a'), ('YOLOXHSVRandomAug', 'a'), ('DETR', 'a'), ('list', 'a'),
    ('UniformSampler', 'a'), ('CheckpointHook', 'a'), ('', 'a'),
    # a vowel letter read as a consonant, a word start read by its letters, acronyms read as words
    ('OneCycleLR', 'a'), ('EuclideanLoss', 'a'), ('uint8', 'a'), ('Unicode', 'a'), ('UserWarning', 'a'),
    ('Upsample', 'an'), ('UnboundLocalError', 'an'), ('ndarray', 'an'), ('SOLOHead', 'a'), ('LVISV1Dataset', 'a'),
    ('SSDHead', 'an'), ('FCOSHead', 'an'), ('HSV', 'an'), ('MaxIoUAssigner', 'a'), ('UNet', 'a'),
])
def test_the_article_follows_the_sound_of_the_name(name, article):
    assert a_or_an(name) == article


def test_a_type_names_an_objects_class_or_a_class_with_its_article():
    assert (a_type(3), a_type([]), a_type(int), a_type(object())) == ('an int', 'a list', 'an int', 'an object')
