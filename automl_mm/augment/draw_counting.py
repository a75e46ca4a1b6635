"""The draws of choice transforms recorded on each sample, and counted through what consumes or drops samples.

A :class:`~automl_mm.augment.choice_base.LiveChoiceTransform` records each draw (the applied choice index, the policy
version it came from, its identity) in the sample's ``results['ohl_choice']`` (:data:`CHOICE_META_KEY`), which the
OHL hook counts after each iteration. Several things between the transform and the packed sample would lose a draw
or count it twice; this module makes each draw count once:

* a mixing transform (mmdet's ``Mosaic``, ``MixUp``, ``CopyPaste``, ``CachedMosaic``, ``CachedMixUp``) adds the
  draws of every image it mixed in (:func:`count_mixed_in_choices`);
* mmcv's ``KeyMapper`` / ``TransformBroadcaster`` record each view's draws once on the sample
  (:func:`count_view_choices`);
* a dataset's pipeline (mmengine's ``Compose`` or a subclass) keeps the draws of an image it dropped and adds them
  to the replacement it returns next (:func:`count_dropped_draws`);
* mmdet's ``PackTrackInputs``, which reads its ``meta_keys`` per frame, packs the sample's record in the
  ``TrackDataSample`` (:func:`pack_sample_record`).

:func:`recorded_draws` reads one image's record.
"""
from __future__ import annotations

import itertools
from typing import Any

from automl_mm.utils.wording import a_name, a_type

CHOICE_META_KEY = 'ohl_choice'

#: Identities of draws, unique within a process (a dataloader worker): what tells one draw recorded twice on an
#: image (a cached image mixed into a mosaic that a cached mixup then mixes into another that holds it too; the views
#: of a broadcasting wrapper sharing one draw) from two draws of the same choice. Never seeds anything.
_DRAW_IDS = itertools.count()


#: The draws of each dataset pipeline run in progress in this process (innermost last), that a
#: :class:`_CountsDroppedDraws` pipeline keeps where its run drops the image (see there).
_OPEN_RUNS: list[list[tuple[str, int, Any, int]]] = []


def _record(record: dict, key: str, value: int) -> None:
    """Store one draw under ``key``; a second draw of the same key on the same image (two choice transforms of one
    space in one pipeline) turns the entry into the list of the image's draws, so that none is lost."""
    if key not in record:
        record[key] = value
    else:
        before = record[key]
        record[key] = [*(before if isinstance(before, list) else [before]), value]


def recorded_draws(record: dict, key: str, default_version: Any = None) -> list[tuple[int, Any]]:
    """``[(choice index, policy version), ...]``: every draw of ``key`` recorded on one image (usually one; one per
    transform where several transforms of one space are in the pipeline); ``default_version`` where the transforms
    record none (a fixed policy). Empty when the image has no draw of ``key``."""
    if key not in record:
        return []
    indices = record[key] if isinstance(record[key], list) else [record[key]]
    versions = record.get(version_key(key), default_version)
    versions = versions if isinstance(versions, list) else [versions] * len(indices)
    return list(zip(indices, versions))


