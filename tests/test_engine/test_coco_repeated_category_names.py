"""A COCO file that gives one name to two categories (two merged data sets) is refused naming the name."""
from __future__ import annotations

from automl_mm.engine.preflight import coco_classes_mismatch


def test_a_name_of_two_categories_is_named_not_called_another_order():
    """mmdet numbers both categories named 'a' (4 labels for 3 names); the message used to say the names were
    in another order than the file's and to ask for ('c', 'a', 'b', 'a'), which the class-name check refuses."""
    why = coco_classes_mismatch(('c', 'a', 'b'), ['c', 'a', 'b', 'a'], 'the file x.json')
    assert why is not None and "names 'a', which the file x.json gives to more than one category" in why
    assert '4 labels for 3 names' in why and 'another order' not in why
    assert coco_classes_mismatch(('c', 'b'), ['c', 'a', 'b', 'a'], 'x') is None  # a subset without the repeat
