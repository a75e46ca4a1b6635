"""Relations between two settings that a class checks only in its constructor, held after every trunk's writes.

A write-time range (:mod:`automl_mm.ohl.constructor_ranges`) sees one value; a constructor also compares two
settings (mmdet's ``Brightness`` asserts ``min_mag <= max_mag``). Two spaces (or a space and a replay hook) writing
the two sides could leave the pair broken, and a check at each write would refuse or pass it by the order of the
writes. So a relation is held on what the object holds once every write of a trunk (or of one replayed step) is
done, before anything trains on it (:func:`check_relations`), on every trunk's schedule before the first write
(``TrunkScheduleHook``, ``SetAttributesHook``: :func:`check_written_relations`, which overlays the values without
writing), and on every combination of the spaces' choices before the first trunk (:func:`check_choice_relations`;
a Gaussian on a side of a relation is refused there by its worst case: its image is unbounded above).

:data:`CONSTRUCTOR_RELATIONS`, found by an AST scan of the ``assert`` / ``raise`` tests in the ``__init__`` of
mmengine 0.10, mmdet 3.3, mmcv 2.1 and automl_mm that compare two arguments (or two elements of one), kept where the
settings are read while training (a neck's ``num_outs`` / ``start_level`` are build-only):

* mmdet's AutoAugment ops (``ColorTransform``, ``GeomTransform``): ``min_mag <= max_mag``; above it every magnitude
  ``level / 10 * (max_mag - min_mag) + min_mag`` is inverted, silently.
* mmdet ``RandomCrop`` under ``crop_type='absolute_range'``: ``crop_size[0] <= crop_size[1]`` (``np.random.randint``
  raises mid-run); ``CutOut.n_holes[0] <= n_holes[1]`` and ``RandomErasing.n_patches[0] <= n_patches[1]`` (an int
  is held as ``(n, n)``, so ``<=``: ``randint(low, high + 1)`` raises below it), ``RandomErasing.ratio[0] <=
  ratio[1]``; ``RandomAffine.scaling_ratio_range[0] <= [1]``.
* mmcv ``RandomFlip``: a list ``prob`` sums to at most 1 (``np.random.choice`` raises mid-run); ``RandomResize``'s
  ``ratio_range[0] <= [1]`` (asserted at the first image).
* mmengine parameter schedulers: ``begin < end``.
* automl_mm ``RandomResizedCrop``: ``crop_ratio_range[0] <= [1]`` (its ``scale`` is one int; its
  ``aspect_ratio_range`` is refused as read only at ``__init__``).

Left out: mmdet ``CutOut``'s ``cutout_ratio`` / ``cutout_shape`` (held as ``candidates``, each (w, h) pair free),
mmcv ``RandomFlip``'s ``len(prob) == len(direction)`` (a list of another length is refused by the shape check).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .attribute_paths import SEQUENCES, path_chains
from .element_paths import replaced


class Relation(NamedTuple):
    """``test`` of the values of ``settings`` (an attribute, or ``attribute.<index>``) of one object, written as
    ``text``; held where ``when(owner)`` (always, without it)."""

    settings: tuple[str, ...]
    test: Callable[..., bool]
    text: str
    when: Callable[[Any], bool] | None = None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ordered(strict: bool = False) -> Callable[[Any, Any], bool]:
    def test(low: Any, high: Any) -> bool:
        if not (_number(low) and _number(high)):
            return True  # not a pair of numbers: not this table's to judge
        return low < high if strict else low <= high
    return test


def _sums_to_one(prob: Any) -> bool:
    if not isinstance(prob, (list, tuple)) or not all(_number(p) for p in prob):
        return True
    return sum(prob) <= 1


def _pair(name: str, text: str | None = None, when: Callable[[Any], bool] | None = None) -> Relation:
    return Relation((f'{name}.0', f'{name}.1'), _ordered(), text or f'{name}[0] <= {name}[1]', when)


_MAGS = Relation(('min_mag', 'max_mag'), _ordered(), 'min_mag <= max_mag')

#: ``{'<package>.<class>': relations}`` (module docstring); every class of the owner's MRO with an entry adds its own.
CONSTRUCTOR_RELATIONS: dict[str, tuple[Relation, ...]] = {
    'mmdet.ColorTransform': (_MAGS,),
    'mmdet.GeomTransform': (_MAGS,),
    'mmdet.RandomCrop': (_pair('crop_size', when=lambda owner: getattr(owner, 'crop_type', None) == 'absolute_range'),),
    'mmdet.CutOut': (_pair('n_holes'),),
    'mmdet.RandomErasing': (_pair('n_patches'), _pair('ratio')),
    'mmdet.RandomAffine': (_pair('scaling_ratio_range'),),
    'mmcv.RandomFlip': (Relation(('prob',), _sums_to_one, 'sum(prob) <= 1 (one probability per direction)'),),
    'mmcv.RandomResize': (_pair('ratio_range', when=lambda owner: getattr(owner, 'ratio_range', None) is not None),),
    'mmengine._ParamScheduler': (Relation(('begin', 'end'), _ordered(strict=True), 'begin < end'),),
    'automl_mm.RandomResizedCrop': (_pair('crop_ratio_range'),),
}


def _qualified(cls: type) -> str:
    return f'{cls.__module__.split(".")[0]}.{cls.__name__}'


def relations_of(owner: Any) -> list[tuple[str, Relation]]:
    """``(class key, relation)`` of every class of ``owner``'s MRO in :data:`CONSTRUCTOR_RELATIONS`."""
    keys = [_qualified(cls) for cls in type(owner).__mro__]
    return [(key, relation) for key in keys for relation in CONSTRUCTOR_RELATIONS.get(key, ())]