class _MixedInChoices:
    """The ``transform`` method of one mixing transform (mmdet's ``Mosaic``, ``MixUp``, ``CopyPaste``: those with
    ``get_indexes`` that read ``results['mix_results']``), adding the recorded draws of every image it mixed in to
    the returned results' ``ohl_choice``. A plain callable class, so that a dataset pickled to spawned dataloader
    workers keeps it."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def __call__(self, results: dict) -> dict | None:
        mixed = results.get('mix_results') if isinstance(results, dict) else None
        image = results.get('img') if isinstance(results, dict) else None
        out = type(self.owner).transform(self.owner, results)
        # a transform that mixed nothing in returns the image it got. Skipped by a coin (Mosaic's prob): the other
        # images' pairs were never applied and had no say in it, so they are left out. Skipped because the other
        # image has no box (MixUp and CopyPaste, which have no prob): its pair may be what removed every box, so it
        # decided the skip and is counted (leaving those out counted p_theta given "a box is left", biased)
        if out is None or not mixed or (out.get('img') is image and hasattr(self.owner, 'prob')):
            return out
        record = out.setdefault(CHOICE_META_KEY, {})
        for other in mixed:
            _merge_draws(record, (other or {}).get(CHOICE_META_KEY))
        return out


def count_mixed_in_choices(transform: Any) -> None:
    """Make a mixing transform (one with ``get_indexes``: mmdet's ``Mosaic``, ``MixUp``, ``CopyPaste`` in a
    ``MultiImageMixDataset``'s pipeline) carry the choices of the images it mixes in.

    ``MultiImageMixDataset`` runs its inner dataset's pipeline (with the choice transform) for the image and for
    each image ``get_indexes`` picks, and hands those to the transform as ``results['mix_results']``; the transform
    returns the first image's results, so only that image's choice reached the packed sample (1 of the 4 pairs a
    Mosaic applied). mmdet's ``CachedMosaic`` / ``CachedMixUp`` (a ``results_cache`` list) mix in images from
    their own cache instead, which the packed sample's choice missed the same way, and which may hold images whose
    pair was drawn under an earlier trunk's θ: each cached image mixed in adds its recorded draws, with the policy
    version they came from, so that the count takes those of the current θ and counts the others as stale
    (:class:`_CachedMixedInChoices`). Idempotent.
    """
    current = vars(transform).get('transform')
    if isinstance(current, (_MixedInChoices, _CachedMixedInChoices)):
        return
    if isinstance(getattr(transform, 'results_cache', None), list):
        wrapper = _CachedMixedInChoices(transform)
        transform.transform = wrapper
        transform.get_indexes = wrapper.get_indexes
    else:
        transform.transform = _MixedInChoices(transform)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _merge_draws(record: dict, other: dict | None) -> None:
    """Add every draw recorded in ``other`` (one image's ``ohl_choice``) to ``record`` that ``record`` does not hold
    yet (by its identity, :func:`draw_id_key`), each key's index, version and identity lists kept in step
    (:func:`_record`): a draw counts at most once per image, however many of the images mixed into it carry it."""
    other = other or {}
    for key in other:
        if key.endswith(('@version', '@draw')) and key.rsplit('@', 1)[0] in other:
            continue
        indices = _as_list(other[key])
        fields = [(k, _as_list(other[k])) for k in (version_key(key), draw_id_key(key)) if k in other]
        held = set(_as_list(record.get(draw_id_key(key), [])))
        ids = dict(fields).get(draw_id_key(key), [None] * len(indices))
        for j, index in enumerate(indices):
            if ids[j] is not None and ids[j] in held:
                continue
            _record(record, key, index)
            for k, values in fields:
                _record(record, k, values[j])
            held.add(ids[j])


def _class_method(owner: Any, name: str) -> Any:
    """The method ``name`` of ``owner``'s class bound to ``owner``, past any instance attribute of that name (the
    wrappers below set one). Through the class's own descriptor: mmcv's ``cache_randomness`` (mmdet's
    ``get_indexes``) cannot be read from the class itself."""
    for klass in type(owner).__mro__:
        if name in vars(klass):
            return vars(klass)[name].__get__(owner, type(owner))
    raise AttributeError(f'{type(owner).__name__} has no method {name!r}')


class _CollectingTransform:
    """Base of the wrappers below: the owner's ``transform`` run with ``collected``, a list that the owner's other
    wrapped method (``get_indexes``, ``_apply_transforms``) adds to while it runs (``None`` outside a run)."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.collected: list | None = None

    def _transform(self, results: dict) -> tuple[dict | None, list]:
        """``(the owner's transform of results, what was collected during it)``."""
        self.collected = []
        try:
            return _class_method(self.owner, 'transform')(results), self.collected
        finally:
            self.collected = None


class _CachedMixedInChoices(_CollectingTransform):
    """The ``transform`` method of a mixing transform with a cache of earlier images (mmdet's ``CachedMosaic``,
    ``CachedMixUp``: each image's results are cached when it passes, and images from the cache are mixed into
    later ones), adding the recorded draws of every cached image it mixed in to the returned results' ``ohl_choice``,
    each at most once per image (``get_indexes`` may pick one entry twice, or the image's own entry, just cached;
    the cached image of a ``CachedMixUp`` after a ``CachedMosaic`` may hold an image the current mosaic holds too).
    Also the transform's ``get_indexes``, to learn which entries it picked. A cached image keeps the policy version
    its pair was drawn from: one drawn under an earlier trunk's θ counts as stale in the trunk that mixes it in,
    never as that trunk's sample. A plain callable class, picklable to spawned dataloader workers."""

    def get_indexes(self, cache: list) -> Any:
        indexes = _class_method(self.owner, 'get_indexes')(cache)
        if self.collected is not None:  # the entries picked
            self.collected.extend(cache[i] for i in (indexes if isinstance(indexes, (list, tuple)) else [indexes]))
        return indexes

    def __call__(self, results: dict) -> dict | None:
        image = results.get('img') if isinstance(results, dict) else None
        out, picked = self._transform(results)
        # returned with its own image: the cache was filling, the transform's prob skipped it, or (CachedMixUp) the
        # picked image had no box; nothing was mixed in
        if out is None or out.get('img') is image:
            return out
        record = out.setdefault(CHOICE_META_KEY, {})
        for entry in picked:  # an entry picked twice, or the image's own, adds nothing twice (_merge_draws)
            _merge_draws(record, entry.get(CHOICE_META_KEY))
        return out


class _ViewChoices(_CollectingTransform):
    """The ``transform`` method of mmcv's ``KeyMapper`` / ``TransformBroadcaster`` in a pipeline with a choice
    transform, moving the draws the wrapped transforms recorded on each view to the sample's own ``ohl_choice``;
    also the wrapper's ``_apply_transforms``, run once per view, which starts each view without the sample's record
    and takes the view's draws out of it.

    The views are shallow copies of the sample, and the wrapper keeps only the keys of its ``mapping``: a draw
    recorded on a view was dropped with the view when the sample had no ``ohl_choice`` yet (counted zero times), was
    recorded in the sample's own dict once per view when it had one (``share_random_params=True``: one draw counted
    twice), and without ``auto_remap`` the views' records came back as a list of dicts, which no count read (also
    for a broadcaster after the choice transform, whose views all held the sample's record). Now each draw counts
    once: with ``share_random_params=True`` every view applied the first view's draws (the same draw identities),
    so those are counted once; without it each view drew its own and each is counted. A plain callable class,
    picklable to spawned dataloader workers."""

    def apply_view(self, inputs: dict) -> dict:
        view = {k: v for k, v in inputs.items() if k != CHOICE_META_KEY}
        out = _class_method(self.owner, '_apply_transforms')(view)
        if self.collected is not None:  # each view's draws
            self.collected.append(out.pop(CHOICE_META_KEY, None))
        return out

    def __call__(self, results: dict) -> dict | None:
        record = results.pop(CHOICE_META_KEY, None)
        out, views = self._transform(results)
        record = {} if record is None else record
        for view in views:  # views that shared their random params share their draws: counted once (_merge_draws)
            _merge_draws(record, view)
        if record:
            out[CHOICE_META_KEY] = record
        return out


def count_view_choices(transform: Any) -> None:
    """Make mmcv's ``KeyMapper`` / ``TransformBroadcaster`` record each draw of a choice transform inside it once
    on the sample, and keep the sample's record a dict of its draws (see :class:`_ViewChoices` for what happened
    before). Idempotent."""
    if not isinstance(vars(transform).get('transform'), _ViewChoices):
        wrapper = _ViewChoices(transform)
        transform.transform = wrapper
        transform._apply_transforms = wrapper.apply_view


class _SampleRecordPacked:
    """The ``transform`` method of mmdet's ``PackTrackInputs`` in a pipeline with a choice transform, putting the
    sample's ``ohl_choice`` (one dict of the clip's draws: a ``TransformBroadcaster`` over the frames records them
    once on the sample, :class:`_ViewChoices`) in the packed ``TrackDataSample``'s metainfo, where the OHL hook reads
    each training sample's draws.

    ``PackTrackInputs`` reads every one of its ``meta_keys`` as a list with one entry per frame: the record, a dict,
    was iterated as the frames' values, so frame 0's metainfo got ``ohl_choice='autoaug'`` (the key's name), frame 1's
    ``'autoaug@version'``, and the ``TrackDataSample`` none, so no draw was counted (a 2-frame clip with a recorded
    version and identity, three entries, stopped with an IndexError). A plain callable class, picklable to spawned
    dataloader workers."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def __call__(self, results: dict) -> dict | None:
        record = None
        if isinstance(results, dict) and CHOICE_META_KEY in results:
            results = dict(results)
            record = results.pop(CHOICE_META_KEY)
        out = _class_method(self.owner, 'transform')(results)
        if record is not None and out is not None:
            out['data_samples'].set_metainfo({CHOICE_META_KEY: record})
        return out


def pack_sample_record(transform: Any) -> None:
    """Make mmdet's ``PackTrackInputs`` (a packing transform whose ``meta_keys`` are per-frame lists) put the sample's
    draws in the packed ``TrackDataSample``'s metainfo (:class:`_SampleRecordPacked`); other transforms are left as
    they are. Idempotent."""
    try:
        from mmdet.datasets.transforms import PackTrackInputs
    except ImportError:  # mmdet not installed: no such packer
        return
    if isinstance(transform, PackTrackInputs) and not isinstance(vars(transform).get('transform'), _SampleRecordPacked):
        transform.transform = _SampleRecordPacked(transform)


class _CountsDroppedDraws:
    """What a dataset's pipeline (mmengine's ``Compose``, a subclass of it or another callable class: its class
    swapped by :func:`count_dropped_draws` for one derived from it and this, :func:`_counting_class`) adds: it keeps
    the draws of an image it dropped and adds them to the ``ohl_choice`` of the next image it returns.

    A transform after the policy that returns None (mmdet's ``FilterAnnotations`` with ``keep_empty=True``, its
    default, once a pair shrank every box; a choice's own sub-pipeline) drops the image, and mmengine's
    ``BaseDataset`` fetches another in its place in the same process (``max_refetch``), so the next image this
    pipeline returns is the replacement. The dropped draws came from p_θ and changed what the copy trained (the image
    was replaced), so REINFORCE's score needs them: the score of a trunk is the sum of ∇ log p_θ over all its draws,
    and the kept draws alone are a sample of p_θ given "not dropped", whose score has a non-zero mean (a pair that
    always drops its image was never counted, so its probability never learned from the reward). They used to be
    discarded with the image. Each keeps its policy version (stale where the replacement is counted in a later
    trunk) and its identity (counted once). A packed image (``data_samples``, mmdet's ``PackDetInputs``) gets them
    in its data sample's metainfo, an unpacked one (a ``MultiImageMixDataset``'s inner pipeline) in its results.
    A choice transform that drops the image outside such a run (in the pipeline list of mmdet's
    ``MultiImageMixDataset``, which retries that transform) keeps the draw itself and adds it to its next result."""

    def __call__(self, data: dict) -> dict | None:
        _OPEN_RUNS.append([])
        try:
            out = super().__call__(data)
        finally:
            draws = _OPEN_RUNS.pop()
        pending = vars(self).setdefault('_dropped', [])
        if out is None:
            pending.extend(draws)
            return None
        if pending:
            self._dropped = []
            _add_draws(out, pending)
        return out

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # the derived class is made at run time, so a pickle (dataloader workers, deepcopy) names the pipeline's
        # own class and derives it again when loaded
        base = type(self)._counted_class
        return _as_counting, (base, self.__getstate__())


#: The class :func:`count_dropped_draws` gives a pipeline of each class (``_CountsDroppedDraws`` first).
_COUNTING_CLASSES: dict[type, type] = {}


def _counting_class(cls: type) -> type:
    """The class derived from :class:`_CountsDroppedDraws` and the pipeline class ``cls`` (one per class).

    Raises:
        TypeError: where Python cannot derive it (``cls`` is final, or its ``__init_subclass__`` refuses).
    """
    found = _COUNTING_CLASSES.get(cls)
    if found is None:
        found = type(f'{cls.__name__}CountingDroppedDraws', (_CountsDroppedDraws, cls),
                     {'_counted_class': cls, '__module__': __name__})
        _COUNTING_CLASSES[cls] = found
    return found


def _as_counting(cls: type, state: Any) -> Any:
    """A pipeline of class ``cls`` with ``state`` (its ``__getstate__``), switched to :func:`_counting_class`."""
    obj = cls.__new__(cls)
    if hasattr(obj, '__setstate__'):
        obj.__setstate__(state)
    elif state:
        obj.__dict__.update(state)
    obj.__class__ = _counting_class(cls)
    return obj


def _add_draws(out: dict, draws: list[tuple[str, int, Any, int]]) -> None:
    """Record ``draws`` (``(key, index, version or None, identity)``) on the image ``out``: in its data sample's
    metainfo if it is packed, else in ``out['ohl_choice']``."""
    dropped: dict = {}
    for key, index, version, draw in draws:
        _record(dropped, key, index)
        if version is not None:
            _record(dropped, version_key(key), version)
        _record(dropped, draw_id_key(key), draw)
    sample = out.get('data_samples') if isinstance(out, dict) else None
    if sample is None:
        _merge_draws(out.setdefault(CHOICE_META_KEY, {}), dropped)
        return
    if not callable(getattr(sample, 'set_metainfo', None)):
        raise ValueError(f'an image dropped after a choice transform ran left draws that its replacement cannot carry: '
                         f'its data_samples is {a_type(sample)}, not one data sample (mmdet\'s MultiBranch '
                         'packs a dict of branches, which OHL-Auto-Aug does not support)')
    record = dict(sample.metainfo.get(CHOICE_META_KEY) or {})
    _merge_draws(record, dropped)
    sample.set_metainfo({CHOICE_META_KEY: record})


def _datasets_of(dataset: Any):
    """``dataset`` and every dataset it wraps (``dataset`` / ``datasets`` attributes: ``RepeatDataset``,
    ``ConcatDataset``, mmdet's ``MultiImageMixDataset``, ...)."""
    stack, seen = [dataset], set()
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        for attr in ('dataset', 'datasets'):
            child = getattr(obj, attr, None)
            stack.extend(child if isinstance(child, (list, tuple)) else [child])


def count_dropped_draws(dataset: Any) -> None:
    """Make the pipeline of ``dataset`` and of every dataset it wraps add the draws of an image it dropped to the
    image it returns next (:class:`_CountsDroppedDraws`: the refetched replacement): its class becomes one derived
    from it (:func:`_counting_class`), so mmengine's ``Compose``, a user's subclass of it or another callable
    pipeline class keeps what it does and what it holds. Only the exact ``Compose`` used to be switched: the
    dropped draws of a dataset whose pipeline was a subclass went uncounted, silently. Idempotent; a pipeline that
    is ``None`` or a list (mmdet's ``MultiImageMixDataset``'s transforms, run one by one) is left as it is.

    Raises:
        TypeError: a pipeline whose class cannot be switched (a function, a class with ``__slots__`` or a built-in
            one), naming the dataset's class and the pipeline's.
    """
    for obj in _datasets_of(dataset):
        pipeline = getattr(obj, 'pipeline', None)
        if pipeline is None or isinstance(pipeline, (list, tuple, _CountsDroppedDraws)) or not callable(pipeline):
            continue
        try:
            pipeline.__class__ = _counting_class(type(pipeline))
        except TypeError as err:
            held = f'{type(pipeline).__module__}.{type(pipeline).__qualname__}'
            raise TypeError(f'OHL-Auto-Aug: the pipeline of the dataset {type(obj).__name__} is {a_name(held)}, '
                            'whose class cannot be '
                            f'switched to count the draws of images dropped after the policy ({err}); so those draws '
                            "would go uncounted. Build the dataset's pipeline as mmengine's Compose or a subclass "
                            'of it (a class without __slots__)') from None


def version_key(key: str) -> str:
    """Key under ``results['ohl_choice']`` that holds the policy version a choice was drawn from."""
    return f'{key}@version'


def draw_id_key(key: str) -> str:
    """Key under ``results['ohl_choice']`` that holds each draw's identity (unique within its process)."""
    return f'{key}@draw'
