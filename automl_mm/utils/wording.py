"""Wording shared by messages: the indefinite article before a class, type or transform name."""
from __future__ import annotations

#: Letters whose spoken name begins with a vowel sound (ef, aitch, el, em, en, ar, ess, ex): an acronym starting
#: with one takes 'an' (an SGD, an RPNHead, an MMDet scope).
_VOWEL_SOUNDING_LETTERS = frozenset('AEFHILMNORSX')


def a_or_an(name: str) -> str:
    """``'an'`` or ``'a'``, the article before ``name`` read aloud: an acronym (two capitals first: ``EMAHook``,
    ``SGD``, ``YOLOXHSVRandomAug``) or an OpenMMLab scope prefix (``mmdet.Mosaic``, read em-em-det) by the sound of
    its first letter's name, a word by its first letter (``an Expand``, ``an int``, ``a Mosaic``; ``u`` taken as in
    ``Uniform``, ``a``); ``'a'`` for an empty name."""
    if not name:
        return 'a'
    if name[:2].lower() == 'mm' or (len(name) > 1 and name[0].isupper() and name[1].isupper()):
        return 'an' if name[0].upper() in _VOWEL_SOUNDING_LETTERS else 'a'
    return 'an' if name[0].lower() in 'aeio' else 'a'


def a_type(obj: object) -> str:
    """``'an int'``, ``'a list'``, ``'an EMAHook'``: the article (:func:`a_or_an`) and the name of ``obj``'s class, or
    of ``obj`` where it is a class."""
    name = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    return f'{a_or_an(name)} {name}'