class _Touched(NamedTuple):
    owner: Any
    path: str  # the owner's path, '*' as the index it fanned out to
    held: dict  # attribute -> what it holds after the overlaid writes


def _touched(runner: Any, values: Mapping[str, Any] | Sequence[str]) -> dict[int, _Touched]:
    """The objects with relations that the paths of ``values`` write an attribute (or an element of one) of, by
    ``id``; with a mapping, each attribute as it would hold after the writes (a covering path first, then its
    elements, whatever the order given), else as it holds now."""
    found: dict[int, _Touched] = {}
    overlay = isinstance(values, Mapping)
    for path in sorted(values, key=lambda p: p.count('.')):  # a whole attribute before its elements
        for chain in path_chains(runner, path, tolerant=True):
            if len(chain) != len(path.split('.')):
                continue  # does not resolve: the path's own check names it
            k = len(chain) - 1  # the owner is the deepest object the chain passes, with the attribute below it
            while k >= 1 and isinstance(chain[k - 1][1], (Mapping, *SEQUENCES)):
                k -= 1
            if k < 1 or not relations_of(owner := chain[k - 1][1]):
                continue
            attribute, keys = chain[k][0], tuple(part for part, _ in chain[k + 1:])
            entry = found.setdefault(id(owner), _Touched(owner, '.'.join(p for p, _ in chain[:k]), {}))
            if overlay:
                held = entry.held.get(attribute, getattr(owner, attribute, None))
                entry.held[attribute] = replaced(held, keys, values[path])
            else:
                entry.held.setdefault(attribute, getattr(owner, attribute, None))
    return found


def _read(held: dict, owner: Any, setting: str) -> Any:
    attribute, _, index = setting.partition('.')
    value = held[attribute] if attribute in held else getattr(owner, attribute, None)
    if index:
        try:
            return value[int(index)]
        except (TypeError, IndexError, KeyError):
            return None
    return value


def relation_problem(runner: Any, values: Mapping[str, Any] | Sequence[str]) -> str | None:
    """A message for the first relation of :data:`CONSTRUCTOR_RELATIONS` that an object written at the paths of
    ``values`` breaks, once all of them are written (a mapping: the values overlaid on what the objects hold, nothing
    written; a list of paths: what they hold now), else ``None``. Only relations with a setting those paths write are
    held (an object's own config was checked when it was built)."""
    for entry in _touched(runner, values).values():
        for key, relation in relations_of(entry.owner):
            if not any(setting.split('.')[0] in entry.held for setting in relation.settings):
                continue
            if relation.when is not None and not relation.when(entry.owner):
                continue
            read = [_read(entry.held, entry.owner, setting) for setting in relation.settings]
            if relation.test(*read):
                continue
            pairs = ' and '.join(f'{entry.path}.{setting}={value!r}' for setting, value in
                                 zip(relation.settings, read))
            verb = 'break' if len(relation.settings) > 1 else 'breaks'
            return (f'{pairs} {verb} {relation.text}, which {key} checks in its constructor '
                    f'({type(entry.owner).__name__})')
    return None


