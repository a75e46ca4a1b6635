"""The article before a class or type name in a message: ``'is a EMAHook'`` read wrong in the attribute-path hint
(and ``'a int'`` in the integer check's)."""
from __future__ import annotations

import pytest

from automl_mm.utils.wording import a_class, a_name, a_or_an, a_type


@pytest.mark.parametrize('name, article', [
    ('EMAHook', 'an'), ('SGD', 'an'), ('RPNHead', 'an'), ('OHEMSampler', 'an'), ('mmdet.Mosaic', 'an'),
    ('IoULoss', 'an'), ('int', 'an'), ('Expand', 'an'), ('OrderedDict', 'an'), ('ATSSAssigner', 'an'),
    ('LoggerHook', 'a'), ('Mosaic', 'a'), ('YOLOXHSVRandomAug', 'a'), ('DETR', 'a'), ('list', 'a'),
    ('UniformSampler', 'a'), ('CheckpointHook', 'a'), ('', 'a'),
    # a vowel letter read as a consonant, a word start read by its letters, acronyms read as words
    ('OneCycleLR', 'a'), ('EuclideanLoss', 'a'), ('uint8', 'a'), ('Unicode', 'a'), ('UserWarning', 'a'),
    ('Upsample', 'an'), ('UnboundLocalError', 'an'), ('ndarray', 'an'), ('SOLOHead', 'a'), ('LVISV1Dataset', 'a'),
    ('SSDHead', 'an'), ('FCOSHead', 'an'), ('HSV', 'an'), ('MaxIoUAssigner', 'a'), ('UNet', 'a'),
    # numbers as said: eight..., eleven, eighteen, and eleven / eighteen thousand
    ('8', 'an'), ('80', 'an'), ('800', 'an'), ('8.5', 'an'), ('11', 'an'), ('18', 'an'), ('11000', 'an'),
    ('18000000', 'an'), ('1', 'a'), ('28', 'a'), ('110', 'a'), ('1100', 'a'), ('180', 'a'), ('128', 'a'),
    ('0', 'a'), ('3', 'a'), ('1-dimensional', 'a'), ('8-dimensional', 'an'),
    # registry names, dtypes
    ('optimizer', 'an'), ('optim_wrapper', 'an'), ('evaluator', 'an'), ('model', 'a'), ('int64', 'an'),
    ('float32', 'a'), ('uint8', 'a'),
])
def test_the_article_follows_the_sound_of_the_name(name, article):
    assert a_or_an(name) == article


def test_a_type_names_an_objects_class_with_its_article():
    assert (a_type(3), a_type([]), a_type(object()), a_type(b'')) == ('an int', 'a list', 'an object', 'a bytes')


def test_a_class_value_is_named_as_a_class_not_as_an_instance_of_it():
    """A value that is a class (``priority=int``, a dataloader given as its class) read "an int", as if it were one
    (before 929c80c2's helper it read "a type"); a message naming the instances a configured class builds says
    :func:`a_class`."""
    assert (a_type(int), a_type(type)) == ('the class int', 'the class type')
    assert (a_class(int), a_class(list)) == ('an int', 'a list')
    assert (a_name('EMAHook'), a_name('8')) == ('an EMAHook', 'an 8')
