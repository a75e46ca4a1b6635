"""Wording shared by messages: the indefinite article before a class, type, transform or registry name, or a
number."""
from __future__ import annotations

import re

#: Letters whose spoken name begins with a vowel sound (ef, aitch, el, em, en, ar, ess, ex): an acronym starting
#: with one takes 'an' (an SGD, an RPNHead, an MMDet scope).
_VOWEL_SOUNDING_LETTERS = frozenset('AEFHILMNORSX')


#: Acronyms read as words (a SOLOHead, a LVISV1Dataset, a NASFCOSHead, a SORT tracker): they take the article of a
#: word starting with their first letter.
_SAID_AS_WORDS = ('SOLO', 'LVIS', 'NAS', 'SORT')

#: Word starts whose first sound is not their first letter's: a vowel read as a consonant (a OneCycleLR, a Uniform,
#: a Euclidean, a uint8), and ``nd`` read by its letters (an ndarray) or a silent ``h`` (an hour).
_A_BEFORE = ('one', 'once', 'uni', 'use', 'usu', 'uti', 'ura', 'ure', 'uri', 'uint', 'ubi', 'eu', 'ewe')
_AN_BEFORE = ('nd', 'hour', 'honest', 'honor', 'heir')


def _number_takes_an(digits: str) -> bool:
    """Whether the whole number written ``digits`` (no sign, no separators) is read starting with a vowel sound:
    eight, eighty, eight hundred..., eleven and eighteen, and eleven / eighteen thousand (or million...)."""
    return digits[0] == '8' or (len(digits) % 3 == 2 and digits[:2] in ('11', '18'))


def a_or_an(name: str) -> str:
    """``'an'`` or ``'a'``, the article before ``name`` read aloud: a number by how it is said (``an 8-dimensional``,
    ``an 11``, ``an 800 x 600``, ``a 1100``, ``a 28``); an acronym (two capitals first: ``EMAHook``,
    ``SGD``, ``YOLOXHSVRandomAug``) or an OpenMMLab scope prefix (``mmdet.Mosaic``, read em-em-det) by the sound of
    its first letter's name, unless read as a word (:data:`_SAID_AS_WORDS`: ``a SOLOHead``); a word by its first
    sound (``an Expand``, ``an int``, ``a Mosaic``, ``an Upsample``; ``a Uniform``, ``a OneCycleLR``, ``an
    ndarray``: :data:`_A_BEFORE`, :data:`_AN_BEFORE`); ``'a'`` for an empty name."""
    if not name:
        return 'a'
    if name[0].isdigit():
        return 'an' if _number_takes_an(re.match(r'\d+', name).group()) else 'a'
    lower = name.lower()
    acronym = len(name) > 1 and name[0].isupper() and name[1].isupper()
    if lower.startswith('mm') or (acronym and not name.startswith(_SAID_AS_WORDS)):
        return 'an' if name[0].upper() in _VOWEL_SOUNDING_LETTERS else 'a'
    if lower.startswith(_A_BEFORE):
        return 'a'
    if lower.startswith(_AN_BEFORE):
        return 'an'
    return 'an' if lower[0] in 'aeiou' else 'a'


def a_name(name: str) -> str:
    """``name`` after its article (:func:`a_or_an`): ``'an optimizer'``, ``'an 8'``, ``'a Resize'``."""
    return f'{a_or_an(name)} {name}'


def a_class(cls: type) -> str:
    """An instance of the class ``cls`` named with its article (``a_class(EMAHook)``: ``'an EMAHook'``), for a
    message about the class a config or a runtime object names (``custom_hooks[0] is an EMAHook``)."""
    return a_name(cls.__name__)


def a_type(obj: object) -> str:
    """What the value ``obj`` is, for a message that got it: ``'an int'``, ``'a list'``, ``'an EMAHook'`` (the article
    and the name of ``obj``'s class), and for a class itself ``'the class int'`` (not ``'an int'``, which would say it
    is an instance of it, nor ``'a type'``). To name the instances of a class, :func:`a_class`."""
    if isinstance(obj, type):
        return f'the class {obj.__name__}'
    return a_name(type(obj).__name__)