def check_relations(runner: Any, paths: Sequence[str], where: str) -> None:
    """Refuse what the objects written at ``paths`` hold now, after all of a trunk's writes, where it breaks a relation
    (:func:`relation_problem`): ``OHLHook`` calls it once every space began the trunk, before its first batch.

    Raises:
        ValueError: ``<where>: <path>=<value> and <path>=<value> break <relation>, which <class> checks in its
            constructor``.
    """
    found = relation_problem(runner, list(dict.fromkeys(paths)))
    if found is not None:
        raise ValueError(f'{where}: {found}; nothing trained with them. Give the searched values ranges (or '
                         'choices) that keep the relation, or search one side only')


def check_written_relations(runner: Any, values: Mapping[str, Any], where: str) -> None:
    """Refuse ``values`` (``{path: value}``, one step's writes) where, all written, they would break a relation
    (:func:`relation_problem`), without writing: the replay hooks check every trunk's values before the first.

    Raises:
        ValueError: as :func:`check_relations`.
    """
    found = relation_problem(runner, values)
    if found is not None:
        raise ValueError(f'{where}: {found}')


#: Combinations of choices :func:`check_choice_relations` tries per group of spaces writing one object; beyond it
#: the trunk-start check holds each drawn pair.
MAX_COMBINATIONS = 4096


def check_choice_relations(runner: Any, spaces: Sequence[Any]) -> None:
    """Refuse, before the first trunk, spaces whose choices can break a relation of :data:`CONSTRUCTOR_RELATIONS`
    together (``min_mag`` from one space, ``max_mag`` from another) or with what the object holds: every combination
    of the choices of the spaces writing one object is tried (up to :data:`MAX_COMBINATIONS`). A Gaussian (no
    ``choices``) on a side of a relation is refused by its worst case: every transform's image is unbounded above
    (:data:`~automl_mm.ohl.value_ranges.TRANSFORM_IMAGES`), so it breaks an order or a sum with positive
    probability, whatever the other side holds.

    Raises:
        ValueError: naming the spaces, the choices (or the transform and its image), both paths, both values, the
            relation and the class.
    """
    groups: dict[int, list[tuple[Any, str]]] = {}
    for space in spaces:
        if getattr(space, 'choices', None) is None:
            _check_gaussian(runner, space)
            continue
        for path in getattr(space, 'targets', None) or []:
            for key in _touched(runner, [path]):
                groups.setdefault(key, []).append((space, path))
    for writers in groups.values():
        owners = list(dict.fromkeys(space for space, _ in writers))
        combos = itertools.islice(itertools.product(*(space.choices for space in owners)), MAX_COMBINATIONS)
        for combo in combos:
            values = {path: combo[owners.index(space)] for space, path in writers}
            found = relation_problem(runner, values)
            if found is not None:
                drawn = ', '.join(f'{space.name!r} drawing {choice!r}' for space, choice in zip(owners, combo))
                raise ValueError(f'OHL spaces {drawn}: {found}; a copy that drew them would stop or train with an '
                                 'inverted range. Give choices that keep the relation in every combination')


def _check_gaussian(runner: Any, space: Any) -> None:
    """Refuse a Gaussian space writing a side of a relation (:func:`check_choice_relations`: its worst case)."""
    from .value_ranges import TRANSFORM_IMAGES

    if not hasattr(getattr(space, 'distribution', None), 'mean'):
        return  # not a Gaussian: a duck-typed space
    transform = getattr(space, 'transform', None)
    for path in getattr(space, 'targets', None) or []:
        for entry in _touched(runner, [path]).values():
            for key, relation in relations_of(entry.owner):
                if relation.when is not None and not relation.when(entry.owner) or \
                        not any(setting.split('.')[0] in entry.held for setting in relation.settings):
                    continue
                held = ' and '.join(f'{entry.path}.{setting}={_read(entry.held, entry.owner, setting)!r}'
                                    for setting in relation.settings)
                raise ValueError(
                    f'OHL space {space.name!r}: attribute path {path!r}: a Gaussian sample under transform='
                    f'{transform!r} takes any value in {TRANSFORM_IMAGES.get(transform)}, so it breaks '
                    f'{relation.text} ({held} now), which {key} checks in its constructor '
                    f'({type(entry.owner).__name__}), with positive probability: the trunk that drew it would be '
                    'refused and the run stopped. Search it with a Categorical over choices that keep the relation')
