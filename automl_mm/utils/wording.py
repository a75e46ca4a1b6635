"""Wording shared by messages: the indefinite article before a class, type or transform name."""
from __future__ import annotations

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


def a_or_an(name: str) -> str:
    """``'an'`` or ``'a'``, the article before ``name`` read aloud: an acronym (two capitals first: ``EMAHook``,
    ``SGD``, ``YOLOXHSVRandomAug``) or an OpenMMLab scope prefix (``mmdet.Mosaic``, read em-em-det) by the sound of
    its first letter's name, unless read as a word (:data:`_SAID_AS_WORDS`: ``a SOLOHead``); a word by its first
    sound (``an Expand``, ``an int``, ``a Mosaic``, ``an Upsample``; ``a Uniform``, ``a OneCycleLR``, ``an
    ndarray``: :data:`_A_BEFORE`, :data:`_AN_BEFORE`); ``'a'`` for an empty name."""
    if not name:
        return 'a'
    lower = name.lower()
    acronym = len(name) > 1 and name[0].isupper() and name[1].isupper()
    if lower.startswith('mm') or (acronym and not name.startswith(_SAID_AS_WORDS)):
        return 'an' if name[0].upper() in _VOWEL_SOUNDING_LETTERS else 'a'
    if lower.startswith(_A_BEFORE):
        return 'a'
    if lower.startswith(_AN_BEFORE):
        return 'an'
    return 'an' if lower[0] in 'aeiou' else 'a'


def a_type(obj: object) -> str:
    """``'an int'``, ``'a list'``, ``'an EMAHook'``: the article (:func:`a_or_an`) and the name of ``obj``'s class, or
    of ``obj`` where it is a class."""
    name = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    return f'{a_or_an(name)} {name}'
